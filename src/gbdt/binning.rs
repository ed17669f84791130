//! Per-feature bin mappers (LightGBM `bin.cpp`): quantile bins for numbers, frequency-ranked
//! bins for categories; the last bin of every feature holds missing values.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A feature as the model knows it: its name and how raw values map to bins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureInfo {
    /// Column name.
    pub name: String,
    /// Value → bin mapping fitted on the training data.
    pub mapper: BinMapper,
}

/// How one feature's raw values map to u8 bin codes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum BinMapper {
    /// Value `v` goes to the first bin `i` with `v <= upper_bounds[i]` (the last bound is
    /// +inf); NaN goes to the missing bin `upper_bounds.len()`.
    Numerical {
        /// Inclusive upper bound of each value bin, increasing.
        upper_bounds: Vec<f64>,
    },
    /// Category `categories[i]` goes to bin `i` (most frequent first); NaN, negative and
    /// unseen categories go to the missing bin `categories.len()`.
    Categorical {
        /// Integer category of each bin.
        categories: Vec<i64>,
    },
}

/// The integer category a raw value stands for, or `None` when it counts as missing
/// (NaN, negative, or too large for an integer), as in LightGBM.
pub fn category_of(v: f64) -> Option<i64> {
    if (0.0..9.0e15).contains(&v) {
        Some(v as i64)
    } else {
        None
    }
}

impl BinMapper {
    /// Bins of this feature, the missing bin included.
    pub fn num_bins(&self) -> usize {
        match self {
            BinMapper::Numerical { upper_bounds } => upper_bounds.len() + 1,
            BinMapper::Categorical { categories } => categories.len() + 1,
        }
    }

    /// The bin that holds missing values (always the last one).
    pub fn missing_bin(&self) -> u8 {
        // num_bins <= 255 by construction, so this fits.
        (self.num_bins() - 1) as u8
    }

    /// Whether the feature is categorical.
    pub fn is_categorical(&self) -> bool {
        matches!(self, BinMapper::Categorical { .. })
    }

    /// Quantile bins from a sample of a numeric feature; at most `max_bin - 1` value bins.
    pub fn fit_numerical(sample: &[f64], max_bin: usize) -> Self {
        let mut values: Vec<f64> = sample.iter().copied().filter(|v| !v.is_nan()).collect();
        values.sort_unstable_by(f64::total_cmp);
        let mut distinct: Vec<(f64, usize)> = Vec::new();
        for v in values {
            match distinct.last_mut() {
                Some((last, n)) if *last == v => *n += 1,
                _ => distinct.push((v, 1)),
            }
        }
        let max_value_bins = max_bin.saturating_sub(1).max(1);
        let mut upper_bounds = Vec::with_capacity(max_value_bins);
        if distinct.len() <= max_value_bins {
            for w in distinct.windows(2) {
                upper_bounds.push(midpoint(w[0].0, w[1].0));
            }
        } else {
            // Greedy equal-count cuts; the target is recomputed after each cut so a heavy
            // value taking a whole bin does not starve the bins after it.
            let mut rest: usize = distinct.iter().map(|d| d.1).sum();
            let mut bins_left = max_value_bins;
            let mut acc = 0usize;
            for i in 0..distinct.len() - 1 {
                acc += distinct[i].1;
                let target = rest as f64 / bins_left as f64;
                let next_heavy = distinct[i + 1].1 as f64 >= target;
                if acc as f64 >= target || (next_heavy && acc > 0) {
                    upper_bounds.push(midpoint(distinct[i].0, distinct[i + 1].0));
                    rest -= acc;
                    acc = 0;
                    bins_left -= 1;
                    if bins_left == 1 {
                        break;
                    }
                }
            }
        }
        upper_bounds.push(f64::INFINITY);
        BinMapper::Numerical { upper_bounds }
    }

    /// Frequency-ranked bins of a categorical feature; the `max_bin - 1` most frequent
    /// categories get a bin, the rest share the missing bin.
    pub fn fit_categorical(sample: &[f64], max_bin: usize) -> Self {
        let mut counts: HashMap<i64, usize> = HashMap::new();
        for &v in sample {
            if let Some(c) = category_of(v) {
                *counts.entry(c).or_default() += 1;
            }
        }
        let mut ranked: Vec<(i64, usize)> = counts.into_iter().collect();
        // Ties broken by category so the mapping never depends on hash order.
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(max_bin.saturating_sub(1).max(1));
        BinMapper::Categorical {
            categories: ranked.into_iter().map(|(c, _)| c).collect(),
        }
    }

    /// Writes the bin code of every value of `column` into `out`.
    pub fn bin_column(&self, column: &[f64], out: &mut [u8]) {
        let missing = self.missing_bin();
        match self {
            BinMapper::Numerical { upper_bounds } => {
                for (o, &v) in out.iter_mut().zip(column) {
                    *o = if v.is_nan() {
                        missing
                    } else {
                        upper_bounds.partition_point(|&u| u < v) as u8
                    };
                }
            }
            BinMapper::Categorical { categories } => {
                let lookup: HashMap<i64, u8> = categories
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| (c, i as u8))
                    .collect();
                for (o, &v) in out.iter_mut().zip(column) {
                    *o = category_of(v)
                        .and_then(|c| lookup.get(&c).copied())
                        .unwrap_or(missing);
                }
            }
        }
    }

    /// Raw threshold of a numeric split whose left side holds bins `0..=bin`.
    pub fn upper_bound(&self, bin: u8) -> f64 {
        match self {
            BinMapper::Numerical { upper_bounds } => upper_bounds
                .get(bin as usize)
                .copied()
                .unwrap_or(f64::INFINITY),
            BinMapper::Categorical { .. } => f64::NAN,
        }
    }

    /// Category of a categorical bin (`None` for the missing bin or a numeric feature).
    pub fn category(&self, bin: u8) -> Option<i64> {
        match self {
            BinMapper::Categorical { categories } => categories.get(bin as usize).copied(),
            BinMapper::Numerical { .. } => None,
        }
    }
}

/// A cut strictly between `a < b` such that `a <= cut < b`.
fn midpoint(a: f64, b: f64) -> f64 {
    let m = a + (b - a) / 2.0;
    if m < b && m >= a { m } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_one_bin_each() {
        let m = BinMapper::fit_numerical(&[3.0, 1.0, 2.0, 2.0, f64::NAN], 255);
        assert_eq!(m.num_bins(), 4);
        let mut out = [0u8; 6];
        m.bin_column(&[1.0, 2.0, 3.0, f64::NAN, 0.5, 99.0], &mut out);
        assert_eq!(out, [0, 1, 2, 3, 0, 2]);
    }

    #[test]
    fn quantile_bins_are_balanced_monotone_and_keep_nan_apart() {
        let sample: Vec<f64> = (0..10_000)
            .map(|i| (i as f64 * 0.37).sin() * 100.0)
            .collect();
        let m = BinMapper::fit_numerical(&sample, 16);
        assert_eq!(m.num_bins(), 16);
        let mut sorted = sample.clone();
        sorted.sort_by(f64::total_cmp);
        let mut out = vec![0u8; sorted.len()];
        m.bin_column(&sorted, &mut out);
        assert!(
            out.windows(2).all(|w| w[0] <= w[1]),
            "binning must be monotone"
        );
        let mut counts = [0usize; 16];
        for &b in &out {
            counts[b as usize] += 1;
        }
        assert_eq!(counts[15], 0, "no value may land in the missing bin");
        for &c in &counts[..15] {
            assert!((500..=850).contains(&c), "unbalanced bins {counts:?}");
        }
        let mut nan = [0u8];
        m.bin_column(&[f64::NAN], &mut nan);
        assert_eq!(nan[0], m.missing_bin());
    }

    #[test]
    fn threshold_agrees_with_binning() {
        let sample: Vec<f64> = (0..1000).map(|i| (i * 7 % 113) as f64 / 3.0).collect();
        let m = BinMapper::fit_numerical(&sample, 32);
        let mut out = vec![0u8; sample.len()];
        m.bin_column(&sample, &mut out);
        for b in 0..(m.num_bins() - 1) as u8 {
            let t = m.upper_bound(b);
            for (&v, &vb) in sample.iter().zip(&out) {
                assert_eq!(v <= t, vb <= b);
            }
        }
    }

    #[test]
    fn categories_ranked_by_frequency_and_rest_missing() {
        let m = BinMapper::fit_categorical(&[5.0, 5.0, 7.0, 7.0, 7.0, 9.0, -1.0, f64::NAN], 3);
        assert_eq!(
            m,
            BinMapper::Categorical {
                categories: vec![7, 5]
            }
        );
        let mut out = [0u8; 5];
        m.bin_column(&[7.0, 5.0, 9.0, -1.0, f64::NAN], &mut out);
        assert_eq!(out, [0, 1, 2, 2, 2]);
    }
}
