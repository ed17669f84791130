//! The ranker's trees compiled for scoring every candidate of one request at once.
//!
//! `Booster::predict_row` walks one row through all trees: each walk is a chain of
//! dependent loads ending in a mispredicted loop exit, paid once per (candidate, tree).
//! Here all candidates go through tree `t` before tree `t + 1`, `LANES` candidates walking
//! in lockstep so their loads overlap, on f32 features and compact 12-byte nodes.
//!
//! Scores are bit-identical to `predict_row`: a numeric split `v <= threshold` on an f32
//! value widened to f64 equals `v <= round_down_to_f32(threshold)`, and leaf values are
//! summed in f64 in tree order exactly as `predict_row` does.

use crate::gbdt::Booster;

/// Candidates walked through one tree in lockstep.
const LANES: usize = 8;

/// One internal node; children `>= 0` are nodes of the same tree, `< 0` are leaves `!child`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct FlatNode {
    /// Values `<= threshold` go left (the f64 threshold rounded down to an f32).
    threshold: f32,
    /// Feature index; bit 15 set = missing values go left.
    feature: u16,
    left: i16,
    right: i16,
}

const DEFAULT_LEFT: u16 = 1 << 15;

/// Where one tree's nodes and leaves start in the flat arrays.
#[derive(Clone, Copy, Debug, PartialEq)]
struct TreeSpan {
    node_start: u32,
    leaf_start: u32,
}

/// A booster with numeric splits only, laid out for batch scoring of f32 rows.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Forest {
    nodes: Vec<FlatNode>,
    leaves: Vec<f64>,
    trees: Vec<TreeSpan>,
    base_score: f64,
    n_features: usize,
}

/// The largest f32 that is `<= x` (NaN stays NaN).
fn round_down_f32(x: f64) -> f32 {
    let f = x as f32;
    if (f as f64) > x { f.next_down() } else { f }
}

impl Forest {
    /// Compiles `booster`, or `None` when it uses a layout this path does not cover
    /// (categorical splits, more than 32,767 features or nodes per tree, bad child ids);
    /// callers then score through `Booster::predict_row`.
    pub fn compile(booster: &Booster) -> Option<Forest> {
        let n_features = booster.n_features();
        if n_features >= DEFAULT_LEFT as usize {
            return None;
        }
        let mut f = Forest {
            nodes: Vec::new(),
            leaves: Vec::new(),
            trees: Vec::with_capacity(booster.trees().len()),
            base_score: booster.base_score(),
            n_features,
        };
        for t in booster.trees() {
            let nodes = t.nodes();
            let n_leaves = t.leaf_values().len();
            if nodes.len() > i16::MAX as usize || n_leaves > i16::MAX as usize + 1 {
                return None;
            }
            let child_ok = |c: i32| {
                if c >= 0 {
                    (c as usize) < nodes.len()
                } else {
                    (!c as usize) < n_leaves
                }
            };
            f.trees.push(TreeSpan {
                node_start: f.nodes.len() as u32,
                leaf_start: f.leaves.len() as u32,
            });
            for n in nodes {
                if n.cat_set != u32::MAX
                    || n.feature as usize >= n_features
                    || !child_ok(n.left)
                    || !child_ok(n.right)
                {
                    return None;
                }
                f.nodes.push(FlatNode {
                    threshold: round_down_f32(n.threshold),
                    feature: n.feature as u16 | if n.default_left { DEFAULT_LEFT } else { 0 },
                    left: n.left as i16,
                    right: n.right as i16,
                });
            }
            // A tree without nodes is a single leaf: encode it as "root is leaf 0".
            f.leaves.extend_from_slice(t.leaf_values());
        }
        Some(f)
    }

    /// Features a row must have.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Raw scores of `rows` (row-major, [`Forest::n_features`] values each) into `out`.
    pub fn score(&self, rows: &[f32], out: &mut Vec<f64>) {
        let nf = self.n_features.max(1);
        let n = rows.len() / nf;
        out.clear();
        out.resize(n, self.base_score);
        for (t, span) in self.trees.iter().enumerate() {
            let node_end = self
                .trees
                .get(t + 1)
                .map_or(self.nodes.len(), |s| s.node_start as usize);
            let nodes = &self.nodes[span.node_start as usize..node_end];
            let leaves = &self.leaves[span.leaf_start as usize..];
            if nodes.is_empty() {
                let v = leaves.first().copied().unwrap_or(0.0);
                out.iter_mut().for_each(|o| *o += v);
                continue;
            }
            let mut blocks = out.chunks_exact_mut(LANES);
            let mut r0 = 0;
            for block in &mut blocks {
                let rows: [&[f32]; LANES] =
                    std::array::from_fn(|k| &rows[(r0 + k) * nf..(r0 + k + 1) * nf]);
                let leaf = walk(nodes, rows);
                for (o, l) in block.iter_mut().zip(leaf) {
                    *o += leaves.get(l).copied().unwrap_or(0.0);
                }
                r0 += LANES;
            }
            for (k, o) in blocks.into_remainder().iter_mut().enumerate() {
                let r = r0 + k;
                let leaf = walk(nodes, [&rows[r * nf..(r + 1) * nf]]);
                *o += leaves.get(leaf[0]).copied().unwrap_or(0.0);
            }
        }
    }
}

/// Leaves reached by `L` rows walked in lockstep through one tree's `nodes` (non-empty);
/// rows already at a leaf stay put through a select.
#[inline(always)]
fn walk<const L: usize>(nodes: &[FlatNode], rows: [&[f32]; L]) -> [usize; L] {
    let mut at = [0i16; L];
    loop {
        let mut active = false;
        for k in 0..L {
            let i = at[k];
            let n = nodes.get(i.max(0) as usize).copied().unwrap_or(FlatNode {
                threshold: f32::NAN,
                feature: 0,
                left: -1,
                right: -1,
            });
            let f = (n.feature & !DEFAULT_LEFT) as usize;
            let v = rows[k].get(f).copied().unwrap_or(f32::NAN);
            let left = (v <= n.threshold) | (v.is_nan() & (n.feature & DEFAULT_LEFT != 0));
            let next = if left { n.left } else { n.right };
            at[k] = if i >= 0 { next } else { i };
            active |= i >= 0;
        }
        if !active {
            break;
        }
    }
    at.map(|i| !i as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gbdt::{Dataset, DenseInput, Params};
    use crate::rng::Rng;

    #[test]
    fn round_down_keeps_every_comparison() {
        let mut rng = Rng::new(3);
        for _ in 0..10_000 {
            let thr = (rng.uniform() - 0.5) * 1e3;
            let f = round_down_f32(thr);
            assert!(f as f64 <= thr && (f.next_up() as f64) > thr, "{thr}");
        }
        assert_eq!(round_down_f32(f64::INFINITY), f32::INFINITY);
        assert_eq!(round_down_f32(1e300), f32::MAX);
        assert_eq!(round_down_f32(-1e300), f32::NEG_INFINITY);
        assert!(round_down_f32(f64::NAN).is_nan());
    }

    #[test]
    fn scores_equal_predict_row_bit_for_bit() {
        let mut rng = Rng::new(11);
        let (n, nf) = (3_000, 6);
        let mut columns = vec![Vec::with_capacity(n); nf];
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let x: Vec<f64> = (0..nf)
                .map(|f| {
                    // Some missing values so default directions are learned and used.
                    if f == 2 && rng.bernoulli(0.2) {
                        f64::NAN
                    } else {
                        (rng.uniform() * 100.0).round() / 7.0
                    }
                })
                .collect();
            let y = x[0] + if x[2].is_nan() { 5.0 } else { x[2] } > 12.0;
            labels.push(y as u8 as f64);
            for (c, v) in columns.iter_mut().zip(x) {
                c.push(v);
            }
        }
        let names: Vec<String> = (0..nf).map(|f| format!("f{f}")).collect();
        let params = Params {
            num_iterations: 30,
            num_leaves: 15,
            min_data_in_leaf: 5,
            ..Params::default()
        };
        let data = Dataset::from_dense(
            DenseInput {
                columns: &columns,
                feature_names: &names,
                categorical: &[],
                labels: &labels,
                weights: None,
            },
            &params,
        )
        .unwrap();
        let booster = Booster::train(&params, &data, None).unwrap();
        let forest = Forest::compile(&booster).expect("numeric splits compile");
        // Rows on and around the training values, thresholds themselves, NaN and ±inf.
        let mut rows: Vec<f32> = Vec::new();
        for r in 0..203 {
            for (f, column) in columns.iter().enumerate() {
                let v = match (r + f) % 9 {
                    0 => f32::NAN,
                    1 => f32::INFINITY,
                    2 => f32::NEG_INFINITY,
                    _ => column[r * 7] as f32 + [0.0, 1e-6, -1e-6][r % 3],
                };
                rows.push(v);
            }
        }
        let mut got = Vec::new();
        forest.score(&rows, &mut got);
        assert_eq!(got.len(), 203);
        for (r, g) in got.iter().enumerate() {
            let want = booster.predict_row(&rows[r * nf..(r + 1) * nf]).unwrap();
            assert_eq!(g.to_bits(), want.to_bits(), "row {r}");
        }
    }
}
