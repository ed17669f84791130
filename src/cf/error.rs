//! Errors of the candidate generators: all of them describe bad input arrays or parameters.

/// Why a candidate source could not be built from the arrays it was given.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// An offsets array (`indptr`, `neighbour_ptr`) has the wrong length for its row count.
    #[error("{array} has {found} entries, expected {expected} (rows + 1)")]
    PtrLength {
        /// Name of the offsets array.
        array: &'static str,
        /// Length found.
        found: usize,
        /// Length required.
        expected: usize,
    },
    /// Offsets do not start at 0, decrease, or do not end at the number of entries.
    #[error("{array} is not a valid offsets array at row {row}: {reason}")]
    BadPtr {
        /// Name of the offsets array.
        array: &'static str,
        /// Row whose offsets are wrong.
        row: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Two arrays that must be parallel have different lengths.
    #[error("{left} has {left_len} entries but {right} has {right_len}")]
    LengthMismatch {
        /// First array.
        left: &'static str,
        /// Its length.
        left_len: usize,
        /// Second array.
        right: &'static str,
        /// Its length.
        right_len: usize,
    },
    /// A column (item) index is outside the matrix.
    #[error("row {row}: item index {item} is out of range (n_items = {n_items})")]
    ItemOutOfRange {
        /// Row holding the index.
        row: usize,
        /// The bad index.
        item: u32,
        /// Number of items.
        n_items: usize,
    },
    /// A row (customer) index is outside the matrix.
    #[error("row index {row} is out of range (n_rows = {n_rows})")]
    RowOutOfRange {
        /// The bad index.
        row: u32,
        /// Number of rows.
        n_rows: usize,
    },
    /// A row's item indices are not strictly increasing (unsorted or duplicated).
    #[error(
        "row {row}: item indices must be strictly increasing (found {item} after {previous}); hint: sum duplicates first, e.g. with Interactions::from_triples"
    )]
    UnsortedRow {
        /// Row holding the indices.
        row: usize,
        /// Index seen before.
        previous: u32,
        /// Index that breaks the order.
        item: u32,
    },
    /// A value is NaN, infinite or negative.
    #[error("row {row}, item {item}: value {value} must be finite and >= 0")]
    BadValue {
        /// Row holding the value.
        row: usize,
        /// Item of the value.
        item: u32,
        /// The bad value.
        value: f32,
    },
    /// More entries than a `u32` offset can address.
    #[error("{count} entries exceed the u32 offsets limit of {}", u32::MAX)]
    TooManyEntries {
        /// Number of entries.
        count: usize,
    },
    /// A parameter is outside its valid range.
    #[error("parameter {name} = {value} is invalid: {reason}")]
    BadParam {
        /// Parameter name.
        name: &'static str,
        /// Its value, as given.
        value: f64,
        /// The valid range.
        reason: &'static str,
    },
    /// A factor vector has a different length from the model's factor count.
    #[error("factor vector has {found} entries, the model has {expected} factors")]
    FactorLength {
        /// Length given.
        found: usize,
        /// Factors of the model.
        expected: usize,
    },
    /// A stored factor matrix's length is not a multiple of the factor count.
    #[error("{matrix} has {len} values, not a multiple of {factors} factors")]
    MatrixShape {
        /// Which matrix.
        matrix: &'static str,
        /// Its length.
        len: usize,
        /// Factor count (row length).
        factors: usize,
    },
    /// Events passed to a time-ordered statistic are not sorted by time.
    #[error(
        "event {index}: timestamp {ts} is earlier than the previous one ({previous}); events must be sorted by time"
    )]
    UnsortedTime {
        /// Position of the event.
        index: usize,
        /// Its timestamp.
        ts: i64,
        /// The previous timestamp.
        previous: i64,
    },
}
