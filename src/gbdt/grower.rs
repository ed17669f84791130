//! Leaf-wise tree growth (LightGBM `serial_tree_learner.cpp`): always split the leaf with the
//! largest gain; build the smaller child's histogram and get the larger one by subtraction.

use super::dataset::Dataset;
use super::histogram::{BinStats, Histogram};
use super::params::Params;
use super::partition::DataPartition;
use super::split::{SplitConfig, SplitInfo, leaf_output};
use super::tree::Tree;
use rayon::prelude::*;

/// Rows per parallel chunk when gathering a leaf's gradients.
const GATHER_CHUNK: usize = 1 << 14;

/// A leaf while the tree grows.
#[derive(Debug)]
struct LeafState {
    stats: BinStats,
    depth: usize,
    /// Node whose child this leaf is.
    parent: Option<usize>,
    /// Histogram slot holding this leaf's histogram (when it may be split).
    slot: usize,
    best: Option<SplitInfo>,
}

/// Grows trees on one dataset, reusing histogram and partition buffers across rounds.
pub struct TreeGrower<'a> {
    ds: &'a Dataset,
    params: &'a Params,
    cfg: SplitConfig,
    hists: Vec<Histogram>,
    partition: DataPartition,
    ordered: Vec<[f64; 2]>,
    missing: Vec<u8>,
}

impl<'a> TreeGrower<'a> {
    /// Rows per leaf of the last grown tree.
    pub fn partition(&self) -> &DataPartition {
        &self.partition
    }

    /// Buffers for trees of up to `params.num_leaves` leaves over `ds`.
    pub fn new(ds: &'a Dataset, params: &'a Params) -> Self {
        Self {
            ds,
            params,
            cfg: SplitConfig::from(params),
            hists: Vec::new(),
            partition: DataPartition::default(),
            ordered: Vec::new(),
            missing: ds
                .features()
                .iter()
                .map(|f| f.mapper.missing_bin())
                .collect(),
        }
    }

    /// Grows one tree on per-row `[gradient, hessian]` (weights applied), over the rows in
    /// `bag` (all rows when `None`) and the features with `used[f]`. Leaf values include the
    /// learning rate.
    pub fn grow(&mut self, gh: &[[f64; 2]], bag: Option<&[u32]>, used: &[bool]) -> Tree {
        let n_features = self.ds.n_features();
        let max_leaves = self.params.num_leaves;
        if self.hists.len() < max_leaves {
            self.hists
                .resize_with(max_leaves, || Histogram::new(n_features));
        }
        match bag {
            None => self.partition.reset(0..self.ds.n_rows() as u32),
            Some(rows) => self.partition.reset(rows.iter().copied()),
        }
        let mut root = BinStats::default();
        for &r in self.partition.rows(0) {
            let g = gh[r as usize];
            root += BinStats {
                grad: g[0],
                hess: g[1],
                count: 1.0,
            };
        }
        let mut tree = Tree::single_leaf(root.count);
        let mut leaves = vec![LeafState {
            stats: root,
            depth: 0,
            parent: None,
            slot: 0,
            best: None,
        }];
        // The histograms' mask is by packed slot and leaves constant features out.
        let mut used_slots = vec![false; n_features];
        for (f, &u) in used.iter().enumerate() {
            used_slots[self.ds.slot(f)] = u && !self.ds.is_constant(f);
        }
        let used_slots = &used_slots[..];
        if self.splittable(&root, 0) && used_slots.iter().any(|&u| u) {
            self.build(0, 0, gh, bag.is_none(), used_slots);
            leaves[0].best = self.best_split(0, root, used);
        }
        while tree.n_leaves() < max_leaves {
            let Some(leaf) = pick_leaf(&leaves) else {
                break;
            };
            let Some(mut info) = leaves[leaf].best.take() else {
                break;
            };
            let col = self.ds.column(info.feature);
            let missing = self.missing[info.feature];
            // One table lookup per row instead of matching on the split kind.
            let left_of: [bool; 256] =
                std::array::from_fn(|b| info.kind.goes_left(b as u8, missing));
            let new_leaf = self
                .partition
                .split(leaf, |r| left_of[col[r as usize] as usize]);
            // Histogram counts are estimates; the partition knows the exact sizes.
            info.left.count = self.partition.rows(leaf).len() as f64;
            info.right.count = self.partition.rows(new_leaf).len() as f64;
            let mapper = &self.ds.features()[info.feature].mapper;
            let (node, tree_leaf) = tree.split_leaf(leaf, leaves[leaf].parent, &info, mapper);
            debug_assert_eq!(
                tree_leaf, new_leaf,
                "tree and partition number leaves alike"
            );

            let depth = leaves[leaf].depth + 1;
            let parent_slot = leaves[leaf].slot;
            let (left_ok, right_ok) = (
                self.splittable(&info.left, depth),
                self.splittable(&info.right, depth),
            );
            // The smaller child is built from its rows into the fresh slot `new_leaf`; the
            // larger inherits the parent's slot and becomes parent - smaller.
            let left_smaller = info.left.count <= info.right.count;
            let (smaller, larger_ok) = if left_smaller {
                (leaf, right_ok)
            } else {
                (new_leaf, left_ok)
            };
            if left_ok || right_ok {
                self.build(new_leaf, smaller, gh, false, used_slots);
                if larger_ok {
                    let (parent_h, small_h) = two_mut(&mut self.hists, parent_slot, new_leaf);
                    parent_h.subtract(small_h, used_slots);
                }
            }
            let (left_slot, right_slot) = if left_smaller {
                (new_leaf, parent_slot)
            } else {
                (parent_slot, new_leaf)
            };
            let left_best = if left_ok {
                self.best_split(left_slot, info.left, used)
            } else {
                None
            };
            let right_best = if right_ok {
                self.best_split(right_slot, info.right, used)
            } else {
                None
            };
            leaves[leaf] = LeafState {
                stats: info.left,
                depth,
                parent: Some(node),
                slot: left_slot,
                best: left_best,
            };
            leaves.push(LeafState {
                stats: info.right,
                depth,
                parent: Some(node),
                slot: right_slot,
                best: right_best,
            });
        }
        for (i, l) in leaves.iter().enumerate() {
            let v = leaf_output(l.stats.grad, l.stats.hess, self.params.lambda_l2)
                * self.params.learning_rate;
            tree.set_leaf_value(i, v);
        }
        tree
    }

    /// Whether a leaf with these sums at this depth may still be split.
    fn splittable(&self, s: &BinStats, depth: usize) -> bool {
        self.params.max_depth.is_none_or(|d| depth < d)
            && s.count >= 2.0 * self.cfg.min_data_in_leaf
            && s.hess >= 2.0 * self.cfg.min_sum_hessian_in_leaf
    }

    /// Builds the histogram of `leaf` into `slot` for the packed slots with `used_slots`;
    /// `all_rows` when the leaf is every row in order (root without bagging) so gradients
    /// need no gathering.
    fn build(
        &mut self,
        slot: usize,
        leaf: usize,
        gh: &[[f64; 2]],
        all_rows: bool,
        used_slots: &[bool],
    ) {
        if all_rows {
            self.hists[slot].build(self.ds, None, gh, used_slots);
            return;
        }
        let rows = self.partition.rows(leaf);
        self.ordered.resize(rows.len(), [0.0; 2]);
        self.ordered
            .par_chunks_mut(GATHER_CHUNK)
            .zip(rows.par_chunks(GATHER_CHUNK))
            .for_each(|(out, rows)| {
                for (o, &r) in out.iter_mut().zip(rows) {
                    *o = gh[r as usize];
                }
            });
        self.hists[slot].build(self.ds, Some(rows), &self.ordered, used_slots);
    }

    /// Best split over the used features; ties go to the lowest feature index. Constant
    /// features have no histogram (and no split).
    fn best_split(&self, slot: usize, total: BinStats, used: &[bool]) -> Option<SplitInfo> {
        let hist = &self.hists[slot];
        let features = self.ds.features();
        let per_feature: Vec<Option<SplitInfo>> = (0..features.len())
            .into_par_iter()
            .map(|f| {
                if used[f] && !self.ds.is_constant(f) {
                    self.cfg.best_split(
                        f,
                        hist.feature(self.ds.slot(f)),
                        &features[f].mapper,
                        total,
                    )
                } else {
                    None
                }
            })
            .collect();
        per_feature
            .into_iter()
            .flatten()
            .fold(None, |best: Option<SplitInfo>, s| match best {
                Some(b) if b.gain >= s.gain => Some(b),
                _ => Some(s),
            })
    }
}

/// The leaf with the largest pending gain (lowest id on ties).
fn pick_leaf(leaves: &[LeafState]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, l) in leaves.iter().enumerate() {
        if let Some(s) = &l.best
            && best.is_none_or(|(_, g)| s.gain > g)
        {
            best = Some((i, s.gain));
        }
    }
    best.map(|(i, _)| i)
}

/// Two distinct elements of a slice, mutably.
fn two_mut<T>(v: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    assert_ne!(
        a, b,
        "histogram slots of parent and child differ by construction"
    );
    if a < b {
        let (x, y) = v.split_at_mut(b);
        (&mut x[a], &mut y[0])
    } else {
        let (x, y) = v.split_at_mut(a);
        (&mut y[0], &mut x[b])
    }
}
