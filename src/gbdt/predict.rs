//! Prediction on raw feature values (LightGBM `gbdt_prediction.cpp`): a single-row path for
//! request handlers (no allocation) and parallel batch paths.

use super::booster::Booster;
use super::error::GbdtError;
use rayon::prelude::*;

/// Rows per block of batch prediction: every tree is walked for the whole block while its
/// nodes are hot in cache.
const BLOCK: usize = 128;
/// Rows walked through one tree in lockstep.
const LANES: usize = 8;

/// A raw feature value type accepted by prediction (`f32` or `f64`; NaN = missing).
pub trait FeatureValue: Copy + Send + Sync {
    /// The value as f64.
    fn to_f64(self) -> f64;
}

impl FeatureValue for f64 {
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
}

impl FeatureValue for f32 {
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Booster {
    fn check_row_len(&self, len: usize) -> Result<(), GbdtError> {
        if len == self.n_features() {
            Ok(())
        } else {
            Err(GbdtError::RowLength {
                found: len,
                expected: self.n_features(),
            })
        }
    }

    /// Raw score (log-odds, value or log-rate) of one row; allocation-free.
    pub fn predict_row<T: FeatureValue>(&self, row: &[T]) -> Result<f64, GbdtError> {
        self.check_row_len(row.len())?;
        let mut s = self.base_score();
        for t in self.trees() {
            s += t.leaf_values()[t.leaf_of(|f| row[f].to_f64())];
        }
        Ok(s)
    }

    /// Prediction on the objective's scale (probability, value or rate) of one row.
    pub fn predict_proba_row<T: FeatureValue>(&self, row: &[T]) -> Result<f64, GbdtError> {
        Ok(self.objective().transform(self.predict_row(row)?))
    }

    /// Maps a raw score to the objective's scale.
    pub fn transform(&self, raw: f64) -> f64 {
        self.objective().transform(raw)
    }

    /// Raw scores of many rows, in parallel.
    pub fn predict<T: FeatureValue>(&self, rows: &[Vec<T>]) -> Result<Vec<f64>, GbdtError> {
        if let Some(bad) = rows.iter().find(|r| r.len() != self.n_features()) {
            self.check_row_len(bad.len())?;
        }
        Ok(self.predict_by(rows.len(), |r, f| rows[r][f].to_f64()))
    }

    /// Raw scores of rows given as feature columns (`columns[f][row]`), in parallel.
    pub fn predict_columns<T: FeatureValue>(
        &self,
        columns: &[Vec<T>],
    ) -> Result<Vec<f64>, GbdtError> {
        self.check_row_len(columns.len())?;
        let n = columns.first().map_or(0, Vec::len);
        if let Some(bad) = columns.iter().find(|c| c.len() != n) {
            return Err(GbdtError::RowCount {
                what: "a feature column".into(),
                found: bad.len(),
                expected: n,
            });
        }
        Ok(self.predict_by(n, |r, f| columns[f][r].to_f64()))
    }

    fn predict_by(&self, n_rows: usize, value: impl Fn(usize, usize) -> f64 + Sync) -> Vec<f64> {
        let n_features = self.n_features();
        let mut out = vec![self.base_score(); n_rows];
        out.par_chunks_mut(BLOCK).enumerate().for_each(|(b, out)| {
            let start = b * BLOCK;
            // The block's rows, row-major, so a walk reads one small contiguous row.
            let mut buf = vec![f64::NAN; BLOCK * n_features.max(1)];
            for i in 0..out.len() {
                for f in 0..n_features {
                    buf[i * n_features + f] = value(start + i, f);
                }
            }
            let row = |i: usize| &buf[i * n_features..(i + 1) * n_features];
            for t in self.trees() {
                let leaves = t.leaf_values();
                let mut i = 0;
                while i + LANES <= out.len() {
                    let rows: [&[f64]; LANES] = std::array::from_fn(|k| row(i + k));
                    for (k, leaf) in t.leaves_of(rows).into_iter().enumerate() {
                        out[i + k] += leaves[leaf];
                    }
                    i += LANES;
                }
                for (k, o) in out.iter_mut().enumerate().skip(i) {
                    let r = row(k);
                    *o += leaves[t.leaf_of(|f| r[f])];
                }
            }
        });
        out
    }
}
