//! Gradient-boosted decision trees, LightGBM-style.
//!
//! Data flow: raw feature columns → [`Dataset`] (per-feature quantile [`BinMapper`]s and u8
//! bin codes, column-major) → [`Booster::train`] (one [`Tree`] per round, grown leaf-wise from
//! gradient/hessian histograms) → [`Booster`] (raw values in, raw score / probability out,
//! TreeSHAP explanations, importance). Training lives in `histogram`, `split`, `partition`,
//! `grower` and `train`; the parts a server needs (`booster`, `tree`, `predict`, `shap`) never
//! call into them.
//!
//! Determinism: every float sum is taken in a fixed order (per feature, or per fixed row
//! chunk), never in rayon's work-stealing order, so the same seed gives a bit-identical model
//! whatever the thread count.

mod binning;
mod booster;
mod dataset;
mod error;
mod forest;
mod grower;
pub mod histogram;
mod importance;
mod model_file;
pub mod objective;
mod params;
mod partition;
mod predict;
mod shap;
pub mod split;
pub mod table;
mod train;
mod tree;

pub use binning::{BinMapper, FeatureInfo};
pub use booster::{Booster, FORMAT_VERSION};
pub use dataset::{Dataset, DenseInput};
pub use error::GbdtError;
pub use importance::ImportanceKind;
pub use model_file::{ModelFileError, decode_model_file, encode_model_file};
pub use objective::ObjectiveKind;
pub use params::Params;
pub use predict::FeatureValue;
pub use train::IterationReport;
pub use tree::Tree;
