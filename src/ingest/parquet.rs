//! Parquet event logs and side files: the data contract's columns, typed, as warehouses
//! export them (BigQuery, Snowflake, Athena, dbt).
//!
//! Read with the `parquet` crate's column readers (no Arrow: it would add much compile time
//! for nothing these readers need), a batch of rows at a time, so memory is bounded by the
//! batch and a row group's pages, not by the file. Rows then go through the same
//! [`Sink`](super::read::Sink) and [`StoreBuilder`](super::StoreBuilder) as the CSV path,
//! with the same per-field checks; a bad value is a [`RowError`](super::RowError) naming
//! file, row group, row and column, skippable with `--skip-bad-rows`. A file-level problem
//! (not Parquet, a missing or mistyped column, a corrupt page) is an
//! [`IngestError::Parquet`] naming as much of file, row group and column as applies.
//!
//! Accepted column types (nullable or not; null means what an empty CSV field means):
//! * ids (`customer_id`, `item_id`, `order_id`, `category`, `name`): strings, integers, or
//!   DECIMAL with scale 0 (Snowflake's NUMBER ids), integers written in decimal;
//! * `timestamp`: a string as in the CSV (RFC 3339 or `YYYY-MM-DD`), TIMESTAMP (millis,
//!   micros or nanos; one without time zone counts as UTC, like a CSV time without an
//!   offset), DATE (midnight UTC) or legacy INT96;
//! * `quantity`, `price`: integers, floats, DECIMAL or numeric strings;
//! * `event`: strings; `available`: booleans, 0/1 integers or the CSV's spellings;
//! * customer attributes: any of those, as text.
//!
//! Modules: `schema` finds the columns and checks their types, `columns` reads them a
//! batch at a time, `events` and `sidefiles` check rows as the CSV readers do, [`erase`]
//! rewrites a file without some customers. A large file is split into row ranges (across
//! or within row groups: the readers skip whole pages to a range's start) read on the rayon
//! pool and merged in file order, as [`super::parallel`] does for text.

use super::error::{IngestError, ParquetFileError, ParquetProblem};
use ::parquet::errors::ParquetError;
use ::parquet::file::reader::{ChunkReader, SerializedFileReader};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

mod columns;
pub mod erase;
mod events;
mod schema;
mod sidefiles;

pub use events::{MIN_PART_ROWS, read_to_builder};
pub(crate) use events::{read_file, read_stream};
pub use sidefiles::{read_customers, read_items};

/// True when `path` has the `.parquet` extension (side files are chosen by it).
pub fn is_parquet_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// Opens a Parquet file (reads and checks its footer).
pub fn open_file(path: &Path) -> Result<SerializedFileReader<std::fs::File>, IngestError> {
    let file = std::fs::File::open(path).map_err(|e| IngestError::io(path, e))?;
    open(file, path)
}

/// Opens Parquet data from any [`ChunkReader`] (a file, bytes in memory); `path` names it
/// in messages.
pub fn open<R: ChunkReader + 'static>(
    reader: R,
    path: &Path,
) -> Result<SerializedFileReader<R>, IngestError> {
    let hint = "check the file was copied whole; pass --format for a file of another format";
    match catch_unwind(AssertUnwindSafe(|| SerializedFileReader::new(reader))) {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(with_hint(
            with_source(
                parquet_error(path, None, None, ParquetProblem::NotParquet),
                e,
            ),
            hint,
        )),
        Err(_) => Err(with_hint(
            parquet_error(path, None, None, ParquetProblem::NotParquet),
            hint,
        )),
    }
}

/// An error about the file at `path`, placed in a row group and column when known.
fn parquet_error(
    path: &Path,
    row_group: Option<usize>,
    column: Option<&str>,
    problem: ParquetProblem,
) -> IngestError {
    IngestError::Parquet(Box::new(ParquetFileError {
        path: path.to_path_buf(),
        row_group,
        column: column.map(str::to_string),
        problem,
        hint: None,
        source: None,
    }))
}

fn with_hint(mut e: IngestError, h: &'static str) -> IngestError {
    if let IngestError::Parquet(p) = &mut e {
        p.hint = Some(h);
    }
    e
}

fn with_source(mut e: IngestError, cause: ParquetError) -> IngestError {
    if let IngestError::Parquet(p) = &mut e {
        p.source = Some(cause);
    }
    e
}

/// An error of the `parquet` crate while reading, placed in the file.
fn decode_error(
    path: &Path,
    row_group: Option<usize>,
    column: Option<&str>,
    e: ParquetError,
) -> IngestError {
    with_source(
        parquet_error(path, row_group, column, ParquetProblem::Corrupt),
        e,
    )
}

/// The message of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "no message".to_string())
}

/// Runs one call into the `parquet` crate, turning its error, or a panic on malformed data
/// (its decoders still assert some invariants of the bytes they are given), into an error
/// naming the row group and column being read. Bad input must never take the process down.
fn call<T>(
    path: &Path,
    row_group: Option<usize>,
    column: Option<&str>,
    f: impl FnOnce() -> Result<T, ParquetError>,
) -> Result<T, IngestError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(decode_error(path, row_group, column, e)),
        Err(panic) => Err(parquet_error(
            path,
            row_group,
            column,
            ParquetProblem::DecoderFailed(panic_message(panic.as_ref())),
        )),
    }
}

#[cfg(test)]
mod tests;
