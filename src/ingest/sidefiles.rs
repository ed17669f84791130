//! The optional items file (`item_id, category, name, price, available`) and customers file
//! (`customer_id` + categorical attribute columns), both CSV with a header, or Parquet
//! with the same columns ([`super::parquet`]).
//!
//! Their values override what event rows carried (a catalogue is the better authority than
//! a category repeated on every sales line). Ids only in these files become items or
//! customers without events.

use super::csv::{CsvReader, Next, find_column, require_column};
use super::error::{IngestError, Problem, RowError};
use super::event::{id_value, non_empty, parse_number, price_value};
use super::read::{ReadReport, SkipReport};
use super::store::StoreBuilder;
use std::io::BufReader;
use std::path::Path;

fn open(path: &Path) -> Result<CsvReader<BufReader<std::fs::File>>, IngestError> {
    let f = std::fs::File::open(path).map_err(|e| IngestError::io(path, e))?;
    Ok(CsvReader::new(BufReader::with_capacity(256 * 1024, f)))
}

/// Calls `row` for every record, handling bad lines, field counts and skipping.
fn for_each_row<R: std::io::BufRead>(
    csv: &mut CsvReader<R>,
    header: &[String],
    path: &Path,
    skip_bad_rows: bool,
    mut row: impl FnMut(&CsvReader<R>) -> Result<(), RowError>,
) -> Result<ReadReport, IngestError> {
    let mut report = ReadReport::default();
    let fail = |e: RowError, skipped: &mut SkipReport| {
        if skip_bad_rows {
            skipped.record(e);
            Ok(())
        } else {
            Err(IngestError::from(e))
        }
    };
    loop {
        match csv.next_record().map_err(|e| IngestError::io(path, e))? {
            Next::Eof => break,
            Next::Bad(p) => fail(
                RowError::new(path, csv.line(), "<line>", &[], p),
                &mut report.skipped,
            )?,
            Next::Record if csv.len() != header.len() => {
                let field = header
                    .get(csv.len())
                    .map_or_else(|| format!("<column {}>", header.len() + 1), String::clone);
                let p = Problem::FieldCount {
                    expected: header.len(),
                    found: csv.len(),
                };
                fail(
                    RowError::new(path, csv.line(), &field, &[], p),
                    &mut report.skipped,
                )?;
            }
            Next::Record => match row(csv) {
                Ok(()) => report.rows += 1,
                Err(e) => fail(e, &mut report.skipped)?,
            },
        }
    }
    Ok(report)
}

fn text<'r, R: std::io::BufRead>(
    csv: &'r CsvReader<R>,
    header: &[String],
    i: usize,
    path: &Path,
) -> Result<&'r str, RowError> {
    csv.str_field(i)
        .map_err(|p| RowError::new(path, csv.line(), &header[i], csv.field(i), p))
}

/// Parses an `available` flag: true/false, yes/no, 1/0 (any case); empty means true.
pub(crate) fn parse_flag(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "1" | "true" | "yes" | "y" | "t" => Some(true),
        "0" | "false" | "no" | "n" | "f" => Some(false),
        _ => None,
    }
}

/// Reads the items file into `b` (Parquet when its name ends in `.parquet`).
pub fn read_items(
    path: &Path,
    b: &mut StoreBuilder,
    skip_bad_rows: bool,
) -> Result<ReadReport, IngestError> {
    if super::parquet::is_parquet_path(path) {
        return super::parquet::read_items(path, b, skip_bad_rows);
    }
    let mut csv = open(path)?;
    let header = csv.header(path)?;
    let hl = csv.line();
    let id = require_column(&header, "item_id", path, hl, None)?;
    let category = find_column(&header, "category", path, hl)?;
    let name = find_column(&header, "name", path, hl)?;
    let price = find_column(&header, "price", path, hl)?;
    let available = find_column(&header, "available", path, hl)?;
    let known = ["item_id", "category", "name", "price", "available"];
    let ignored = header
        .iter()
        .filter(|h| !known.iter().any(|k| h.eq_ignore_ascii_case(k)))
        .cloned()
        .collect();
    let mut report = for_each_row(&mut csv, &header, path, skip_bad_rows, |csv| {
        let line = csv.line();
        let item_id = non_empty(text(csv, &header, id, path)?)
            .ok_or(Problem::MissingValue)
            .and_then(id_value)
            .map_err(|p| RowError::new(path, line, &header[id], &[], p))?;
        let cat = match category {
            Some(i) => non_empty(text(csv, &header, i, path)?),
            None => None,
        };
        let name = match name {
            Some(i) => non_empty(text(csv, &header, i, path)?),
            None => None,
        };
        let price = match price {
            Some(i) => match non_empty(text(csv, &header, i, path)?) {
                Some(s) => parse_number(s)
                    .and_then(price_value)
                    .map_err(|p| RowError::new(path, line, &header[i], s.as_bytes(), p))?,
                None => f32::NAN,
            },
            None => f32::NAN,
        };
        let available = match available {
            Some(i) => {
                let s = text(csv, &header, i, path)?;
                parse_flag(s).ok_or_else(|| {
                    RowError::new(path, line, &header[i], s.as_bytes(), Problem::NotANumber)
                        .with_hint("use true/false, yes/no or 1/0")
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
    })?;
    report.ignored_columns = ignored;
    Ok(report)
}

/// Reads the customers file into `b`: every column but `customer_id` is an attribute
/// (Parquet when its name ends in `.parquet`).
pub fn read_customers(
    path: &Path,
    b: &mut StoreBuilder,
    skip_bad_rows: bool,
    exclude: Option<&crate::erasure::ErasedSet>,
) -> Result<ReadReport, IngestError> {
    if super::parquet::is_parquet_path(path) {
        return super::parquet::read_customers(path, b, skip_bad_rows, exclude);
    }
    let mut excluded = 0u64;
    let mut csv = open(path)?;
    let header = csv.header(path)?;
    let hl = csv.line();
    let id = require_column(&header, "customer_id", path, hl, None)?;
    for (i, h) in header.iter().enumerate() {
        if i != id {
            find_column(&header, h, path, hl)?;
        }
    }
    for_each_row(&mut csv, &header, path, skip_bad_rows, |csv| {
        let line = csv.line();
        let customer_id = non_empty(text(csv, &header, id, path)?)
            .ok_or(Problem::MissingValue)
            .and_then(id_value)
            .map_err(|p| RowError::new(path, line, &header[id], &[], p))?;
        // Validate the whole row before changing the builder, so a skipped row leaves no trace.
        let mut values = Vec::with_capacity(header.len());
        for i in (0..header.len()).filter(|&i| i != id) {
            values.push((i, non_empty(text(csv, &header, i, path)?)));
        }
        if exclude.is_some_and(|x| x.contains(customer_id)) {
            excluded += 1;
            return Ok(());
        }
        let c = b.customer(customer_id);
        for (i, v) in values {
            b.set_attribute(c, &header[i], v, true);
        }
        Ok(())
    })
    .map(|mut report| {
        report.excluded = excluded;
        report
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::intern::{CustomerIdx, ItemIdx};

    #[test]
    fn flags_accept_common_spellings() {
        assert_eq!(parse_flag(""), Some(true));
        assert_eq!(parse_flag("No"), Some(false));
        assert_eq!(parse_flag("1"), Some(true));
        assert_eq!(parse_flag("maybe"), None);
    }

    #[test]
    fn items_and_customers_files_set_metadata_and_add_ids() {
        let dir = tempfile::tempdir().unwrap();
        let items = dir.path().join("items.csv");
        std::fs::write(&items, "item_id,name,category,price,available,colour\ni1,Milk,dairy,1.5,yes,white\ni9,Bread,,,no,\n").unwrap();
        let customers = dir.path().join("customers.csv");
        std::fs::write(&customers, "region,customer_id,tier\nnorth,c1,gold\n,c2,\n").unwrap();
        let mut b = StoreBuilder::new();
        let i1 = b.item("i1");
        b.set_category(i1, "from-events", false);
        b.customer("c1");
        let r = read_items(&items, &mut b, false).unwrap();
        assert_eq!(r.rows, 2);
        assert_eq!(r.ignored_columns, ["colour"]);
        read_customers(&customers, &mut b, false, None).unwrap();
        let (s, _) = b.finish(Path::new("mem")).unwrap();
        assert_eq!(s.category_of(ItemIdx(0)), Some("dairy"));
        assert_eq!(s.item_name, ["Milk", "Bread"]);
        assert_eq!(s.item_price[0], 1.5);
        assert!(s.item_price[1].is_nan());
        assert_eq!(s.item_available, [true, false]);
        assert_eq!(s.n_customers(), 2);
        assert_eq!(
            s.attribute("region").unwrap().value(CustomerIdx(0)),
            Some("north")
        );
        assert_eq!(s.attribute("tier").unwrap().value(CustomerIdx(1)), None);
    }

    #[test]
    fn a_bad_items_row_names_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let items = dir.path().join("items.csv");
        std::fs::write(&items, "item_id,price\ni1,2\ni2,cheap\n").unwrap();
        let err = read_items(&items, &mut StoreBuilder::new(), false).unwrap_err();
        let IngestError::Row(e) = err else {
            panic!("{err}")
        };
        assert_eq!(
            (e.line, e.field.as_str(), e.problem.clone()),
            (3, "price", Problem::NotANumber)
        );
    }
}
