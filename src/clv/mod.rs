//! Customer-lifetime-value models on per-customer `(x, t_x, T)` summaries.
//!
//! # Overview
//! * [`CustomerSummary`]: repeat purchases `x`, time of the last purchase `t_x` and age `t`
//!   (all measured from the customer's first purchase, in any one time unit), plus the mean
//!   value of the repeat purchases. [`CustomerSummary::from_purchases`] builds one.
//! * [`BgNbd`] and [`ParetoNbd`]: "buy till you die" purchase models fitted by maximum
//!   likelihood; their parameters implement [`PurchaseModel`] (P(alive), P(any purchase in
//!   a horizon), expected purchases in a horizon, all conditional on the history).
//! * [`GammaGamma`]: spend per transaction, giving the expected spend and, with a purchase
//!   model, the (optionally discounted) customer value over a horizon ([`GammaGammaParams::clv`]).
//! * [`rfm`]: quintile RFM scores and named segments.
//!
//! Fits never fail for numerical reasons: a maximum-likelihood fit that does not converge,
//! or runs off to a degenerate boundary (common with ~100 customers), is redone with a weak
//! L2 penalty on the log-parameters and says so in its [`FitReport`]. Only invalid input
//! (an empty population, a NaN or an impossible summary) is an [`Error`].
//!
//! For ranking "will buy again", use [`PurchaseModel::p_any_purchase`] or
//! [`PurchaseModel::expected_purchases`]: BG/NBD gives every customer with no repeat
//! purchase P(alive) = 1, which ranks badly (AUC about 0.32 on CDNOW).

mod bgnbd;
mod gamma_gamma;
mod mle;
mod pareto_nbd;
pub mod rfm;
mod special;
mod summary;

#[cfg(test)]
mod testdata;

pub use bgnbd::{BgNbd, BgNbdFit, BgNbdParams};
pub use gamma_gamma::{ClvOptions, GammaGamma, GammaGammaFit, GammaGammaParams};
pub use mle::{FitOptions, FitReport};
pub use pareto_nbd::{ParetoNbd, ParetoNbdFit, ParetoNbdParams};
pub use summary::{CustomerSummary, Purchase};

/// Errors from building summaries and fitting CLV models: all are input problems.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A summary field is NaN, infinite, negative or inconsistent with the others.
    #[error("customer summary {index}, field \"{field}\": {value} is invalid; {reason}")]
    InvalidSummary {
        /// Position of the summary in the input slice.
        index: usize,
        /// Field name (`x`, `t_x`, `t`, `monetary`).
        field: &'static str,
        /// Offending value.
        value: f64,
        /// What the field must satisfy.
        reason: &'static str,
    },
    /// A purchase given to [`CustomerSummary::from_purchases`] is unusable.
    #[error("purchase {index}, field \"{field}\": {value} is invalid; {reason}")]
    InvalidPurchase {
        /// Position of the purchase in the input slice.
        index: usize,
        /// Field name (`time`, `value`).
        field: &'static str,
        /// Offending value.
        value: f64,
        /// What the field must satisfy.
        reason: &'static str,
    },
    /// [`CustomerSummary::from_purchases`] was given no purchases.
    #[error("a customer summary needs at least one purchase; got none")]
    NoPurchases,
    /// A model was asked to fit with no usable customers.
    #[error("{model} needs at least one customer{detail}; got none")]
    NoCustomers {
        /// Model name.
        model: &'static str,
        /// Which customers count, e.g. " with a repeat purchase and positive spend".
        detail: &'static str,
    },
    /// An option is out of its range.
    #[error("option \"{name}\": {value} is invalid; {reason}")]
    InvalidOption {
        /// Option name.
        name: &'static str,
        /// Offending value.
        value: f64,
        /// What the option must satisfy.
        reason: &'static str,
    },
    /// An RFM input field is NaN or infinite.
    #[error("rfm input {index}, field \"{field}\": {value} is not a finite number")]
    InvalidRfm {
        /// Position of the input in the slice.
        index: usize,
        /// Field name (`recency`, `frequency`, `monetary`).
        field: &'static str,
        /// Offending value.
        value: f64,
    },
}

/// A fitted purchase-count model scored on one customer's history.
///
/// Every method is conditional on the customer's summary; horizons are in the summary's
/// time unit and start at the end of the observation window (`T`).
pub trait PurchaseModel {
    /// Probability the customer is still active at the end of the observation window.
    fn p_alive(&self, s: &CustomerSummary) -> f64;
    /// Expected number of purchases in `(T, T + horizon]`.
    fn expected_purchases(&self, s: &CustomerSummary, horizon: f64) -> f64;
    /// Probability of at least one purchase in `(T, T + horizon]`.
    fn p_any_purchase(&self, s: &CustomerSummary, horizon: f64) -> f64;
}
