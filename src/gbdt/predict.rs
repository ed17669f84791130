//! Prediction on raw feature values (LightGBM `gbdt_prediction.cpp`): a single-row path for
//! request handlers (no allocation, raw thresholds) and parallel batch paths (bin codes over
//! the flat layout of `forest`).

use super::booster::Booster;
use super::error::GbdtError;
use rayon::prelude::*;

/// Rows per parallel task of batch prediction (binned and walked in smaller blocks).
const CHUNK: usize = 1024;

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
        let forest = self.forest();
        let mut out = vec![self.base_score(); n_rows];
        out.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each_init(Vec::new, |bins, (c, out)| {
                forest.add_block(c * CHUNK, out, &value, bins)
            });
        out
    }
}
