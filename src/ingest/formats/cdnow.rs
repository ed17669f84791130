//! CDNOW (`CDNOW_master.txt`, Jan 1997 – Jun 1998, from the `lifetimes` package).
//!
//! As shipped: CRLF, whitespace-separated columns, padded with spaces. The master file has
//! a header line `customer_id date number_of_cds dollar_value` and 4 columns;
//! `CDNOW_sample.txt` has no header and 5 columns (`customer_id sample_id date
//! number_of_cds dollar_value`), of which the first id is kept so both files name the same
//! customer alike. Dates are `yyyymmdd`; `dollar_value` is the line total, so the unit
//! price is `dollar_value / number_of_cds`. CDNOW has no item ids: every event is item
//! [`CD_ITEM`], and rows of one customer on one day form one basket (the default order).

use crate::ingest::error::{IngestError, Problem, RowError};
use crate::ingest::event::{Event, EventKind, id_value, parse_number, price_value, quantity_value};
use crate::ingest::lines::{LineReader, TextLine};
use crate::ingest::read::Sink;
use std::io::BufRead;

/// The single item id CDNOW events get.
pub const CD_ITEM: &str = "cd";

const MASTER: [&str; 4] = ["customer_id", "date", "number_of_cds", "dollar_value"];
const SAMPLE: [&str; 5] = [
    "customer_id",
    "sample_id",
    "date",
    "number_of_cds",
    "dollar_value",
];

/// Reads a CDNOW file into `sink`.
pub fn read_cdnow<R: BufRead, F: FnMut(u64, &Event<'_>)>(
    reader: R,
    sink: &mut Sink<'_, F>,
) -> Result<(), IngestError> {
    let path = sink.path;
    let mut lines = LineReader::new(reader);
    let mut buf = Vec::with_capacity(64);
    // Column names, fixed by the first non-blank line (header or first row).
    let mut columns: Option<&[&str]> = None;
    loop {
        let (line, text) = match lines.next_text(&mut buf, sink)? {
            TextLine::Eof => break,
            TextLine::Bad => continue,
            TextLine::Text(line, text) => (line, text),
        };
        let mut fields = [""; 6];
        let mut n = 0;
        for f in text.split_ascii_whitespace() {
            if n < fields.len() {
                fields[n] = f;
            }
            n += 1;
        }
        if n == 0 {
            continue;
        }
        let cols = match columns {
            Some(c) => c,
            None => {
                let c: &[&str] = if n == 5 { &SAMPLE } else { &MASTER };
                columns = Some(c);
                if fields[0].eq_ignore_ascii_case("customer_id") {
                    continue;
                }
                c
            }
        };
        let mut row = || -> Result<(), RowError> {
            if n != cols.len() {
                let field = cols.get(n).copied().unwrap_or("<extra column>");
                return Err(RowError::new(
                    path,
                    line,
                    field,
                    &[],
                    Problem::FieldCount {
                        expected: cols.len(),
                        found: n,
                    },
                ));
            }
            id_value(fields[0])
                .map_err(|p| RowError::new(path, line, "customer_id", fields[0].as_bytes(), p))?;
            let off = cols.len() - 4;
            let (date, qty, amount) = (fields[off + 1], fields[off + 2], fields[off + 3]);
            let timestamp = crate::time::parse_yyyymmdd(date).ok_or_else(|| {
                RowError::new(path, line, "date", date.as_bytes(), Problem::BadTimestamp)
                    .with_hint("CDNOW dates are yyyymmdd")
            })?;
            let quantity = parse_number(qty)
                .and_then(|q| quantity_value(q).map(|_| q))
                .map_err(|p| RowError::new(path, line, "number_of_cds", qty.as_bytes(), p))?;
            if quantity <= 0.0 {
                return Err(RowError::new(
                    path,
                    line,
                    "number_of_cds",
                    qty.as_bytes(),
                    Problem::NotPositive,
                )
                .with_hint("the unit price is dollar_value / number_of_cds"));
            }
            // The unit price derived from the total must fit like any price.
            let price = parse_number(amount)
                .and_then(|total| price_value(total / quantity))
                .map_err(|p| RowError::new(path, line, "dollar_value", amount.as_bytes(), p))?;
            sink.emit(
                line,
                &Event {
                    customer_id: fields[0],
                    item_id: CD_ITEM,
                    timestamp,
                    kind: EventKind::Purchase,
                    quantity: quantity as f32,
                    price,
                    order_id: None,
                    category: None,
                    customer_attrs: &[],
                },
            );
            Ok(())
        };
        if let Err(e) = row() {
            sink.bad(e)?;
        }
    }
    if columns.is_none() {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}
