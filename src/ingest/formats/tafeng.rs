//! Ta-Feng grocery (`ta_feng_all_months_merged.csv`, Nov 2000 – Feb 2001).
//!
//! As shipped: UTF-8 BOM, CRLF, every field quoted, header
//! `TRANSACTION_DT,CUSTOMER_ID,AGE_GROUP,PIN_CODE,PRODUCT_SUBCLASS,PRODUCT_ID,AMOUNT,ASSET,SALES_PRICE`.
//! `TRANSACTION_DT` is `m/d/yyyy`; `SALES_PRICE` is the line total, so the unit price is
//! `SALES_PRICE / AMOUNT`. `PRODUCT_SUBCLASS` becomes the item category; `AGE_GROUP` and
//! `PIN_CODE` become customer attributes (an empty `AGE_GROUP`, 22,362 rows, is missing).
//! Ids keep their leading zeros. `ASSET` (cost) is not used.

use crate::ingest::csv::{CsvReader, Next, find_column, require_column, unknown_columns};
use crate::ingest::error::{IngestError, Problem, RowError};
use crate::ingest::event::{
    Event, EventKind, id_value, non_empty, parse_number, price_value, quantity_value,
};
use crate::ingest::read::Sink;
use std::io::BufRead;

/// Customer attribute name for `AGE_GROUP`.
pub const AGE_GROUP: &str = "age_group";
/// Customer attribute name for `PIN_CODE`.
pub const PIN_CODE: &str = "pin_code";

/// Reads a Ta-Feng file into `sink`.
pub fn read_tafeng<R: BufRead, F: FnMut(u64, &Event<'_>)>(
    reader: R,
    sink: &mut Sink<'_, F>,
) -> Result<(), IngestError> {
    let path = sink.path;
    let mut csv = CsvReader::new(reader);
    let header = csv.header(path)?;
    let hl = csv.line();
    let hint = Some("is this the Ta-Feng file as shipped? other CSVs need --format csv");
    let date = require_column(&header, "TRANSACTION_DT", path, hl, hint)?;
    let customer = require_column(&header, "CUSTOMER_ID", path, hl, hint)?;
    let item = require_column(&header, "PRODUCT_ID", path, hl, hint)?;
    let amount = require_column(&header, "AMOUNT", path, hl, hint)?;
    let sales = require_column(&header, "SALES_PRICE", path, hl, hint)?;
    let subclass = find_column(&header, "PRODUCT_SUBCLASS", path, hl)?;
    let age = find_column(&header, "AGE_GROUP", path, hl)?;
    let pin = find_column(&header, "PIN_CODE", path, hl)?;
    let known = [
        "TRANSACTION_DT",
        "CUSTOMER_ID",
        "AGE_GROUP",
        "PIN_CODE",
        "PRODUCT_SUBCLASS",
        "PRODUCT_ID",
        "AMOUNT",
        "ASSET",
        "SALES_PRICE",
    ];
    sink.report.ignored_columns = unknown_columns(&header, &known);
    loop {
        match csv.next_record().map_err(|e| IngestError::io(path, e))? {
            Next::Eof => return Ok(()),
            Next::Bad(p) => sink.bad(RowError::new(path, csv.line(), "<line>", &[], p))?,
            Next::Record => {
                let line = csv.line();
                let mut row = || -> Result<(), RowError> {
                    csv.check_width(&header, path)?;
                    let text = |i: usize| {
                        csv.str_field(i)
                            .map_err(|p| RowError::new(path, line, &header[i], csv.field(i), p))
                    };
                    let required = |i: usize| {
                        non_empty(text(i)?).ok_or_else(|| {
                            RowError::new(path, line, &header[i], &[], Problem::MissingValue)
                        })
                    };
                    let optional = |col: Option<usize>| match col {
                        Some(i) => text(i).map(non_empty),
                        None => Ok(None),
                    };
                    let number = |i: usize, check: &dyn Fn(f64) -> Result<f32, Problem>| {
                        let s = required(i)?;
                        parse_number(s)
                            .and_then(|v| check(v).map(|_| v))
                            .map_err(|p| RowError::new(path, line, &header[i], s.as_bytes(), p))
                    };
                    let id = |i: usize| {
                        let s = required(i)?;
                        id_value(s)
                            .map_err(|p| RowError::new(path, line, &header[i], s.as_bytes(), p))
                    };
                    let customer_id = id(customer)?;
                    let item_id = id(item)?;
                    let dt = required(date)?;
                    let timestamp = crate::time::parse_mdy(dt).ok_or_else(|| {
                        RowError::new(
                            path,
                            line,
                            &header[date],
                            dt.as_bytes(),
                            Problem::BadTimestamp,
                        )
                        .with_hint("Ta-Feng dates are m/d/yyyy")
                    })?;
                    let quantity = number(amount, &quantity_value)?;
                    if quantity <= 0.0 {
                        return Err(RowError::new(
                            path,
                            line,
                            &header[amount],
                            text(amount)?.as_bytes(),
                            Problem::NotPositive,
                        )
                        .with_hint("the unit price is SALES_PRICE / AMOUNT"));
                    }
                    // SALES_PRICE is the line total; the unit price must fit like any price.
                    let total = number(sales, &|t| price_value(t / quantity))?;
                    // Only the attribute columns the file has, in a fixed order.
                    let mut attrs = [("", None); 2];
                    let mut n_attrs = 0;
                    for (name, col) in [(AGE_GROUP, age), (PIN_CODE, pin)] {
                        if col.is_some() {
                            attrs[n_attrs] = (name, optional(col)?);
                            n_attrs += 1;
                        }
                    }
                    sink.emit(
                        line,
                        &Event {
                            customer_id,
                            item_id,
                            timestamp,
                            kind: EventKind::Purchase,
                            quantity: quantity as f32,
                            price: (total / quantity) as f32,
                            order_id: None,
                            category: optional(subclass)?,
                            customer_attrs: &attrs[..n_attrs],
                        },
                    );
                    Ok(())
                };
                if let Err(e) = row() {
                    sink.bad(e)?;
                }
            }
        }
    }
}
