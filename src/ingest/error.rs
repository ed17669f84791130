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

/// One bad row: where it is, which field, the offending value and what is wrong.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RowError {
    /// File the row came from.
    pub path: PathBuf,
    /// 1-based line number (of the row's first line).
    pub line: u64,
    /// Column or JSON key name; `<line>` when the whole line is at fault.
    pub field: String,
    /// The offending value, shortened to 80 characters.
    pub value: String,
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
            value,
            problem,
            hint: None,
        }
    }

    /// Adds a hint to the message.
    pub fn with_hint(mut self, hint: &'static str) -> Self {
        self.hint = Some(hint);
        self
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: line {}, field \"{}\": ",
            self.path.display(),
            self.line,
            self.field
        )?;
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
    /// The format could not be guessed from the file name.
    #[error("{}: cannot guess the format from the file name; hint: pass --format csv|jsonl|tafeng|cdnow", path.display())]
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
