//! RFC 4180 CSV records (quotes, doubled quotes, quoted newlines, BOM, CRLF) over
//! [`LineReader`], plus the reader for the data contract's own CSV layout.
//!
//! Hand-rolled rather than the `csv` crate so that a too-long or badly quoted line is one
//! skippable row error with an exact line number, and so fields are unescaped into one
//! reused buffer (no allocation per row).

use super::error::{IngestError, MAX_LINE_BYTES, Problem, RowError};
use super::event::{
    Event, EventKind, id_value, non_empty, parse_number, price_value, quantity_value,
};
use super::lines::{LineRead, LineReader};
use super::read::Sink;
use std::io::BufRead;
use std::path::Path;

/// Result of reading one record.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A record is available through [`CsvReader::field`].
    Record,
    /// The record at [`CsvReader::line`] is malformed (already consumed).
    Bad(Problem),
    /// End of input.
    Eof,
}

/// Splits `line` into unescaped fields appended to `out`, with field ends in `ends`.
/// `Err(None)` means a quote is still open at the end (the record continues on the next
/// line); `Err(Some(p))` is malformed quoting.
fn split_record(
    line: &[u8],
    out: &mut Vec<u8>,
    ends: &mut Vec<usize>,
) -> Result<(), Option<Problem>> {
    out.clear();
    ends.clear();
    let n = line.len();
    let mut i = 0;
    loop {
        if i < n && line[i] == b'"' {
            i += 1;
            loop {
                match memchr::memchr(b'"', &line[i..]) {
                    None => return Err(None),
                    Some(k) => {
                        out.extend_from_slice(&line[i..i + k]);
                        i += k + 1;
                        if i < n && line[i] == b'"' {
                            out.push(b'"');
                            i += 1;
                        } else {
                            break;
                        }
                    }
                }
            }
            ends.push(out.len());
            if i == n {
                return Ok(());
            }
            if line[i] != b',' {
                return Err(Some(Problem::BadQuoting));
            }
            i += 1;
        } else {
            match memchr::memchr(b',', &line[i..]) {
                Some(k) => {
                    out.extend_from_slice(&line[i..i + k]);
                    ends.push(out.len());
                    i += k + 1;
                }
                None => {
                    out.extend_from_slice(&line[i..]);
                    ends.push(out.len());
                    return Ok(());
                }
            }
        }
    }
}

/// Streams CSV records; blank lines are skipped.
pub struct CsvReader<R> {
    lines: LineReader<R>,
    raw: Vec<u8>,
    fields: Vec<u8>,
    ends: Vec<usize>,
    first_line: u64,
    /// The current record's fields when they are all UTF-8: `fields` moved into a `String`
    /// (checked once per record, no copy) and moved back before the next record. Fields
    /// split at ASCII separators, so each field of a valid record is valid too.
    text: Option<String>,
}

impl<R: BufRead> CsvReader<R> {
    /// Wraps a buffered reader.
    pub fn new(inner: R) -> Self {
        CsvReader {
            lines: LineReader::new(inner),
            raw: Vec::with_capacity(256),
            fields: Vec::with_capacity(256),
            ends: Vec::with_capacity(16),
            first_line: 0,
            text: None,
        }
    }

    /// Line on which the current record starts.
    pub fn line(&self) -> u64 {
        self.first_line
    }

    /// The current record as read: its lines joined with `\n`, without the final line end.
    pub fn raw_record(&self) -> &[u8] {
        &self.raw
    }

    /// Number of fields in the current record.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Checks that the current record has one field per `header` column; the error names
    /// the first missing or extra column.
    pub fn check_width(&self, header: &[String], path: &Path) -> Result<(), RowError> {
        if self.len() == header.len() {
            return Ok(());
        }
        let field = header
            .get(self.len())
            .map_or_else(|| format!("<column {}>", header.len() + 1), String::clone);
        Err(RowError::new(
            path,
            self.line(),
            &field,
            &[],
            Problem::FieldCount {
                expected: header.len(),
                found: self.len(),
            },
        ))
    }

    /// True when the current record has no fields (never after [`Next::Record`]).
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn span(&self, i: usize) -> Option<(usize, usize)> {
        let end = *self.ends.get(i)?;
        Some((if i == 0 { 0 } else { self.ends[i - 1] }, end))
    }

    /// Raw bytes of field `i` of the current record (empty when out of range).
    pub fn field(&self, i: usize) -> &[u8] {
        let bytes = match &self.text {
            Some(t) => t.as_bytes(),
            None => &self.fields,
        };
        self.span(i).map_or(&[], |(a, b)| &bytes[a..b])
    }

    /// Field `i` as UTF-8 (empty when out of range), or the problem to report for it.
    pub fn str_field(&self, i: usize) -> Result<&str, Problem> {
        let Some((a, b)) = self.span(i) else {
            return Ok("");
        };
        match &self.text {
            Some(t) => t.get(a..b).ok_or(Problem::InvalidUtf8),
            None => std::str::from_utf8(&self.fields[a..b]).map_err(|_| Problem::InvalidUtf8),
        }
    }

    /// Reads the next non-blank record.
    pub fn next_record(&mut self) -> std::io::Result<Next> {
        if let Some(t) = self.text.take() {
            self.fields = t.into_bytes();
        }
        self.raw.clear();
        loop {
            match self.lines.read_line(&mut self.raw)? {
                LineRead::Eof => return Ok(Next::Eof),
                LineRead::TooLong => {
                    self.first_line = self.lines.line();
                    return Ok(Next::Bad(Problem::LineTooLong));
                }
                LineRead::Line => {}
            }
            if !self.raw.iter().all(u8::is_ascii_whitespace) {
                break;
            }
            self.raw.clear();
        }
        self.first_line = self.lines.line();
        loop {
            match split_record(&self.raw, &mut self.fields, &mut self.ends) {
                Ok(()) => {
                    match String::from_utf8(std::mem::take(&mut self.fields)) {
                        Ok(t) => self.text = Some(t),
                        Err(e) => self.fields = e.into_bytes(),
                    }
                    return Ok(Next::Record);
                }
                Err(Some(p)) => return Ok(Next::Bad(p)),
                Err(None) => {
                    // A quoted field spans lines: append the next one and re-split.
                    if self.raw.len() > MAX_LINE_BYTES {
                        return Ok(Next::Bad(Problem::LineTooLong));
                    }
                    self.raw.push(b'\n');
                    match self.lines.read_line(&mut self.raw)? {
                        LineRead::Line => {}
                        LineRead::TooLong => return Ok(Next::Bad(Problem::LineTooLong)),
                        LineRead::Eof => return Ok(Next::Bad(Problem::BadQuoting)),
                    }
                }
            }
        }
    }

    /// Reads the header: the first non-blank record, as trimmed UTF-8 names.
    pub fn header(&mut self, path: &Path) -> Result<Vec<String>, IngestError> {
        match self.next_record().map_err(|e| IngestError::io(path, e))? {
            Next::Eof => Err(IngestError::Empty {
                path: path.to_path_buf(),
            }),
            Next::Bad(p) => Err(RowError::new(path, self.line(), "<header>", &[], p).into()),
            Next::Record => (0..self.len())
                .map(|i| {
                    self.str_field(i)
                        .map(|s| s.trim().to_string())
                        .map_err(|p| {
                            RowError::new(path, self.line(), "<header>", self.field(i), p).into()
                        })
                })
                .collect(),
        }
    }
}

/// The columns of `header` that are none of `known` (ASCII case-insensitive): the read
/// reports them as ignored.
pub fn unknown_columns(header: &[String], known: &[&str]) -> Vec<String> {
    header
        .iter()
        .filter(|h| !known.iter().any(|k| h.eq_ignore_ascii_case(k)))
        .cloned()
        .collect()
}

/// Finds `name` in `header` (ASCII case-insensitive); refuses duplicates.
pub fn find_column(
    header: &[String],
    name: &str,
    path: &Path,
    line: u64,
) -> Result<Option<usize>, IngestError> {
    let mut hits = header
        .iter()
        .enumerate()
        .filter(|(_, h)| h.eq_ignore_ascii_case(name));
    let first = hits.next().map(|(i, _)| i);
    if hits.next().is_some() {
        return Err(IngestError::DuplicateColumn {
            path: path.to_path_buf(),
            line,
            column: name.to_string(),
        });
    }
    Ok(first)
}

/// Like [`find_column`] but the column must exist.
pub fn require_column(
    header: &[String],
    name: &'static str,
    path: &Path,
    line: u64,
    hint: Option<&'static str>,
) -> Result<usize, IngestError> {
    find_column(header, name, path, line)?.ok_or_else(|| IngestError::MissingColumn {
        path: path.to_path_buf(),
        line,
        column: name,
        found: header.join(", "),
        hint,
    })
}

/// Hint for a timestamp that has another data set's shape.
pub fn timestamp_hint(value: &str) -> Option<&'static str> {
    let v = value.trim();
    if v.contains('/') {
        Some("m/d/yyyy dates are Ta-Feng's; use --format tafeng for that file")
    } else if v.len() == 8 && v.bytes().all(|c| c.is_ascii_digit()) {
        Some("yyyymmdd dates are CDNOW's; use --format cdnow for that file")
    } else {
        None
    }
}

/// Column positions of the data contract's CSV layout.
struct ContractColumns {
    customer: usize,
    item: usize,
    timestamp: usize,
    event: Option<usize>,
    quantity: Option<usize>,
    price: Option<usize>,
    order: Option<usize>,
    category: Option<usize>,
}

/// Reads the data contract's CSV (header names in any order and case) into `sink`.
pub fn read_contract_csv<R: BufRead, F: FnMut(u64, &Event<'_>)>(
    reader: R,
    sink: &mut Sink<'_, F>,
) -> Result<(), IngestError> {
    let path = sink.path;
    let mut csv = CsvReader::new(reader);
    let header = csv.header(path)?;
    let hl = csv.line();
    let tafeng = header
        .iter()
        .any(|h| h == "TRANSACTION_DT")
        .then_some("this header is Ta-Feng's; use --format tafeng");
    let cols = ContractColumns {
        customer: require_column(&header, "customer_id", path, hl, tafeng)?,
        item: require_column(&header, "item_id", path, hl, tafeng)?,
        timestamp: require_column(&header, "timestamp", path, hl, tafeng)?,
        event: find_column(&header, "event", path, hl)?,
        quantity: find_column(&header, "quantity", path, hl)?,
        price: find_column(&header, "price", path, hl)?,
        order: find_column(&header, "order_id", path, hl)?,
        category: find_column(&header, "category", path, hl)?,
    };
    let known = [
        "customer_id",
        "item_id",
        "timestamp",
        "event",
        "quantity",
        "price",
        "order_id",
        "category",
    ];
    sink.report.ignored_columns = unknown_columns(&header, &known);
    loop {
        match csv.next_record().map_err(|e| IngestError::io(path, e))? {
            Next::Eof => return Ok(()),
            Next::Bad(p) => {
                sink.bad(RowError::new(path, csv.line(), "<line>", &[], p))?;
            }
            Next::Record => {
                if let Err(e) = contract_row(&csv, &header, &cols, sink) {
                    sink.bad(e)?;
                }
            }
        }
    }
}

fn contract_row<R: BufRead, F: FnMut(u64, &Event<'_>)>(
    csv: &CsvReader<R>,
    header: &[String],
    cols: &ContractColumns,
    sink: &mut Sink<'_, F>,
) -> Result<(), RowError> {
    let line = csv.line();
    let path = sink.path;
    csv.check_width(header, path)?;
    let text = |i: usize| {
        csv.str_field(i)
            .map_err(|p| RowError::new(path, line, &header[i], csv.field(i), p))
    };
    let required = |i: usize| {
        let s = text(i)?;
        non_empty(s)
            .ok_or_else(|| RowError::new(path, line, &header[i], b"", Problem::MissingValue))
    };
    let id = |i: usize| {
        let s = required(i)?;
        id_value(s).map_err(|p| RowError::new(path, line, &header[i], s.as_bytes(), p))
    };
    let customer_id = id(cols.customer)?;
    let item_id = id(cols.item)?;
    let ts_text = required(cols.timestamp)?;
    let timestamp = crate::time::parse_timestamp(ts_text).ok_or_else(|| {
        let e = RowError::new(
            path,
            line,
            &header[cols.timestamp],
            ts_text.as_bytes(),
            Problem::BadTimestamp,
        );
        match timestamp_hint(ts_text) {
            Some(h) => e.with_hint(h),
            None => e,
        }
    })?;
    let kind = match cols.event {
        Some(i) => {
            let s = text(i)?;
            EventKind::parse(s)
                .map_err(|p| RowError::new(path, line, &header[i], s.as_bytes(), p))?
        }
        None => EventKind::Purchase,
    };
    let number = |col: Option<usize>,
                  default: f32,
                  stored: fn(f64) -> Result<f32, Problem>|
     -> Result<f32, RowError> {
        let Some(i) = col else { return Ok(default) };
        let s = text(i)?;
        if s.trim().is_empty() {
            return Ok(default);
        }
        parse_number(s)
            .and_then(stored)
            .map_err(|p| RowError::new(path, line, &header[i], s.as_bytes(), p))
    };
    let quantity = number(cols.quantity, 1.0, quantity_value)?;
    if kind == EventKind::Purchase
        && quantity <= 0.0
        && let Some(i) = cols.quantity
    {
        let s = text(i)?;
        return Err(RowError::new(
            path,
            line,
            &header[i],
            s.as_bytes(),
            Problem::PurchaseQuantity,
        ));
    }
    let price = number(cols.price, f32::NAN, price_value)?;
    let order_id = match cols.order {
        Some(i) => match non_empty(text(i)?) {
            Some(s) => Some(
                id_value(s).map_err(|p| RowError::new(path, line, &header[i], s.as_bytes(), p))?,
            ),
            None => None,
        },
        None => None,
    };
    let category = match cols.category {
        Some(i) => non_empty(text(i)?),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn records(input: &str) -> Vec<Result<Vec<String>, Problem>> {
        let mut r = CsvReader::new(input.as_bytes());
        let mut out = Vec::new();
        loop {
            match r.next_record().unwrap() {
                Next::Eof => return out,
                Next::Bad(p) => out.push(Err(p)),
                Next::Record => out.push(Ok((0..r.len())
                    .map(|i| r.str_field(i).unwrap().to_string())
                    .collect())),
            }
        }
    }

    #[test]
    fn splits_quoted_escaped_and_multiline_fields() {
        let got = records("a,\"b,c\",\"say \"\"hi\"\"\"\r\n\n,,\n\"multi\nline\",x\n");
        assert_eq!(
            got,
            vec![
                Ok(vec!["a".into(), "b,c".into(), "say \"hi\"".into()]),
                Ok(vec!["".into(), "".into(), "".into()]),
                Ok(vec!["multi\nline".into(), "x".into()]),
            ]
        );
    }

    #[test]
    fn reports_bad_quoting_and_keeps_going() {
        let got = records("\"a\"b,c\nok,1\n\"never closed,2\n");
        assert_eq!(got[0], Err(Problem::BadQuoting));
        assert_eq!(got[1], Ok(vec!["ok".into(), "1".into()]));
        assert_eq!(got[2], Err(Problem::BadQuoting));
    }
}
