//! Writes a feature table with its labels as CSV, the input of `gbdt train` (tabular mode).

use super::error::{PropensityError, Result};
use super::table::FeatureTable;
use crate::ingest::EventStore;
use crate::time::format_date;
use std::io::Write;
use std::path::Path;

/// Label columns written after the features.
pub const LABEL_COLUMNS: [&str; 4] = ["churned", "orders", "spend", "days_to_next"];

/// Writes `(set, table)` parts to `path`: `customer_id, snapshot, set, features…, labels`;
/// missing values are empty cells.
pub fn write_csv(store: &EventStore, parts: &[(&str, &FeatureTable)], path: &Path) -> Result<()> {
    let io = |source| PropensityError::Write {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(path).map_err(io)?;
    let mut w = std::io::BufWriter::new(file);
    write_to(store, parts, &mut w).map_err(io)?;
    w.flush().map_err(io)
}

fn num(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        format!("{v}")
    }
}

/// Writes the CSV to any writer.
pub fn write_to(
    store: &EventStore,
    parts: &[(&str, &FeatureTable)],
    w: &mut dyn Write,
) -> std::io::Result<()> {
    let mut csv = csv::Writer::from_writer(w);
    let Some((_, first)) = parts.first() else {
        return Ok(());
    };
    let mut header: Vec<&str> = vec!["customer_id", "snapshot", "set"];
    header.extend(first.names.iter().map(String::as_str));
    header.extend(LABEL_COLUMNS);
    csv.write_record(&header)?;
    let mut record: Vec<String> = Vec::with_capacity(header.len());
    for (set, table) in parts {
        for r in 0..table.len() {
            record.clear();
            let c = table.customers[r];
            record.push(store.customers.name(c.0).unwrap_or_default().to_string());
            record.push(format_date(table.snapshots[r]));
            record.push(set.to_string());
            record.extend(table.row(r).iter().map(|&v| num(v as f64)));
            let l = &table.labels[r];
            record.push(u8::from(l.churned()).to_string());
            record.push(l.orders.to_string());
            record.push(num(l.spend));
            record.push(l.days_to_next.map_or(String::new(), num));
            csv.write_record(&record)?;
        }
    }
    csv.flush()
}
