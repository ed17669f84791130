//! Event ingest: read event logs (contract CSV, JSON Lines, Parquet, Ta-Feng, CDNOW) into the
//! columnar [`EventStore`] every later stage reads.
//!
//! # Brief overview
//! * [`read_events`] / [`read_events_from`] stream a file row by row as borrowed
//!   [`Event`]s (no allocation per row), with errors that name file, line and field
//!   ([`RowError`]) or, with `skip_bad_rows`, a counted [`SkipReport`]. The server's event
//!   endpoint and `erase` reuse them; [`jsonl::json_event`] validates one JSON object.
//! * [`StoreBuilder`] interns ids as events arrive ([`Interner`]: dense `u32` in first-seen
//!   order) and sorts once into the [`EventStore`]: columns by customer, then time; baskets
//!   contiguous; CSR offsets per customer and basket.
//! * [`load_events`] does both, plus the optional items and customers files, and returns a
//!   [`LoadReport`]; [`Stats`] summarises the result for `propensity-train stats`.

#![warn(missing_docs)]

pub mod csv;
pub mod erase;
pub mod error;
pub mod event;
pub mod formats;
pub mod intern;
pub mod jsonl;
pub mod lines;
pub mod parallel;
pub mod parquet;
pub mod read;
pub mod sidefiles;
pub mod stats;
pub mod store;

pub use erase::{EraseReport, erase_customers};
pub use error::{IngestError, MAX_LINE_BYTES, ParquetFileError, ParquetProblem, Problem, RowError};
pub use event::{Event, EventKind, MAX_ID_BYTES, RawEvent};
pub use intern::{CustomerIdx, Interner, ItemIdx};
pub use read::{Format, ReadReport, SkipReport, read_events, read_events_from};
pub use stats::{KindCounts, Stats};
pub use store::{AttributeColumn, BuildNotes, EventStore, MISSING, StoreBuilder};

use crate::erasure::ErasedSet;
use std::path::{Path, PathBuf};

/// What to load besides the events file.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Events format; `None` guesses from the extension.
    pub format: Option<Format>,
    /// Count and skip malformed rows instead of failing on the first.
    pub skip_bad_rows: bool,
    /// Optional items file (`item_id, category, name, price, available`).
    pub items: Option<PathBuf>,
    /// Optional customers file (`customer_id` + attribute columns).
    pub customers: Option<PathBuf>,
    /// Customers left out entirely (erased): their events in every source and their row
    /// in the customers file.
    pub exclude_customers: ErasedSet,
    /// Events added after the file's, such as the server's journal; callers check them with
    /// [`RawEvent::validate`] first, where they can say where each came from.
    pub extra_events: Vec<RawEvent>,
}

/// Everything a load read and noticed.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LoadReport {
    /// Format used for the events file.
    pub format: Option<Format>,
    /// The events file.
    pub events: ReadReport,
    /// The items file, if given.
    pub items: Option<ReadReport>,
    /// The customers file, if given.
    pub customers: Option<ReadReport>,
    /// Non-fatal oddities found while building.
    pub notes: BuildNotes,
    /// Extra events added (after exclusions).
    pub extra_events: u64,
    /// Extra events left out because their customer is excluded.
    pub extra_excluded: u64,
}

/// Reads an events file (and the optional side files) into an [`EventStore`].
pub fn load_events(
    path: &Path,
    opts: &LoadOptions,
) -> Result<(EventStore, LoadReport), IngestError> {
    let format = Format::resolve(opts.format, path)?;
    let exclude = (!opts.exclude_customers.is_empty()).then_some(&opts.exclude_customers);
    let (mut builder, events) = parallel::read_to_builder(
        path,
        format,
        opts.skip_bad_rows,
        parallel::MIN_PART_BYTES,
        exclude,
    )?;
    let (mut extra_events, mut extra_excluded) = (0, 0);
    for e in &opts.extra_events {
        if exclude.is_some_and(|x| x.contains(&e.customer_id)) {
            extra_excluded += 1;
        } else {
            builder.push(&e.as_event());
            extra_events += 1;
        }
    }
    let items = match &opts.items {
        Some(p) => Some(sidefiles::read_items(p, &mut builder, opts.skip_bad_rows)?),
        None => None,
    };
    let customers = match &opts.customers {
        Some(p) => Some(sidefiles::read_customers(
            p,
            &mut builder,
            opts.skip_bad_rows,
            exclude,
        )?),
        None => None,
    };
    let (store, notes) = builder.finish(path)?;
    Ok((
        store,
        LoadReport {
            format: Some(format),
            events,
            items,
            customers,
            notes,
            extra_events,
            extra_excluded,
        },
    ))
}

#[cfg(test)]
mod read_tests;
