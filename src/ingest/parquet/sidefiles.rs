//! Items and customers files as Parquet, with the CSV side files' rules.

use super::columns::{Cell, for_each_row, text_of};
use super::open_file;
use super::schema::{Fields, Role, check_chunks};
use crate::erasure::ErasedSet;
use crate::ingest::error::{IngestError, Problem, RowError};
use crate::ingest::event::{id_value, non_empty, price_value};
use crate::ingest::read::{ReadReport, SkipReport};
use crate::ingest::store::StoreBuilder;
use std::path::Path;

/// Counts a bad side-file row, or returns it as the error that stops the read.
fn side_bad(e: RowError, skip_bad_rows: bool, skipped: &mut SkipReport) -> Result<(), IngestError> {
    if skip_bad_rows {
        skipped.record(e);
        Ok(())
    } else {
        Err(e.into())
    }
}

/// Reads a Parquet items file (`item_id, category, name, price, available`) into `b`, with
/// the CSV items file's rules.
pub fn read_items(
    path: &Path,
    b: &mut StoreBuilder,
    skip_bad_rows: bool,
) -> Result<ReadReport, IngestError> {
    let file = open_file(path)?;
    let fields = Fields::of(&file);
    let mut cols = vec![fields.require(&file, path, "item_id", Role::Id)?];
    let mut optional = |name: &str, role: Role| -> Result<Option<usize>, IngestError> {
        Ok(fields.find(&file, path, name, role)?.map(|c| {
            cols.push(c);
            cols.len() - 1
        }))
    };
    let category = optional("category", Role::Id)?;
    let name = optional("name", Role::Id)?;
    let price = optional("price", Role::Number)?;
    let available = optional("available", Role::Flag)?;
    check_chunks(&file, path, &cols)?;
    let mut report = ReadReport {
        ignored_columns: fields.unknown(&["item_id", "category", "name", "price", "available"]),
        ..ReadReport::default()
    };
    let (mut id_buf, mut cat_buf, mut name_buf, mut flag_buf) =
        (String::new(), String::new(), String::new(), String::new());
    for_each_row(&file, path, &cols, 0..u64::MAX, None, |cur, r, line, g| {
        let row = (|| -> Result<(), RowError> {
            let bad = |i: usize, cell: Cell<'_>, p: Problem| {
                RowError::new(path, line, &cols[i].name, &cell.shown(), p)
            };
            let item_id =
                text_of(&cur[0], r, &mut id_buf, &cols[0], path, line)?.ok_or_else(|| {
                    RowError::new(path, line, &cols[0].name, b"", Problem::MissingValue)
                })?;
            // The checks the CSV items file applies, from the same functions.
            let item_id = id_value(item_id)
                .map_err(|p| RowError::new(path, line, &cols[0].name, item_id.as_bytes(), p))?;
            let cat = match category {
                Some(i) => text_of(&cur[i], r, &mut cat_buf, &cols[i], path, line)?,
                None => None,
            };
            let name = match name {
                Some(i) => text_of(&cur[i], r, &mut name_buf, &cols[i], path, line)?,
                None => None,
            };
            let price = match price {
                Some(i) => {
                    let cell = cur[i].cell(r);
                    match cell.number().and_then(|v| v.map(price_value).transpose()) {
                        Ok(v) => v.unwrap_or(f32::NAN),
                        Err(p) => return Err(bad(i, cell, p)),
                    }
                }
                None => f32::NAN,
            };
            let available = match available {
                Some(i) => {
                    let cell = cur[i].cell(r);
                    let flag = match cell {
                        Cell::Null => Some(true),
                        Cell::Bool(v) => Some(v),
                        Cell::Int(0) | Cell::UInt(0) => Some(false),
                        Cell::Int(1) | Cell::UInt(1) => Some(true),
                        Cell::Text(_) => cell
                            .text(&mut flag_buf)
                            .ok()
                            .and_then(crate::ingest::sidefiles::parse_flag),
                        _ => None,
                    };
                    flag.ok_or_else(|| {
                        bad(i, cell, Problem::NotANumber).with_hint("use true/false, yes/no or 1/0")
                    })?
                }
                None => true,
            };
            let item = b.item(item_id);
            if let Some(c) = cat {
                b.set_category(item, c, true);
            }
            b.set_item_meta(item, name, price, available);
            Ok(())
        })();
        match row {
            Ok(()) => {
                report.rows += 1;
                Ok(())
            }
            Err(e) => side_bad(e.in_row_group(g), skip_bad_rows, &mut report.skipped),
        }
    })?;
    Ok(report)
}

/// Reads a Parquet customers file into `b`: every column but `customer_id` is an attribute
/// (numbers, booleans and dates as text), with the CSV customers file's rules.
pub fn read_customers(
    path: &Path,
    b: &mut StoreBuilder,
    skip_bad_rows: bool,
    exclude: Option<&ErasedSet>,
) -> Result<ReadReport, IngestError> {
    let file = open_file(path)?;
    let fields = Fields::of(&file);
    let mut cols = vec![fields.require(&file, path, "customer_id", Role::Id)?];
    for name in fields.unknown(&["customer_id"]) {
        if let Some(c) = fields.find(&file, path, &name, Role::Attribute)? {
            cols.push(c);
        }
    }
    check_chunks(&file, path, &cols)?;
    let mut report = ReadReport::default();
    let mut excluded = 0u64;
    let mut bufs = vec![String::new(); cols.len()];
    for_each_row(&file, path, &cols, 0..u64::MAX, None, |cur, r, line, g| {
        let row = (|| -> Result<(), RowError> {
            // Every value is rendered first, so a bad row leaves no trace in the builder.
            let mut values: Vec<Option<&str>> = Vec::with_capacity(cols.len());
            for ((c, cur), buf) in cols.iter().zip(cur).zip(bufs.iter_mut()) {
                let cell = cur.cell(r);
                let text = cell
                    .text(buf)
                    .map_err(|p| RowError::new(path, line, &c.name, &cell.shown(), p))?;
                values.push(non_empty(text));
            }
            let customer_id = values[0].ok_or_else(|| {
                RowError::new(path, line, &cols[0].name, b"", Problem::MissingValue)
            })?;
            let customer_id = id_value(customer_id)
                .map_err(|p| RowError::new(path, line, &cols[0].name, customer_id.as_bytes(), p))?;
            if exclude.is_some_and(|x| x.contains(customer_id)) {
                excluded += 1;
                return Ok(());
            }
            let customer = b.customer(customer_id);
            for (c, v) in cols.iter().zip(&values).skip(1) {
                b.set_attribute(customer, &c.name, *v, true);
            }
            Ok(())
        })();
        match row {
            Ok(()) => {
                report.rows += 1;
                Ok(())
            }
            Err(e) => side_bad(e.in_row_group(g), skip_bad_rows, &mut report.skipped),
        }
    })?;
    report.excluded = excluded;
    Ok(report)
}
