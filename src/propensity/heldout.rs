//! Churn measured at training time on the out-of-fold predictions the calibrator is fitted
//! on: discrimination and calibration of the served model, next to two baselines, written
//! into the bundle's metrics so `inspect`, `GET /v1/model` and the dashboard show how the
//! model did without a separate `evaluate` run.
//!
//! Metric names (flat, as [`crate::bundle::Metadata::metrics`] stores them):
//! `churn.oof.{auc,logloss,brier,base_rate,rows}`, baselines
//! `churn.oof.baseline.{base_rate,recency_only}.{auc,logloss,brier}` and the reliability
//! curve `churn.oof.calibration.{BB}.{predicted,observed,rows}` for bin `BB` of
//! [`CALIBRATION_BINS`] equal-width bins of the calibrated prediction.
//!
//! Both steps are out of fold: the booster's predictions of a row come from a booster that
//! did not see its customer, and they are calibrated by a calibrator fitted on the other
//! folds' predictions (the served calibrator, fitted on all of them, would flatter the
//! curve). The recency baseline's isotonic map is fitted on the same rows it is measured
//! on, so it is, if anything, flattered.

use std::collections::BTreeMap;

use serde::Serialize;

use super::calibrate::Calibrator;
use super::config::CalibrationKind;
use crate::eval::metrics::{auc, brier, logloss};

/// Number of equal-width bins of the stored calibration curve.
pub const CALIBRATION_BINS: usize = 10;

const PREFIX: &str = "churn.oof";

/// Out-of-fold churn predictions of the training rows.
#[derive(Debug, Clone, Default)]
pub struct HeldOut {
    /// Out-of-fold churn probability per row, calibrated out of fold (NaN: not predicted).
    pub predicted: Vec<f64>,
    /// 1 if the row's customer churned, else 0.
    pub labels: Vec<f64>,
    /// Days since the last order at the row's snapshot (NaN = none), for the baseline.
    pub recency_days: Vec<f64>,
}

/// One bin of the reliability curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CalibrationPoint {
    /// Mean predicted churn probability of the bin.
    pub predicted: f64,
    /// Share of the bin's rows that churned.
    pub observed: f64,
    /// Training rows (customer × snapshot) in the bin.
    pub rows: u64,
}

impl HeldOut {
    /// Metrics of the model and baselines, and the calibration curve, by metric name.
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        if self.predicted.len() != self.labels.len() {
            return m;
        }
        if self.predicted.iter().any(|p| p.is_nan()) {
            let keep: Vec<usize> = (0..self.predicted.len())
                .filter(|&r| !self.predicted[r].is_nan())
                .collect();
            let pick = |v: &[f64]| {
                keep.iter()
                    .map(|&r| v.get(r).copied().unwrap_or(f64::NAN))
                    .collect()
            };
            return HeldOut {
                predicted: pick(&self.predicted),
                labels: pick(&self.labels),
                recency_days: if self.recency_days.is_empty() {
                    Vec::new()
                } else {
                    pick(&self.recency_days)
                },
            }
            .metrics();
        }
        let y = &self.labels;
        let n = y.len();
        if n == 0 {
            return m;
        }
        let mut put = |k: String, v: f64| {
            m.insert(format!("{PREFIX}.{k}"), v);
        };
        let base_rate = y.iter().sum::<f64>() / n as f64;
        put("auc".into(), auc(&self.predicted, y, None));
        put("logloss".into(), logloss(&self.predicted, y, None));
        put("brier".into(), brier(&self.predicted, y, None));
        put("base_rate".into(), base_rate);
        put("rows".into(), n as f64);

        // Everyone gets the base rate: the floor any model must beat.
        let constant = vec![base_rate; n];
        put("baseline.base_rate.auc".into(), 0.5);
        put(
            "baseline.base_rate.logloss".into(),
            logloss(&constant, y, None),
        );
        put("baseline.base_rate.brier".into(), brier(&constant, y, None));

        // Days since the last order, made a probability by isotonic regression fitted on
        // these rows.
        if self.recency_days.len() == n {
            let rec: Vec<f64> = self
                .recency_days
                .iter()
                .map(|&d| if d.is_nan() { 1e9 } else { d })
                .collect();
            let cal = Calibrator::fit(CalibrationKind::Isotonic, &rec, y);
            let p: Vec<f64> = rec.iter().map(|&d| cal.apply(d)).collect();
            put("baseline.recency_only.auc".into(), auc(&rec, y, None));
            put("baseline.recency_only.logloss".into(), logloss(&p, y, None));
            put("baseline.recency_only.brier".into(), brier(&p, y, None));
        }

        for (b, point) in calibration_bins(&self.predicted, y).iter().enumerate() {
            if let Some(p) = point {
                put(format!("calibration.{b:02}.predicted"), p.predicted);
                put(format!("calibration.{b:02}.observed"), p.observed);
                put(format!("calibration.{b:02}.rows"), p.rows as f64);
            }
        }
        m
    }
}

/// Mean prediction and observed rate per equal-width bin of `predicted` (None = empty bin).
fn calibration_bins(predicted: &[f64], labels: &[f64]) -> Vec<Option<CalibrationPoint>> {
    let mut sums = [(0.0f64, 0.0f64, 0u64); CALIBRATION_BINS];
    for (&p, &y) in predicted.iter().zip(labels) {
        if !p.is_finite() {
            continue;
        }
        let b = ((p.clamp(0.0, 1.0) * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
        sums[b].0 += p;
        sums[b].1 += y;
        sums[b].2 += 1;
    }
    sums.iter()
        .map(|&(p, y, n)| {
            (n > 0).then(|| CalibrationPoint {
                predicted: p / n as f64,
                observed: y / n as f64,
                rows: n,
            })
        })
        .collect()
}

/// The calibration curve stored in bundle metrics, in bin order; `None` for bundles
/// written before it was recorded.
pub fn calibration_points(metrics: &BTreeMap<String, f64>) -> Option<Vec<CalibrationPoint>> {
    let points: Vec<CalibrationPoint> = (0..CALIBRATION_BINS)
        .filter_map(|b| {
            let get = |k: &str| {
                metrics
                    .get(&format!("{PREFIX}.calibration.{b:02}.{k}"))
                    .copied()
            };
            Some(CalibrationPoint {
                predicted: get("predicted")?,
                observed: get("observed")?,
                rows: get("rows")? as u64,
            })
        })
        .collect();
    (!points.is_empty()).then_some(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_average_predictions_and_labels_and_skip_empty_bins() {
        let p = [0.05, 0.15, 0.12, 0.95, 1.0];
        let y = [0.0, 1.0, 0.0, 1.0, 1.0];
        let bins = calibration_bins(&p, &y);
        assert_eq!(bins.len(), CALIBRATION_BINS);
        assert_eq!(bins[0].map(|b| b.rows), Some(1));
        let b1 = bins[1].expect("bin 1");
        assert!((b1.predicted - 0.135).abs() < 1e-12);
        assert_eq!((b1.observed, b1.rows), (0.5, 2));
        assert!(bins[2..9].iter().all(Option::is_none));
        // p = 1.0 belongs to the last bin, not past it.
        assert_eq!(bins[9].map(|b| (b.rows, b.observed)), Some((2, 1.0)));
    }

    #[test]
    fn metrics_round_trip_through_calibration_points() {
        let held = HeldOut {
            predicted: vec![0.1, 0.2, 0.8, 0.9, 0.7, 0.3],
            labels: vec![0.0, 0.0, 1.0, 1.0, 0.0, 1.0],
            recency_days: vec![5.0, 10.0, 90.0, 120.0, 30.0, f64::NAN],
        };
        let m = held.metrics();
        assert_eq!(m["churn.oof.rows"], 6.0);
        assert_eq!(m["churn.oof.base_rate"], 0.5);
        assert!(m["churn.oof.auc"] > 0.8);
        assert!(m["churn.oof.brier"] < m["churn.oof.baseline.base_rate.brier"]);
        assert!(m.contains_key("churn.oof.baseline.recency_only.auc"));
        let points = calibration_points(&m).expect("points");
        assert_eq!(points.iter().map(|p| p.rows).sum::<u64>(), 6);
        assert!(points.windows(2).all(|w| w[0].predicted < w[1].predicted));
        assert_eq!(calibration_points(&BTreeMap::new()), None);
    }

    #[test]
    fn unpredicted_rows_are_left_out() {
        let held = HeldOut {
            predicted: vec![0.2, f64::NAN, 0.8],
            labels: vec![0.0, 1.0, 1.0],
            recency_days: vec![1.0, 2.0, 3.0],
        };
        let m = held.metrics();
        assert_eq!(m["churn.oof.rows"], 2.0);
        assert_eq!(m["churn.oof.auc"], 1.0);
    }

    #[test]
    fn no_rows_gives_no_metrics() {
        assert!(HeldOut::default().metrics().is_empty());
    }
}
