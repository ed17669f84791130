//! Gradient/hessian histograms of one leaf (LightGBM `feature_histogram.hpp`).
//!
//! Every feature gets 256 slots so a u8 bin code indexes without a bounds check. Features are
//! built in parallel, each by one thread over the leaf's rows in index order, so sums never
//! depend on the thread count.

use super::dataset::Dataset;
use rayon::prelude::*;
use std::ops::{AddAssign, SubAssign};

/// Slots per feature: one per possible u8 code.
pub const SLOTS: usize = 256;
/// Features per group: one u64 of bin codes per row (see `Dataset::group_words`).
pub const GROUP: usize = 8;

/// Sums over the rows that fall in one bin (or one leaf). In histograms `count` is estimated
/// from the hessian share (see `estimate_counts`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BinStats {
    /// Sum of gradients.
    pub grad: f64,
    /// Sum of hessians.
    pub hess: f64,
    /// Number of rows (unweighted).
    pub count: f64,
}

impl AddAssign for BinStats {
    fn add_assign(&mut self, o: Self) {
        self.grad += o.grad;
        self.hess += o.hess;
        self.count += o.count;
    }
}

impl SubAssign for BinStats {
    fn sub_assign(&mut self, o: Self) {
        self.grad -= o.grad;
        self.hess -= o.hess;
        self.count -= o.count;
    }
}

impl std::ops::Sub for BinStats {
    type Output = Self;
    fn sub(mut self, o: Self) -> Self {
        self -= o;
        self
    }
}

impl std::ops::Add for BinStats {
    type Output = Self;
    fn add(mut self, o: Self) -> Self {
        self += o;
        self
    }
}

/// Per-feature bin statistics of one leaf.
#[derive(Clone, Debug)]
pub struct Histogram {
    data: Vec<BinStats>,
}

impl Histogram {
    /// An all-zero histogram for `n_features` features (padded to whole groups).
    pub fn new(n_features: usize) -> Self {
        Self {
            data: vec![BinStats::default(); n_features.div_ceil(GROUP) * GROUP * SLOTS],
        }
    }

    /// The 256 slots of feature `f`.
    pub fn feature(&self, f: usize) -> &[BinStats] {
        &self.data[f * SLOTS..(f + 1) * SLOTS]
    }

    /// Rebuilds the histogram of the features with `used[f]` from the rows of one leaf.
    ///
    /// `rows = None` means every row of `ds` in order with `gh` indexed by row; otherwise
    /// `gh[i]` belongs to row `rows[i]` (gradients gathered in leaf order beforehand, so the
    /// inner loop reads them sequentially).
    pub fn build(&mut self, ds: &Dataset, rows: Option<&[u32]>, gh: &[[f64; 2]], used: &[bool]) {
        self.data
            .par_chunks_mut(SLOTS * GROUP)
            .enumerate()
            .filter(|(g, _)| used.iter().skip(g * GROUP).take(GROUP).any(|&u| u))
            .for_each(|(g, slots)| {
                slots.fill(BinStats::default());
                let words = ds.group_words(g);
                let n_rows = rows.map_or(words.len(), <[u32]>::len);
                match rows {
                    None => accumulate(words.iter().copied().zip(gh), slots),
                    Some(rows) => {
                        let ahead = rows
                            .get(PREFETCH..)
                            .unwrap_or(&[])
                            .iter()
                            .chain(std::iter::repeat(&0));
                        let gathered = rows.iter().zip(ahead).map(|(&r, &next)| {
                            prefetch(words, next as usize);
                            words[r as usize]
                        });
                        accumulate(gathered.zip(gh), slots)
                    }
                }
                estimate_counts(slots, n_rows);
            });
    }

    /// Turns `self` (the parent's histogram) into its larger child's: `parent - smaller`.
    pub fn subtract(&mut self, smaller: &Histogram, used: &[bool]) {
        self.data
            .par_chunks_mut(SLOTS)
            .zip(smaller.data.par_chunks(SLOTS))
            .enumerate()
            .filter(|(f, _)| used.get(*f).copied().unwrap_or(false))
            .for_each(|(_, (p, s))| {
                for (a, &b) in p.iter_mut().zip(s) {
                    *a -= b;
                }
            });
    }
}

/// Rows ahead whose codes are prefetched while a leaf's rows are gathered: the indices are
/// increasing but sparse, which hardware prefetchers do not follow. Measured 2026-11-23
/// (200k GBDT-SPEED rows, 30 rounds, 1 thread, CPU seconds, medians of 3 in two alternating
/// runs, shared machine at load 12): 2.53-2.57 s with the prefetch, 3.71-3.90 s without.
const PREFETCH: usize = 32;

/// Hints the CPU to load `words[i]` into cache; never faults, whatever `i` is.
#[inline(always)]
fn prefetch(words: &[u64], i: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let p = words.as_ptr().wrapping_add(i) as *const i8;
        // SAFETY: `_mm_prefetch` is `unsafe` only as an intrinsic; it is a cache hint that
        // never dereferences in the language sense and cannot fault on any address, so no
        // `i` can cause UB (and `wrapping_add` forms the pointer without in-bounds
        // requirements). SSE is part of the x86_64 baseline, so the instruction exists.
        // It pays: see `PREFETCH` for the measured 1.45x less training CPU.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (words, i);
}

/// Fills each bin's `count` as `hess * rows / total hess` of its feature, as LightGBM does:
/// counting rows exactly in the inner loop would cost a third more time for what only
/// feeds the `min_data_in_leaf` checks (leaf sizes in the tree are exact).
fn estimate_counts(slots: &mut [BinStats], n_rows: usize) {
    for feature in slots.chunks_mut(SLOTS) {
        let hess: f64 = feature.iter().map(|s| s.hess).sum();
        let factor = if hess > 0.0 {
            n_rows as f64 / hess
        } else {
            0.0
        };
        for s in feature {
            s.count = round_non_negative(s.hess * factor);
        }
    }
}

/// `x.round()` for the usual `0 <= x < 2^52`, through a truncating cast: without SSE4.1
/// (not in the x86_64 baseline) `f64::round` is a libm call that cost 4% of training.
#[inline]
fn round_non_negative(x: f64) -> f64 {
    if (0.0..4_503_599_627_370_496.0).contains(&x) && x.is_sign_positive() {
        let t = x as u64 as f64;
        // x - t is exact (t <= x < t + 1), so this rounds half away from zero like `round`.
        if x - t >= 0.5 { t + 1.0 } else { t }
    } else {
        x.round()
    }
}

/// Adds every `(packed codes, [g, h])` row to the group's `GROUP` feature histograms.
#[inline(always)]
fn accumulate<'a>(rows: impl Iterator<Item = (u64, &'a [f64; 2])>, slots: &mut [BinStats]) {
    let slots: &mut [BinStats; SLOTS * GROUP] = match slots.try_into() {
        Ok(s) => s,
        Err(_) => unreachable!("groups are exactly SLOTS * GROUP slots"),
    };
    for (w, g) in rows {
        for j in 0..GROUP {
            // The index is below SLOTS * GROUP by construction, so no bounds check remains.
            let s = &mut slots[j * SLOTS + ((w >> (8 * j)) & 0xff) as usize];
            s.grad += g[0];
            s.hess += g[1];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gbdt::{DenseInput, Params};

    fn dataset() -> Dataset {
        let n = 500;
        let cols: Vec<Vec<f64>> = (0..3)
            .map(|f| (0..n).map(|i| ((i * (f + 3)) % 17) as f64).collect())
            .collect();
        let names: Vec<String> = (0..3).map(|i| format!("f{i}")).collect();
        let labels = vec![0.0; n];
        let input = DenseInput {
            columns: &cols,
            feature_names: &names,
            categorical: &[],
            labels: &labels,
            weights: None,
        };
        Dataset::from_dense(input, &Params::default()).expect("valid")
    }

    fn gh_of(n: usize) -> Vec<[f64; 2]> {
        (0..n)
            .map(|i| [(i as f64 * 0.31).sin(), 0.5 + (i % 7) as f64])
            .collect()
    }

    #[test]
    fn fast_rounding_matches_round() {
        let mut x = 0.0f64;
        let mut cases = vec![
            -0.0,
            0.5,
            1.5,
            2.5,
            0.49999999999999994,
            4.5e15,
            -0.3,
            1e300,
            f64::NAN,
        ];
        while x < 1e6 {
            cases.extend([x, x.next_up(), (x + 0.5).next_down(), x + 0.5]);
            x = x * 1.37 + 0.11;
        }
        for c in cases {
            assert_eq!(
                round_non_negative(c).to_bits(),
                c.round().to_bits(),
                "{c:e}"
            );
        }
    }

    #[test]
    fn subtraction_equals_direct_build() {
        let ds = dataset();
        let gh = gh_of(ds.n_rows());
        let used = vec![true; 3];
        let mut parent = Histogram::new(3);
        parent.build(&ds, None, &gh, &used);
        let left: Vec<u32> = (0..ds.n_rows() as u32).filter(|r| r % 3 == 0).collect();
        let right: Vec<u32> = (0..ds.n_rows() as u32).filter(|r| r % 3 != 0).collect();
        let gather = |rows: &[u32]| rows.iter().map(|&r| gh[r as usize]).collect::<Vec<_>>();
        let mut small = Histogram::new(3);
        small.build(&ds, Some(&left), &gather(&left), &used);
        let mut direct = Histogram::new(3);
        direct.build(&ds, Some(&right), &gather(&right), &used);
        parent.subtract(&small, &used);
        for f in 0..3 {
            for (a, b) in parent.feature(f).iter().zip(direct.feature(f)) {
                assert!((a.grad - b.grad).abs() < 1e-9 && (a.hess - b.hess).abs() < 1e-9);
                assert!(
                    (a.count - b.count).abs() <= 1.0,
                    "estimated counts agree to rounding"
                );
            }
        }
        let total: f64 = direct.feature(1).iter().map(|s| s.count).sum();
        assert!(
            (total - right.len() as f64).abs() <= 17.0,
            "one rounding per bin at most"
        );
    }

    #[test]
    fn bins_receive_their_rows_only() {
        let ds = dataset();
        let gh = gh_of(ds.n_rows());
        let mut h = Histogram::new(3);
        h.build(&ds, None, &gh, &[true, false, true]);
        let col = ds.column(0);
        let want: f64 = (0..ds.n_rows())
            .filter(|&r| col[r] == 4)
            .map(|r| gh[r][0])
            .sum();
        assert!((h.feature(0)[4].grad - want).abs() < 1e-12);
        let mut none = Histogram::new(3);
        none.build(&ds, None, &gh, &[false; 3]);
        assert!(
            none.feature(0).iter().all(|s| s.count == 0.0),
            "a group with no used feature is skipped"
        );
    }
}
