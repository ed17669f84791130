//! Poisson negative log-likelihood: `L = e^s - y s` (rate `λ = e^s`); gradient `e^s - y`,
//! hessian `e^(s + max_delta_step)` — LightGBM's inflated hessian, which keeps the first
//! Newton steps from overshooting when a leaf's counts are all zero.

use super::{Objective, weighted_mean};

/// Poisson regression on non-negative counts.
pub struct PoissonLoss {
    /// Added to the raw score in the hessian (LightGBM `poisson_max_delta_step`).
    pub max_delta_step: f64,
}

impl Objective for PoissonLoss {
    fn name(&self) -> &'static str {
        "poisson"
    }

    fn check_label(&self, label: f64) -> Result<(), &'static str> {
        if label >= 0.0 && label.is_finite() {
            Ok(())
        } else {
            Err("labels must be finite and >= 0")
        }
    }

    fn init_score(&self, labels: &[f64], weights: Option<&[f64]>) -> f64 {
        weighted_mean(labels, weights).max(1e-15).ln()
    }

    fn gradients(&self, labels: &[f64], scores: &[f64], out: &mut [[f64; 2]]) {
        let boost = self.max_delta_step.exp();
        for ((o, &y), &s) in out.iter_mut().zip(labels).zip(scores) {
            let rate = s.exp();
            *o = [rate - y, rate * boost];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_and_init() {
        let loss = PoissonLoss {
            max_delta_step: 0.0,
        };
        let mut out = [[0.0; 2]];
        loss.gradients(&[3.0], &[0.0], &mut out);
        assert_eq!(out[0], [1.0 - 3.0, 1.0]);
        assert!((loss.init_score(&[1.0, 3.0], None) - 2f64.ln()).abs() < 1e-12);
        assert!(loss.check_label(-1.0).is_err());
    }
}
