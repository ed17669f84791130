//! Exact TreeSHAP (Lundberg et al. 2018, Algorithm 2, as in the `shap` package's
//! `tree_shap_recursive`): per-feature contributions that add up, with the expected value,
//! to the raw prediction. Cover is the number of training rows reaching a node.

use super::booster::Booster;
use super::error::GbdtError;
use super::predict::FeatureValue;
use super::tree::Tree;

#[derive(Clone, Copy, Debug, Default)]
struct PathElement {
    feature: i64,
    zero_fraction: f64,
    one_fraction: f64,
    pweight: f64,
}

impl Booster {
    /// Mean raw prediction over the training rows (the SHAP base value).
    pub fn expected_value(&self) -> f64 {
        self.base_score() + self.trees().iter().map(tree_expected_value).sum::<f64>()
    }

    /// SHAP value of every feature for one row into `out` (one slot per feature):
    /// `sum(out) + expected_value() == predict_row(row)`.
    pub fn shap_row<T: FeatureValue>(&self, row: &[T], out: &mut [f64]) -> Result<(), GbdtError> {
        for len in [row.len(), out.len()] {
            if len != self.n_features() {
                return Err(GbdtError::RowLength {
                    found: len,
                    expected: self.n_features(),
                });
            }
        }
        out.fill(0.0);
        let mut path = Vec::new();
        for t in self.trees() {
            if t.nodes().is_empty() {
                continue;
            }
            let depth = tree_depth(t);
            path.clear();
            path.resize((depth + 2) * (depth + 3) / 2, PathElement::default());
            recurse(
                t,
                &|f| row[f].to_f64(),
                out,
                0,
                &mut path,
                0,
                0,
                1.0,
                1.0,
                -1,
            );
        }
        Ok(())
    }
}

fn tree_expected_value(t: &Tree) -> f64 {
    let total: f64 = t.leaf_counts().iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    t.leaf_values()
        .iter()
        .zip(t.leaf_counts())
        .map(|(v, c)| v * c)
        .sum::<f64>()
        / total
}

fn tree_depth(t: &Tree) -> usize {
    fn go(t: &Tree, c: i32) -> usize {
        if c < 0 {
            return 0;
        }
        let n = &t.nodes()[c as usize];
        1 + go(t, n.left).max(go(t, n.right))
    }
    go(t, 0)
}

fn cover(t: &Tree, child: i32) -> f64 {
    if child < 0 {
        t.leaf_counts()[!child as usize]
    } else {
        t.node_counts()[child as usize]
    }
}

fn extend(
    path: &mut [PathElement],
    depth: usize,
    zero_fraction: f64,
    one_fraction: f64,
    feature: i64,
) {
    path[depth] = PathElement {
        feature,
        zero_fraction,
        one_fraction,
        pweight: if depth == 0 { 1.0 } else { 0.0 },
    };
    let d1 = (depth + 1) as f64;
    for i in (0..depth).rev() {
        path[i + 1].pweight += one_fraction * path[i].pweight * (i + 1) as f64 / d1;
        path[i].pweight = zero_fraction * path[i].pweight * (depth - i) as f64 / d1;
    }
}

fn unwind(path: &mut [PathElement], depth: usize, index: usize) {
    let PathElement {
        zero_fraction,
        one_fraction,
        ..
    } = path[index];
    let d1 = (depth + 1) as f64;
    let mut next_one = path[depth].pweight;
    for i in (0..depth).rev() {
        if one_fraction != 0.0 {
            let tmp = path[i].pweight;
            path[i].pweight = next_one * d1 / ((i + 1) as f64 * one_fraction);
            next_one = tmp - path[i].pweight * zero_fraction * (depth - i) as f64 / d1;
        } else {
            path[i].pweight = path[i].pweight * d1 / (zero_fraction * (depth - i) as f64);
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

fn unwound_sum(path: &[PathElement], depth: usize, index: usize) -> f64 {
    let PathElement {
        zero_fraction,
        one_fraction,
        ..
    } = path[index];
    let d1 = (depth + 1) as f64;
    let mut next_one = path[depth].pweight;
    let mut total = 0.0;
    for i in (0..depth).rev() {
        if one_fraction != 0.0 {
            let tmp = next_one * d1 / ((i + 1) as f64 * one_fraction);
            total += tmp;
            next_one = path[i].pweight - tmp * zero_fraction * (depth - i) as f64 / d1;
        } else if zero_fraction != 0.0 {
            total += (path[i].pweight / zero_fraction) / ((depth - i) as f64 / d1);
        }
    }
    total
}

/// One step of the recursion; `path[offset..]` holds the parent's path of `depth` elements
/// (plus the root), which is copied forward before being extended.
#[allow(clippy::too_many_arguments)]
fn recurse(
    t: &Tree,
    value: &dyn Fn(usize) -> f64,
    phi: &mut [f64],
    node: i32,
    path: &mut [PathElement],
    offset: usize,
    depth: usize,
    zero_fraction: f64,
    one_fraction: f64,
    feature: i64,
) {
    // The child's path lives right after the parent's so the parent's survives for the
    // sibling call.
    let start = offset + depth + 1;
    path.copy_within(offset..start, start);
    let mut depth = depth;
    let p = &mut path[start..];
    extend(p, depth, zero_fraction, one_fraction, feature);
    if node < 0 {
        let leaf_value = t.leaf_values()[!node as usize];
        for i in 1..=depth {
            let w = unwound_sum(p, depth, i);
            let el = p[i];
            if let Some(slot) = phi.get_mut(el.feature as usize) {
                *slot += w * (el.one_fraction - el.zero_fraction) * leaf_value;
            }
        }
        return;
    }
    let n = t.nodes()[node as usize];
    let split_feature = n.feature as i64;
    let (hot, cold) = if t.goes_left(&n, value(n.feature as usize)) {
        (n.left, n.right)
    } else {
        (n.right, n.left)
    };
    let w = cover(t, node);
    let (hot_zero, cold_zero) = if w > 0.0 {
        (cover(t, hot) / w, cover(t, cold) / w)
    } else {
        (0.5, 0.5)
    };
    let (mut in_zero, mut in_one) = (1.0, 1.0);
    // A feature split on twice along the path: undo its earlier extension first.
    if let Some(k) = (1..=depth).find(|&k| p[k].feature == split_feature) {
        in_zero = p[k].zero_fraction;
        in_one = p[k].one_fraction;
        unwind(p, depth, k);
        depth -= 1;
    }
    recurse(
        t,
        value,
        phi,
        hot,
        path,
        start,
        depth + 1,
        hot_zero * in_zero,
        in_one,
        split_feature,
    );
    recurse(
        t,
        value,
        phi,
        cold,
        path,
        start,
        depth + 1,
        cold_zero * in_zero,
        0.0,
        split_feature,
    );
}
