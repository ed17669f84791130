//! Objectives (losses): one file per family, each with its math in its doc, behind
//! [`Objective`] (LightGBM's `objective_function.h`: gradients, boost-from-score, transform).

mod binary;
mod lambdarank;
mod poisson;
mod regression;

pub use binary::BinaryLogloss;
pub use lambdarank::LambdaRank;
pub use poisson::PoissonLoss;
pub use regression::SquaredError;

use serde::{Deserialize, Serialize};

/// Which loss a booster minimises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectiveKind {
    /// Binary log loss on labels in {0, 1}; raw score is a log-odds.
    Binary,
    /// Squared error (L2 regression); raw score is the prediction.
    Regression,
    /// Poisson negative log-likelihood on counts; raw score is a log-rate.
    Poisson,
    /// LambdaRank on relevance grades within query groups; raw score only orders a query.
    LambdaRank,
}

impl ObjectiveKind {
    /// LightGBM's name of the objective.
    pub fn name(self) -> &'static str {
        match self {
            ObjectiveKind::Binary => "binary",
            ObjectiveKind::Regression => "regression",
            ObjectiveKind::Poisson => "poisson",
            ObjectiveKind::LambdaRank => "lambdarank",
        }
    }

    /// The loss with its parameters taken from `poisson_max_delta_step`.
    pub fn build(self, poisson_max_delta_step: f64) -> Box<dyn Objective> {
        match self {
            ObjectiveKind::Binary => Box::new(BinaryLogloss),
            ObjectiveKind::Regression => Box::new(SquaredError),
            ObjectiveKind::Poisson => Box::new(PoissonLoss {
                max_delta_step: poisson_max_delta_step,
            }),
            ObjectiveKind::LambdaRank => Box::new(LambdaRank),
        }
    }

    /// Maps a raw score to the prediction scale (probability, value or rate).
    pub fn transform(self, raw: f64) -> f64 {
        match self {
            ObjectiveKind::Binary => binary::sigmoid(raw),
            ObjectiveKind::Regression | ObjectiveKind::LambdaRank => raw,
            ObjectiveKind::Poisson => raw.exp(),
        }
    }
}

impl std::str::FromStr for ObjectiveKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "binary" => Ok(ObjectiveKind::Binary),
            "regression" | "l2" => Ok(ObjectiveKind::Regression),
            "poisson" => Ok(ObjectiveKind::Poisson),
            "lambdarank" => Ok(ObjectiveKind::LambdaRank),
            other => Err(format!(
                "unknown objective {other:?}; expected binary, regression, poisson or lambdarank"
            )),
        }
    }
}

/// A differentiable loss: per-row gradient and hessian of the loss in the raw score.
pub trait Objective: Send + Sync {
    /// Objective name for messages.
    fn name(&self) -> &'static str;
    /// `Err(reason)` when a label is outside the loss's domain.
    fn check_label(&self, label: f64) -> Result<(), &'static str>;
    /// Constant raw score minimising the loss over the training labels (boost from average).
    fn init_score(&self, labels: &[f64], weights: Option<&[f64]>) -> f64;
    /// Writes `[gradient, hessian]` per row for raw `scores` (weights applied by the caller);
    /// for a loss that [`Objective::needs_queries`], the rows are exactly one query.
    fn gradients(&self, labels: &[f64], scores: &[f64], out: &mut [[f64; 2]]);
    /// Whether gradients couple the rows of a query group (ranking losses): the dataset
    /// must carry its groups and `gradients` is called once per group.
    fn needs_queries(&self) -> bool {
        false
    }
}

/// Weighted mean of `xs`, summed in index order so it is reproducible.
pub(crate) fn weighted_mean(xs: &[f64], weights: Option<&[f64]>) -> f64 {
    match weights {
        None => xs.iter().sum::<f64>() / xs.len().max(1) as f64,
        Some(w) => {
            let (num, den) = xs
                .iter()
                .zip(w)
                .fold((0.0, 0.0), |(n, d), (x, w)| (n + x * w, d + w));
            if den > 0.0 { num / den } else { 0.0 }
        }
    }
}
