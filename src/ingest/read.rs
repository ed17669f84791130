//! Streaming event readers: one entry point for every format, with `--skip-bad-rows`
//! accounting shared by all of them.

use super::error::{IngestError, RowError};
use super::event::Event;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Input layout of an events file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The data contract's CSV: header row, columns by name in any order.
    Csv,
    /// The data contract as JSON Lines: one object per line.
    Jsonl,
    /// The data contract as Parquet: same column names, typed columns (warehouse exports).
    Parquet,
    /// The Ta-Feng grocery file as shipped (`ta_feng_all_months_merged.csv`).
    Tafeng,
    /// The CDNOW file as shipped (`CDNOW_master.txt` or `CDNOW_sample.txt`).
    Cdnow,
}

impl Format {
    /// Guesses the format from the file extension (`.csv`, `.jsonl`, `.ndjson`, `.parquet`).
    pub fn guess(path: &Path) -> Result<Format, IngestError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Ok(Format::Csv),
            Some("jsonl" | "ndjson") => Ok(Format::Jsonl),
            Some("parquet") => Ok(Format::Parquet),
            _ => Err(IngestError::UnknownFormat {
                path: path.to_path_buf(),
            }),
        }
    }

    /// The explicit format if given, else the guess from the extension.
    pub fn resolve(explicit: Option<Format>, path: &Path) -> Result<Format, IngestError> {
        explicit.map_or_else(|| Format::guess(path), Ok)
    }

    /// The `--format` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
            Format::Tafeng => "tafeng",
            Format::Cdnow => "cdnow",
        }
    }
}

/// How many rows were skipped and why (with `--skip-bad-rows`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SkipReport {
    /// Rows skipped in total.
    pub total: u64,
    /// Skipped rows by problem name.
    pub by_problem: BTreeMap<&'static str, u64>,
    /// The first few skipped rows, in file order.
    pub examples: Vec<RowError>,
}

/// Number of skipped rows kept verbatim in [`SkipReport::examples`].
pub const SKIP_EXAMPLES: usize = 5;

impl SkipReport {
    /// Adds the skips of a later part of the same file.
    pub fn merge(&mut self, later: SkipReport) {
        self.total += later.total;
        for (k, v) in later.by_problem {
            *self.by_problem.entry(k).or_default() += v;
        }
        let room = SKIP_EXAMPLES.saturating_sub(self.examples.len());
        self.examples.extend(later.examples.into_iter().take(room));
    }

    /// Counts one skipped row.
    pub fn record(&mut self, e: RowError) {
        self.total += 1;
        *self.by_problem.entry(e.problem.name()).or_default() += 1;
        if self.examples.len() < SKIP_EXAMPLES {
            self.examples.push(e);
        }
    }
}

/// What one read saw.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ReadReport {
    /// Events passed to the callback.
    pub rows: u64,
    /// Rows skipped as bad.
    pub skipped: SkipReport,
    /// Header columns the format does not use.
    pub ignored_columns: Vec<String>,
    /// Valid rows left out because their customer is excluded (erased); counted in `rows`.
    pub excluded: u64,
}

/// Where readers send rows: valid events to the callback, bad rows to the skip report
/// or, without `--skip-bad-rows`, back as the error that stops the read.
pub struct Sink<'p, F> {
    /// File being read (for messages).
    pub path: &'p Path,
    skip_bad_rows: bool,
    /// Added to reader line numbers when a reader sees only part of the file.
    line_offset: u64,
    /// Running totals.
    pub report: ReadReport,
    on_event: F,
}

impl<'p, F: FnMut(u64, &Event<'_>)> Sink<'p, F> {
    /// A sink that forwards events to `on_event(line, event)`.
    pub fn new(path: &'p Path, skip_bad_rows: bool, on_event: F) -> Self {
        Sink {
            path,
            skip_bad_rows,
            line_offset: 0,
            report: ReadReport::default(),
            on_event,
        }
    }

    /// A sink for a reader that starts `line_offset` lines into the file.
    pub fn with_line_offset(
        path: &'p Path,
        skip_bad_rows: bool,
        line_offset: u64,
        on_event: F,
    ) -> Self {
        Sink {
            line_offset,
            ..Sink::new(path, skip_bad_rows, on_event)
        }
    }

    /// Passes one valid event on.
    pub fn emit(&mut self, line: u64, event: &Event<'_>) {
        self.report.rows += 1;
        (self.on_event)(line + self.line_offset, event);
    }

    /// Handles one bad row: counted when skipping, else the error that ends the read.
    pub fn bad(&mut self, mut e: RowError) -> Result<(), IngestError> {
        e.line += self.line_offset;
        if self.skip_bad_rows {
            self.report.skipped.record(e);
            Ok(())
        } else {
            Err(e.into())
        }
    }
}

/// Reads every event of `path` in file order, calling `on_event(line, &event)`.
///
/// Bad rows end the read with an error naming file, line and field, unless
/// `skip_bad_rows`, in which case they are counted in the report. Memory is one line
/// (for Parquet, one batch of rows; `line` is then the row number).
pub fn read_events<F: FnMut(u64, &Event<'_>)>(
    path: &Path,
    format: Format,
    skip_bad_rows: bool,
    on_event: F,
) -> Result<ReadReport, IngestError> {
    if format == Format::Parquet {
        let mut sink = Sink::new(path, skip_bad_rows, on_event);
        super::parquet::read_file(path, &mut sink)?;
        return finished(sink);
    }
    let file = std::fs::File::open(path).map_err(|e| IngestError::io(path, e))?;
    read_events_from(
        BufReader::with_capacity(256 * 1024, file),
        path,
        format,
        skip_bad_rows,
        on_event,
    )
}

/// Like [`read_events`] over any buffered reader (a request body, a decompressor);
/// `path` only names the source in messages. Parquet input is held in memory whole (its
/// schema is at the end); use [`read_events`] for a Parquet file.
pub fn read_events_from<R: BufRead, F: FnMut(u64, &Event<'_>)>(
    reader: R,
    path: &Path,
    format: Format,
    skip_bad_rows: bool,
    on_event: F,
) -> Result<ReadReport, IngestError> {
    let mut sink = Sink::new(path, skip_bad_rows, on_event);
    read_into(reader, format, &mut sink)?;
    finished(sink)
}

/// The report of a finished read; an error if it found no events at all.
fn finished<F>(sink: Sink<'_, F>) -> Result<ReadReport, IngestError> {
    if sink.report.rows == 0 && sink.report.skipped.total == 0 {
        return Err(IngestError::NoEvents {
            path: sink.path.to_path_buf(),
        });
    }
    Ok(sink.report)
}

/// Dispatches to the format's reader (no check that anything was read).
pub fn read_into<R: BufRead, F: FnMut(u64, &Event<'_>)>(
    reader: R,
    format: Format,
    sink: &mut Sink<'_, F>,
) -> Result<(), IngestError> {
    match format {
        Format::Csv => super::csv::read_contract_csv(reader, sink),
        Format::Jsonl => super::jsonl::read_jsonl(reader, sink),
        Format::Parquet => super::parquet::read_stream(reader, sink),
        Format::Tafeng => super::formats::tafeng::read_tafeng(reader, sink),
        Format::Cdnow => super::formats::cdnow::read_cdnow(reader, sink),
    }
}
