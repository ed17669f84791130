//! Customer propensities: churn, repurchase curve, next purchase, expected purchases,
//! segments and value, trained on point-in-time snapshots and scored from one feature row.
//!
//! Data flow: [`table`] builds feature rows (behaviour, attributes and BG/NBD features fitted
//! at each snapshot) with labels; [`model::PropensityModel`] trains the GBDTs on snapshots
//! whose label windows end by the cutoff and calibrates them out of fold ([`calibrate`]);
//! [`explain`] words the churn factors; [`risk`] bands churn probabilities; [`forecast`]
//! turns expected purchases into one count per customer; [`evaluate`] runs the `evaluate`
//! protocols against simple baselines; [`value`] gives RFM segments and CLV; [`staples`]
//! the likely items.

pub mod calibrate;
pub mod config;
pub mod error;
pub mod evaluate;
pub mod explain;
pub mod export;
pub mod forecast;
pub mod heldout;
pub mod model;
pub mod risk;
pub mod staples;
pub mod table;
pub mod value;

pub use calibrate::Calibrator;
pub use config::{CalibrationKind, CountBase, PropensityConfig};
pub use error::PropensityError;
pub use evaluate::{EvalDetail, EvalOptions, EvalReport, Split, evaluate, evaluate_detailed};
pub use explain::Factor;
pub use forecast::PurchaseForecast;
pub use heldout::{CalibrationPoint, HeldOut, calibration_points};
pub use model::PropensityModel;
pub use risk::RiskBand;
pub use staples::{LikelyItem, likely_items};
pub use table::{FeatureTable, Population};
pub use value::{CustomerValue, customer_values};

#[cfg(test)]
mod tests;
