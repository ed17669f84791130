//! Prediction-ready layout of a booster's trees (XGBoost `cpu_predictor.cc`): every node packed
//! in 16 bytes, thresholds as bin codes, all trees in one array.
//!
//! Batch prediction bins a block of rows once (one byte per feature, so a block of rows stays in
//! L1) and then walks each tree for the whole block while its few hundred bytes of nodes are hot.
//! Comparing bin codes routes exactly like comparing raw values with the tree's thresholds: a
//! value goes to the first bin whose upper bound it does not exceed and a split's threshold is
//! its last left bin's upper bound, so `v <= threshold` ⇔ `bin(v) <= threshold_bin`; NaN has the
//! missing bin; a category goes left iff its bin's bit is set. `tests` checks this against the
//! raw-value walk of [`Tree`].

use super::binning::{BinMapper, FeatureInfo, category_of};
use super::tree::Tree;

/// Marks a categorical node in [`FlatNode::rule`]; the low bits index `Forest::cat_masks`.
const CAT: u32 = 1 << 31;
/// Rows binned and walked together; 64 rows of 50 features are 3 KiB of bin codes.
const BLOCK: usize = 64;
/// Rows walked through one tree in lockstep.
const LANES: usize = 8;

/// One internal node. Children `>= 0` are nodes of the same tree, `< 0` are leaves `!child`.
#[derive(Clone, Copy, Debug)]
struct FlatNode {
    left: i32,
    right: i32,
    feature: u32,
    /// Numeric: last left bin in the low byte, and in the next byte a bin that also goes left:
    /// the missing bin when missing values go left, else bin 0 (always left anyway). So a
    /// row goes left iff `bin <= threshold || bin == extra`, with no branch on missingness.
    /// Categorical: `CAT | index of the bitset of left bins`.
    rule: u32,
}

/// Raw value → bin code of one feature, as [`BinMapper::bin_column`] does.
#[derive(Clone, Debug)]
enum Binner {
    /// No tree splits on the feature: never binned.
    Unused,
    Numerical {
        upper_bounds: Vec<f64>,
        missing: u8,
    },
    /// `(category, bin)` sorted by category, for a binary search.
    Categorical {
        bins: Vec<(i64, u8)>,
        missing: u8,
    },
}

impl Binner {
    fn new(mapper: &BinMapper) -> Self {
        let missing = mapper.missing_bin();
        match mapper {
            BinMapper::Numerical { upper_bounds } => Binner::Numerical {
                upper_bounds: upper_bounds.clone(),
                missing,
            },
            BinMapper::Categorical { categories } => {
                let mut bins: Vec<(i64, u8)> = categories
                    .iter()
                    .enumerate()
                    .map(|(b, &c)| (c, b as u8))
                    .collect();
                bins.sort_unstable();
                Binner::Categorical { bins, missing }
            }
        }
    }

    #[inline]
    fn bin(&self, v: f64) -> u8 {
        match self {
            Binner::Unused => 0,
            Binner::Numerical {
                upper_bounds,
                missing,
            } => {
                if v.is_nan() {
                    *missing
                } else {
                    upper_bounds.partition_point(|&u| u < v) as u8
                }
            }
            Binner::Categorical { bins, missing } => category_of(v)
                .and_then(|c| bins.binary_search_by_key(&c, |&(k, _)| k).ok())
                .map_or(*missing, |i| bins[i].1),
        }
    }
}

/// All trees of a booster in the flat layout, with the binning their thresholds refer to.
#[derive(Clone, Debug)]
pub(crate) struct Forest {
    nodes: Vec<FlatNode>,
    leaf_values: Vec<f64>,
    /// Tree `t` owns `nodes[node_start[t]..node_start[t + 1]]`, likewise for leaves.
    node_start: Vec<usize>,
    leaf_start: Vec<usize>,
    /// Left-bin bitsets of categorical nodes, the missing bin always cleared.
    cat_masks: Vec<[u64; 4]>,
    binners: Vec<Binner>,
    /// Features some tree splits on, in index order.
    used: Vec<usize>,
}

impl Forest {
    /// The flat form of `trees` over `features` (trees already validated against them).
    pub(crate) fn new(features: &[FeatureInfo], trees: &[Tree]) -> Self {
        let mut f = Forest {
            nodes: Vec::new(),
            leaf_values: Vec::new(),
            node_start: vec![0],
            leaf_start: vec![0],
            cat_masks: Vec::new(),
            binners: vec![Binner::Unused; features.len()],
            used: Vec::new(),
        };
        for t in trees {
            for n in t.nodes() {
                // `Booster::validate` refuses models with out-of-range features; should an
                // unvalidated one get here, its node reads the all-zero column 0, never
                // out of bounds.
                let (feature, missing) = match features.get(n.feature as usize) {
                    Some(info) => {
                        let f_idx = n.feature as usize;
                        if matches!(f.binners[f_idx], Binner::Unused) {
                            f.binners[f_idx] = Binner::new(&info.mapper);
                            f.used.push(f_idx);
                        }
                        (n.feature, info.mapper.missing_bin())
                    }
                    None => (0, 0),
                };
                let rule = match t.category_set(n) {
                    None => {
                        let extra = if n.default_left { missing } else { 0 };
                        u32::from(n.threshold_bin) | u32::from(extra) << 8
                    }
                    Some(set) => {
                        // The raw-value walk sends missing and unseen categories right; they
                        // all have the missing bin.
                        let mut mask = set.bins;
                        mask[usize::from(missing >> 6)] &= !(1u64 << (missing & 63));
                        f.cat_masks.push(mask);
                        CAT | (f.cat_masks.len() - 1) as u32
                    }
                };
                f.nodes.push(FlatNode {
                    left: n.left,
                    right: n.right,
                    feature,
                    rule,
                });
            }
            f.leaf_values.extend_from_slice(t.leaf_values());
            f.node_start.push(f.nodes.len());
            f.leaf_start.push(f.leaf_values.len());
        }
        f.used.sort_unstable();
        f
    }
}

impl Forest {
    /// Number of trees.
    fn n_trees(&self) -> usize {
        self.node_start.len() - 1
    }

    /// Adds every tree's output to `out[i]`, the raw score of row `first + i` whose feature
    /// `f` is `value(row, f)`; `bins` is scratch space. Trees are added in boosting order, so
    /// each sum is bit-identical to the single-row walk's.
    pub(crate) fn add_block(
        &self,
        first: usize,
        out: &mut [f64],
        value: &impl Fn(usize, usize) -> f64,
        bins: &mut Vec<u8>,
    ) {
        let width = self.binners.len().max(1);
        for (k, out) in out.chunks_mut(BLOCK).enumerate() {
            let first = first + k * BLOCK;
            bins.clear();
            bins.resize(out.len() * width, 0);
            for &f in &self.used {
                let binner = &self.binners[f];
                for (i, row) in bins.chunks_exact_mut(width).enumerate() {
                    row[f] = binner.bin(value(first + i, f));
                }
            }
            for t in 0..self.n_trees() {
                let nodes = &self.nodes[self.node_start[t]..self.node_start[t + 1]];
                let leaves = &self.leaf_values[self.leaf_start[t]..self.leaf_start[t + 1]];
                if nodes.is_empty() {
                    out.iter_mut().for_each(|o| *o += leaves[0]);
                    continue;
                }
                let mut lanes = out
                    .chunks_exact_mut(LANES)
                    .zip(bins.chunks_exact(width * LANES));
                for (o, rows) in &mut lanes {
                    let rows: [&[u8]; LANES] =
                        std::array::from_fn(|k| &rows[k * width..(k + 1) * width]);
                    for (o, leaf) in o.iter_mut().zip(self.leaves(nodes, rows)) {
                        *o += leaves[leaf];
                    }
                }
                let done = out.len() / LANES * LANES;
                for (o, row) in out[done..]
                    .iter_mut()
                    .zip(bins[done * width..].chunks_exact(width))
                {
                    *o += leaves[self.leaf(nodes, row)];
                }
            }
        }
    }

    /// Leaves of one tree reached by `LANES` rows walked in lockstep: the walks are independent
    /// so they overlap in the pipeline, a row already at its leaf stays put through a select,
    /// and the one unpredictable branch left is the end of the slowest walk.
    #[inline(always)]
    fn leaves(&self, nodes: &[FlatNode], rows: [&[u8]; LANES]) -> [usize; LANES] {
        let mut at = [0i32; LANES];
        loop {
            let mut active = false;
            for k in 0..LANES {
                let i = at[k];
                let n = &nodes[i.max(0) as usize];
                let next = if self.goes_left(n, rows[k][n.feature as usize]) {
                    n.left
                } else {
                    n.right
                };
                at[k] = if i >= 0 { next } else { i };
                active |= at[k] >= 0;
            }
            if !active {
                break;
            }
        }
        at.map(|i| !i as usize)
    }

    /// Whether a row with bin code `bin` at `n`'s feature goes left.
    #[inline(always)]
    fn goes_left(&self, n: &FlatNode, bin: u8) -> bool {
        if n.rule & CAT == 0 {
            (bin <= n.rule as u8) | (bin == (n.rule >> 8) as u8)
        } else {
            let mask = &self.cat_masks[(n.rule & !CAT) as usize];
            mask[usize::from(bin >> 6)] >> (bin & 63) & 1 == 1
        }
    }

    /// Leaf of one tree reached by a row of bin codes.
    #[inline(always)]
    fn leaf(&self, nodes: &[FlatNode], row: &[u8]) -> usize {
        let mut i = 0i32;
        while i >= 0 {
            let n = &nodes[i as usize];
            i = if self.goes_left(n, row[n.feature as usize]) {
                n.left
            } else {
                n.right
            };
        }
        !i as usize
    }
}
