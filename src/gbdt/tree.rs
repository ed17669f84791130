//! One regression tree: flat node array, leaves addressed by negative child ids.

use super::binning::{BinMapper, category_of};
use super::split::{SplitInfo, SplitKind};
use serde::{Deserialize, Serialize};

/// Marks "no category set" in [`Node::cat_set`].
const NO_CAT: u32 = u32::MAX;

/// An internal node. Children `>= 0` are nodes, `< 0` are leaves `!child`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Numeric splits: values `<= threshold` go left.
    pub threshold: f64,
    /// Feature index.
    pub feature: u32,
    /// Left child.
    pub left: i32,
    /// Right child.
    pub right: i32,
    /// Index into the tree's category sets, or `u32::MAX` for a numeric split.
    pub cat_set: u32,
    /// Numeric splits: last bin code on the left.
    pub threshold_bin: u8,
    /// Numeric splits: where missing values go.
    pub default_left: bool,
}

/// Categories sent left by a categorical split, as bin codes and as raw integer values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CatSet {
    /// Bitset over bin codes.
    pub bins: [u64; 4],
    /// Raw categories, sorted for binary search.
    pub categories: Vec<i64>,
}

/// A fitted tree; leaf values already include the learning rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    nodes: Vec<Node>,
    /// Gain of each node's split (importance).
    node_gain: Vec<f64>,
    /// Training rows reaching each node (TreeSHAP cover).
    node_count: Vec<f64>,
    cat_sets: Vec<CatSet>,
    leaf_values: Vec<f64>,
    /// Training rows reaching each leaf.
    leaf_counts: Vec<f64>,
}

impl Tree {
    /// A tree with one leaf holding every row.
    pub fn single_leaf(count: f64) -> Self {
        Self {
            nodes: Vec::new(),
            node_gain: Vec::new(),
            node_count: Vec::new(),
            cat_sets: Vec::new(),
            leaf_values: vec![0.0],
            leaf_counts: vec![count],
        }
    }

    /// Replaces `leaf` by a node splitting it per `info`; `leaf` becomes the left child and
    /// the new right leaf's id is returned. `parent` is the node whose child `leaf` is.
    pub(crate) fn split_leaf(
        &mut self,
        leaf: usize,
        parent: Option<usize>,
        info: &SplitInfo,
        mapper: &BinMapper,
    ) -> (usize, usize) {
        let node_id = self.nodes.len();
        let new_leaf = self.leaf_values.len();
        let (threshold, threshold_bin, default_left, cat_set) = match &info.kind {
            SplitKind::Numerical {
                threshold_bin,
                default_left,
            } => (
                mapper.upper_bound(*threshold_bin),
                *threshold_bin,
                *default_left,
                NO_CAT,
            ),
            SplitKind::Categorical { left_bins } => {
                let mut categories: Vec<i64> = (0..=255u8)
                    .filter(|&b| left_bins[(b >> 6) as usize] >> (b & 63) & 1 == 1)
                    .filter_map(|b| mapper.category(b))
                    .collect();
                categories.sort_unstable();
                self.cat_sets.push(CatSet {
                    bins: *left_bins,
                    categories,
                });
                (f64::NAN, 0, false, (self.cat_sets.len() - 1) as u32)
            }
        };
        self.nodes.push(Node {
            threshold,
            feature: info.feature as u32,
            left: !(leaf as i32),
            right: !(new_leaf as i32),
            cat_set,
            threshold_bin,
            default_left,
        });
        self.node_gain.push(info.gain);
        self.node_count.push(info.left.count + info.right.count);
        if let Some(p) = parent {
            let n = &mut self.nodes[p];
            if n.left == !(leaf as i32) {
                n.left = node_id as i32;
            } else {
                n.right = node_id as i32;
            }
        }
        self.leaf_counts[leaf] = info.left.count;
        self.leaf_values.push(0.0);
        self.leaf_counts.push(info.right.count);
        (node_id, new_leaf)
    }

    /// Sets the value of `leaf`.
    pub(crate) fn set_leaf_value(&mut self, leaf: usize, value: f64) {
        self.leaf_values[leaf] = value;
    }

    /// Internal nodes.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The category set of a categorical node, `None` for a numeric one.
    pub fn category_set(&self, node: &Node) -> Option<&CatSet> {
        if node.cat_set == NO_CAT {
            None
        } else {
            self.cat_sets.get(node.cat_set as usize)
        }
    }

    /// Leaf values (shrinkage included).
    pub fn leaf_values(&self) -> &[f64] {
        &self.leaf_values
    }

    /// Training rows per leaf.
    pub fn leaf_counts(&self) -> &[f64] {
        &self.leaf_counts
    }

    /// Training rows per internal node.
    pub fn node_counts(&self) -> &[f64] {
        &self.node_count
    }

    /// Split gain per internal node.
    pub fn node_gains(&self) -> &[f64] {
        &self.node_gain
    }

    /// Number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.leaf_values.len()
    }

    /// The child a raw value moves to from `node`; numeric nodes compile to selects, not
    /// branches, so batch prediction does not pay for mispredicted comparisons.
    #[inline(always)]
    pub fn next(&self, node: &Node, v: f64) -> i32 {
        if node.cat_set == NO_CAT {
            let left = (v <= node.threshold) | (v.is_nan() & node.default_left);
            if left { node.left } else { node.right }
        } else if self.goes_left(node, v) {
            node.left
        } else {
            node.right
        }
    }

    /// Whether a raw value goes left at `node`.
    #[inline]
    pub fn goes_left(&self, node: &Node, v: f64) -> bool {
        if node.cat_set == NO_CAT {
            if v.is_nan() {
                node.default_left
            } else {
                v <= node.threshold
            }
        } else {
            match (category_of(v), self.cat_sets.get(node.cat_set as usize)) {
                (Some(c), Some(set)) => set.categories.binary_search(&c).is_ok(),
                _ => false,
            }
        }
    }

    /// Whether a row with bin code `bin` goes left at `node` (`missing` = the missing bin).
    #[inline]
    pub fn goes_left_bin(&self, node: &Node, bin: u8, missing: u8) -> bool {
        if node.cat_set == NO_CAT {
            if bin == missing {
                node.default_left
            } else {
                bin <= node.threshold_bin
            }
        } else {
            self.cat_sets
                .get(node.cat_set as usize)
                .is_some_and(|s| s.bins[(bin >> 6) as usize] >> (bin & 63) & 1 == 1)
        }
    }

    /// Leaf reached by a row whose feature `f` has raw value `value(f)`.
    #[inline]
    pub fn leaf_of(&self, value: impl Fn(usize) -> f64) -> usize {
        if self.nodes.is_empty() {
            return 0;
        }
        let mut i = 0i32;
        while i >= 0 {
            let n = &self.nodes[i as usize];
            i = self.next(n, value(n.feature as usize));
        }
        !i as usize
    }

    /// Leaf reached by a row given its bin codes `bin(f)` and missing bins `missing(f)`.
    #[inline]
    pub fn leaf_of_bins(&self, bin: impl Fn(usize) -> u8, missing: impl Fn(usize) -> u8) -> usize {
        if self.nodes.is_empty() {
            return 0;
        }
        let mut i = 0i32;
        while i >= 0 {
            let n = &self.nodes[i as usize];
            let f = n.feature as usize;
            i = if self.goes_left_bin(n, bin(f), missing(f)) {
                n.left
            } else {
                n.right
            };
        }
        !i as usize
    }

    /// Checks internal references so a corrupted or hand-edited model cannot index out of
    /// bounds or loop: children in range, each node and leaf reached exactly once.
    pub(crate) fn validate(&self, n_features: usize) -> Result<(), String> {
        let n_nodes = self.nodes.len();
        let n_leaves = self.leaf_values.len();
        if n_leaves != n_nodes + 1 || self.leaf_counts.len() != n_leaves {
            return Err(format!("{n_nodes} nodes but {n_leaves} leaves"));
        }
        if self.node_gain.len() != n_nodes || self.node_count.len() != n_nodes {
            return Err("node statistics do not match the nodes".into());
        }
        let mut seen_nodes = vec![false; n_nodes];
        let mut seen_leaves = vec![false; n_leaves];
        let mut stack = if n_nodes == 0 { vec![] } else { vec![0i32] };
        if n_nodes == 0 {
            seen_leaves[0] = true;
        }
        while let Some(c) = stack.pop() {
            if c >= 0 {
                let i = c as usize;
                let Some(n) = self.nodes.get(i) else {
                    return Err(format!("node {i} out of range"));
                };
                if std::mem::replace(&mut seen_nodes[i], true) {
                    return Err(format!("node {i} reached twice"));
                }
                if n.feature as usize >= n_features {
                    return Err(format!(
                        "node {i} splits on feature {} of {n_features}",
                        n.feature
                    ));
                }
                if n.cat_set != NO_CAT && n.cat_set as usize >= self.cat_sets.len() {
                    return Err(format!("node {i} has no category set"));
                }
                stack.push(n.left);
                stack.push(n.right);
            } else {
                let l = !c as usize;
                match seen_leaves.get_mut(l) {
                    Some(s) if !*s => *s = true,
                    _ => return Err(format!("leaf {l} out of range or reached twice")),
                }
            }
        }
        if seen_nodes.iter().chain(&seen_leaves).all(|&s| s) {
            Ok(())
        } else {
            Err("unreachable nodes or leaves".into())
        }
    }
}
