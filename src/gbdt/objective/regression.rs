//! Squared error: `L = (s - y)^2 / 2`; gradient `s - y`, hessian 1.

use super::{Objective, weighted_mean};

/// L2 regression.
pub struct SquaredError;

impl Objective for SquaredError {
    fn name(&self) -> &'static str {
        "regression"
    }

    fn check_label(&self, label: f64) -> Result<(), &'static str> {
        if label.is_finite() {
            Ok(())
        } else {
            Err("labels must be finite")
        }
    }

    fn init_score(&self, labels: &[f64], weights: Option<&[f64]>) -> f64 {
        weighted_mean(labels, weights)
    }

    fn gradients(&self, labels: &[f64], scores: &[f64], out: &mut [[f64; 2]]) {
        for ((o, &y), &s) in out.iter_mut().zip(labels).zip(scores) {
            *o = [s - y, 1.0];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_is_residual_and_init_is_mean() {
        let mut out = [[0.0; 2]; 2];
        SquaredError.gradients(&[1.0, 4.0], &[3.0, 1.0], &mut out);
        assert_eq!(out, [[2.0, 1.0], [-3.0, 1.0]]);
        assert_eq!(SquaredError.init_score(&[1.0, 2.0, 6.0], None), 3.0);
        assert!(SquaredError.check_label(f64::NAN).is_err());
    }
}
