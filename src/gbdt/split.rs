//! Best split of one feature from its histogram (LightGBM `FindBestThreshold*`).
//!
//! Gain of a leaf with gradient sum `G` and hessian sum `H` is `G² / (H + λ)`; a split's gain is
//! `gain(left) + gain(right) - gain(parent)` and must exceed `min_gain_to_split`.

use super::binning::BinMapper;
use super::histogram::{BinStats, GradHess};
use super::params::Params;

/// Split-search settings taken from [`Params`].
#[derive(Clone, Copy, Debug)]
pub struct SplitConfig {
    /// L2 penalty on leaf values.
    pub lambda_l2: f64,
    /// Minimum rows per child.
    pub min_data_in_leaf: f64,
    /// Minimum hessian sum per child.
    pub min_sum_hessian_in_leaf: f64,
    /// Minimum gain over the parent.
    pub min_gain_to_split: f64,
    /// Hessian smoothing when ordering categories.
    pub cat_smooth: f64,
    /// Extra L2 for many-vs-many categorical splits.
    pub cat_l2: f64,
    /// Maximum categories sent left.
    pub max_cat_threshold: usize,
    /// Minimum rows per side of a categorical split.
    pub min_data_per_group: f64,
    /// One-vs-rest splits up to this many categories.
    pub max_cat_to_onehot: usize,
}

impl From<&Params> for SplitConfig {
    fn from(p: &Params) -> Self {
        Self {
            lambda_l2: p.lambda_l2,
            min_data_in_leaf: p.min_data_in_leaf.max(1) as f64,
            min_sum_hessian_in_leaf: p.min_sum_hessian_in_leaf,
            min_gain_to_split: p.min_gain_to_split,
            cat_smooth: p.cat_smooth,
            cat_l2: p.cat_l2,
            max_cat_threshold: p.max_cat_threshold,
            min_data_per_group: p.min_data_per_group as f64,
            max_cat_to_onehot: p.max_cat_to_onehot,
        }
    }
}

/// How a split routes bins.
#[derive(Clone, Debug, PartialEq)]
pub enum SplitKind {
    /// Bins `0..=threshold_bin` go left; the missing bin goes left iff `default_left`.
    Numerical {
        /// Last bin on the left.
        threshold_bin: u8,
        /// Direction of missing values.
        default_left: bool,
    },
    /// Bins whose bit is set go left; everything else (missing included) goes right.
    Categorical {
        /// Bitset over the 256 bin codes.
        left_bins: [u64; 4],
    },
}

/// The best split found for a leaf.
#[derive(Clone, Debug, PartialEq)]
pub struct SplitInfo {
    /// Feature index.
    pub feature: usize,
    /// Gain over the unsplit parent.
    pub gain: f64,
    /// Routing rule.
    pub kind: SplitKind,
    /// Sums of the left child.
    pub left: BinStats,
    /// Sums of the right child.
    pub right: BinStats,
}

impl SplitKind {
    /// Whether rows with bin code `bin` go left (`missing` is the feature's missing bin).
    #[inline]
    pub fn goes_left(&self, bin: u8, missing: u8) -> bool {
        match self {
            SplitKind::Numerical {
                threshold_bin,
                default_left,
            } => {
                if bin == missing {
                    *default_left
                } else {
                    bin <= *threshold_bin
                }
            }
            SplitKind::Categorical { left_bins } => {
                left_bins[(bin >> 6) as usize] >> (bin & 63) & 1 == 1
            }
        }
    }
}

/// Score of a leaf: `G² / (H + λ)`.
#[inline]
pub fn leaf_gain(g: f64, h: f64, lambda: f64) -> f64 {
    g * g / (h + lambda)
}

/// Newton step of a leaf: `-G / (H + λ)`.
#[inline]
pub fn leaf_output(g: f64, h: f64, lambda: f64) -> f64 {
    let d = h + lambda;
    if d > 0.0 { -g / d } else { 0.0 }
}

/// Row-count estimate of histogram sums: rows per unit of hessian in the leaf.
#[derive(Clone, Copy, Debug)]
struct CountEstimate {
    rows_per_hess: f64,
}

impl CountEstimate {
    fn of(total: BinStats) -> Self {
        let rows_per_hess = if total.hess > 0.0 {
            total.count / total.hess
        } else {
            0.0
        };
        Self { rows_per_hess }
    }

    /// `gh` with its estimated (whole) number of rows.
    #[inline(always)]
    fn stats(self, gh: GradHess) -> BinStats {
        BinStats {
            grad: gh.grad,
            hess: gh.hess,
            count: round_count(gh.hess * self.rows_per_hess),
        }
    }
}

/// `x.round()` for a row-count estimate, clamped at zero (subtracted histograms leave
/// empty bins at ±1e-17), through a truncating cast: without SSE4.1 (not in the x86_64
/// baseline) `f64::round` is a libm call, which LLVM even calls speculatively on every
/// value when it is only a fallback branch.
#[inline]
fn round_count(x: f64) -> f64 {
    if x.is_nan() || x < 0.5 {
        0.0
    } else if x >= 4_503_599_627_370_496.0 {
        x // 2^52 and above are whole already
    } else {
        let t = x as u64 as f64;
        // x - t is exact (t <= x < t + 1), so this rounds half away from zero like `round`.
        if x - t >= 0.5 { t + 1.0 } else { t }
    }
}

impl SplitConfig {
    #[inline]
    fn child_ok(&self, s: &BinStats) -> bool {
        s.count >= self.min_data_in_leaf && s.hess >= self.min_sum_hessian_in_leaf
    }

    /// Best split of feature `feature` given its histogram `hist` and the leaf's totals
    /// (`total.count` is the leaf's exact row count).
    ///
    /// Histograms hold no row counts: a side's count is estimated as its hessian share of
    /// the leaf's rows, as LightGBM does. Counting rows exactly in the histogram inner loop
    /// would cost a third more time for what only feeds the `min_data_in_leaf` checks (leaf
    /// sizes in the tree are exact).
    pub fn best_split(
        &self,
        feature: usize,
        hist: &[GradHess],
        mapper: &BinMapper,
        total: BinStats,
    ) -> Option<SplitInfo> {
        let est = CountEstimate::of(total);
        match mapper {
            BinMapper::Numerical { .. } => {
                self.best_numerical(feature, hist, mapper.missing_bin(), total, est)
            }
            BinMapper::Categorical { .. } => {
                self.best_categorical(feature, hist, mapper.missing_bin(), total, est)
            }
        }
    }

    fn best_numerical(
        &self,
        feature: usize,
        hist: &[GradHess],
        missing: u8,
        total: BinStats,
        est: CountEstimate,
    ) -> Option<SplitInfo> {
        let lambda = self.lambda_l2;
        let threshold = leaf_gain(total.grad, total.hess, lambda) + self.min_gain_to_split;
        let miss = hist[missing as usize];
        let f = est.rows_per_hess;
        let has_missing = miss.hess * f >= 0.5;
        // `child_ok` on both sides, on the unrounded left count `c = hess * f`: for whole
        // `m` and `n`, round(c) >= m iff c >= m - 0.5, and n - round(c) >= m iff
        // c < n - m + 0.5. The inner loop thus never rounds.
        let min_left = self.min_data_in_leaf - 0.5;
        let max_left = total.count - self.min_data_in_leaf + 0.5;
        let min_hess = self.min_sum_hessian_in_leaf;
        let mut best: Option<(f64, u8, bool, GradHess)> = None;
        let mut acc = GradHess::default();
        for t in 0..missing {
            acc += hist[t as usize];
            // Missing values go right, then (if there are any) left: the learned direction.
            for missing_left in [false, true] {
                if missing_left && !has_missing {
                    break;
                }
                let mut left = acc;
                if missing_left {
                    left += miss;
                }
                let c = left.hess * f;
                let (right_grad, right_hess) = (total.grad - left.grad, total.hess - left.hess);
                if !(c >= min_left
                    && c < max_left
                    && left.hess >= min_hess
                    && right_hess >= min_hess)
                {
                    continue;
                }
                let gain = leaf_gain(left.grad, left.hess, lambda)
                    + leaf_gain(right_grad, right_hess, lambda);
                if gain > threshold && best.is_none_or(|b| gain > b.0) {
                    best = Some((gain, t, missing_left, left));
                }
            }
        }
        let (gain, t, missing_left, left) = best?;
        let left = est.stats(left);
        let right = total - left;
        // With no missing values in training, send unseen ones where most rows went.
        let default_left = if has_missing {
            missing_left
        } else {
            left.count >= right.count
        };
        Some(SplitInfo {
            feature,
            gain: gain - leaf_gain(total.grad, total.hess, lambda),
            kind: SplitKind::Numerical {
                threshold_bin: t,
                default_left,
            },
            left,
            right,
        })
    }

    fn best_categorical(
        &self,
        feature: usize,
        hist: &[GradHess],
        missing: u8,
        total: BinStats,
        est: CountEstimate,
    ) -> Option<SplitInfo> {
        // Per-category sums with estimated counts, so grouping sees the same row counts the
        // numerical search does.
        let hist: Vec<BinStats> = hist[..=missing as usize]
            .iter()
            .map(|&b| est.stats(b))
            .collect();
        let parent = leaf_gain(total.grad, total.hess, self.lambda_l2);
        let seen: Vec<u8> = (0..missing)
            .filter(|&b| hist[b as usize].count > 0.0)
            .collect();
        let mut best: Option<(f64, Vec<u8>, BinStats)> = None;
        if seen.len() <= self.max_cat_to_onehot {
            let lambda = self.lambda_l2;
            for &b in &seen {
                let left = hist[b as usize];
                let right = total - left;
                if !self.child_ok(&left) || !self.child_ok(&right) {
                    continue;
                }
                let gain = leaf_gain(left.grad, left.hess, lambda)
                    + leaf_gain(right.grad, right.hess, lambda);
                if gain > parent + self.min_gain_to_split
                    && best.as_ref().is_none_or(|x| gain > x.0)
                {
                    best = Some((gain, vec![b], left));
                }
            }
        } else {
            // LightGBM's many-vs-many search: order frequent-enough categories by their
            // smoothed mean gradient and scan prefixes from both ends.
            let lambda = self.lambda_l2 + self.cat_l2;
            let ctr = |b: u8| {
                let s = hist[b as usize];
                s.grad / (s.hess + self.cat_smooth)
            };
            let mut sorted: Vec<u8> = seen
                .into_iter()
                .filter(|&b| hist[b as usize].count >= self.cat_smooth)
                .collect();
            sorted.sort_by(|&a, &b| ctr(a).total_cmp(&ctr(b)).then(a.cmp(&b)));
            let max_num_cat = self.max_cat_threshold.min(sorted.len().div_ceil(2));
            let threshold =
                leaf_gain(total.grad, total.hess, self.lambda_l2) + self.min_gain_to_split;
            for reverse in [false, true] {
                let mut acc = BinStats::default();
                let order: Vec<u8> = if reverse {
                    sorted.iter().rev().copied().collect()
                } else {
                    sorted.clone()
                };
                for (i, &b) in order.iter().enumerate().take(max_num_cat) {
                    acc += hist[b as usize];
                    let right = total - acc;
                    if acc.count < self.min_data_in_leaf || acc.hess < self.min_sum_hessian_in_leaf
                    {
                        continue;
                    }
                    if !self.child_ok(&right) || right.count < self.min_data_per_group {
                        break;
                    }
                    if acc.count < self.min_data_per_group {
                        continue;
                    }
                    let gain = leaf_gain(acc.grad, acc.hess, lambda)
                        + leaf_gain(right.grad, right.hess, lambda);
                    if gain > threshold && best.as_ref().is_none_or(|x| gain > x.0) {
                        best = Some((gain, order[..=i].to_vec(), acc));
                    }
                }
            }
        }
        let (gain, bins, left) = best?;
        let mut left_bins = [0u64; 4];
        for b in bins {
            left_bins[(b >> 6) as usize] |= 1 << (b & 63);
        }
        Some(SplitInfo {
            feature,
            gain: gain - parent,
            kind: SplitKind::Categorical { left_bins },
            left,
            right: total - left,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SplitConfig {
        SplitConfig {
            min_data_in_leaf: 1.0,
            min_data_per_group: 1.0,
            cat_smooth: 0.0,
            ..SplitConfig::from(&Params::default())
        }
    }

    /// A slot of `hess` rows of unit hessian.
    fn gh(grad: f64, hess: f64) -> GradHess {
        GradHess { grad, hess }
    }

    fn total(hist: &[GradHess]) -> BinStats {
        hist.iter().fold(BinStats::default(), |a, &b| {
            a + BinStats {
                grad: b.grad,
                hess: b.hess,
                count: b.hess,
            }
        })
    }

    #[test]
    fn count_rounding_matches_round_and_clamps_at_zero() {
        let mut x = 0.0f64;
        let mut cases = vec![0.5, 1.5, 2.5, 0.49999999999999994, 4.5e15, 1e300];
        while x < 1e6 {
            cases.extend([x, x.next_up(), (x + 0.5).next_down(), x + 0.5]);
            x = x * 1.37 + 0.11;
        }
        for c in cases {
            assert_eq!(round_count(c).to_bits(), c.round().to_bits(), "{c:e}");
        }
        for c in [-0.0, -1e-17, -0.3, -2.0, f64::NAN] {
            assert_eq!(round_count(c).to_bits(), 0.0f64.to_bits(), "{c:e}");
        }
    }

    #[test]
    fn counts_are_the_hessian_share_of_the_leaf_rows() {
        // Hessian 0.25 per row: 40 rows in bin 0, 60 in bin 1.
        let hist = vec![gh(-4.0, 10.0), gh(4.0, 15.0), GradHess::default()];
        let leaf = BinStats {
            grad: 0.0,
            hess: 25.0,
            count: 100.0,
        };
        let mapper = BinMapper::Numerical {
            upper_bounds: vec![1.0, f64::INFINITY],
        };
        let s = cfg().best_split(0, &hist, &mapper, leaf).expect("a split");
        assert_eq!((s.left.count, s.right.count), (40.0, 60.0));
        let strict = SplitConfig {
            min_data_in_leaf: 41.0,
            ..cfg()
        };
        assert!(strict.best_split(0, &hist, &mapper, leaf).is_none());
    }

    #[test]
    fn numerical_split_finds_planted_threshold() {
        // Bins 0..=2 have negative gradients, 3..=5 positive: the cut is after bin 2.
        let mut hist = vec![gh(-5.0, 5.0); 3];
        hist.extend(vec![gh(5.0, 5.0); 3]);
        hist.push(GradHess::default()); // missing bin
        let mapper = BinMapper::Numerical {
            upper_bounds: vec![1.0, 2.0, 3.0, 4.0, 5.0, f64::INFINITY],
        };
        let s = cfg()
            .best_split(0, &hist, &mapper, total(&hist))
            .expect("a split");
        assert_eq!(
            s.kind,
            SplitKind::Numerical {
                threshold_bin: 2,
                default_left: true
            }
        );
        // gain = 15²/15 + 15²/15 - 0
        assert!((s.gain - 30.0).abs() < 1e-12);
    }

    #[test]
    fn missing_values_go_to_the_side_they_resemble() {
        let mut hist = vec![gh(-5.0, 5.0), gh(5.0, 5.0)];
        hist.push(gh(6.0, 5.0)); // missing rows look like bin 1
        let mapper = BinMapper::Numerical {
            upper_bounds: vec![1.0, f64::INFINITY],
        };
        let s = cfg()
            .best_split(0, &hist, &mapper, total(&hist))
            .expect("a split");
        assert_eq!(
            s.kind,
            SplitKind::Numerical {
                threshold_bin: 0,
                default_left: false
            }
        );
        hist[2] = gh(-6.0, 5.0); // now like bin 0
        let s = cfg()
            .best_split(0, &hist, &mapper, total(&hist))
            .expect("a split");
        assert_eq!(
            s.kind,
            SplitKind::Numerical {
                threshold_bin: 0,
                default_left: true
            }
        );
        assert_eq!(s.left.count, 10.0);
    }

    #[test]
    fn min_data_and_min_gain_block_splits() {
        let hist = vec![gh(-5.0, 5.0), gh(5.0, 5.0), GradHess::default()];
        let mapper = BinMapper::Numerical {
            upper_bounds: vec![1.0, f64::INFINITY],
        };
        let strict = SplitConfig {
            min_data_in_leaf: 6.0,
            ..cfg()
        };
        assert!(strict.best_split(0, &hist, &mapper, total(&hist)).is_none());
        let greedy = SplitConfig {
            min_gain_to_split: 10.0,
            ..cfg()
        };
        assert!(greedy.best_split(0, &hist, &mapper, total(&hist)).is_none());
    }

    #[test]
    fn categorical_groups_categories_by_gradient() {
        // Categories 0, 2, 4 pull down, 1, 3, 5 pull up: one split separates them.
        let hist: Vec<GradHess> = (0..6)
            .map(|b| {
                if b % 2 == 0 {
                    gh(-4.0, 4.0)
                } else {
                    gh(4.0, 4.0)
                }
            })
            .chain([GradHess::default()])
            .collect();
        let mapper = BinMapper::Categorical {
            categories: (10..16).collect(),
        };
        let s = cfg()
            .best_split(0, &hist, &mapper, total(&hist))
            .expect("a split");
        let SplitKind::Categorical { left_bins } = s.kind else {
            panic!("categorical")
        };
        let left: Vec<u8> = (0..6).filter(|&b| left_bins[0] >> b & 1 == 1).collect();
        assert!(left == vec![0, 2, 4] || left == vec![1, 3, 5], "{left:?}");
        assert_eq!(s.left.count, 12.0);
    }
}
