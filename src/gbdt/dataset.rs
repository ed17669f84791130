//! Training data as the learner sees it: u8 bin codes, column-major, plus labels and weights.

use super::binning::{BinMapper, FeatureInfo};
use super::error::GbdtError;
use super::histogram::GROUP;
use super::params::Params;
use crate::rng::Rng;
use rayon::prelude::*;

/// Raw dense input: one `Vec<f64>` per feature column (NaN = missing).
#[derive(Clone, Copy, Debug)]
pub struct DenseInput<'a> {
    /// Feature columns, all of the same length.
    pub columns: &'a [Vec<f64>],
    /// One name per column.
    pub feature_names: &'a [String],
    /// Names of the columns to treat as categorical (integer category codes).
    pub categorical: &'a [String],
    /// Target per row.
    pub labels: &'a [f64],
    /// Optional non-negative weight per row.
    pub weights: Option<&'a [f64]>,
}

/// Binned training or validation data.
#[derive(Clone, Debug)]
pub struct Dataset {
    n_rows: usize,
    features: Vec<FeatureInfo>,
    /// Feature `f`'s codes are `bins[f * n_rows..(f + 1) * n_rows]`.
    bins: Vec<u8>,
    /// The same codes row-major, one u64 per group of [`GROUP`] packed slots: row `r`'s word
    /// of group `g` is `words[words_offset + r * row_words + g]`, byte `j` = the feature in
    /// slot `g * GROUP + j` (see `slot`). Rows are padded to a power of two of words (or
    /// whole 64-byte lines) and start on a line boundary, so gathering a leaf's scattered
    /// rows costs one cache line per row rather than one per group.
    words: Vec<u64>,
    words_offset: usize,
    row_words: usize,
    /// Packed slot of each feature: features whose rows vary first, in column order, then
    /// the constant ones, so constant features share the last groups and a histogram never
    /// sums them (a constant column cannot split; event logs without views or returns have
    /// eight such features, a fifth of the propensity models' histogram work).
    slot: Vec<usize>,
    /// Whether every row has the same code for the feature.
    constant: Vec<bool>,
    labels: Vec<f64>,
    weights: Option<Vec<f64>>,
    /// Query boundaries for ranking losses: query `q` is rows `queries[q]..queries[q + 1]`.
    queries: Option<Vec<usize>>,
}

/// Key of the RNG stream that picks the rows bin boundaries are fitted on.
const BIN_SAMPLE_STREAM: u64 = 0xB1_5A;

impl Dataset {
    /// Fits bin mappers on (a sample of) `input` and bins every column.
    ///
    /// Uses `params.max_bin`, `params.bin_construct_sample_cnt`, `params.seed` and runs on a
    /// local pool of `params.threads` threads.
    pub fn from_dense(input: DenseInput<'_>, params: &Params) -> Result<Self, GbdtError> {
        params.validate()?;
        let n_rows = check_shape(&input)?;
        for name in input.categorical {
            if !input.feature_names.contains(name) {
                return Err(GbdtError::UnknownCategorical(name.clone()));
            }
        }
        let sample = sample_rows(n_rows, params.bin_construct_sample_cnt, params.seed);
        let pool = super::train::thread_pool(params.threads)?;
        let mappers: Vec<BinMapper> = pool.install(|| {
            input
                .columns
                .par_iter()
                .zip(input.feature_names.par_iter())
                .map(|(col, name)| {
                    let values: Vec<f64> = match &sample {
                        Some(rows) => rows.iter().map(|&r| col[r]).collect(),
                        None => col.clone(),
                    };
                    if input.categorical.contains(name) {
                        BinMapper::fit_categorical(&values, params.max_bin)
                    } else {
                        BinMapper::fit_numerical(&values, params.max_bin)
                    }
                })
                .collect()
        });
        let features = input
            .feature_names
            .iter()
            .zip(mappers)
            .map(|(name, mapper)| FeatureInfo {
                name: name.clone(),
                mapper,
            })
            .collect();
        Ok(pool.install(|| Self::bin(input, features, n_rows)))
    }

    /// Bins `input` with the mappers of `reference` (a validation set for a training set).
    pub fn from_dense_like(input: DenseInput<'_>, reference: &Dataset) -> Result<Self, GbdtError> {
        let n_rows = check_shape(&input)?;
        let same = input.feature_names.len() == reference.features.len()
            && input
                .feature_names
                .iter()
                .zip(&reference.features)
                .all(|(a, b)| *a == b.name);
        if !same {
            return Err(GbdtError::FeatureMismatch {
                found: input.feature_names.to_vec(),
                expected: reference.feature_names().map(str::to_owned).collect(),
            });
        }
        Ok(Self::bin(input, reference.features.clone(), n_rows))
    }

    fn bin(input: DenseInput<'_>, features: Vec<FeatureInfo>, n_rows: usize) -> Self {
        let mut bins = vec![0u8; n_rows * features.len()];
        if n_rows > 0 {
            bins.par_chunks_mut(n_rows)
                .zip(input.columns.par_iter())
                .zip(features.par_iter())
                .for_each(|((out, col), f)| f.mapper.bin_column(col, out));
        }
        let constant: Vec<bool> = if n_rows == 0 {
            vec![false; features.len()]
        } else {
            bins.par_chunks(n_rows)
                .map(|col| col.iter().all(|&b| b == col[0]))
                .collect()
        };
        let mut slot = vec![0usize; features.len()];
        let varying = (0..features.len()).filter(|&f| !constant[f]);
        let fixed = (0..features.len()).filter(|&f| constant[f]);
        for (k, f) in varying.chain(fixed).enumerate() {
            slot[f] = k;
        }
        let n_groups = features.len().div_ceil(GROUP);
        let row_words = row_words(n_groups);
        let mut words = vec![0u64; n_rows * row_words + LINE_WORDS];
        // Where rows start on a line boundary. Stored, not recomputed: a clone keeps the
        // layout (only the alignment benefit may be lost).
        let words_offset = words.as_ptr().align_offset(LINE_WORDS * 8).min(LINE_WORDS);
        if n_rows > 0 {
            const ROWS_PER_TASK: usize = 1 << 12;
            words[words_offset..words_offset + n_rows * row_words]
                .par_chunks_mut(ROWS_PER_TASK * row_words)
                .enumerate()
                .for_each(|(c, out)| {
                    let first = c * ROWS_PER_TASK;
                    for (f, &k) in slot.iter().enumerate() {
                        let (g, shift) = (k / GROUP, 8 * (k % GROUP));
                        let col = &bins[f * n_rows + first..(f + 1) * n_rows];
                        for (row, &b) in out.chunks_exact_mut(row_words).zip(col) {
                            row[g] |= u64::from(b) << shift;
                        }
                    }
                });
        }
        Self {
            n_rows,
            features,
            bins,
            words,
            words_offset,
            row_words,
            slot,
            constant,
            labels: input.labels.to_vec(),
            weights: input.weights.map(<[f64]>::to_vec),
            queries: None,
        }
    }

    /// Declares consecutive query groups of `sizes` rows (a ranking loss ranks within each);
    /// the sizes must cover every row.
    pub fn with_queries(mut self, sizes: &[usize]) -> Result<Self, GbdtError> {
        let total: usize = sizes.iter().sum();
        if total != self.n_rows {
            return Err(GbdtError::RowCount {
                what: "query groups".to_string(),
                found: total,
                expected: self.n_rows,
            });
        }
        let mut bounds = Vec::with_capacity(sizes.len() + 1);
        bounds.push(0);
        for &n in sizes {
            bounds.push(bounds.last().copied().unwrap_or(0) + n);
        }
        self.queries = Some(bounds);
        Ok(self)
    }

    /// Query boundaries (`queries[q]..queries[q + 1]` is query `q`), if declared.
    pub fn queries(&self) -> Option<&[usize]> {
        self.queries.as_deref()
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// Feature names in column order.
    pub fn feature_names(&self) -> impl Iterator<Item = &str> {
        self.features.iter().map(|f| f.name.as_str())
    }

    /// Feature names and bin mappers.
    pub fn features(&self) -> &[FeatureInfo] {
        &self.features
    }

    /// Bin codes of feature `f`, one per row.
    pub fn column(&self, f: usize) -> &[u8] {
        &self.bins[f * self.n_rows..(f + 1) * self.n_rows]
    }

    /// Number of feature groups of [`GROUP`] features (the last one padded with bin 0).
    pub fn n_groups(&self) -> usize {
        self.features.len().div_ceil(GROUP)
    }

    /// Packed slot of feature `f` (its byte in [`Dataset::packed_rows`] and its histogram).
    pub fn slot(&self, f: usize) -> usize {
        self.slot[f]
    }

    /// True when every row of feature `f` has the same code, so it can never split.
    pub fn is_constant(&self, f: usize) -> bool {
        self.constant[f]
    }

    /// Row-major packed codes by slot: row `r`'s word of group `g` is
    /// `words[r * stride + g]`, byte `j` the feature in slot `g * GROUP + j`; returns
    /// `(words, stride)`.
    pub fn packed_rows(&self) -> (&[u64], usize) {
        let len = self.n_rows * self.row_words;
        (
            &self.words[self.words_offset..self.words_offset + len],
            self.row_words,
        )
    }

    /// Labels, one per row.
    pub fn labels(&self) -> &[f64] {
        &self.labels
    }

    /// Weights, one per row, if any.
    pub fn weights(&self) -> Option<&[f64]> {
        self.weights.as_deref()
    }
}

/// u64 words per 64-byte cache line, the unit a scattered row read costs.
const LINE_WORDS: usize = 8;

/// Words per packed row: a power of two up to one line (rows never straddle lines), whole
/// lines beyond.
fn row_words(n_groups: usize) -> usize {
    if n_groups <= LINE_WORDS {
        n_groups.max(1).next_power_of_two()
    } else {
        n_groups.div_ceil(LINE_WORDS) * LINE_WORDS
    }
}

/// Checks that every column, the labels and the weights have the same length; returns it.
fn check_shape(input: &DenseInput<'_>) -> Result<usize, GbdtError> {
    if input.feature_names.len() != input.columns.len() {
        return Err(GbdtError::FeatureNames {
            names: input.feature_names.len(),
            columns: input.columns.len(),
        });
    }
    let n_rows = input.labels.len();
    for (col, name) in input.columns.iter().zip(input.feature_names) {
        if col.len() != n_rows {
            return Err(GbdtError::RowCount {
                what: format!("feature {name:?}"),
                found: col.len(),
                expected: n_rows,
            });
        }
    }
    if let Some(w) = input.weights {
        if w.len() != n_rows {
            return Err(GbdtError::RowCount {
                what: "weights".into(),
                found: w.len(),
                expected: n_rows,
            });
        }
        if let Some((row, &value)) = w
            .iter()
            .enumerate()
            .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
        {
            return Err(GbdtError::BadWeight { row, value });
        }
    }
    Ok(n_rows)
}

/// Sorted indices of `want` rows chosen uniformly without replacement (selection sampling),
/// or `None` when every row is used.
fn sample_rows(n_rows: usize, want: usize, seed: u64) -> Option<Vec<usize>> {
    if n_rows <= want {
        return None;
    }
    let mut rng = Rng::derived(seed, &[BIN_SAMPLE_STREAM]);
    let mut picked = Vec::with_capacity(want);
    let mut needed = want;
    for i in 0..n_rows {
        if needed == 0 {
            break;
        }
        if rng.uniform() * ((n_rows - i) as f64) < needed as f64 {
            picked.push(i);
            needed -= 1;
        }
    }
    Some(picked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("f{i}")).collect()
    }

    #[test]
    fn constant_features_are_packed_after_the_varying_ones() {
        let cols = vec![
            vec![5.0, 5.0, 5.0],
            vec![1.0, 2.0, 3.0],
            vec![f64::NAN; 3],
            vec![0.0, 0.0, 1.0],
        ];
        let input = DenseInput {
            columns: &cols,
            feature_names: &names(4),
            categorical: &[],
            labels: &[0.0, 1.0, 0.0],
            weights: None,
        };
        let ds = Dataset::from_dense(input, &Params::default()).expect("valid input");
        let constant: Vec<bool> = (0..4).map(|f| ds.is_constant(f)).collect();
        assert_eq!(constant, [true, false, true, false]);
        let slots: Vec<usize> = (0..4).map(|f| ds.slot(f)).collect();
        assert_eq!(slots, [2, 0, 3, 1]);
        // Row 2: feature 1 (code 2) in byte 0, feature 3 (code 1) in byte 1.
        let (words, stride) = ds.packed_rows();
        let byte = |r: usize, k: usize| (words[r * stride] >> (8 * k)) & 0xff;
        assert_eq!((byte(2, 0), byte(2, 1)), (2, 1));
        assert_eq!(byte(0, 2), byte(2, 2));
    }

    #[test]
    fn bins_columns_and_checks_shapes() {
        let cols = vec![vec![1.0, 2.0, f64::NAN], vec![3.0, 3.0, 4.0]];
        let labels = [0.0, 1.0, 0.0];
        let input = DenseInput {
            columns: &cols,
            feature_names: &names(2),
            categorical: &["f1".to_string()],
            labels: &labels,
            weights: None,
        };
        let ds = Dataset::from_dense(input, &Params::default()).expect("valid input");
        assert_eq!(ds.column(0), &[0, 1, 2]);
        assert_eq!(ds.column(1), &[0, 0, 1]);
        assert_eq!(ds.n_groups(), 1);
        assert_eq!(ds.packed_rows(), (&[0, 1, 2 | 1 << 8][..], 1));
        assert_eq!((ds.slot(0), ds.slot(1)), (0, 1));
        assert!(!ds.is_constant(0) && !ds.is_constant(1));
        assert_eq!(ds.clone().packed_rows(), ds.packed_rows());
        assert_eq!((row_words(1), row_words(3), row_words(7)), (1, 4, 8));
        assert_eq!((row_words(9), row_words(0)), (16, 1));
        assert!(ds.features()[1].mapper.is_categorical());

        let short = [0.0, 1.0];
        let bad = DenseInput {
            labels: &short,
            ..input
        };
        assert!(matches!(
            Dataset::from_dense(bad, &Params::default()),
            Err(GbdtError::RowCount { .. })
        ));
        let w = [1.0, -1.0, 1.0];
        let bad = DenseInput {
            weights: Some(&w),
            ..input
        };
        assert!(matches!(
            Dataset::from_dense(bad, &Params::default()),
            Err(GbdtError::BadWeight { row: 1, .. })
        ));
        let bad = DenseInput {
            categorical: &["nope".to_string()],
            ..input
        };
        assert!(matches!(
            Dataset::from_dense(bad, &Params::default()),
            Err(GbdtError::UnknownCategorical(_))
        ));
    }

    #[test]
    fn sampling_is_exact_sorted_and_seeded() {
        let a = sample_rows(1000, 100, 7).expect("sampled");
        assert_eq!(a.len(), 100);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(a, sample_rows(1000, 100, 7).expect("sampled"));
        assert_ne!(a, sample_rows(1000, 100, 8).expect("sampled"));
        assert!(sample_rows(10, 100, 7).is_none());
    }
}
