//! Errors of the GBDT layer: bad parameters, inconsistent input data, bad rows at predict time.

/// Everything that can go wrong building a dataset, training or predicting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GbdtError {
    /// A parameter is outside its allowed range.
    #[error("parameter {name} = {value}: {reason}")]
    BadParam {
        /// LightGBM name of the parameter.
        name: &'static str,
        /// The offending value, as given.
        value: String,
        /// Which range is allowed.
        reason: &'static str,
    },
    /// Columns, labels or weights disagree on the number of rows.
    #[error("{what} has {found} rows, expected {expected}")]
    RowCount {
        /// Which input (a feature name, "labels" or "weights").
        what: String,
        /// Rows found.
        found: usize,
        /// Rows expected.
        expected: usize,
    },
    /// The number of feature names differs from the number of columns.
    #[error("{names} feature names for {columns} columns")]
    FeatureNames {
        /// Names given.
        names: usize,
        /// Columns given.
        columns: usize,
    },
    /// A feature declared categorical does not exist.
    #[error("categorical feature {0:?} is not a column; hint: check the spelling of --categorical")]
    UnknownCategorical(String),
    /// A label value the objective cannot use.
    #[error("row {row}: label {value} is invalid for the {objective} objective ({reason})")]
    BadLabel {
        /// Zero-based row index.
        row: usize,
        /// The label value.
        value: f64,
        /// Objective name.
        objective: &'static str,
        /// What is allowed.
        reason: &'static str,
    },
    /// A sample weight that is negative, NaN or infinite.
    #[error("row {row}: weight {value} must be finite and >= 0")]
    BadWeight {
        /// Zero-based row index.
        row: usize,
        /// The weight value.
        value: f64,
    },
    /// The training set has no rows.
    #[error("the training set is empty")]
    Empty,
    /// A validation set built from different features than the training set.
    #[error("validation set has features {found:?}, training set {expected:?}")]
    FeatureMismatch {
        /// Features of the validation set.
        found: Vec<String>,
        /// Features of the training set.
        expected: Vec<String>,
    },
    /// A row passed to prediction has the wrong number of values.
    #[error("row has {found} values, the model expects {expected}")]
    RowLength {
        /// Values in the row.
        found: usize,
        /// Features of the model.
        expected: usize,
    },
    /// The local rayon pool could not be built.
    #[error("cannot build a thread pool of {threads} threads")]
    ThreadPool {
        /// Threads asked for.
        threads: usize,
        /// Cause.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
}
