//! Reading rows: each needed column of a row group through its own reader, a batch of
//! rows at a time, values looked up per row as [`Cell`]s.

use super::schema::{Col, Kind};
use super::{call, parquet_error};
use crate::ingest::error::{IngestError, ParquetProblem, Problem, RowError};
use crate::ingest::event::{non_empty, parse_number};
use crate::progress::Stage;
use ::parquet::column::reader::ColumnReader;
use ::parquet::data_type::{ByteArray, FixedLenByteArray, Int96};
use ::parquet::errors::ParquetError;
use ::parquet::file::reader::{ChunkReader, FileReader, SerializedFileReader};
use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;

/// Rows decoded per column per step: large enough to amortise the decoder calls, small
/// enough that a batch of every column stays in cache-sized memory.
const BATCH: usize = 1024;

/// Decoded values of one batch of a column.
enum Values {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    I96(Vec<Int96>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<ByteArray>),
    Fixed(Vec<FixedLenByteArray>),
}

/// Row slot of a null value.
const NULL: u32 = u32::MAX;

/// One column of one row group, read a batch of rows at a time.
pub(crate) struct Cursor {
    reader: ColumnReader,
    values: Values,
    kind: Kind,
    max_def: i16,
    def: Vec<i16>,
    /// Per row of the batch, its index in `values` or [`NULL`] (optional columns only).
    slots: Vec<u32>,
}

/// One value as the row readers see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cell<'a> {
    /// Null (or an absent optional column).
    Null,
    /// Raw bytes of a text column (not yet checked as UTF-8).
    Text(&'a [u8]),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// Unscaled decimal and its scale.
    Decimal(i128, i32),
    /// A decimal too wide to decode (its raw bytes).
    BadDecimal(&'a [u8]),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A timestamp in seconds since the epoch, UTC.
    Seconds(i64),
    /// A date in days since 1970-01-01.
    Days(i64),
}

fn decimal_from_bytes(b: &[u8], scale: i32) -> Cell<'_> {
    if b.is_empty() || b.len() > 16 {
        return Cell::BadDecimal(b);
    }
    // Big-endian two's complement: sign-extend to 16 bytes.
    let mut full = if b[0] & 0x80 != 0 {
        [0xFF; 16]
    } else {
        [0; 16]
    };
    full[16 - b.len()..].copy_from_slice(b);
    Cell::Decimal(i128::from_be_bytes(full), scale)
}

impl Cursor {
    fn new(reader: ColumnReader, col: &Col) -> Cursor {
        let values = match &reader {
            ColumnReader::BoolColumnReader(_) => Values::Bool(Vec::new()),
            ColumnReader::Int32ColumnReader(_) => Values::I32(Vec::new()),
            ColumnReader::Int64ColumnReader(_) => Values::I64(Vec::new()),
            ColumnReader::Int96ColumnReader(_) => Values::I96(Vec::new()),
            ColumnReader::FloatColumnReader(_) => Values::F32(Vec::new()),
            ColumnReader::DoubleColumnReader(_) => Values::F64(Vec::new()),
            ColumnReader::ByteArrayColumnReader(_) => Values::Bytes(Vec::new()),
            ColumnReader::FixedLenByteArrayColumnReader(_) => Values::Fixed(Vec::new()),
        };
        Cursor {
            reader,
            values,
            kind: col.kind,
            max_def: col.max_def,
            def: Vec::new(),
            slots: Vec::new(),
        }
    }

    /// Skips `n` rows; returns how many there were.
    fn skip(&mut self, n: usize) -> Result<usize, ParquetError> {
        match &mut self.reader {
            ColumnReader::BoolColumnReader(r) => r.skip_records(n),
            ColumnReader::Int32ColumnReader(r) => r.skip_records(n),
            ColumnReader::Int64ColumnReader(r) => r.skip_records(n),
            ColumnReader::Int96ColumnReader(r) => r.skip_records(n),
            ColumnReader::FloatColumnReader(r) => r.skip_records(n),
            ColumnReader::DoubleColumnReader(r) => r.skip_records(n),
            ColumnReader::ByteArrayColumnReader(r) => r.skip_records(n),
            ColumnReader::FixedLenByteArrayColumnReader(r) => r.skip_records(n),
        }
    }

    /// Reads the next `n` rows (replacing the previous batch); returns how many there were.
    fn read(&mut self, n: usize) -> Result<usize, ParquetError> {
        self.def.clear();
        let def = Some(&mut self.def);
        let (rows, _, _) = match (&mut self.reader, &mut self.values) {
            (ColumnReader::BoolColumnReader(r), Values::Bool(v)) => {
                v.clear();
                r.read_records(n, def, None, v)?
            }
            (ColumnReader::Int32ColumnReader(r), Values::I32(v)) => {
                v.clear();
                r.read_records(n, def, None, v)?
            }
            (ColumnReader::Int64ColumnReader(r), Values::I64(v)) => {
                v.clear();
                r.read_records(n, def, None, v)?
            }
            (ColumnReader::Int96ColumnReader(r), Values::I96(v)) => {
                v.clear();
                r.read_records(n, def, None, v)?
            }
            (ColumnReader::FloatColumnReader(r), Values::F32(v)) => {
                v.clear();
                r.read_records(n, def, None, v)?
            }
            (ColumnReader::DoubleColumnReader(r), Values::F64(v)) => {
                v.clear();
                r.read_records(n, def, None, v)?
            }
            (ColumnReader::ByteArrayColumnReader(r), Values::Bytes(v)) => {
                v.clear();
                r.read_records(n, def, None, v)?
            }
            (ColumnReader::FixedLenByteArrayColumnReader(r), Values::Fixed(v)) => {
                v.clear();
                r.read_records(n, def, None, v)?
            }
            _ => unreachable!("values are allocated to match the reader"),
        };
        if self.max_def > 0 {
            self.slots.clear();
            let mut next = 0u32;
            for &d in &self.def {
                if d == self.max_def {
                    self.slots.push(next);
                    next += 1;
                } else {
                    self.slots.push(NULL);
                }
            }
        }
        Ok(rows)
    }

    /// The value of row `r` of the current batch.
    pub(crate) fn cell(&self, r: usize) -> Cell<'_> {
        let i = if self.max_def == 0 {
            r
        } else {
            match self.slots.get(r) {
                Some(&i) if i != NULL => i as usize,
                _ => return Cell::Null,
            }
        };
        let k = self.kind;
        let got = match &self.values {
            Values::Bool(v) => v.get(i).map(|&b| Cell::Bool(b)),
            Values::I32(v) => v.get(i).map(|&x| match k {
                Kind::UInt => Cell::UInt(u64::from(x as u32)),
                Kind::Decimal(s) => Cell::Decimal(i128::from(x), s),
                Kind::Date => Cell::Days(i64::from(x)),
                _ => Cell::Int(i64::from(x)),
            }),
            Values::I64(v) => v.get(i).map(|&x| match k {
                Kind::UInt => Cell::UInt(x as u64),
                Kind::Decimal(s) => Cell::Decimal(i128::from(x), s),
                Kind::Timestamp(per_second) => Cell::Seconds(x.div_euclid(per_second)),
                _ => Cell::Int(x),
            }),
            Values::I96(v) => v.get(i).map(|x| Cell::Seconds(x.to_seconds())),
            Values::F32(v) => v.get(i).map(|&x| Cell::Float(f64::from(x))),
            Values::F64(v) => v.get(i).map(|&x| Cell::Float(x)),
            Values::Bytes(v) => v.get(i).map(|x| match k {
                Kind::Decimal(s) => decimal_from_bytes(x.as_ref(), s),
                _ => Cell::Text(x.as_ref()),
            }),
            Values::Fixed(v) => v.get(i).map(|x| match k {
                Kind::Decimal(s) => decimal_from_bytes(x.as_ref(), s),
                _ => Cell::Text(x.as_ref()),
            }),
        };
        got.unwrap_or(Cell::Null)
    }
}

/// Writes a decimal as text (`-12.50` for unscaled -1250, scale 2).
fn push_decimal(out: &mut String, v: i128, scale: i32) {
    if scale == 0 {
        let _ = write!(out, "{v}");
        return;
    }
    let digits = v.unsigned_abs().to_string();
    let scale = scale as usize;
    let (int, frac) = if digits.len() > scale {
        digits.split_at(digits.len() - scale)
    } else {
        ("0", digits.as_str())
    };
    if v < 0 {
        out.push('-');
    }
    let _ = write!(out, "{int}.{frac:0>scale$}");
}

impl<'a> Cell<'a> {
    /// The value as text (ids, names, attributes): text as it is, numbers in decimal,
    /// dates as `YYYY-MM-DD`, timestamps in RFC 3339. Null is empty.
    pub(crate) fn text<'b>(self, buf: &'b mut String) -> Result<&'b str, Problem>
    where
        'a: 'b,
    {
        buf.clear();
        match self {
            Cell::Null => {}
            Cell::Text(b) => return std::str::from_utf8(b).map_err(|_| Problem::InvalidUtf8),
            Cell::Int(v) => {
                let _ = write!(buf, "{v}");
            }
            Cell::UInt(v) => {
                let _ = write!(buf, "{v}");
            }
            Cell::Decimal(v, s) => push_decimal(buf, v, s),
            Cell::BadDecimal(_) => return Err(Problem::NotANumber),
            Cell::Float(v) => {
                let _ = write!(buf, "{v}");
            }
            Cell::Bool(v) => buf.push_str(if v { "true" } else { "false" }),
            Cell::Seconds(t) => buf.push_str(&crate::time::format_rfc3339(t)),
            Cell::Days(d) => buf.push_str(&crate::time::format_date(d * crate::time::DAY)),
        }
        Ok(buf.as_str())
    }

    /// The value as a number; `None` for null or empty text. Infinities and NaN of a float
    /// column pass: callers check every number with the range check of its field
    /// ([`quantity_value`](crate::ingest::event::quantity_value),
    /// [`price_value`](crate::ingest::event::price_value)), which refuses them as the text
    /// readers do.
    pub(crate) fn number(self) -> Result<Option<f64>, Problem> {
        let v = match self {
            Cell::Null => return Ok(None),
            Cell::Text(b) => {
                let s = std::str::from_utf8(b).map_err(|_| Problem::InvalidUtf8)?;
                if s.trim().is_empty() {
                    return Ok(None);
                }
                parse_number(s)?
            }
            Cell::Int(v) => v as f64,
            Cell::UInt(v) => v as f64,
            Cell::Decimal(v, s) => v as f64 / 10f64.powi(s),
            Cell::Float(v) => v,
            Cell::BadDecimal(_) | Cell::Bool(_) | Cell::Seconds(_) | Cell::Days(_) => {
                return Err(Problem::NotANumber);
            }
        };
        Ok(Some(v))
    }

    /// The value as it appears in a message (raw bytes for text).
    pub(crate) fn shown(self) -> Vec<u8> {
        match self {
            Cell::Text(b) | Cell::BadDecimal(b) => b.to_vec(),
            other => {
                let mut s = String::new();
                match other.text(&mut s) {
                    Ok(t) => t.as_bytes().to_vec(),
                    Err(_) => Vec::new(),
                }
            }
        }
    }
}

/// Column `col`'s value in row `r` as trimmed text; `None` when null or blank.
pub(crate) fn text_of<'b>(
    cur: &'b Cursor,
    r: usize,
    buf: &'b mut String,
    col: &Col,
    path: &Path,
    line: u64,
) -> Result<Option<&'b str>, RowError> {
    let cell = cur.cell(r);
    let text = cell
        .text(buf)
        .map_err(|p| RowError::new(path, line, &col.name, &cell.shown(), p))?;
    Ok(non_empty(text))
}

/// Reads rows `rows` (0-based, counted across the file) of the columns `cols`, calling
/// `row(cursors, batch_index, row_number, row_group)` for each; `row_number` is 1-based.
/// Each batch read counts its rows into `progress`. The callback's error ends the read.
pub(crate) fn for_each_row<R: ChunkReader + 'static>(
    file: &SerializedFileReader<R>,
    path: &Path,
    cols: &[Col],
    rows: Range<u64>,
    progress: Option<&Stage>,
    mut row: impl FnMut(&[Cursor], usize, u64, usize) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    let mut first = 0u64;
    for g in 0..file.metadata().num_row_groups() {
        let n = row_group_rows(file, path, g)?;
        let (start, end) = (first, first + n);
        first = end;
        let (from, to) = (rows.start.max(start), rows.end.min(end));
        if from >= to {
            continue;
        }
        let rg = call(path, Some(g), None, || file.get_row_group(g))?;
        let mut cursors = Vec::with_capacity(cols.len());
        for c in cols {
            let reader = call(path, Some(g), Some(&c.name), || {
                rg.get_column_reader(c.leaf)
            })?;
            let mut cur = Cursor::new(reader, c);
            let skip = (from - start) as usize;
            if skip > 0 {
                let got = call(path, Some(g), Some(&c.name), || cur.skip(skip))?;
                if got != skip {
                    return Err(short_column(path, g, c, n, got as u64));
                }
            }
            cursors.push(cur);
        }
        let mut at = from;
        while at < to {
            let want = ((to - at) as usize).min(BATCH);
            for (cur, c) in cursors.iter_mut().zip(cols) {
                let got = call(path, Some(g), Some(&c.name), || cur.read(want))?;
                if got != want {
                    return Err(short_column(path, g, c, n, at - start + got as u64));
                }
            }
            for r in 0..want {
                row(&cursors, r, at + r as u64 + 1, g)?;
            }
            if let Some(stage) = progress {
                stage.inc(want as u64);
            }
            at += want as u64;
        }
    }
    Ok(())
}

/// A column chunk that ended before its row group's row count.
fn short_column(path: &Path, g: usize, c: &Col, expected: u64, found: u64) -> IngestError {
    parquet_error(
        path,
        Some(g),
        Some(&c.name),
        ParquetProblem::ShortColumn { expected, found },
    )
}

/// Rows of row group `g`, as its metadata says.
pub(crate) fn row_group_rows<R: ChunkReader + 'static>(
    file: &SerializedFileReader<R>,
    path: &Path,
    g: usize,
) -> Result<u64, IngestError> {
    let n = file.metadata().row_group(g).num_rows();
    u64::try_from(n).map_err(|_| {
        parquet_error(
            path,
            Some(g),
            None,
            ParquetProblem::BadMetadata(format!("the row group claims {n} rows")),
        )
    })
}

/// Rows in the file (sum over row groups).
pub(crate) fn total_rows<R: ChunkReader + 'static>(
    file: &SerializedFileReader<R>,
    path: &Path,
) -> Result<u64, IngestError> {
    (0..file.metadata().num_row_groups()).try_fold(0u64, |sum, g| {
        Ok(sum.saturating_add(row_group_rows(file, path, g)?))
    })
}
