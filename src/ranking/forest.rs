//! The ranker's trees compiled for scoring every candidate of one request at once.
//!
//! `Booster::predict_row` walks one row through all trees: each walk is a chain of
//! dependent loads ending in a mispredicted loop exit, paid once per (candidate, tree).
//! Here trees are evaluated the QuickScorer way (Lucchesi et al., SIGIR 2015) on blocks of
//! [`LANES`] candidates at once: every internal node of a tree is tested for all lanes
//! (one compare of a feature column against the threshold), and each node a lane goes
//! right at clears the bits of the leaves in that node's left subtree from the lane's
//! leaf bitset. The lowest bit left is the exit leaf. No loads depend on earlier
//! comparisons, so the node loop is straight-line vector code.
//!
//! Scores are bit-identical to `predict_row`: a numeric split `v <= threshold` on an f32
//! value widened to f64 equals `v <= round_down_to_f32(threshold)`, and leaf values are
//! summed in f64 in tree order exactly as `predict_row` does.

use crate::gbdt::{Booster, Tree};

/// Candidates scored together; their features are transposed into columns of this width.
const LANES: usize = 16;

/// Leaf values stored per tree (the most leaves any mask width allows), zero-padded.
const LEAF_SLOTS: usize = 64;

/// A lane's set of still-possible leaves, in left-to-right (in-order) leaf order.
trait LeafBits: Copy + std::ops::BitAnd<Output = Self> {
    /// Bits per set: the most leaves a tree may have.
    const WIDTH: usize;
    /// Every leaf possible.
    const ONES: Self;
    /// Narrows a 64-bit mask (only called when the tree fits).
    fn from_u64(x: u64) -> Self;
    /// Position of the lowest set bit (the exit leaf).
    fn lowest(self) -> usize;
}

impl LeafBits for u32 {
    const WIDTH: usize = 32;
    const ONES: u32 = u32::MAX;
    fn from_u64(x: u64) -> u32 {
        x as u32
    }
    #[inline(always)]
    fn lowest(self) -> usize {
        self.trailing_zeros() as usize
    }
}

impl LeafBits for u64 {
    const WIDTH: usize = 64;
    const ONES: u64 = u64::MAX;
    fn from_u64(x: u64) -> u64 {
        x
    }
    #[inline(always)]
    fn lowest(self) -> usize {
        self.trailing_zeros() as usize
    }
}

/// Where one tree's nodes and leaves start in the flat arrays.
#[derive(Clone, Copy, Debug, PartialEq)]
struct TreeSpan {
    node_start: u32,
    /// Nodes sending missing values right (tested as `v <= threshold`) come first, then
    /// those sending them left (tested as `v > threshold`): AND is order-free.
    n_plain: u32,
    n_nodes: u32,
    /// Start of the tree's [`LEAF_SLOTS`] leaf values in in-order position.
    leaf_start: u32,
}

/// Per-node masks: `!0` except zeros at the leaves of the node's left subtree.
#[derive(Clone, Debug, PartialEq)]
enum Masks {
    /// Every tree has at most 32 leaves.
    Narrow(Vec<u32>),
    /// Some tree has 33 to 64 leaves.
    Wide(Vec<u64>),
}

/// A booster with numeric splits only, laid out for batch scoring of f32 rows.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Forest {
    feature: Vec<u32>,
    /// Values `<= threshold` go left (the f64 threshold rounded down to an f32).
    threshold: Vec<f32>,
    masks: Masks,
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

/// An internal node and the in-order positions `lo..hi` of its left subtree's leaves.
type LeftRange = (usize, u32, u32);

/// One tree's internal nodes with their [`LeftRange`]s and its leaves in in-order
/// position, or `None` when the child links are not a tree.
fn in_order(tree: &Tree) -> Option<(Vec<LeftRange>, Vec<usize>)> {
    let (nodes, n_leaves) = (tree.nodes(), tree.leaf_values().len());
    let mut left_ranges = Vec::with_capacity(nodes.len());
    let mut order = Vec::with_capacity(n_leaves);
    let mut seen = vec![false; nodes.len()];
    // Explicit stack: (child, node whose left subtree ends when this child is done).
    enum Step {
        Visit(i32),
        LeftDone(usize, u32),
    }
    let mut stack = vec![Step::Visit(0)];
    while let Some(step) = stack.pop() {
        match step {
            Step::Visit(c) if c < 0 => {
                let leaf = !c as usize;
                if leaf >= n_leaves || order.len() >= n_leaves {
                    return None;
                }
                order.push(leaf);
            }
            Step::Visit(c) => {
                let i = c as usize;
                let n = nodes.get(i)?;
                if std::mem::replace(seen.get_mut(i)?, true) {
                    return None;
                }
                stack.push(Step::Visit(n.right));
                stack.push(Step::LeftDone(i, order.len() as u32));
                stack.push(Step::Visit(n.left));
            }
            Step::LeftDone(i, lo) => left_ranges.push((i, lo, order.len() as u32)),
        }
    }
    let mut taken = vec![false; n_leaves];
    for &l in &order {
        if std::mem::replace(&mut taken[l], true) {
            return None;
        }
    }
    (order.len() == n_leaves && left_ranges.len() == nodes.len()).then_some((left_ranges, order))
}

impl Forest {
    /// Compiles `booster`, or `None` when it uses a layout this path does not cover
    /// (categorical splits, NaN thresholds, more than 64 leaves in a tree, links that do
    /// not form a tree); callers then score through `Booster::predict_row`.
    pub fn compile(booster: &Booster) -> Option<Forest> {
        let n_features = booster.n_features();
        let max_leaves = booster
            .trees()
            .iter()
            .map(|t| t.leaf_values().len())
            .max()
            .unwrap_or(1);
        if max_leaves > u64::WIDTH {
            return None;
        }
        let mut f = Forest {
            feature: Vec::new(),
            threshold: Vec::new(),
            masks: Masks::Narrow(Vec::new()),
            leaves: Vec::new(),
            trees: Vec::with_capacity(booster.trees().len()),
            base_score: booster.base_score(),
            n_features,
        };
        let width = if max_leaves > u32::WIDTH {
            u64::WIDTH
        } else {
            u32::WIDTH
        };
        let mut masks: Vec<u64> = Vec::new();
        for t in booster.trees() {
            let nodes = t.nodes();
            let values = t.leaf_values();
            let node_start = f.feature.len() as u32;
            let leaf_start = f.leaves.len() as u32;
            if nodes.is_empty() {
                // A tree without nodes is its single leaf 0: no node clears a bit.
                f.leaves.push(values.first().copied().unwrap_or(0.0));
            } else {
                let (ranges, order) = in_order(t)?;
                f.leaves.extend(order.iter().map(|&l| values[l]));
                let mut plain = Vec::new();
                let mut missing_left = Vec::new();
                for (i, lo, hi) in ranges {
                    let n = &nodes[i];
                    if n.cat_set != u32::MAX
                        || n.feature as usize >= n_features
                        || n.threshold.is_nan()
                    {
                        return None;
                    }
                    let left_leaves = (u64::MAX >> (64 - (hi - lo))) << lo;
                    let entry = (n.feature, round_down_f32(n.threshold), !left_leaves);
                    if n.default_left {
                        missing_left.push(entry);
                    } else {
                        plain.push(entry);
                    }
                }
                let n_plain = plain.len() as u32;
                for (feature, threshold, mask) in plain.into_iter().chain(missing_left) {
                    f.feature.push(feature);
                    f.threshold.push(threshold);
                    masks.push(mask);
                }
                f.trees.push(TreeSpan {
                    node_start,
                    n_plain,
                    n_nodes: f.feature.len() as u32 - node_start,
                    leaf_start,
                });
                f.leaves.resize(leaf_start as usize + LEAF_SLOTS, 0.0);
                continue;
            }
            f.trees.push(TreeSpan {
                node_start,
                n_plain: 0,
                n_nodes: 0,
                leaf_start,
            });
            f.leaves.resize(leaf_start as usize + LEAF_SLOTS, 0.0);
        }
        f.masks = if width == u32::WIDTH {
            Masks::Narrow(masks.into_iter().map(u32::from_u64).collect())
        } else {
            Masks::Wide(masks)
        };
        Some(f)
    }

    /// Features a row must have.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Raw scores of `rows` (row-major, [`Forest::n_features`] values each) into `out`.
    pub fn score(&self, rows: &[f32], out: &mut Vec<f64>) {
        out.clear();
        match &self.masks {
            Masks::Narrow(m) => score_narrow(self, m, rows, out),
            Masks::Wide(m) => score_wide(self, m, rows, out),
        }
    }
}

#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma"
))]
fn score_narrow(f: &Forest, masks: &[u32], rows: &[f32], out: &mut Vec<f64>) {
    score_rows(f, masks, rows, out)
}

#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma"
))]
fn score_wide(f: &Forest, masks: &[u64], rows: &[f32], out: &mut Vec<f64>) {
    score_rows(f, masks, rows, out)
}

/// Transposes `rows` into blocks of [`LANES`] feature columns and scores each block.
#[inline(always)]
fn score_rows<M: LeafBits>(f: &Forest, masks: &[M], rows: &[f32], out: &mut Vec<f64>) {
    let nf = f.n_features.max(1);
    let n = rows.len() / nf;
    let mut x = vec![0.0f32; nf * LANES];
    for block in rows[..n * nf].chunks(nf * LANES) {
        let count = block.len() / nf;
        for (l, row) in block.chunks_exact(nf).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                x[j * LANES + l] = v;
            }
        }
        // Lanes past the last row score zeros; their sums are dropped.
        for j in 0..nf {
            x[j * LANES + count..(j + 1) * LANES].fill(0.0);
        }
        let acc = score_block(f, masks, &x);
        out.extend_from_slice(&acc[..count]);
    }
}

/// Feature `j`'s column of a transposed block.
#[inline(always)]
fn column(x: &[f32], j: u32) -> Option<&[f32; LANES]> {
    let j = j as usize;
    x.get(j * LANES..(j + 1) * LANES)?.try_into().ok()
}

/// Sums over every tree of the exit leaf's value of each lane of `x` (`x[j * LANES + l]`
/// is feature `j` of lane `l`), starting from the base score, in tree order.
#[inline(always)]
fn score_block<M: LeafBits>(f: &Forest, masks: &[M], x: &[f32]) -> [f64; LANES] {
    let mut acc = [f.base_score; LANES];
    for span in &f.trees {
        let mut bits = [M::ONES; LANES];
        let start = span.node_start as usize;
        let split = start + span.n_plain as usize;
        let end = start + span.n_nodes as usize;
        let nodes = |r: std::ops::Range<usize>| {
            f.feature[r.clone()]
                .iter()
                .zip(&f.threshold[r.clone()])
                .zip(&masks[r])
        };
        for ((&j, &thr), &mask) in nodes(start..split) {
            let Some(col) = column(x, j) else { continue };
            for (b, &v) in bits.iter_mut().zip(col) {
                *b = *b & if v <= thr { M::ONES } else { mask };
            }
        }
        for ((&j, &thr), &mask) in nodes(split..end) {
            let Some(col) = column(x, j) else { continue };
            // Missing values go left here: only a number above the threshold goes right.
            for (b, &v) in bits.iter_mut().zip(col) {
                *b = *b & if v > thr { mask } else { M::ONES };
            }
        }
        // Every tree owns LEAF_SLOTS leaf values: a fixed-size table indexed by a masked
        // position needs no bounds check, so the lookups can vectorise as a gather.
        let start = span.leaf_start as usize;
        let Some(leaves) = f
            .leaves
            .get(start..start + LEAF_SLOTS)
            .and_then(|l| <&[f64; LEAF_SLOTS]>::try_from(l).ok())
        else {
            continue;
        };
        for (a, b) in acc.iter_mut().zip(bits) {
            *a += leaves[b.lowest() & (LEAF_SLOTS - 1)];
        }
    }
    acc
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
        let forest = check_against_predict_row(15);
        assert!(matches!(forest.masks, Masks::Narrow(_)));
    }

    #[test]
    fn trees_past_32_leaves_use_wide_masks_and_stay_exact() {
        let forest = check_against_predict_row(48);
        assert!(matches!(forest.masks, Masks::Wide(_)));
    }

    /// Trains a booster of `num_leaves` leaves per tree and checks every compiled score.
    fn check_against_predict_row(num_leaves: usize) -> Forest {
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
            num_leaves,
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
        forest
    }
}
