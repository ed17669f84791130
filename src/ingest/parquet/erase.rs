//! Rewriting a Parquet event log without some customers (the right to be forgotten).
//!
//! The output keeps the input's schema (every column, nested ones included, with their
//! types and annotations), its key-value metadata (so an Arrow schema stored there still
//! describes the file), its row groups (less any left empty) and each column's codec.
//! Values are decoded and re-encoded, one batch of rows at a time, so encodings, page
//! sizes and statistics are the writer's own.

use super::columns::{for_each_row, row_group_rows, text_of};
use super::schema::{Col, Fields, Kind, Role, check_chunks};
use super::{call, decode_error, open_file, panic_message, parquet_error, with_source};
use crate::ingest::erase::EraseReport;
use crate::ingest::error::{IngestError, ParquetProblem, Problem, RowError};
use ::parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use ::parquet::column::writer::ColumnWriterImpl;
use ::parquet::data_type::{
    BoolType, ByteArrayType, DataType, DoubleType, FixedLenByteArrayType, FloatType, Int32Type,
    Int64Type, Int96Type,
};
use ::parquet::errors::ParquetError;
use ::parquet::file::properties::WriterProperties;
use ::parquet::file::reader::{ChunkReader, FileReader, SerializedFileReader};
use ::parquet::file::writer::{SerializedColumnWriter, SerializedFileWriter};
use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// Rows copied per column per step.
const COPY_BATCH: usize = 8192;

/// Copies the Parquet events file `path` to `out` (the file `out_path`, named in messages),
/// leaving out every row of the `customers`, and returns `out` once the footer is written.
/// A row whose customer id cannot be read is an error naming its row group and row: it
/// might belong to one of them.
pub fn erase_customers<W: Write + Send>(
    path: &Path,
    customers: &HashSet<String>,
    out: W,
    out_path: &Path,
) -> Result<(EraseReport, W), IngestError> {
    erase_from(open_file(path)?, path, customers, out, out_path)
}

/// [`erase_customers`] from an opened Parquet file (on disk or in memory) named `path`.
pub fn erase_from<R: ChunkReader + 'static, W: Write + Send>(
    file: SerializedFileReader<R>,
    path: &Path,
    customers: &HashSet<String>,
    out: W,
    out_path: &Path,
) -> Result<(EraseReport, W), IngestError> {
    let fields = Fields::of(&file);
    let id = fields.require(&file, path, "customer_id", Role::Id)?;
    let meta = file.metadata();
    let schema = meta.file_metadata().schema_descr();
    let leaves: Vec<Col> = (0..schema.num_columns())
        .map(|leaf| {
            let d = schema.column(leaf);
            Col {
                name: d.path().string(),
                leaf,
                kind: Kind::Other,
                max_def: d.max_def_level(),
            }
        })
        .collect();
    check_chunks(&file, path, &leaves)?;

    let mut props = WriterProperties::builder()
        .set_key_value_metadata(meta.file_metadata().key_value_metadata().cloned());
    if let Some(rg) = meta.row_groups().first() {
        for chunk in rg.columns() {
            props = props.set_column_compression(chunk.column_path().clone(), chunk.compression());
        }
    }
    let write_err = |g: Option<usize>, col: Option<&str>, e: ParquetError| {
        with_source(parquet_error(out_path, g, col, ParquetProblem::Write), e)
    };
    let mut writer =
        SerializedFileWriter::new(out, schema.root_schema_ptr(), Arc::new(props.build()))
            .map_err(|e| write_err(None, None, e))?;

    let mut report = EraseReport {
        removed_by_customer: customers.iter().map(|c| (c.clone(), 0)).collect(),
        ..EraseReport::default()
    };
    let mut first = 0u64;
    for g in 0..meta.num_row_groups() {
        let n = row_group_rows(&file, path, g)?;
        let rows = first..first + n;
        first += n;
        // Which rows stay: the customer id read the way the event reader reads it.
        // (Capped: `n` comes from the file, which may be corrupt.)
        let mut keep = Vec::with_capacity(n.min(1 << 20) as usize);
        let mut buf = String::new();
        let one = std::slice::from_ref(&id);
        for_each_row(&file, path, one, rows, None, |cur, r, line, g| {
            let customer = text_of(&cur[0], r, &mut buf, &id, path, line)
                .map_err(|e| e.in_row_group(g))?
                .ok_or_else(|| {
                    RowError::new(path, line, &id.name, b"", Problem::MissingValue).in_row_group(g)
                })?;
            match report.removed_by_customer.get_mut(customer) {
                Some(count) => {
                    *count += 1;
                    report.removed += 1;
                    keep.push(false);
                }
                None => {
                    report.kept += 1;
                    keep.push(true);
                }
            }
            Ok(())
        })?;
        if !keep.contains(&true) {
            continue;
        }
        let rg = call(path, Some(g), None, || file.get_row_group(g))?;
        let mut rg_writer = writer
            .next_row_group()
            .map_err(|e| write_err(Some(g), None, e))?;
        for c in &leaves {
            let reader = call(path, Some(g), Some(&c.name), || {
                rg.get_column_reader(c.leaf)
            })?;
            let mut col_writer = rg_writer
                .next_column()
                .map_err(|e| write_err(Some(g), Some(&c.name), e))?
                .ok_or_else(|| {
                    write_err(
                        Some(g),
                        Some(&c.name),
                        ParquetError::General(
                            "the writer has fewer columns than the schema".into(),
                        ),
                    )
                })?;
            let d = schema.column(c.leaf);
            let (max_def, max_rep) = (d.max_def_level(), d.max_rep_level());
            let copied = match catch_copy(reader, &mut col_writer, &keep, max_def, max_rep) {
                Ok(rows) => rows,
                Err(Failure::Read(e)) => return Err(decode_error(path, Some(g), Some(&c.name), e)),
                Err(Failure::Write(e)) => return Err(write_err(Some(g), Some(&c.name), e)),
                Err(Failure::Panic(why)) => {
                    return Err(parquet_error(
                        path,
                        Some(g),
                        Some(&c.name),
                        ParquetProblem::DecoderFailed(why),
                    ));
                }
            };
            if copied != keep.len() {
                return Err(parquet_error(
                    path,
                    Some(g),
                    Some(&c.name),
                    ParquetProblem::ShortColumn {
                        expected: keep.len() as u64,
                        found: copied as u64,
                    },
                ));
            }
            col_writer
                .close()
                .map_err(|e| write_err(Some(g), Some(&c.name), e))?;
        }
        rg_writer.close().map_err(|e| write_err(Some(g), None, e))?;
    }
    let out = writer.into_inner().map_err(|e| write_err(None, None, e))?;
    Ok((report, out))
}

/// Why copying a column stopped.
enum Failure {
    Read(ParquetError),
    Write(ParquetError),
    Panic(String),
}

/// Copies one column chunk, keeping the rows marked in `keep`; returns the rows read.
fn catch_copy(
    reader: ColumnReader,
    w: &mut SerializedColumnWriter<'_>,
    keep: &[bool],
    max_def: i16,
    max_rep: i16,
) -> Result<usize, Failure> {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match reader {
        ColumnReader::BoolColumnReader(mut r) => {
            copy::<BoolType>(&mut r, w.typed::<BoolType>(), keep, max_def, max_rep)
        }
        ColumnReader::Int32ColumnReader(mut r) => {
            copy::<Int32Type>(&mut r, w.typed::<Int32Type>(), keep, max_def, max_rep)
        }
        ColumnReader::Int64ColumnReader(mut r) => {
            copy::<Int64Type>(&mut r, w.typed::<Int64Type>(), keep, max_def, max_rep)
        }
        ColumnReader::Int96ColumnReader(mut r) => {
            copy::<Int96Type>(&mut r, w.typed::<Int96Type>(), keep, max_def, max_rep)
        }
        ColumnReader::FloatColumnReader(mut r) => {
            copy::<FloatType>(&mut r, w.typed::<FloatType>(), keep, max_def, max_rep)
        }
        ColumnReader::DoubleColumnReader(mut r) => {
            copy::<DoubleType>(&mut r, w.typed::<DoubleType>(), keep, max_def, max_rep)
        }
        ColumnReader::ByteArrayColumnReader(mut r) => {
            copy::<ByteArrayType>(&mut r, w.typed::<ByteArrayType>(), keep, max_def, max_rep)
        }
        ColumnReader::FixedLenByteArrayColumnReader(mut r) => copy::<FixedLenByteArrayType>(
            &mut r,
            w.typed::<FixedLenByteArrayType>(),
            keep,
            max_def,
            max_rep,
        ),
    }));
    match run {
        Ok(result) => result,
        Err(panic) => Err(Failure::Panic(panic_message(panic.as_ref()))),
    }
}

/// Reads whole records (a record is a row: levels from one repetition level 0 to the next)
/// and writes the levels and values of the kept ones.
fn copy<T: DataType>(
    r: &mut ColumnReaderImpl<T>,
    w: &mut ColumnWriterImpl<'_, T>,
    keep: &[bool],
    max_def: i16,
    max_rep: i16,
) -> Result<usize, Failure> {
    let (mut def, mut rep, mut values) = (Vec::new(), Vec::new(), Vec::new());
    let (mut out_def, mut out_rep, mut out_values) = (Vec::new(), Vec::new(), Vec::new());
    let mut record = 0usize;
    loop {
        def.clear();
        rep.clear();
        values.clear();
        let (records, _, levels) = r
            .read_records(COPY_BATCH, Some(&mut def), Some(&mut rep), &mut values)
            .map_err(Failure::Read)?;
        if records == 0 {
            return Ok(record);
        }
        out_def.clear();
        out_rep.clear();
        out_values.clear();
        if max_def == 0 && max_rep == 0 {
            // Flat required column: one value per record.
            for (k, v) in values.iter().enumerate() {
                if keep.get(record + k).copied().unwrap_or(false) {
                    out_values.push(v.clone());
                }
            }
            record += records;
        } else {
            let mut value = 0usize;
            // The batch starts at a record boundary; each later level with repetition
            // level 0 starts the next record.
            let mut current = record;
            for l in 0..levels {
                if l > 0 && (max_rep == 0 || rep.get(l) == Some(&0)) {
                    current += 1;
                }
                let has_value = max_def == 0 || def.get(l) == Some(&max_def);
                if keep.get(current).copied().unwrap_or(false) {
                    if max_def > 0 {
                        out_def.push(def[l]);
                    }
                    if max_rep > 0 {
                        out_rep.push(rep[l]);
                    }
                    if has_value && let Some(v) = values.get(value) {
                        out_values.push(v.clone());
                    }
                }
                if has_value {
                    value += 1;
                }
            }
            record += records;
        }
        let def_levels = (max_def > 0).then_some(out_def.as_slice());
        let rep_levels = (max_rep > 0).then_some(out_rep.as_slice());
        w.write_batch(&out_values, def_levels, rep_levels)
            .map_err(Failure::Write)?;
    }
}
