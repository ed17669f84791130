//! Events files: the contract's columns found once per file, then each row checked as the
//! CSV reader checks a record and sent to the same [`Sink`] and [`StoreBuilder`].

use super::columns::{Cell, Cursor, for_each_row, text_of, total_rows};
use super::schema::{Col, Fields, Role, check_chunks};
use super::{open, open_file};
use crate::erasure::ErasedSet;
use crate::ingest::error::{IngestError, Problem, RowError};
use crate::ingest::event::{Event, EventKind, id_value, price_value, quantity_value};
use crate::ingest::read::{ReadReport, Sink};
use crate::ingest::store::StoreBuilder;
use crate::progress::{Stage, Unit};
use ::parquet::file::reader::{ChunkReader, SerializedFileReader};
use rayon::prelude::*;
use std::ops::Range;
use std::path::Path;

/// Smallest row range worth a thread of its own (about
/// [`crate::ingest::parallel::MIN_PART_BYTES`] of CSV).
pub const MIN_PART_ROWS: u64 = 100_000;

/// Earliest and latest timestamps the CSV can express (years 0000-9999): a TIMESTAMP
/// column past them is junk (an epoch-unit mix-up, usually) rather than a date.
const MIN_SECONDS: i64 = -62_167_219_200;
const MAX_SECONDS: i64 = 253_402_300_799;

/// Where the contract's columns are in an events file.
struct EventLayout {
    /// customer_id, item_id, timestamp, then the optional columns present.
    cols: Vec<Col>,
    event: Option<usize>,
    quantity: Option<usize>,
    price: Option<usize>,
    order: Option<usize>,
    category: Option<usize>,
    ignored: Vec<String>,
}

const EVENT_COLUMNS: [&str; 8] = [
    "customer_id",
    "item_id",
    "timestamp",
    "event",
    "quantity",
    "price",
    "order_id",
    "category",
];

impl EventLayout {
    fn of<R: ChunkReader + 'static>(
        file: &SerializedFileReader<R>,
        path: &Path,
    ) -> Result<EventLayout, IngestError> {
        let fields = Fields::of(file);
        let mut cols = vec![
            fields.require(file, path, "customer_id", Role::Id)?,
            fields.require(file, path, "item_id", Role::Id)?,
            fields.require(file, path, "timestamp", Role::Timestamp)?,
        ];
        let mut optional = |name: &str, role: Role| -> Result<Option<usize>, IngestError> {
            Ok(fields.find(file, path, name, role)?.map(|c| {
                cols.push(c);
                cols.len() - 1
            }))
        };
        let event = optional("event", Role::Text)?;
        let quantity = optional("quantity", Role::Number)?;
        let price = optional("price", Role::Number)?;
        let order = optional("order_id", Role::Id)?;
        let category = optional("category", Role::Id)?;
        check_chunks(file, path, &cols)?;
        Ok(EventLayout {
            cols,
            event,
            quantity,
            price,
            order,
            category,
            ignored: fields.unknown(&EVENT_COLUMNS),
        })
    }
}

/// Reusable text buffers for the columns that may need rendering (integer ids).
#[derive(Default)]
struct Buffers {
    customer: String,
    item: String,
    order: String,
    category: String,
}

/// Checks one row exactly as the CSV reader checks a record, and emits it.
fn event_row<F: FnMut(u64, &Event<'_>)>(
    cur: &[Cursor],
    lay: &EventLayout,
    r: usize,
    line: u64,
    bufs: &mut Buffers,
    sink: &mut Sink<'_, F>,
) -> Result<(), RowError> {
    let path = sink.path;
    let name = |i: usize| lay.cols[i].name.as_str();
    let bad =
        |i: usize, cell: Cell<'_>, p: Problem| RowError::new(path, line, name(i), &cell.shown(), p);
    let missing = |i: usize| RowError::new(path, line, name(i), b"", Problem::MissingValue);
    // Ids, quantities and prices go through the checks every reader shares
    // (`id_value`, `quantity_value`, `price_value`), so a rule changes in one place.
    let check_id = |i: usize, s: &str| {
        id_value(s)
            .map(|_| ())
            .map_err(|p| RowError::new(path, line, name(i), s.as_bytes(), p))
    };
    let customer_id = text_of(&cur[0], r, &mut bufs.customer, &lay.cols[0], path, line)?
        .ok_or_else(|| missing(0))?;
    check_id(0, customer_id)?;
    let item_id =
        text_of(&cur[1], r, &mut bufs.item, &lay.cols[1], path, line)?.ok_or_else(|| missing(1))?;
    check_id(1, item_id)?;
    let ts = cur[2].cell(r);
    let timestamp = match ts {
        Cell::Null => return Err(missing(2)),
        Cell::Text(b) => {
            let s = std::str::from_utf8(b).map_err(|_| bad(2, ts, Problem::InvalidUtf8))?;
            if s.trim().is_empty() {
                return Err(missing(2));
            }
            // The CSV reader's hints name --format tafeng/cdnow, which cannot apply to a
            // Parquet file; the fix here is in the export.
            crate::time::parse_timestamp(s).ok_or_else(|| {
                bad(2, ts, Problem::BadTimestamp).with_hint(
                    "export the column as a TIMESTAMP or DATE, or as text in RFC 3339 or \
                     YYYY-MM-DD",
                )
            })?
        }
        Cell::Seconds(t) => t,
        Cell::Days(d) => d.saturating_mul(crate::time::DAY),
        _ => return Err(bad(2, ts, Problem::BadTimestamp)),
    };
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&timestamp) {
        return Err(bad(2, ts, Problem::BadTimestamp));
    }
    let kind = match lay.event {
        Some(i) => {
            let cell = cur[i].cell(r);
            let mut none = String::new();
            let s = cell.text(&mut none).map_err(|p| bad(i, cell, p))?;
            EventKind::parse(s).map_err(|p| bad(i, cell, p))?
        }
        None => EventKind::Purchase,
    };
    let number = |col: Option<usize>,
                  default: f32,
                  stored: fn(f64) -> Result<f32, Problem>|
     -> Result<f32, RowError> {
        let Some(i) = col else { return Ok(default) };
        let cell = cur[i].cell(r);
        match cell.number().and_then(|v| v.map(stored).transpose()) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Ok(default),
            Err(p) => Err(bad(i, cell, p)),
        }
    };
    let quantity = number(lay.quantity, 1.0, quantity_value)?;
    if kind == EventKind::Purchase
        && quantity <= 0.0
        && let Some(i) = lay.quantity
    {
        return Err(bad(i, cur[i].cell(r), Problem::PurchaseQuantity));
    }
    let price = number(lay.price, f32::NAN, price_value)?;
    let order_id = match lay.order {
        Some(i) => match text_of(&cur[i], r, &mut bufs.order, &lay.cols[i], path, line)? {
            Some(s) => {
                check_id(i, s)?;
                Some(s)
            }
            None => None,
        },
        None => None,
    };
    let category = match lay.category {
        Some(i) => text_of(&cur[i], r, &mut bufs.category, &lay.cols[i], path, line)?,
        None => None,
    };
    sink.emit(
        line,
        &Event {
            customer_id,
            item_id,
            timestamp,
            kind,
            quantity,
            price,
            order_id,
            category,
            customer_attrs: &[],
        },
    );
    Ok(())
}

/// Reads rows `rows` of an events file into `sink`, counting them into `progress`.
fn read_rows<R: ChunkReader + 'static, F: FnMut(u64, &Event<'_>)>(
    file: &SerializedFileReader<R>,
    lay: &EventLayout,
    rows: Range<u64>,
    progress: Option<&Stage>,
    sink: &mut Sink<'_, F>,
) -> Result<(), IngestError> {
    let path = sink.path;
    let mut bufs = Buffers::default();
    for_each_row(
        file,
        path,
        &lay.cols,
        rows,
        progress,
        |cur, r, line, g| match event_row(cur, lay, r, line, &mut bufs, sink) {
            Ok(()) => Ok(()),
            Err(e) => sink.bad(e.in_row_group(g)),
        },
    )
}

/// Reads a whole events file into `sink`, in file order.
pub(crate) fn read_file<F: FnMut(u64, &Event<'_>)>(
    path: &Path,
    sink: &mut Sink<'_, F>,
) -> Result<(), IngestError> {
    read_all(open_file(path)?, sink)
}

/// Reads an events file held in memory (a stream cannot be read from its end, where
/// Parquet keeps its schema, so it is buffered whole first).
pub(crate) fn read_stream<B: std::io::BufRead, F: FnMut(u64, &Event<'_>)>(
    mut reader: B,
    sink: &mut Sink<'_, F>,
) -> Result<(), IngestError> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| IngestError::io(sink.path, e))?;
    read_all(open(bytes::Bytes::from(bytes), sink.path)?, sink)
}

fn read_all<R: ChunkReader + 'static, F: FnMut(u64, &Event<'_>)>(
    file: SerializedFileReader<R>,
    sink: &mut Sink<'_, F>,
) -> Result<(), IngestError> {
    let lay = EventLayout::of(&file, sink.path)?;
    sink.report.ignored_columns = lay.ignored.clone();
    read_rows(&file, &lay, 0..u64::MAX, None, sink)
}

/// Reads the events of `path` into one builder, splitting the file into row ranges of at
/// least `min_part_rows` read in parallel, leaving out the customers in `exclude` (counted
/// in [`ReadReport::excluded`]). The result equals a sequential read. Progress is the
/// "load events" stage, in rows (a compressed file's bytes say little about time left).
pub fn read_to_builder(
    path: &Path,
    skip_bad_rows: bool,
    min_part_rows: u64,
    exclude: Option<&ErasedSet>,
) -> Result<(StoreBuilder, ReadReport), IngestError> {
    let file = open_file(path)?;
    let lay = EventLayout::of(&file, path)?;
    let total = total_rows(&file, path)?;
    let n = rayon::current_num_threads()
        .min((total / min_part_rows.max(1)) as usize)
        .max(1) as u64;
    let parts: Vec<Range<u64>> = (0..n).map(|k| total * k / n..total * (k + 1) / n).collect();
    let stage = Stage::start("load events", total, Unit::Items("rows"));
    let results: Vec<_> = parts
        .into_par_iter()
        .map(|rows| -> Result<(StoreBuilder, ReadReport), IngestError> {
            // A reader per part: the `parquet` crate reads a `File` through clones of its
            // handle, which share one file offset, so threads must not share a reader.
            let file = open_file(path)?;
            // One event per row (the store's columns are gathered to exact size at the end);
            // capped, as the count comes from the file, which may be corrupt.
            let mut builder =
                StoreBuilder::with_capacity((rows.end - rows.start).min(1 << 22) as usize);
            let mut excluded = 0u64;
            let mut report = {
                let mut sink = Sink::new(path, skip_bad_rows, |_, e: &Event<'_>| {
                    if exclude.is_some_and(|x| x.contains(e.customer_id)) {
                        excluded += 1;
                    } else {
                        builder.push(e);
                    }
                });
                read_rows(&file, &lay, rows, Some(&stage), &mut sink)?;
                sink.report
            };
            report.excluded = excluded;
            Ok((builder, report))
        })
        .collect();
    stage.finish();
    let (builder, mut report) = crate::ingest::parallel::merge_parts(results, path)?;
    report.ignored_columns = lay.ignored;
    Ok((builder, report))
}
