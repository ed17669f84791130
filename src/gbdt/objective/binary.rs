//! Binary log loss: `L = -[y ln p + (1-y) ln(1-p)]`, `p = 1 / (1 + e^-s)`;
//! gradient `p - y`, hessian `p (1 - p)`.

use super::{Objective, weighted_mean};

/// Logistic loss for labels in {0, 1}.
pub struct BinaryLogloss;

/// Numerically safe logistic function.
pub(crate) fn sigmoid(s: f64) -> f64 {
    1.0 / (1.0 + (-s).exp())
}

impl Objective for BinaryLogloss {
    fn name(&self) -> &'static str {
        "binary"
    }

    fn check_label(&self, label: f64) -> Result<(), &'static str> {
        if label == 0.0 || label == 1.0 {
            Ok(())
        } else {
            Err("labels must be 0 or 1")
        }
    }

    fn init_score(&self, labels: &[f64], weights: Option<&[f64]>) -> f64 {
        // Clamped so an all-0 or all-1 training set still gives a finite log-odds.
        let p = weighted_mean(labels, weights).clamp(1e-15, 1.0 - 1e-15);
        (p / (1.0 - p)).ln()
    }

    fn gradients(&self, labels: &[f64], scores: &[f64], out: &mut [[f64; 2]]) {
        for ((o, &y), &s) in out.iter_mut().zip(labels).zip(scores) {
            let p = sigmoid(s);
            // Floor the hessian: a saturated leaf would otherwise divide by ~0.
            *o = [p - y, (p * (1.0 - p)).max(1e-16)];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_difference() {
        let loss = |y: f64, s: f64| {
            let p = sigmoid(s);
            -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
        };
        for &(y, s) in &[(0.0, 0.3), (1.0, -1.2), (1.0, 2.5)] {
            let mut out = [[0.0; 2]];
            BinaryLogloss.gradients(&[y], &[s], &mut out);
            let eps = 1e-5;
            let g = (loss(y, s + eps) - loss(y, s - eps)) / (2.0 * eps);
            let h = (loss(y, s + eps) - 2.0 * loss(y, s) + loss(y, s - eps)) / (eps * eps);
            assert!((out[0][0] - g).abs() < 1e-6, "grad {} vs {g}", out[0][0]);
            assert!((out[0][1] - h).abs() < 1e-3, "hess {} vs {h}", out[0][1]);
        }
    }

    #[test]
    fn init_score_is_log_odds_of_weighted_mean() {
        let s = BinaryLogloss.init_score(&[1.0, 0.0, 0.0, 0.0], None);
        assert!((s - (0.25f64 / 0.75).ln()).abs() < 1e-12);
        let s = BinaryLogloss.init_score(&[1.0, 0.0], Some(&[3.0, 1.0]));
        assert!((s - 3f64.ln()).abs() < 1e-12);
        assert!(BinaryLogloss.check_label(0.5).is_err());
    }
}
