//! Implicit-feedback ALS (Hu, Koren & Volinsky, "Collaborative Filtering for Implicit Feedback
//! Datasets", 2008), solved with the conjugate-gradient method as in `implicit`'s
//! `least_squares_cg` (Takács, Pilászy & Tikk 2011).
//!
//! Every observed strength `r > 0` becomes a preference `p = 1` with confidence
//! `c = 1 + α·r` ([`Confidence::Linear`]) or `c = 1 + α·ln(1 + r/ε)` ([`Confidence::Log`]);
//! unobserved cells have `p = 0, c = 1`. The objective is
//!
//! `L = Σ_{u,i} c_ui (p_ui − x_u·y_i)² + λ (Σ_u ‖x_u‖² + Σ_i ‖y_i‖²)`.
//!
//! Each sweep solves every customer row given the items, then every item row given the
//! customers. A row's normal equations are `(YᵀY + λI + Σ_{i∈u} (c_ui − 1) y_i y_iᵀ) x_u =
//! Σ_{i∈u} c_ui y_i`; `YᵀY` is computed once per half-sweep, so a row costs `O(k² + n_u·k)` per
//! CG step instead of the `O(n_u·k² + k³)` of an exact solve. CG is warm-started from the
//! previous factors, so a few steps per sweep suffice. The exact Cholesky solver stays for
//! tests and small problems.
//!
//! Determinism: a row's update reads only shared, already fixed inputs, and `YᵀY` is summed
//! over fixed row blocks in block order, so a seed gives the same factors at any thread count.
//!
//! `model.rs` holds the factors and the top-k scans that serve them; `fit.rs` the sweeps
//! that train them.

mod fit;
mod model;
#[cfg(test)]
mod tests;

pub use fit::{AlsFit, calculate_loss, fit};
pub use model::{AlsModel, NormSortedItems};

use super::Error;

/// How an interaction strength `r` becomes a confidence `c`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Confidence {
    /// `c = 1 + α·r` (Hu et al. eq. 2).
    Linear,
    /// `c = 1 + α·ln(1 + r/ε)` (Hu et al. eq. 6): damps heavy repeat buyers.
    Log {
        /// Scale ε of the strength inside the logarithm; must be > 0.
        epsilon: f32,
    },
}

/// How each row's least-squares problem is solved.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Solver {
    /// `cg_steps` conjugate-gradient steps per row per sweep, warm-started.
    ConjugateGradient,
    /// Exact Cholesky solve of each row's normal equations in f64 (slow; for tests).
    Cholesky,
}

crate::documented! {
    /// ALS hyper-parameters; names follow `implicit.als.AlternatingLeastSquares`.
    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct AlsParams {
        /// Number of latent factors k.
        pub factors: usize,
        /// Number of sweeps (customers then items).
        pub iterations: usize,
        /// CG steps per row per sweep (`implicit` uses 3).
        pub cg_steps: usize,
        /// Confidence scale α.
        pub alpha: f32,
        /// L2 regularisation λ on every factor vector; must be > 0.
        pub regularization: f32,
        /// Strength-to-confidence mapping.
        pub confidence: Confidence,
        /// Row solver.
        pub solver: Solver,
        /// Seed of the initial factors.
        pub seed: u64,
    }
}

impl Default for AlsParams {
    fn default() -> Self {
        AlsParams {
            factors: 64,
            iterations: 15,
            cg_steps: 3,
            alpha: 1.0,
            regularization: 0.01,
            confidence: Confidence::Linear,
            solver: Solver::ConjugateGradient,
            seed: 0,
        }
    }
}

impl AlsParams {
    /// Checks every parameter's range.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |name, value: f64, reason| {
            Err(Error::BadParam {
                name,
                value,
                reason,
            })
        };
        if self.factors == 0 {
            return bad("factors", 0.0, "must be >= 1");
        }
        if self.solver == Solver::ConjugateGradient && self.cg_steps == 0 {
            return bad(
                "cg_steps",
                0.0,
                "must be >= 1 with the conjugate-gradient solver",
            );
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return bad("alpha", self.alpha as f64, "must be finite and >= 0");
        }
        // λ > 0 keeps every row system positive definite, even for a customer with no items.
        if !(self.regularization.is_finite() && self.regularization > 0.0) {
            return bad(
                "regularization",
                self.regularization as f64,
                "must be finite and > 0",
            );
        }
        if let Confidence::Log { epsilon } = self.confidence
            && !(epsilon.is_finite() && epsilon > 0.0)
        {
            return bad("epsilon", epsilon as f64, "must be finite and > 0");
        }
        Ok(())
    }

    /// Confidence of an observed strength `r` (before subtracting the baseline 1).
    #[inline]
    pub fn confidence_of(&self, r: f32) -> f32 {
        match self.confidence {
            Confidence::Linear => 1.0 + self.alpha * r,
            Confidence::Log { epsilon } => 1.0 + self.alpha * (r / epsilon).ln_1p(),
        }
    }
}
