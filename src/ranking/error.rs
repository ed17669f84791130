//! Why a recommender could not be fitted.

/// Failure to fit a [`super::Recommender`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RankingError {
    /// A candidate source rejected its input or parameters.
    #[error("candidate source {source_name}: {error}")]
    Source {
        /// Which source (`als`, `copurchase`).
        source_name: &'static str,
        /// The source's own error.
        error: crate::cf::Error,
    },
    /// The ranker could not be trained.
    #[error("ranker: {0}")]
    Ranker(#[from] crate::gbdt::GbdtError),
    /// No training row had a positive label, so the ranker would learn nothing.
    #[error(
        "no purchases in the training window [{}, {}) among candidates; use an earlier cutoff or a longer horizon",
        crate::time::format_date(*from),
        crate::time::format_date(*to)
    )]
    NoPositives {
        /// Window start (seconds since the epoch).
        from: i64,
        /// Window end (seconds since the epoch).
        to: i64,
    },
    /// An evaluated label window runs past the end of the log.
    #[error(transparent)]
    Unobserved(#[from] crate::features::UnobservedWindow),
    /// A configuration value is out of range.
    #[error("config field {field} = {value}: {reason}")]
    BadConfig {
        /// Field name.
        field: &'static str,
        /// Offending value.
        value: String,
        /// What is allowed.
        reason: &'static str,
    },
}
