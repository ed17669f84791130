//! Typed ingest errors: every row problem names its file, line and field.

use std::fmt;
use std::path::PathBuf;

/// Longest line (in bytes) any reader accepts; longer ones are a row error, so a corrupt or
/// binary file cannot make a reader buffer gigabytes looking for a newline.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// What is wrong with one field or row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// A required field is empty or absent.
    MissingValue,
    /// The timestamp is not in an accepted shape.
    BadTimestamp,
    /// A numeric field does not parse as a finite number.
    NotANumber,
    /// A quantity that must be positive (to derive a unit price) is not.
    NotPositive,
    /// A purchase with a zero or negative quantity (often a return in disguise).
    PurchaseQuantity,
    /// The event type is not purchase, view, cart or return.
    UnknownEventType,
    /// The row has a different number of fields than the header.
    FieldCount {
        /// Fields in the header.
        expected: usize,
        /// Fields on this row.
        found: usize,
    },
    /// The bytes are not valid UTF-8.
    InvalidUtf8,
    /// The line is longer than [`MAX_LINE_BYTES`].
    LineTooLong,
    /// The line is not a JSON object (the parser's message).
    BadJson(String),
    /// A JSON field has the wrong type (expected string, number or boolean).
    WrongType,
    /// A CSV quote is not closed or is followed by stray characters.
    BadQuoting,
    /// An id longer than [`super::event::MAX_ID_BYTES`].
    IdTooLong,
    /// A number outside the field's accepted range (which keeps it, and the totals built
    /// from it, finite in the stored `f32`).
    OutOfRange {
        /// The largest accepted magnitude, as written in messages.
        limit: &'static str,
    },
}

impl Problem {
    /// Short stable name, used to count skipped rows by cause.
    pub fn name(&self) -> &'static str {
        match self {
            Problem::MissingValue => "missing value",
            Problem::BadTimestamp => "bad timestamp",
            Problem::NotANumber => "not a number",
            Problem::NotPositive => "not positive",
            Problem::PurchaseQuantity => "purchase quantity not positive",
            Problem::UnknownEventType => "unknown event type",
            Problem::FieldCount { .. } => "wrong number of fields",
            Problem::InvalidUtf8 => "invalid utf-8",
            Problem::LineTooLong => "line too long",
            Problem::BadJson(_) => "bad json",
            Problem::WrongType => "wrong json type",
            Problem::BadQuoting => "bad quoting",
            Problem::OutOfRange { .. } => "out of range",
            Problem::IdTooLong => "id too long",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::MissingValue => write!(f, "required value is empty"),
            Problem::BadTimestamp => write!(f, "is not RFC 3339 or YYYY-MM-DD"),
            Problem::NotANumber => write!(f, "is not a finite number"),
            Problem::NotPositive => write!(f, "must be positive"),
            Problem::PurchaseQuantity => write!(
                f,
                "must be positive for a purchase (record a return with event = return)"
            ),
            Problem::UnknownEventType => {
                write!(f, "is not an event type (purchase, view, cart, return)")
            }
            Problem::FieldCount { expected, found } => {
                write!(f, "row has {found} fields, the header has {expected}")
            }
            Problem::InvalidUtf8 => write!(f, "is not valid UTF-8"),
            Problem::LineTooLong => write!(f, "line is longer than {MAX_LINE_BYTES} bytes"),
            Problem::BadJson(msg) => write!(f, "is not a JSON object: {msg}"),
            Problem::WrongType => write!(f, "must be a string, number or boolean"),
            Problem::BadQuoting => write!(f, "has an unclosed or misplaced quote"),
            Problem::IdTooLong => write!(
                f,
                "is longer than {} bytes, the limit for ids",
                super::event::MAX_ID_BYTES
            ),
            Problem::OutOfRange { limit } => {
                write!(f, "is out of range (the magnitude must be at most {limit})")
            }
        }
    }
}

/// What is wrong with a Parquet file, one of its columns or one of its row groups (a bad
/// value in one row is a [`RowError`] instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParquetProblem {
    /// The footer cannot be read: not Parquet, truncated or corrupt.
    NotParquet,
    /// A required column is not in the schema.
    MissingColumn {
        /// The top-level columns the file has, comma-separated.
        found: String,
    },
    /// Two top-level columns have the same name, ignoring case.
    DuplicateColumn,
    /// The column is nested (a struct, list or map) or repeated.
    Nested {
        /// What the column must be.
        expected: &'static str,
    },
    /// The column's type cannot hold what the contract needs.
    WrongType {
        /// The column's Parquet type, as `INT64 TIMESTAMP(MICROS)`.
        found: String,
        /// What the column must be.
        expected: &'static str,
    },
    /// The column chunk is compressed with a codec this build does not read.
    Codec {
        /// The codec's name.
        codec: String,
    },
    /// The file's metadata is impossible (what is wrong with it).
    BadMetadata(String),
    /// The data could not be decoded.
    Corrupt,
    /// The decoder failed on malformed data (its message).
    DecoderFailed(String),
    /// A column chunk holds another number of rows than its row group says.
    ShortColumn {
        /// Rows of the row group.
        expected: u64,
        /// Rows found in the column chunk.
        found: u64,
    },
    /// Writing the output file failed.
    Write,
}

impl fmt::Display for ParquetProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParquetProblem::NotParquet => write!(f, "not a Parquet file, or its footer is corrupt"),
            ParquetProblem::MissingColumn { found } => {
                write!(f, "required column is missing from the schema [{found}]")
            }
            ParquetProblem::DuplicateColumn => write!(
                f,
                "column appears twice in the schema (names are matched ignoring case)"
            ),
            ParquetProblem::Nested { expected } => {
                write!(f, "is a nested or repeated column; it must be {expected}")
            }
            ParquetProblem::WrongType { found, expected } => {
                write!(f, "has Parquet type {found}; it must be {expected}")
            }
            ParquetProblem::Codec { codec } => {
                write!(
                    f,
                    "is compressed with {codec}, which this build does not read"
                )
            }
            ParquetProblem::BadMetadata(what) => write!(f, "{what} (corrupt metadata)"),
            ParquetProblem::Corrupt => write!(f, "corrupt or unreadable data"),
            ParquetProblem::DecoderFailed(why) => {
                write!(f, "corrupt data: the Parquet decoder failed ({why})")
            }
            ParquetProblem::ShortColumn { expected, found } => write!(
                f,
                "the column chunk holds {found} rows, the row group says {expected} (corrupt file)"
            ),
            ParquetProblem::Write => write!(f, "writing failed"),
        }
    }
}

/// A Parquet file that cannot be read as this kind of file: not Parquet, corrupt, or a
/// column missing or of a type the contract cannot use. Names as much of file, row group
/// and column as applies.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {problem}{}{}", path.display(), parquet_place(*row_group, column.as_deref()), source.as_ref().map(|s| format!(" ({s})")).unwrap_or_default(), hint.map(|h| format!("; hint: {h}")).unwrap_or_default())]
pub struct ParquetFileError {
    /// File being read (or written, for [`ParquetProblem::Write`]).
    pub path: PathBuf,
    /// Row group (0-based) where it went wrong, when the problem is in the data.
    pub row_group: Option<usize>,
    /// Column concerned, when one is.
    pub column: Option<String>,
    /// What is wrong.
    pub problem: ParquetProblem,
    /// A fix the user can apply, when one is known.
    pub hint: Option<&'static str>,
    /// The `parquet` crate's error, when it reported one.
    #[source]
    pub source: Option<::parquet::errors::ParquetError>,
}

/// One bad row: where it is, which field, the offending value and what is wrong.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RowError {
    /// File the row came from.
    pub path: PathBuf,
    /// 1-based line number (of the row's first line); in a Parquet file, the 1-based row
    /// number counted across the whole file.
    pub line: u64,
    /// Parquet row group (0-based, as `pyarrow`'s `read_row_group` counts) holding the row;
    /// `None` for text formats. (`u32` and a boxed `value` keep the struct, returned by
    /// every row check, at 120 bytes.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row_group: Option<u32>,
    /// Column or JSON key name; `<line>` when the whole line is at fault.
    pub field: String,
    /// The offending value, shortened to 80 characters.
    pub value: Box<str>,
    /// What is wrong.
    pub problem: Problem,
    /// A fix the user can apply, when one is known.
    pub hint: Option<&'static str>,
}

impl RowError {
    /// A row error for `field` with the offending raw `value` (shortened for messages).
    pub fn new(
        path: &std::path::Path,
        line: u64,
        field: &str,
        value: &[u8],
        problem: Problem,
    ) -> Self {
        let text = String::from_utf8_lossy(value);
        let value = if text.chars().count() > 80 {
            let mut s: String = text.chars().take(77).collect();
            s.push_str("...");
            s
        } else {
            text.into_owned()
        };
        RowError {
            path: path.to_path_buf(),
            line,
            field: field.to_string(),
            value: value.into_boxed_str(),
            problem,
            hint: None,
            row_group: None,
        }
    }

    /// Places the row in a Parquet row group (messages then say "row group G, row N").
    pub fn in_row_group(mut self, row_group: usize) -> Self {
        // No file has 2^32 row groups; saturate rather than wrap all the same.
        self.row_group = Some(u32::try_from(row_group).unwrap_or(u32::MAX));
        self
    }

    /// Adds a hint to the message.
    pub fn with_hint(mut self, hint: &'static str) -> Self {
        self.hint = Some(hint);
        self
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.row_group {
            Some(g) => write!(
                f,
                "{}: row group {g}, row {}, column \"{}\": ",
                self.path.display(),
                self.line,
                self.field
            )?,
            None => write!(
                f,
                "{}: line {}, field \"{}\": ",
                self.path.display(),
                self.line,
                self.field
            )?,
        }
        if self.value.is_empty() || matches!(self.problem, Problem::FieldCount { .. }) {
            write!(f, "{}", self.problem)?;
        } else {
            write!(f, "{:?} {}", self.value, self.problem)?;
        }
        if let Some(hint) = self.hint {
            write!(f, "; hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RowError {}

/// Everything that can stop an ingest.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file could not be opened or read.
    #[error("reading {}", path.display())]
    Io {
        /// File being read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file has no header and no rows.
    #[error("{}: the file is empty", path.display())]
    Empty {
        /// File being read.
        path: PathBuf,
    },
    /// The file has a header (or only blank lines) but no events.
    #[error("{}: no events after the header", path.display())]
    NoEvents {
        /// File being read.
        path: PathBuf,
    },
    /// A required column is not in the header.
    #[error("{}: line {line}, field \"{column}\": required column is missing from the header [{found}]{}", path.display(), hint.map(|h| format!("; hint: {h}")).unwrap_or_default())]
    MissingColumn {
        /// File being read.
        path: PathBuf,
        /// Line of the header.
        line: u64,
        /// The column that is missing.
        column: &'static str,
        /// The columns that were found, comma-separated.
        found: String,
        /// A fix the user can apply, when one is known.
        hint: Option<&'static str>,
    },
    /// The same column appears twice in the header.
    #[error("{}: line {line}, field \"{column}\": column appears twice in the header", path.display())]
    DuplicateColumn {
        /// File being read.
        path: PathBuf,
        /// Line of the header.
        line: u64,
        /// The repeated column.
        column: String,
    },
    /// A row is malformed (and `--skip-bad-rows` is off).
    #[error(transparent)]
    Row(#[from] Box<RowError>),
    /// A Parquet file that cannot be read as this kind of file (boxed: large and rare).
    #[error(transparent)]
    Parquet(Box<ParquetFileError>),
    /// The format could not be guessed from the file name.
    #[error("{}: cannot guess the format from the file name; hint: pass --format csv|jsonl|parquet|tafeng|cdnow", path.display())]
    UnknownFormat {
        /// File being read.
        path: PathBuf,
    },
    /// More events than the store's u32 offsets can address.
    #[error("{}: more than {} events; split the log", path.display(), u32::MAX)]
    TooManyEvents {
        /// File being read.
        path: PathBuf,
    },
}

/// ", row group G, column "C"" for a Parquet error, as far as known.
fn parquet_place(row_group: Option<usize>, column: Option<&str>) -> String {
    let mut s = String::new();
    if let Some(g) = row_group {
        s.push_str(&format!(", row group {g}"));
    }
    if let Some(c) = column {
        s.push_str(&format!(", column \"{c}\""));
    }
    s
}

impl IngestError {
    /// Wraps an I/O error with the file it came from.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        IngestError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<RowError> for IngestError {
    fn from(e: RowError) -> Self {
        IngestError::Row(Box::new(e))
    }
}
