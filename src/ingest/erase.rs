//! Rewriting an event log without some customers (the right to be forgotten), streaming.
//!
//! Kept rows are copied as they were read, in every text format, so the output is the same
//! kind of file as the input (a Ta-Feng or CDNOW file stays one): only the customer id of
//! each row is parsed. Two normalisations come from the shared line reader: line endings
//! become `\n` and a leading byte-order mark is dropped. Blank lines are dropped. Parquet
//! is rewritten as Parquet with the same schema ([`super::parquet::erase`]).

use super::csv::{CsvReader, Next, require_column};
use super::error::{IngestError, Problem, RowError};
use super::event::non_empty;
use super::lines::{LineRead, LineReader};
use super::read::Format;
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, Write};
use std::path::Path;

/// What [`erase_customers`] kept and removed.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct EraseReport {
    /// Event rows written.
    pub kept: u64,
    /// Event rows removed.
    pub removed: u64,
    /// Rows removed per requested customer id (0 = not in the file).
    pub removed_by_customer: BTreeMap<String, u64>,
}

impl EraseReport {
    /// Requested customer ids with no row in the file.
    pub fn missing(&self) -> Vec<&str> {
        self.removed_by_customer
            .iter()
            .filter(|&(_, &n)| n == 0)
            .map(|(id, _)| id.as_str())
            .collect()
    }
}

/// Copies the events read from `reader` (the file `path`, in `format`) to `out` (the file
/// `out_path`), leaving out every row of the `customers`. A row whose customer id cannot be
/// read is an error naming the line: it might belong to one of them.
pub fn erase_customers<R: BufRead, W: Write + Send>(
    mut reader: R,
    path: &Path,
    format: Format,
    customers: &HashSet<String>,
    mut out: W,
    out_path: &Path,
) -> Result<EraseReport, IngestError> {
    let mut f = Filter {
        out: &mut out,
        out_path,
        report: EraseReport {
            removed_by_customer: customers.iter().map(|c| (c.clone(), 0)).collect(),
            ..EraseReport::default()
        },
    };
    let io = |e| IngestError::io(path, e);
    match format {
        Format::Csv | Format::Tafeng => {
            let mut csv = CsvReader::new(reader);
            let header = csv.header(path)?;
            let col = require_column(&header, "customer_id", path, csv.line(), None)?;
            f.copy(csv.raw_record())?;
            loop {
                match csv.next_record().map_err(io)? {
                    Next::Eof => break,
                    Next::Bad(p) => {
                        return Err(RowError::new(path, csv.line(), "<line>", &[], p).into());
                    }
                    Next::Record => {
                        let id = csv.str_field(col).map_err(|p| {
                            RowError::new(path, csv.line(), &header[col], csv.field(col), p)
                        })?;
                        let id = non_empty(id).ok_or_else(|| {
                            RowError::new(
                                path,
                                csv.line(),
                                &header[col],
                                &[],
                                Problem::MissingValue,
                            )
                        })?;
                        f.row(id, csv.raw_record())?;
                    }
                }
            }
        }
        Format::Parquet => {
            // Parquet keeps its schema at the end, so a stream is held in memory whole; the
            // trainer's `erase` reads a file in place with `parquet::erase::erase_customers`.
            let mut bytes = Vec::new();
            reader.read_to_end(&mut bytes).map_err(io)?;
            let file = super::parquet::open(bytes::Bytes::from(bytes), path)?;
            let (report, _) =
                super::parquet::erase::erase_from(file, path, customers, &mut *f.out, out_path)?;
            f.report = report;
        }
        Format::Jsonl | Format::Cdnow => {
            let mut lines = LineReader::new(reader);
            let mut buf = Vec::with_capacity(256);
            let mut first = true;
            loop {
                buf.clear();
                match lines.read_line(&mut buf).map_err(io)? {
                    LineRead::Eof => break,
                    LineRead::TooLong => {
                        return Err(RowError::new(
                            path,
                            lines.line(),
                            "<line>",
                            &[],
                            Problem::LineTooLong,
                        )
                        .into());
                    }
                    LineRead::Line => {}
                }
                if buf.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let line = lines.line();
                let text = std::str::from_utf8(&buf)
                    .map_err(|_| RowError::new(path, line, "<line>", &buf, Problem::InvalidUtf8))?;
                if format == Format::Cdnow {
                    let id = text.split_ascii_whitespace().next().unwrap_or_default();
                    if std::mem::take(&mut first) && id.eq_ignore_ascii_case("customer_id") {
                        f.copy(&buf)?;
                        continue;
                    }
                    f.row(id, &buf)?;
                } else {
                    let id = json_customer(text, path, line)?;
                    f.row(&id, &buf)?;
                }
            }
        }
    }
    f.out.flush().map_err(|e| IngestError::io(out_path, e))?;
    Ok(f.report)
}

/// Where rows go: copied to the output, or counted as removed.
struct Filter<'a, W> {
    out: &'a mut W,
    out_path: &'a Path,
    report: EraseReport,
}

impl<W: Write> Filter<'_, W> {
    /// Writes a line (a header or a kept row) as read.
    fn copy(&mut self, raw: &[u8]) -> Result<(), IngestError> {
        self.out
            .write_all(raw)
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(|e| IngestError::io(self.out_path, e))
    }

    /// Removes the row if `customer_id` is one to erase, else copies it.
    fn row(&mut self, customer_id: &str, raw: &[u8]) -> Result<(), IngestError> {
        match self.report.removed_by_customer.get_mut(customer_id) {
            Some(n) => {
                *n += 1;
                self.report.removed += 1;
                Ok(())
            }
            None => {
                self.report.kept += 1;
                self.copy(raw)
            }
        }
    }
}

/// The `customer_id` of one JSON Lines row, read the way the event reader reads it
/// (strings trimmed, numbers as written).
fn json_customer(text: &str, path: &Path, line: u64) -> Result<String, RowError> {
    let bad = |v: &[u8], p| RowError::new(path, line, "customer_id", v, p);
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        RowError::new(
            path,
            line,
            "<line>",
            text.as_bytes(),
            Problem::BadJson(e.to_string()),
        )
    })?;
    match value.get("customer_id") {
        Some(serde_json::Value::String(s)) => non_empty(s)
            .map(str::to_string)
            .ok_or_else(|| bad(&[], Problem::MissingValue)),
        Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
        None | Some(serde_json::Value::Null) => Err(bad(&[], Problem::MissingValue)),
        Some(v) => Err(bad(v.to_string().as_bytes(), Problem::WrongType)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn erase(
        format: Format,
        input: &str,
        ids: &[&str],
    ) -> Result<(String, EraseReport), IngestError> {
        let ids: HashSet<String> = ids.iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        let r = erase_customers(
            input.as_bytes(),
            Path::new("in"),
            format,
            &ids,
            &mut out,
            Path::new("out"),
        )?;
        Ok((String::from_utf8(out).unwrap(), r))
    }

    #[test]
    fn csv_rows_of_the_customers_go_and_the_rest_is_copied_verbatim() {
        let input = "\u{feff}item_id,customer_id,timestamp\r\ni1,c1,2020-01-01\r\n\"a,\"\"b\",c2,2020-01-02\r\n\r\n\"multi\nline\", c1 ,2020-01-03\r\ni2,c3,2020-01-04\r\n";
        let (out, r) = erase(Format::Csv, input, &["c1", "zz"]).unwrap();
        assert_eq!(
            out,
            "item_id,customer_id,timestamp\n\"a,\"\"b\",c2,2020-01-02\ni2,c3,2020-01-04\n"
        );
        assert_eq!((r.kept, r.removed), (2, 2));
        assert_eq!(r.removed_by_customer["c1"], 2);
        assert_eq!(r.missing(), ["zz"]);
    }

    #[test]
    fn tafeng_and_cdnow_files_stay_in_their_raw_format() {
        let tafeng = "\"TRANSACTION_DT\",\"CUSTOMER_ID\",\"PRODUCT_ID\"\n\"11/1/2000\",\"01104905\",\"47\"\n\"11/1/2000\",\"00418683\",\"48\"\n";
        let (out, r) = erase(Format::Tafeng, tafeng, &["01104905"]).unwrap();
        assert_eq!(
            out,
            "\"TRANSACTION_DT\",\"CUSTOMER_ID\",\"PRODUCT_ID\"\n\"11/1/2000\",\"00418683\",\"48\"\n"
        );
        assert_eq!(r.removed, 1);
        let cdnow = " customer_id  date number_of_cds  dollar_value\n 00001 19970101  1   11.77\n 00002 19970112  1   12.00\n 00001 19970113  2   20.00\n";
        let (out, r) = erase(Format::Cdnow, cdnow, &["00001"]).unwrap();
        assert_eq!(
            out,
            " customer_id  date number_of_cds  dollar_value\n 00002 19970112  1   12.00\n"
        );
        assert_eq!((r.kept, r.removed), (1, 2));
        // The sample file has no header.
        let (out, _) = erase(
            Format::Cdnow,
            " 00001 1 19970101 1 11.77\n 00002 2 19970101 1 1.0\n",
            &["00002"],
        )
        .unwrap();
        assert_eq!(out, " 00001 1 19970101 1 11.77\n");
    }

    #[test]
    fn json_lines_match_string_and_numeric_ids() {
        let input = "{\"customer_id\":\" c1 \",\"item_id\":\"i\"}\n{\"customer_id\":7,\"item_id\":\"i\"}\n{\"item_id\":\"x\",\"customer_id\":\"c2\"}\n";
        let (out, r) = erase(Format::Jsonl, input, &["c1", "7"]).unwrap();
        assert_eq!(out, "{\"item_id\":\"x\",\"customer_id\":\"c2\"}\n");
        assert_eq!((r.kept, r.removed), (1, 2));
    }

    #[test]
    fn a_row_without_a_readable_customer_id_is_an_error_naming_the_line() {
        let e = erase(
            Format::Jsonl,
            "{\"customer_id\":\"c1\"}\n{\"item_id\":\"i\"}\n",
            &["c1"],
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = erase(
            Format::Jsonl,
            "{\"customer_id\":\"c1\"}\nnot json\n",
            &["c1"],
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = erase(Format::Csv, "customer_id,item_id\nc1,i\n,i\n", &["c1"]).unwrap_err();
        assert!(
            e.to_string().contains("line 3") && e.to_string().contains("customer_id"),
            "{e}"
        );
        let e = erase(Format::Csv, "item_id\ni\n", &["c1"]).unwrap_err();
        assert!(matches!(e, IngestError::MissingColumn { .. }), "{e}");
    }
}
