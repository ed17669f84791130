//! The one error type of the propensity models: every variant names what was wrong.

use std::path::PathBuf;

/// Errors from building training tables, fitting and loading propensity models.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PropensityError {
    /// The training config file is not valid TOML or has an unknown or mistyped key.
    #[error("training config {path}: {message}")]
    ConfigParse {
        /// Config file.
        path: PathBuf,
        /// Parser message (names the key and line).
        message: String,
    },
    /// A config value is out of its range.
    #[error("training config field \"{field}\": {value} is invalid; {reason}")]
    ConfigValue {
        /// Field name.
        field: &'static str,
        /// Offending value.
        value: String,
        /// What the field must satisfy.
        reason: &'static str,
    },
    /// An evaluated label window runs past the end of the log.
    #[error(transparent)]
    Unobserved(#[from] crate::features::UnobservedWindow),
    /// There is nothing to train or evaluate on.
    #[error("no {what}: {hint}")]
    Empty {
        /// What is missing (e.g. "training rows").
        what: &'static str,
        /// Why it may be missing and what to change.
        hint: String,
    },
    /// The GBDT engine refused the data or parameters.
    #[error("{model} model: {source}")]
    Gbdt {
        /// Which model (churn, count, curve).
        model: &'static str,
        /// Underlying error.
        source: crate::gbdt::GbdtError,
    },
    /// A CLV model could not be fitted.
    #[error("{model}: {source}")]
    Clv {
        /// Which model (BG/NBD, Pareto/NBD, Gamma-Gamma).
        model: &'static str,
        /// Underlying error.
        source: crate::clv::Error,
    },
    /// Writing an output file failed.
    #[error("writing {path}: {source}")]
    Write {
        /// Output file.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// Result alias of this module.
pub type Result<T, E = PropensityError> = std::result::Result<T, E>;
