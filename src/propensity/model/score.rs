//! Scoring one feature row: churn and its factors, the repurchase curve anchored to churn,
//! the predicted date, expected and median purchases.

use crate::propensity::explain::{Factor, describe};
use crate::time::DAY;

use super::PropensityModel;

impl PropensityModel {
    /// Calibrated P(no purchase in `[cutoff, cutoff + H)`) of one feature row.
    pub fn churn(&self, row: &[f32]) -> f64 {
        match self.churn.predict_proba_row(row) {
            Ok(p) => self.churn_calibrator.apply(p),
            Err(_) => f64::NAN,
        }
    }

    /// The `k` features that move this customer's churn log-odds most, with readable text.
    pub fn explain(&self, row: &[f32], k: usize) -> Vec<Factor> {
        let mut shap = vec![0.0; self.churn.n_features()];
        if self.churn.shap_row(row, &mut shap).is_err() {
            return Vec::new();
        }
        let mut order: Vec<usize> = (0..shap.len()).filter(|&f| shap[f] != 0.0).collect();
        order.sort_by(|&a, &b| shap[b].abs().total_cmp(&shap[a].abs()).then(a.cmp(&b)));
        order
            .into_iter()
            .take(k)
            .map(|f| Factor {
                feature: self.feature_names[f].clone(),
                value: row[f] as f64,
                impact: shap[f],
                text: describe(&self.feature_names, row, f),
            })
            .collect()
    }

    /// Calibrated P(purchase within d days) for each curve horizon d, non-decreasing in d,
    /// and equal to `1 − churn` at the churn horizon (see [`anchor_curve`]).
    pub fn repurchase_curve(&self, row: &[f32]) -> Vec<(u32, f64)> {
        self.repurchase_curve_given(row, self.churn(row))
    }

    /// [`PropensityModel::repurchase_curve`] for a caller that already has the row's
    /// calibrated churn (one churn walk per answer instead of one per figure).
    pub fn repurchase_curve_given(&self, row: &[f32], churn: f64) -> Vec<(u32, f64)> {
        let mut x: Vec<f32> = Vec::with_capacity(row.len() + 1);
        x.extend_from_slice(row);
        x.push(0.0);
        let last = row.len();
        let mut best = 0.0f64;
        let mut curve: Vec<(u32, f64)> = self
            .curve_days
            .iter()
            .map(|&d| {
                x[last] = d as f32;
                let p = self
                    .curve
                    .predict_proba_row(&x)
                    .map_or(f64::NAN, |p| self.curve_calibrator.apply(p));
                // A purchase within d days is one within any longer horizon too: the running
                // maximum keeps the curve a distribution function.
                best = best.max(if p.is_nan() { 0.0 } else { p });
                (d, best)
            })
            .collect();
        anchor_curve(&mut curve, self.horizon_days, churn);
        curve
    }

    /// Days after the cutoff at which the curve reaches `level` (linear between horizons,
    /// starting from 0 at day 0); `None` when it never does.
    pub fn days_to_level(curve: &[(u32, f64)], level: f64) -> Option<f64> {
        let (mut d0, mut p0) = (0.0, 0.0);
        for &(d, p) in curve {
            if p >= level {
                let d = d as f64;
                return Some(if p > p0 {
                    d0 + (d - d0) * (level - p0) / (p - p0)
                } else {
                    d
                });
            }
            (d0, p0) = (d as f64, p);
        }
        None
    }

    /// Median days to the next purchase given one within `within` days (a curve horizon):
    /// where `curve` (this model's, e.g. from [`PropensityModel::repurchase_curve_given`])
    /// reaches half its value at `within`.
    pub fn conditional_median_on(curve: &[(u32, f64)], within: u32) -> f64 {
        let inside = curve.partition_point(|&(d, _)| d <= within);
        let curve = &curve[..inside];
        let top = curve.last().map_or(0.0, |c| c.1);
        if top <= 0.0 {
            return within as f64 / 2.0;
        }
        Self::days_to_level(curve, top / 2.0).unwrap_or(within as f64 / 2.0)
    }

    /// Predicted next-purchase time (seconds) read on a curve of this model (see
    /// [`PropensityModel::repurchase_curve_given`]): its median, `None` when the curve
    /// stays below one half over its longest horizon.
    pub fn next_purchase_on(&self, curve: &[(u32, f64)]) -> Option<i64> {
        let days = Self::days_to_level(curve, 0.5)?;
        Some(self.cutoff + (days * DAY as f64).round() as i64)
    }

    /// Expected number of purchases in `[cutoff, cutoff + H)`.
    pub fn expected_purchases(&self, row: &[f32]) -> f64 {
        let m = self.count.predict_proba_row(row).unwrap_or(f64::NAN);
        match &self.count_offset {
            Some(off) => m * off.of(row),
            None => m,
        }
    }

    /// Most likely-to-be-close number of purchases in `[cutoff, cutoff + H)`: the median of a
    /// Poisson count with [`PropensityModel::expected_purchases`] as its mean. It minimises
    /// the absolute error where the mean minimises the squared error and sums to the total.
    pub fn median_purchases(&self, row: &[f32]) -> f64 {
        poisson_median(self.expected_purchases(row))
    }
}

/// Median of a Poisson distribution with mean `mu`: the smallest `k` with P(X ≤ k) ≥ 1/2
/// (NaN for a NaN or negative mean).
pub fn poisson_median(mu: f64) -> f64 {
    if mu.is_nan() || mu < 0.0 {
        return f64::NAN;
    }
    // Past this mean e^-mu underflows the running sum; the median is then within one of
    // mu + 1/3 - 0.02/mu (Choi 1994), which is exact to the integer at these sizes.
    if mu > 500.0 {
        return (mu + 1.0 / 3.0 - 0.02 / mu).floor();
    }
    let mut term = (-mu).exp();
    let mut cdf = term;
    let mut k = 0u32;
    while cdf < 0.5 {
        k += 1;
        term *= mu / k as f64;
        cdf += term;
    }
    k as f64
}

/// Survival probabilities are kept inside this band so logarithms stay finite.
const SURVIVAL_FLOOR: f64 = 1e-6;

/// Makes a repurchase curve agree with the churn model: rescales it in proportional-hazard
/// form, `S'(d) = S(d)^λ` with `S = 1 − P(within d)`, so that `S'(horizon) = churn`.
///
/// The churn model and the curve model are trained separately; without this a customer
/// could read "churn 47%" next to "37% chance of buying within 30 days" on one page. The
/// churn model is the better one at its horizon (more rows, its own calibration), so the
/// curve keeps its shape and moves to it. `S(horizon)` is read between the bracketing
/// horizons with a log-survival straight line (a constant hazard before the first and after
/// the last). A NaN churn leaves the curve as it is.
pub fn anchor_curve(curve: &mut [(u32, f64)], horizon_days: u32, churn: f64) {
    if curve.is_empty() || !churn.is_finite() || horizon_days == 0 {
        return;
    }
    let log_s = |p: f64| (1.0 - p).clamp(SURVIVAL_FLOOR, 1.0 - SURVIVAL_FLOOR).ln();
    let h = horizon_days as f64;
    let at = curve.partition_point(|&(d, _)| d < horizon_days);
    let log_s_h = if at < curve.len() && curve[at].0 == horizon_days {
        log_s(curve[at].1)
    } else if at == 0 {
        log_s(curve[0].1) * h / curve[0].0.max(1) as f64
    } else if at == curve.len() {
        let (d, p) = curve[at - 1];
        log_s(p) * h / d.max(1) as f64
    } else {
        let ((d0, p0), (d1, p1)) = (curve[at - 1], curve[at]);
        let w = (h - d0 as f64) / (d1 - d0) as f64;
        log_s(p0) + w * (log_s(p1) - log_s(p0))
    };
    let target = churn.clamp(SURVIVAL_FLOOR, 1.0 - SURVIVAL_FLOOR).ln();
    let lambda = target / log_s_h;
    for (_, p) in curve.iter_mut() {
        *p = 1.0 - (lambda * log_s(*p)).exp();
    }
}

#[cfg(test)]
mod median_tests {
    use super::{anchor_curve, poisson_median};

    fn at(curve: &[(u32, f64)], d: u32) -> f64 {
        curve.iter().find(|c| c.0 == d).unwrap().1
    }

    #[test]
    fn an_anchored_curve_meets_one_minus_churn_at_the_horizon_and_stays_a_distribution() {
        let base = vec![(7, 0.2), (14, 0.35), (28, 0.5), (60, 0.7), (90, 0.8)];
        for churn in [0.05, 0.3, 0.5, 0.8, 0.99] {
            let mut c = base.clone();
            anchor_curve(&mut c, 28, churn);
            assert!((at(&c, 28) - (1.0 - churn)).abs() < 1e-9, "{churn}: {c:?}");
            for w in c.windows(2) {
                assert!(w[0].1 <= w[1].1, "monotone: {c:?}");
            }
            assert!(c.iter().all(|&(_, p)| (0.0..=1.0).contains(&p)), "{c:?}");
            // Proportional hazards: the order of the horizons' survival is kept, and a lower
            // churn than the curve said lifts every point, a higher one lowers every point.
            for (a, b) in c.iter().zip(&base) {
                if churn < 0.5 {
                    assert!(a.1 > b.1);
                } else if churn > 0.5 {
                    assert!(a.1 < b.1);
                }
            }
        }
        // Already consistent: unchanged.
        let mut c = base.clone();
        anchor_curve(&mut c, 28, 0.5);
        for (a, b) in c.iter().zip(&base) {
            assert!((a.1 - b.1).abs() < 1e-9);
        }
    }

    #[test]
    fn a_horizon_between_curve_points_is_read_on_the_log_survival_line() {
        // S(14) = 0.8, S(30) = 0.4: log-linear at 28 gives S = 0.8 * 0.5^(14/16).
        let base = vec![(14, 0.2), (30, 0.6)];
        let s28 = 0.8 * 0.5f64.powf(14.0 / 16.0);
        let mut c = base.clone();
        anchor_curve(&mut c, 28, s28);
        assert!(
            (c[0].1 - 0.2).abs() < 1e-9 && (c[1].1 - 0.6).abs() < 1e-9,
            "{c:?}"
        );
        // Horizon beyond the last point: constant hazard from the last one.
        let mut c = base.clone();
        anchor_curve(&mut c, 60, 0.4f64.powf(2.0));
        assert!((c[1].1 - 0.6).abs() < 1e-9, "{c:?}");
        // Before the first point: constant hazard from day 0.
        let mut c = base.clone();
        anchor_curve(&mut c, 7, 0.8f64.powf(0.5));
        assert!((c[0].1 - 0.2).abs() < 1e-9, "{c:?}");
        // A curve at zero still moves to the churn model, and NaN churn leaves it alone.
        let mut c = vec![(7, 0.0), (30, 0.0)];
        anchor_curve(&mut c, 30, 0.4);
        assert!((c[1].1 - 0.6).abs() < 1e-6 && c[0].1 > 0.0, "{c:?}");
        let mut c = base.clone();
        anchor_curve(&mut c, 28, f64::NAN);
        assert_eq!(c, base);
    }

    #[test]
    fn poisson_median_matches_the_distribution() {
        // P(X = 0) = e^-mu >= 1/2 exactly when mu <= ln 2.
        assert_eq!(poisson_median(0.0), 0.0);
        assert_eq!(poisson_median(0.69), 0.0);
        assert_eq!(poisson_median(0.70), 1.0);
        // Known values: median of Poisson(1) is 1, Poisson(2.5) is 2, Poisson(10) is 10.
        assert_eq!(poisson_median(1.0), 1.0);
        assert_eq!(poisson_median(2.5), 2.0);
        assert_eq!(poisson_median(10.0), 10.0);
        // Both branches agree where they meet.
        assert_eq!(poisson_median(499.9), (499.9f64 + 1.0 / 3.0).floor());
        assert_eq!(poisson_median(800.2), 800.0);
        assert!(poisson_median(f64::NAN).is_nan());
        assert!(poisson_median(-1.0).is_nan());
    }
}
