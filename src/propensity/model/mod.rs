//! The serialisable propensity model: churn (calibrated GBDT), expected purchases (Poisson
//! GBDT), the repurchase curve (calibrated GBDT with the horizon as a feature) and the
//! BG/NBD and Gamma-Gamma parameters at the cutoff, with cheap per-row scoring for the server.
//!
//! `fit.rs` trains it on point-in-time snapshots; `score.rs` answers for one feature row.

mod fit;
mod score;

pub use fit::{MAX_CURVE_ROWS, MAX_TRAIN_ROWS, TrainingTables, expand_curve, time_split_tables};
#[cfg(test)]
pub(crate) use fit::{RowCaps, time_split_tables_capped};
pub(crate) use fit::{customer_sampled, sample_share};
pub use score::{anchor_curve, poisson_median};

use super::calibrate::Calibrator;
use super::config::PropensityConfig;
use crate::clv::{BgNbdParams, GammaGammaParams};
use crate::gbdt::Booster;
use serde::{Deserialize, Serialize};

/// Name of the extra column of the repurchase-curve model.
pub const CURVE_DAYS_FEATURE: &str = "curve_days";

/// Everything needed to score a customer from a feature row at the training cutoff.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PropensityModel {
    /// The config it was trained with.
    pub config: PropensityConfig,
    /// Training cutoff (seconds): features of served rows are computed here.
    pub cutoff: i64,
    /// Churn and expected-purchases horizon (days).
    pub horizon_days: u32,
    /// Column names of a feature row.
    pub feature_names: Vec<String>,
    /// P(no purchase in the horizon), before calibration.
    pub churn: Booster,
    /// Calibration of the churn probability (fitted out of fold).
    pub churn_calibrator: Calibrator,
    /// Expected purchases in the horizon (Poisson), or its multiplier of `count_offset`.
    pub count: Booster,
    /// The count model's baseline, when it has one (`count_base = "bgnbd"`).
    pub count_offset: Option<CountOffset>,
    /// P(purchase within d days) with d as the last column, before calibration.
    pub curve: Booster,
    /// Calibration of the curve probabilities (fitted out of fold).
    pub curve_calibrator: Calibrator,
    /// Horizons of the curve, increasing.
    pub curve_days: Vec<u32>,
    /// BG/NBD fitted at the cutoff (days), if anyone had history.
    pub bgnbd: Option<BgNbdParams>,
    /// Gamma-Gamma spend model fitted at the cutoff, if enough repeat buyers.
    pub gamma_gamma: Option<GammaGammaParams>,
}

/// Where the count model's baseline expectation is read from a feature row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CountOffset {
    /// Column holding the baseline expected purchases (BG/NBD over the horizon).
    pub column: usize,
    /// Baseline used when the column is missing: the training rows' mean baseline.
    pub fallback: f64,
}

/// Smallest baseline expectation: keeps the multiplier's label `y / e` finite.
pub(super) const MIN_OFFSET: f64 = 1e-3;

impl CountOffset {
    /// Baseline expected purchases of one row (`fallback` when missing).
    pub fn of(&self, row: &[f32]) -> f64 {
        match row.get(self.column).map(|v| *v as f64) {
            Some(v) if v.is_finite() => v.max(MIN_OFFSET),
            _ => self.fallback,
        }
    }
}
