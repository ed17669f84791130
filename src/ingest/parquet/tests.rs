//! Parquet input: the same events and errors as the CSV contract, typed columns, corrupt
//! files, parallel reads, side files and erasure. Files are written with the `parquet`
//! crate's own writer.

use super::*;
use crate::erasure::{ErasedSet, ErasureKey};
use crate::ingest::error::{IngestError, Problem, RowError};
use crate::ingest::read::{Format, ReadReport, read_events, read_events_from};
use crate::ingest::store::StoreBuilder;
use crate::ingest::{LoadOptions, RawEvent, load_events};
use ::parquet::basic::Compression;
use ::parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DataType, DoubleType, FixedLenByteArray,
    FixedLenByteArrayType, FloatType, Int32Type, Int64Type, Int96, Int96Type,
};
use ::parquet::file::metadata::KeyValue;
use ::parquet::file::properties::WriterProperties;
use ::parquet::file::reader::FileReader;
use ::parquet::file::writer::{SerializedColumnWriter, SerializedFileWriter};
use ::parquet::schema::parser::parse_message_type;
use std::collections::HashSet;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

/// One column of test data, one entry per row; `None` is null.
#[derive(Clone)]
enum Data {
    Str(Vec<Option<&'static str>>),
    Bytes(Vec<Option<Vec<u8>>>),
    I32(Vec<Option<i32>>),
    I64(Vec<Option<i64>>),
    I96(Vec<Option<[u32; 3]>>),
    F32(Vec<Option<f32>>),
    F64(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Fixed(Vec<Option<Vec<u8>>>),
    /// A LIST of optional strings (`optional group (LIST) { repeated group list {
    /// optional binary element (STRING) } }`).
    List(Vec<Option<Vec<Option<&'static str>>>>),
}

impl Data {
    fn len(&self) -> usize {
        match self {
            Data::Str(v) => v.len(),
            Data::Bytes(v) | Data::Fixed(v) => v.len(),
            Data::I32(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::I96(v) => v.len(),
            Data::F32(v) => v.len(),
            Data::F64(v) => v.len(),
            Data::Bool(v) => v.len(),
            Data::List(v) => v.len(),
        }
    }
}

fn some<T: Clone>(v: &[T]) -> Vec<Option<T>> {
    v.iter().cloned().map(Some).collect()
}

/// Writes rows `rows` of a flat column (levels from the descriptor).
fn put<T: DataType>(w: &mut SerializedColumnWriter<'_>, vals: &[Option<T::T>], optional: bool)
where
    T::T: Clone,
{
    let values: Vec<T::T> = vals.iter().flatten().cloned().collect();
    let def: Vec<i16> = vals.iter().map(|v| i16::from(v.is_some())).collect();
    w.typed::<T>()
        .write_batch(&values, optional.then_some(def.as_slice()), None)
        .unwrap();
}

/// Writes a Parquet file: `schema` in the message-type syntax, one [`Data`] per leaf
/// column, `rows_per_group` rows per row group.
fn write_file(
    path: &Path,
    schema: &str,
    cols: &[Data],
    rows_per_group: usize,
    codec: Compression,
    kv: Option<Vec<KeyValue>>,
) {
    let schema = Arc::new(parse_message_type(schema).unwrap());
    let props = WriterProperties::builder()
        .set_compression(codec)
        .set_key_value_metadata(kv)
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = SerializedFileWriter::new(file, schema, Arc::new(props)).unwrap();
    let n = cols[0].len();
    let mut start = 0;
    while start < n {
        let end = (start + rows_per_group).min(n);
        let mut rg = w.next_row_group().unwrap();
        for c in cols {
            let mut cw = rg.next_column().unwrap().unwrap();
            let optional = {
                // Flat columns: optional when the schema says so.
                let d = match cw.untyped() {
                    ::parquet::column::writer::ColumnWriter::BoolColumnWriter(x) => {
                        x.get_descriptor().clone()
                    }
                    ::parquet::column::writer::ColumnWriter::Int32ColumnWriter(x) => {
                        x.get_descriptor().clone()
                    }
                    ::parquet::column::writer::ColumnWriter::Int64ColumnWriter(x) => {
                        x.get_descriptor().clone()
                    }
                    ::parquet::column::writer::ColumnWriter::Int96ColumnWriter(x) => {
                        x.get_descriptor().clone()
                    }
                    ::parquet::column::writer::ColumnWriter::FloatColumnWriter(x) => {
                        x.get_descriptor().clone()
                    }
                    ::parquet::column::writer::ColumnWriter::DoubleColumnWriter(x) => {
                        x.get_descriptor().clone()
                    }
                    ::parquet::column::writer::ColumnWriter::ByteArrayColumnWriter(x) => {
                        x.get_descriptor().clone()
                    }
                    ::parquet::column::writer::ColumnWriter::FixedLenByteArrayColumnWriter(x) => {
                        x.get_descriptor().clone()
                    }
                };
                d.max_def_level() > 0
            };
            let r = start..end;
            match c {
                Data::Str(v) => {
                    let v: Vec<Option<ByteArray>> =
                        v[r].iter().map(|s| s.map(ByteArray::from)).collect();
                    put::<ByteArrayType>(&mut cw, &v, optional)
                }
                Data::Bytes(v) => {
                    let v: Vec<Option<ByteArray>> = v[r]
                        .iter()
                        .map(|s| s.clone().map(ByteArray::from))
                        .collect();
                    put::<ByteArrayType>(&mut cw, &v, optional)
                }
                Data::Fixed(v) => {
                    let v: Vec<Option<FixedLenByteArray>> = v[r]
                        .iter()
                        .map(|s| s.clone().map(FixedLenByteArray::from))
                        .collect();
                    put::<FixedLenByteArrayType>(&mut cw, &v, optional)
                }
                Data::I32(v) => put::<Int32Type>(&mut cw, &v[r], optional),
                Data::I64(v) => put::<Int64Type>(&mut cw, &v[r], optional),
                Data::I96(v) => {
                    let v: Vec<Option<Int96>> = v[r]
                        .iter()
                        .map(|x| x.map(|x| Int96::from(x.to_vec())))
                        .collect();
                    put::<Int96Type>(&mut cw, &v, optional)
                }
                Data::F32(v) => put::<FloatType>(&mut cw, &v[r], optional),
                Data::F64(v) => put::<DoubleType>(&mut cw, &v[r], optional),
                Data::Bool(v) => put::<BoolType>(&mut cw, &v[r], optional),
                Data::List(v) => {
                    let (mut def, mut rep, mut values) = (Vec::new(), Vec::new(), Vec::new());
                    for row in &v[r] {
                        match row {
                            None => {
                                def.push(0);
                                rep.push(0);
                            }
                            Some(items) if items.is_empty() => {
                                def.push(1);
                                rep.push(0);
                            }
                            Some(items) => {
                                for (k, item) in items.iter().enumerate() {
                                    rep.push(i16::from(k > 0));
                                    match item {
                                        Some(s) => {
                                            def.push(3);
                                            values.push(ByteArray::from(*s));
                                        }
                                        None => def.push(2),
                                    }
                                }
                            }
                        }
                    }
                    cw.typed::<ByteArrayType>()
                        .write_batch(&values, Some(&def), Some(&rep))
                        .unwrap();
                }
            }
            cw.close().unwrap();
        }
        rg.close().unwrap();
        start = end;
    }
    w.close().unwrap();
}

fn events(path: &Path, skip: bool) -> Result<(Vec<RawEvent>, ReadReport), IngestError> {
    let mut out = Vec::new();
    let report = read_events(path, Format::Parquet, skip, |_, e| {
        out.push(RawEvent::from(e))
    })?;
    Ok((out, report))
}

fn csv_events(text: &str) -> Vec<RawEvent> {
    let mut out = Vec::new();
    read_events_from(
        text.as_bytes(),
        Path::new("x.csv"),
        Format::Csv,
        false,
        |_, e| out.push(RawEvent::from(e)),
    )
    .unwrap();
    out
}

/// Events compared with NaN prices equal (the store's "no price").
fn same(a: &[RawEvent], b: &[RawEvent]) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fn row_error(e: IngestError) -> RowError {
    match e {
        IngestError::Row(e) => *e,
        other => panic!("expected a row error, got {other}"),
    }
}

const STRING_SCHEMA: &str = "message events {
    required binary customer_id (STRING);
    optional binary item_id (STRING);
    optional binary timestamp (STRING);
    optional binary event (STRING);
    optional binary quantity (STRING);
    optional binary price (STRING);
    optional binary order_id (STRING);
    optional binary category (STRING);
    optional binary note (STRING);
}";

#[test]
fn string_columns_read_exactly_like_the_same_csv() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.parquet");
    let cols = [
        Data::Str(some(&["c1", " c2 ", "c1", "7", "c3"])),
        Data::Str(some(&["i1", "i2", "i3", "i1", "i2"])),
        Data::Str(some(&[
            "2024-01-05",
            "2024-01-06T10:00:00Z",
            "2024-01-06T10:00:00+02:00",
            "2024-02-01 08:30:00",
            "2024-02-02T00:00:00.250Z",
        ])),
        Data::Str(vec![
            None,
            Some("view"),
            Some(""),
            Some("RETURN"),
            Some("cart"),
        ]),
        Data::Str(vec![Some("2"), None, Some(" "), Some("-1"), Some("1.5")]),
        Data::Str(vec![Some("9.99"), Some("1"), None, Some(""), Some("0.5")]),
        Data::Str(vec![Some("o1"), None, Some("o1"), Some(" "), None]),
        Data::Str(vec![Some("dairy"), None, Some(""), Some("toys"), None]),
        Data::Str(vec![None; 5]),
    ];
    write_file(&path, STRING_SCHEMA, &cols, 2, Compression::SNAPPY, None);
    let csv = "customer_id,item_id,timestamp,event,quantity,price,order_id,category,note\n\
        c1,i1,2024-01-05,,2,9.99,o1,dairy,\n\
        \" c2 \",i2,2024-01-06T10:00:00Z,view,,1,,,\n\
        c1,i3,2024-01-06T10:00:00+02:00,,\" \",,o1,,\n\
        7,i1,2024-02-01 08:30:00,RETURN,-1,,\" \",toys,\n\
        c3,i2,2024-02-02T00:00:00.250Z,cart,1.5,0.5,,,\n";
    let (got, report) = events(&path, false).unwrap();
    assert!(same(&got, &csv_events(csv)), "{got:?}");
    assert_eq!(report.rows, 5);
    assert_eq!(report.ignored_columns, ["note"]);
    assert_eq!(got[1].customer_id, "c2");
    assert_eq!(got[3].order_id, None);
}

#[test]
fn typed_columns_give_the_values_their_types_mean() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typed.parquet");
    let schema = "message m {
        required int64 customer_id;
        required int32 item_id (INTEGER(32, false));
        required int64 timestamp (TIMESTAMP(MILLIS, true));
        optional int32 quantity;
        optional int64 price (DECIMAL(18, 2));
        optional fixed_len_byte_array(16) order_id (DECIMAL(38, 0));
        optional int32 category;
    }";
    let cols = [
        Data::I64(some(&[42, -7])),
        Data::I32(some(&[-1, 5])),
        // 2024-01-05T00:00:01.999Z, and 1969-12-31T23:59:59.500Z (floors like the CSV).
        Data::I64(some(&[1_704_412_801_999, -500])),
        Data::I32(vec![Some(3), None]),
        Data::I64(vec![Some(-1250), Some(5)]),
        Data::Fixed(vec![
            Some({
                let mut b = vec![0u8; 16];
                b[15] = 0x2A;
                b[14] = 0x01;
                b
            }),
            Some(vec![0xFF; 16]),
        ]),
        Data::I32(vec![Some(7), None]),
    ];
    write_file(&path, schema, &cols, 10, Compression::UNCOMPRESSED, None);
    let (got, _) = events(&path, false).unwrap();
    assert_eq!(got[0].customer_id, "42");
    assert_eq!(got[1].customer_id, "-7");
    assert_eq!(got[0].item_id, "4294967295");
    assert_eq!(got[0].timestamp, 1_704_412_801);
    assert_eq!(got[1].timestamp, -1);
    assert_eq!((got[0].quantity, got[1].quantity), (3.0, 1.0));
    assert_eq!((got[0].price, got[1].price), (-12.5, 0.05));
    assert_eq!(got[0].order_id.as_deref(), Some("298"));
    assert_eq!(got[1].order_id.as_deref(), Some("-1"));
    assert_eq!(got[0].category.as_deref(), Some("7"));
    assert_eq!(got[1].category, None);
}

#[test]
fn every_timestamp_type_reads_as_utc_seconds() {
    let dir = tempfile::tempdir().unwrap();
    // 2024-03-10T12:34:56Z
    let t = 1_710_074_096i64;
    let cases: Vec<(&str, Data, i64)> = vec![
        (
            "int64 timestamp (TIMESTAMP(MICROS, false))",
            Data::I64(vec![Some(t * 1_000_000 + 999_999)]),
            t,
        ),
        (
            "int64 timestamp (TIMESTAMP(NANOS, true))",
            Data::I64(vec![Some(t * 1_000_000_000)]),
            t,
        ),
        (
            "int64 timestamp (TIMESTAMP_MILLIS)",
            Data::I64(vec![Some(t * 1000)]),
            t,
        ),
        (
            "int32 timestamp (DATE)",
            Data::I32(vec![Some(19_792)]),
            19_792 * 86_400,
        ),
        (
            // Julian day 2460380 = 2024-03-10, plus 12:34:56 in nanoseconds.
            "int96 timestamp",
            Data::I96(vec![Some({
                let nanos: u64 = 45_296 * 1_000_000_000;
                [nanos as u32, (nanos >> 32) as u32, 2_460_380]
            })]),
            t,
        ),
    ];
    for (k, (ts_type, data, want)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("t{k}.parquet"));
        let schema = format!(
            "message m {{ required binary customer_id (STRING); required binary item_id (STRING); optional {ts_type}; }}"
        );
        write_file(
            &path,
            &schema,
            &[Data::Str(some(&["c"])), Data::Str(some(&["i"])), data],
            10,
            Compression::ZSTD(Default::default()),
            None,
        );
        let (got, _) = events(&path, false).unwrap();
        assert_eq!(got[0].timestamp, want, "{ts_type}");
    }
}

#[test]
fn numbers_in_every_numeric_type() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Data, f32)> = vec![
        ("float price", Data::F32(vec![Some(2.25)]), 2.25),
        ("double price", Data::F64(vec![Some(3.5)]), 3.5),
        (
            "int32 price (DECIMAL(9, 3))",
            Data::I32(vec![Some(12_345)]),
            12.345,
        ),
        (
            "binary price (DECIMAL(20, 2))",
            Data::Bytes(vec![Some(vec![0xFF, 0x38])]),
            -2.0,
        ),
        (
            "fixed_len_byte_array(5) price (DECIMAL(10, 2))",
            Data::Fixed(vec![Some(vec![0, 0, 0, 0x01, 0x2C])]),
            3.0,
        ),
        (
            "int64 price (INTEGER(64, false))",
            Data::I64(vec![Some(4)]),
            4.0,
        ),
        (
            "binary price (STRING)",
            Data::Str(vec![Some(" 1e1 ")]),
            10.0,
        ),
    ];
    for (k, (price_type, data, want)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("p{k}.parquet"));
        let schema = format!(
            "message m {{ required binary customer_id (STRING); required binary item_id (STRING); required binary timestamp (STRING); required {price_type}; }}"
        );
        write_file(
            &path,
            &schema,
            &[
                Data::Str(some(&["c"])),
                Data::Str(some(&["i"])),
                Data::Str(some(&["2024-01-01"])),
                data,
            ],
            10,
            Compression::SNAPPY,
            None,
        );
        let (got, _) = events(&path, false).unwrap();
        assert_eq!(got[0].price, want, "{price_type}");
    }
}

/// A file of 7 rows in row groups of 3 with a bad value in row 5 (row group 1).
fn with_bad_row(dir: &Path, column: usize, bad: Data) -> PathBuf {
    let path = dir.join(format!("bad{column}.parquet"));
    let schema = "message m {
        optional binary customer_id (STRING);
        required binary item_id (STRING);
        optional binary timestamp (STRING);
        optional binary event (STRING);
        optional double quantity;
    }";
    let mut cols = vec![
        Data::Str(some(&["c1", "c2", "c3", "c4", "c5", "c6", "c7"])),
        Data::Str(some(&["i"; 7])),
        Data::Str(some(&["2024-01-01"; 7])),
        Data::Str(vec![None; 7]),
        Data::F64(some(&[1.0; 7])),
    ];
    cols[column] = bad;
    write_file(&path, schema, &cols, 3, Compression::SNAPPY, None);
    path
}

#[test]
fn a_bad_value_names_file_row_group_row_and_column_and_can_be_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut ts = vec![Some("2024-01-01"); 7];
    ts[4] = Some("5/1/2024");
    let mut customers = some(&["c1", "c2", "c3", "c4", "c5", "c6", "c7"]);
    customers[4] = None;
    let mut kinds = vec![None; 7];
    kinds[4] = Some("refund");
    let mut quantity = some(&[1.0; 7]);
    quantity[4] = Some(0.0);
    let mut infinite = some(&[1.0; 7]);
    infinite[4] = Some(f64::INFINITY);
    let cases = [
        (2, Data::Str(ts), "timestamp", Problem::BadTimestamp),
        (
            0,
            Data::Str(customers),
            "customer_id",
            Problem::MissingValue,
        ),
        (3, Data::Str(kinds), "event", Problem::UnknownEventType),
        (
            4,
            Data::F64(quantity),
            "quantity",
            Problem::PurchaseQuantity,
        ),
        (4, Data::F64(infinite), "quantity", Problem::NotANumber),
    ];
    for (column, data, field, problem) in cases {
        let path = with_bad_row(dir.path(), column, data);
        let e = row_error(events(&path, false).unwrap_err());
        assert_eq!(
            (e.line, e.row_group, e.field.as_str(), e.problem.clone()),
            (5, Some(1), field, problem.clone()),
            "{e}"
        );
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!(
                "{}: row group 1, row 5, column \"{field}\": ",
                path.display()
            )),
            "{msg}"
        );
        if problem == Problem::BadTimestamp {
            assert!(
                msg.contains("\"5/1/2024\"")
                    && msg.ends_with("hint: export the column as a TIMESTAMP or DATE, or as text in RFC 3339 or YYYY-MM-DD"),
                "{msg}"
            );
        }
        let (got, report) = events(&path, true).unwrap();
        assert_eq!((got.len(), report.rows, report.skipped.total), (6, 6, 1));
        assert_eq!(report.skipped.examples[0].row_group, Some(1));
        assert!(got.iter().all(|e| e.customer_id != "c5"));
    }
    // Not UTF-8, in a text id.
    let path = dir.path().join("utf8.parquet");
    write_file(
        &path,
        "message m { required binary customer_id; required binary item_id (STRING); required binary timestamp (STRING); }",
        &[
            Data::Bytes(vec![Some(b"ok".to_vec()), Some(vec![0xFF, 0xFE])]),
            Data::Str(some(&["i", "i"])),
            Data::Str(some(&["2024-01-01", "2024-01-01"])),
        ],
        10,
        Compression::UNCOMPRESSED,
        None,
    );
    let e = row_error(events(&path, false).unwrap_err());
    assert_eq!((e.line, e.problem), (2, Problem::InvalidUtf8));
    // A TIMESTAMP past year 9999 (seconds written as milliseconds' unit mix-up, say).
    let path = dir.path().join("far.parquet");
    write_file(
        &path,
        "message m { required binary customer_id (STRING); required binary item_id (STRING); required int64 timestamp (TIMESTAMP(MICROS, true)); }",
        &[
            Data::Str(some(&["c"])),
            Data::Str(some(&["i"])),
            Data::I64(vec![Some(i64::MAX)]),
        ],
        10,
        Compression::UNCOMPRESSED,
        None,
    );
    let e = row_error(events(&path, false).unwrap_err());
    assert_eq!(
        (e.field.as_str(), e.problem),
        ("timestamp", Problem::BadTimestamp)
    );
}

/// A string leaked for the `'static` test data.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The error of reading `path` as events, or of reading it as an items or customers file.
fn first_error(path: &Path, what: &str) -> RowError {
    let e = match what {
        "events" => {
            let format = Format::guess(path).unwrap();
            read_events(path, format, false, |_, _| {}).unwrap_err()
        }
        "items" => {
            crate::ingest::sidefiles::read_items(path, &mut StoreBuilder::new(), false).unwrap_err()
        }
        _ => crate::ingest::sidefiles::read_customers(path, &mut StoreBuilder::new(), false, None)
            .unwrap_err(),
    };
    row_error(e)
}

#[test]
fn ids_quantities_and_prices_get_the_same_limits_as_in_csv() {
    let dir = tempfile::tempdir().unwrap();
    let long = leak("x".repeat(crate::ingest::MAX_ID_BYTES + 1));
    let at_limit = leak("y".repeat(crate::ingest::MAX_ID_BYTES));
    // Row 1 sits exactly at every limit and must load; row 2 breaks one of them.
    let cases: [(usize, &str, Problem); 7] = [
        (0, long, Problem::IdTooLong),
        (1, long, Problem::IdTooLong),
        (5, long, Problem::IdTooLong),
        (3, "1000001", Problem::OutOfRange { limit: "1000000" }),
        (3, "-2e6", Problem::OutOfRange { limit: "1000000" }),
        (
            4,
            "1000000001",
            Problem::OutOfRange {
                limit: "1000000000",
            },
        ),
        // Finite as a double, infinite as the stored f32.
        (
            4,
            "1e39",
            Problem::OutOfRange {
                limit: "1000000000",
            },
        ),
    ];
    let names = [
        "customer_id",
        "item_id",
        "timestamp",
        "quantity",
        "price",
        "order_id",
    ];
    for (k, (column, value, problem)) in cases.into_iter().enumerate() {
        let mut rows = [
            [
                at_limit,
                at_limit,
                "2024-01-01",
                "1000000",
                "1000000000",
                at_limit,
            ],
            ["c2", "i2", "2024-01-02", "1", "2.5", "o2"],
        ];
        rows[1][column] = value;
        let csv = dir.path().join(format!("e{k}.csv"));
        let mut text = names.join(",") + "\n";
        for r in &rows {
            text += &(r.join(",") + "\n");
        }
        std::fs::write(&csv, text).unwrap();
        let pq = dir.path().join(format!("e{k}.parquet"));
        let strings = |i: usize| Data::Str(rows.iter().map(|r| Some(r[i])).collect());
        let doubles = |i: usize| Data::F64(rows.iter().map(|r| r[i].parse().ok()).collect());
        write_file(
            &pq,
            "message m { required binary customer_id (STRING); required binary item_id (STRING); required binary timestamp (STRING); required double quantity; required double price; required binary order_id (STRING); }",
            &[
                strings(0),
                strings(1),
                strings(2),
                doubles(3),
                doubles(4),
                strings(5),
            ],
            1,
            Compression::SNAPPY,
            None,
        );
        let (from_csv, from_pq) = (first_error(&csv, "events"), first_error(&pq, "events"));
        assert_eq!(
            (from_pq.line, from_pq.field.as_str(), &from_pq.problem),
            (2, names[column], &problem),
            "{from_pq}"
        );
        // The CSV's line 3 is its second row (line 1 is the header).
        assert_eq!(
            (from_csv.line, from_csv.field.as_str(), &from_csv.problem),
            (3, names[column], &problem),
            "{from_csv}"
        );
        assert_eq!(from_pq.row_group, Some(1));
        // Skipping keeps the row at the limits, as the CSV read does.
        let (got, report) = events(&pq, true).unwrap();
        assert_eq!((report.rows, report.skipped.total), (1, 1));
        assert_eq!(got[0].customer_id, at_limit);
        assert_eq!((got[0].quantity, got[0].price), (1e6, 1e9));
    }

    // Side files: the item id and price, the customer id.
    let items = |ext: &str, id: &'static str, price: &str| {
        let path = dir
            .path()
            .join(format!("items-{}.{ext}", id.len() + price.len()));
        if ext == "csv" {
            std::fs::write(&path, format!("item_id,price\ni1,1\n{id},{price}\n")).unwrap();
        } else {
            write_file(
                &path,
                "message m { required binary item_id (STRING); required double price; }",
                &[
                    Data::Str(vec![Some("i1"), Some(id)]),
                    Data::F64(vec![Some(1.0), price.parse().ok()]),
                ],
                10,
                Compression::SNAPPY,
                None,
            );
        }
        first_error(&path, "items")
    };
    for (id, price, field, problem) in [
        (long, "1", "item_id", Problem::IdTooLong),
        (
            "i2",
            "2e9",
            "price",
            Problem::OutOfRange {
                limit: "1000000000",
            },
        ),
    ] {
        for (ext, line) in [("csv", 3), ("parquet", 2)] {
            let e = items(ext, id, price);
            assert_eq!(
                (e.line, e.field.as_str(), &e.problem),
                (line, field, &problem),
                "{e}"
            );
        }
    }
    let customers_pq = dir.path().join("customers.parquet");
    write_file(
        &customers_pq,
        "message m { required binary customer_id (STRING); optional int32 tier; }",
        &[
            Data::Str(vec![Some("c1"), Some(long)]),
            Data::I32(vec![Some(1), None]),
        ],
        10,
        Compression::SNAPPY,
        None,
    );
    let customers_csv = dir.path().join("customers.csv");
    std::fs::write(&customers_csv, format!("customer_id,tier\nc1,1\n{long},\n")).unwrap();
    for (path, line) in [(&customers_pq, 2), (&customers_csv, 3)] {
        let e = first_error(path, "customers");
        assert_eq!(
            (e.line, e.field.as_str(), &e.problem),
            (line, "customer_id", &Problem::IdTooLong),
            "{e}"
        );
    }
}

fn schema_error(schema: &str, cols: &[Data]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.parquet");
    write_file(&path, schema, cols, 10, Compression::SNAPPY, None);
    let e = events(&path, false).unwrap_err();
    assert!(matches!(e, IngestError::Parquet(_)), "{e}");
    let msg = e.to_string();
    assert!(msg.starts_with(&path.display().to_string()), "{msg}");
    msg
}

#[test]
fn missing_and_mistyped_columns_are_named_with_their_types() {
    let s = |v: &[&'static str]| Data::Str(some(v));
    let msg = schema_error(
        "message m { required binary customer_id (STRING); required binary item_id (STRING); required binary ts (STRING); }",
        &[s(&["c"]), s(&["i"]), s(&["2024-01-01"])],
    );
    assert!(
        msg.contains("column \"timestamp\": required column is missing from the schema [customer_id, item_id, ts]"),
        "{msg}"
    );
    let msg = schema_error(
        "message m { required boolean timestamp; required binary customer_id (STRING); required binary item_id (STRING); }",
        &[Data::Bool(some(&[true])), s(&["c"]), s(&["i"])],
    );
    assert!(
        msg.contains(
            "column \"timestamp\": has Parquet type BOOLEAN; it must be a string (RFC 3339"
        ),
        "{msg}"
    );
    let msg = schema_error(
        "message m { required double Customer_ID; required binary item_id (STRING); required binary timestamp (STRING); }",
        &[Data::F64(some(&[1.0])), s(&["i"]), s(&["2024-01-01"])],
    );
    assert!(
        msg.contains("column \"Customer_ID\": has Parquet type DOUBLE; it must be a string or an integer; hint: cast"),
        "{msg}"
    );
    let msg = schema_error(
        "message m { required binary customer_id (STRING); required binary item_id (STRING); required int64 timestamp; }",
        &[s(&["c"]), s(&["i"]), Data::I64(some(&[0]))],
    );
    assert!(msg.contains("has Parquet type INT64; it must be"), "{msg}");
    let msg = schema_error(
        "message m { required binary customer_id (STRING); required binary item_id (STRING); required binary timestamp (STRING); required int32 price (TIME(MILLIS, true)); }",
        &[
            s(&["c"]),
            s(&["i"]),
            s(&["2024-01-01"]),
            Data::I32(some(&[0])),
        ],
    );
    assert!(
        msg.contains("column \"price\": has Parquet type INT32 TIME(MILLIS)"),
        "{msg}"
    );
    let msg = schema_error(
        "message m { required binary customer_id (STRING); required binary item_id (STRING); required binary timestamp (STRING); required binary CUSTOMER_ID (STRING); }",
        &[s(&["c"]), s(&["i"]), s(&["2024-01-01"]), s(&["d"])],
    );
    assert!(
        msg.contains("column \"customer_id\": column appears twice"),
        "{msg}"
    );
    let msg = schema_error(
        "message m { optional group customer_id (LIST) { repeated group list { optional binary element (STRING); } } required binary item_id (STRING); required binary timestamp (STRING); }",
        &[
            Data::List(vec![Some(vec![Some("c")])]),
            s(&["i"]),
            s(&["2024-01-01"]),
        ],
    );
    assert!(
        msg.contains("column \"customer_id\": is a nested or repeated column"),
        "{msg}"
    );
}

/// A valid snappy file of two row groups, and the byte range of each column chunk.
fn sample_file(dir: &Path) -> (PathBuf, Vec<(usize, String, Range<u64>)>) {
    let path = dir.join("good.parquet");
    let n = 400;
    let ids: Vec<Option<&'static str>> = (0..n)
        .map(|k| Some(&*Box::leak(format!("c{}", k % 37).into_boxed_str())))
        .collect();
    let items: Vec<Option<&'static str>> = (0..n)
        .map(|k| {
            Some(&*Box::leak(
                format!("item-{}", k * 7919 % 1000).into_boxed_str(),
            ))
        })
        .collect();
    write_file(
        &path,
        "message m { required binary customer_id (STRING); required binary item_id (STRING); required int64 timestamp (TIMESTAMP(MICROS, true)); optional double price; }",
        &[
            Data::Str(ids),
            Data::Str(items),
            Data::I64(
                (0..n)
                    .map(|k| Some(1_700_000_000_000_000 + k as i64 * 3_600_000_000))
                    .collect(),
            ),
            Data::F64(
                (0..n)
                    .map(|k| (k % 5 != 0).then_some(k as f64 / 8.0))
                    .collect(),
            ),
        ],
        n / 2,
        Compression::SNAPPY,
        None,
    );
    let file = open_file(&path).unwrap();
    let mut chunks = Vec::new();
    for (g, rg) in file.metadata().row_groups().iter().enumerate() {
        for c in rg.columns() {
            let (start, len) = c.byte_range();
            chunks.push((g, c.column_path().string(), start..start + len));
        }
    }
    (path, chunks)
}

#[test]
fn corrupt_and_foreign_files_are_refused_naming_what_is_known() {
    let dir = tempfile::tempdir().unwrap();
    let (good, chunks) = sample_file(dir.path());
    let bytes = std::fs::read(&good).unwrap();

    let not = dir.path().join("e.parquet");
    std::fs::write(&not, "customer_id,item_id,timestamp\nc,i,2024-01-01\n").unwrap();
    let msg = events(&not, false).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("{}: not a Parquet file", not.display())) && msg.contains("hint"),
        "{msg}"
    );
    std::fs::write(&not, "").unwrap();
    assert!(
        events(&not, false)
            .unwrap_err()
            .to_string()
            .contains("not a Parquet file")
    );
    // Cut short: the footer is gone.
    std::fs::write(&not, &bytes[..bytes.len() / 2]).unwrap();
    assert!(
        events(&not, false)
            .unwrap_err()
            .to_string()
            .contains("not a Parquet file")
    );

    // Garbage in the middle of one compressed column chunk: the error names its row group
    // and column.
    let (g, column, range) = chunks
        .iter()
        .find(|(g, c, _)| *g == 1 && c == "item_id")
        .cloned()
        .unwrap();
    let mut bad = bytes.clone();
    let mid = (range.start + range.end) as usize / 2;
    for b in &mut bad[mid..mid + 16] {
        *b ^= 0x5A;
    }
    std::fs::write(&not, &bad).unwrap();
    let e = events(&not, false).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(&e, IngestError::Parquet(p) if p.row_group == Some(1) && p.column.as_deref() == Some(column.as_str())),
        "{msg}"
    );
    assert!(
        msg.starts_with(&format!(
            "{}, row group {g}, column \"item_id\": ",
            not.display()
        )),
        "{msg}"
    );
}

/// A copy of `src` whose footer says the chunks of leaf column `leaf` are compressed with
/// `codec`. (This build cannot write GZIP; the reader refuses a codec from the footer alone,
/// before reading any page, so the pages need not match.)
fn with_codec(src: &Path, dst: &Path, leaf: usize, codec: Compression) {
    let bytes = std::fs::read(src).unwrap();
    let tail = bytes.len() - 8;
    let footer_len = u32::from_le_bytes(bytes[tail..tail + 4].try_into().unwrap()) as usize;
    let mut out = bytes[..tail - footer_len].to_vec();
    let mut meta = open_file(src).unwrap().metadata().clone().into_builder();
    let groups = meta
        .take_row_groups()
        .into_iter()
        .map(|rg| {
            let cols = rg
                .columns()
                .iter()
                .enumerate()
                .map(|(i, c)| match i == leaf {
                    true => c
                        .clone()
                        .into_builder()
                        .set_compression(codec)
                        .build()
                        .unwrap(),
                    false => c.clone(),
                })
                .collect();
            rg.into_builder().set_column_metadata(cols).build().unwrap()
        })
        .collect();
    let meta = meta.set_row_groups(groups).build();
    ::parquet::file::metadata::ParquetMetaDataWriter::new(&mut out, &meta)
        .finish()
        .unwrap();
    std::fs::write(dst, out).unwrap();
}

#[test]
fn a_codec_this_build_does_not_read_is_named_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let (good, _) = sample_file(dir.path());
    for (codec, name) in [
        (Compression::GZIP(Default::default()), "GZIP"),
        (Compression::LZ4_RAW, "LZ4_RAW"),
        (Compression::BROTLI(Default::default()), "BROTLI"),
    ] {
        let path = dir.path().join(format!("{name}.parquet"));
        with_codec(&good, &path, 1, codec);
        let e = events(&path, false).unwrap_err();
        assert!(
            matches!(&e, IngestError::Parquet(p) if p.row_group == Some(0) && p.column.as_deref() == Some("item_id")),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "{}, row group 0, column \"item_id\": is compressed with {name}, which this \
                 build does not read; hint: export with compression SNAPPY (the usual \
                 default) or ZSTD",
                path.display()
            )
        );
        // erase refuses it as well, before writing anything.
        let gone: HashSet<String> = ["c1".to_string()].into();
        let mut out = Vec::new();
        assert!(erase::erase_customers(&path, &gone, &mut out, &path).is_err());
        assert!(out.is_empty());
    }
    // The rewritten footer itself is sound: the same file said SNAPPY reads.
    let same = dir.path().join("same.parquet");
    with_codec(&good, &same, 1, Compression::SNAPPY);
    assert_eq!(events(&same, false).unwrap().1.rows, 400);
}

#[test]
fn no_corruption_of_any_byte_makes_the_reader_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (good, _) = sample_file(dir.path());
    let bytes = std::fs::read(&good).unwrap();
    let path = dir.path().join("fuzz.parquet");
    // Every 7th byte (pages, headers, footer), each set to a few values in turn.
    let mut refused = 0;
    for at in (0..bytes.len()).step_by(7) {
        for v in [0x00, 0xFF, bytes[at] ^ 0x01] {
            let mut bad = bytes.clone();
            bad[at] = v;
            std::fs::write(&path, &bad).unwrap();
            let opts = LoadOptions {
                format: Some(Format::Parquet),
                ..LoadOptions::default()
            };
            if load_events(&path, &opts).is_err() {
                refused += 1;
            }
        }
    }
    assert!(refused > 0);
}

/// A log of `n` rows in row groups of `group` rows, with bad timestamps at rows 47, 300.
fn big_log(dir: &Path, n: usize, group: usize) -> PathBuf {
    let path = dir.join(format!("big-{group}.parquet"));
    let leak = |s: String| -> Option<&'static str> { Some(Box::leak(s.into_boxed_str())) };
    let ts = (0..n)
        .map(|k| match k + 1 {
            47 | 300 => leak("yesterday".into()),
            _ => leak(format!(
                "2024-0{}-1{}T0{}:00:00Z",
                1 + k % 9,
                k % 10,
                k % 10
            )),
        })
        .collect();
    write_file(
        &path,
        "message m { required binary customer_id (STRING); required int64 item_id; optional binary timestamp (STRING); optional binary order_id (STRING); }",
        &[
            Data::Str((0..n).map(|k| leak(format!("c{}", k * 31 % 97))).collect()),
            Data::I64((0..n).map(|k| Some((k % 13) as i64)).collect()),
            Data::Str(ts),
            Data::Str(
                (0..n)
                    .map(|k| {
                        if k % 5 == 0 {
                            leak(format!("o{}", k / 10))
                        } else {
                            None
                        }
                    })
                    .collect(),
            ),
        ],
        group,
        Compression::SNAPPY,
        None,
    );
    path
}

#[test]
fn parallel_reads_equal_the_sequential_read() {
    let dir = tempfile::tempdir().unwrap();
    for group in [1000, 64, 7] {
        let path = big_log(dir.path(), 500, group);
        let load = |skip: bool, min: u64, exclude: Option<&ErasedSet>| {
            let (b, r) = read_to_builder(&path, skip, min, exclude)?;
            let (store, notes) = b.finish(&path)?;
            Ok::<_, IngestError>((format!("{store:?} {notes:?}"), r))
        };
        let (seq, seq_report) = load(true, u64::MAX, None).unwrap();
        assert_eq!((seq_report.rows, seq_report.skipped.total), (498, 2));
        for min in [1, 50, 170] {
            // Parts start inside row groups as well as at their boundaries.
            let (par, par_report) = load(true, min, None).unwrap();
            assert!(par == seq, "group {group}, min {min}: stores differ");
            assert_eq!(par_report, seq_report, "group {group}, min {min}");
            let e = row_error(load(false, min, None).unwrap_err());
            assert_eq!((e.line, e.field.as_str()), (47, "timestamp"));
            assert_eq!(e.row_group, Some(46 / group as u32));
        }
        // Erased as the journal records it: by keyed hash, not by id.
        let key = ErasureKey::from_bytes([3; 16]);
        let mut gone = ErasedSet::with_key(Some(key));
        gone.insert_hash(key.hash("c0"));
        let (seq, r1) = load(true, u64::MAX, Some(&gone)).unwrap();
        let (par, r2) = load(true, 1, Some(&gone)).unwrap();
        assert!(seq == par);
        let c0 = (0..500)
            .filter(|k| k * 31 % 97 == 0 && ![46, 299].contains(k))
            .count();
        assert_eq!((r1.excluded, r2.excluded), (c0 as u64, c0 as u64));
    }
}

#[test]
fn a_parquet_stream_reads_like_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = big_log(dir.path(), 100, 30);
    let (from_file, _) = events(&path, true).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let mut from_stream = Vec::new();
    let report = read_events_from(&bytes[..], &path, Format::Parquet, true, |_, e| {
        from_stream.push(RawEvent::from(e))
    })
    .unwrap();
    assert!(same(&from_file, &from_stream));
    assert_eq!((report.rows, report.skipped.total), (99, 1));
}

#[test]
fn format_is_guessed_from_the_parquet_extension() {
    assert_eq!(
        Format::guess(Path::new("a/b.parquet")).unwrap(),
        Format::Parquet
    );
    assert_eq!(
        Format::guess(Path::new("B.PARQUET")).unwrap(),
        Format::Parquet
    );
    assert!(is_parquet_path(Path::new("x.Parquet")) && !is_parquet_path(Path::new("x.csv")));
}

#[test]
fn side_files_as_parquet_load_like_their_csv() {
    let dir = tempfile::tempdir().unwrap();
    let events_csv = dir.path().join("e.csv");
    std::fs::write(
        &events_csv,
        "customer_id,item_id,timestamp,category\nc1,i1,2024-01-01,from-events\nc2,i2,2024-01-02,\n",
    )
    .unwrap();
    let items_csv = dir.path().join("items.csv");
    std::fs::write(
        &items_csv,
        "item_id,category,name,price,available,colour\ni1,dairy,Milk,1.5,yes,white\ni9,,Bread,,0,\n7,toys,,2,true,\n",
    )
    .unwrap();
    let customers_csv = dir.path().join("customers.csv");
    std::fs::write(
        &customers_csv,
        "region,customer_id,tier,vip,since\nnorth,c1,3,true,2020-01-02\n,c2,,false,\nsouth,c5,1,,\n",
    )
    .unwrap();
    let items_pq = dir.path().join("items.parquet");
    write_file(
        &items_pq,
        "message m { required binary item_id (STRING); optional binary category (STRING); optional binary name (STRING); optional double price; optional boolean available; optional binary colour (STRING); }",
        &[
            Data::Str(some(&["i1", "i9", "7"])),
            Data::Str(vec![Some("dairy"), None, Some("toys")]),
            Data::Str(vec![Some("Milk"), Some("Bread"), None]),
            Data::F64(vec![Some(1.5), None, Some(2.0)]),
            Data::Bool(vec![Some(true), Some(false), Some(true)]),
            Data::Str(vec![Some("white"), None, None]),
        ],
        2,
        Compression::SNAPPY,
        None,
    );
    let customers_pq = dir.path().join("customers.parquet");
    write_file(
        &customers_pq,
        "message m { optional binary region (STRING); required binary customer_id (STRING); optional int32 tier; optional boolean vip; optional int32 since (DATE); }",
        &[
            Data::Str(vec![Some("north"), None, Some("south")]),
            Data::Str(some(&["c1", "c2", "c5"])),
            Data::I32(vec![Some(3), None, Some(1)]),
            Data::Bool(vec![Some(true), Some(false), None]),
            Data::I32(vec![Some(18_263), None, None]),
        ],
        2,
        Compression::SNAPPY,
        None,
    );
    let load = |items: &Path, customers: &Path| {
        let opts = LoadOptions {
            items: Some(items.to_path_buf()),
            customers: Some(customers.to_path_buf()),
            exclude_customers: ["c2".to_string()].into(),
            ..LoadOptions::default()
        };
        let (store, report) = load_events(&events_csv, &opts).unwrap();
        (format!("{store:?}"), report)
    };
    let (csv_store, csv_report) = load(&items_csv, &customers_csv);
    let (pq_store, pq_report) = load(&items_pq, &customers_pq);
    assert_eq!(pq_store, csv_store);
    assert_eq!(pq_report.items, csv_report.items);
    assert_eq!(pq_report.customers, csv_report.customers);
    assert_eq!(pq_report.items.unwrap().ignored_columns, ["colour"]);

    // A bad flag names its row group, row and column; skipping counts it.
    let bad = dir.path().join("bad-items.parquet");
    write_file(
        &bad,
        "message m { required int64 item_id; optional int32 available; }",
        &[
            Data::I64(some(&[1, 2, 3])),
            Data::I32(vec![Some(1), Some(0), Some(2)]),
        ],
        2,
        Compression::SNAPPY,
        None,
    );
    let mut b = StoreBuilder::new();
    let e = row_error(read_items(&bad, &mut b, false).unwrap_err());
    assert_eq!(
        (e.line, e.row_group, e.field.as_str()),
        (3, Some(1), "available")
    );
    assert!(e.to_string().contains("hint: use true/false"), "{e}");
    let r = read_items(&bad, &mut StoreBuilder::new(), true).unwrap();
    assert_eq!((r.rows, r.skipped.total), (2, 1));
    // A customers file without its id column.
    let e = read_customers(&items_pq, &mut StoreBuilder::new(), false, None).unwrap_err();
    assert!(
        e.to_string()
            .contains("column \"customer_id\": required column is missing"),
        "{e}"
    );
}

/// Every row of a Parquet file, as the `parquet` crate's record API prints it.
fn rows_of(path: &Path) -> Vec<String> {
    let file = open_file(path).unwrap();
    file.get_row_iter(None)
        .unwrap()
        .map(|r| r.unwrap().to_string())
        .collect()
}

#[test]
fn erase_writes_the_same_schema_metadata_and_codecs_without_the_customers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.parquet");
    let schema = "message events {
        required binary customer_id (STRING);
        required int64 item_id;
        required int64 timestamp (TIMESTAMP(MICROS, true));
        optional double price;
        optional group tags (LIST) { repeated group list { optional binary element (STRING); } }
        optional int96 legacy;
        optional fixed_len_byte_array(2) code;
    }";
    let ids = ["c1", "c2", "c1", "c3", "c1", "c2", "c1"];
    let kv = vec![KeyValue::new("writer".to_string(), "dbt".to_string())];
    write_file(
        &path,
        schema,
        &[
            Data::Str(some(&ids)),
            Data::I64((0..7).map(Some).collect()),
            Data::I64((0..7).map(|k| Some(k * 1_000_000)).collect()),
            Data::F64(vec![
                Some(1.0),
                None,
                Some(2.0),
                None,
                Some(3.0),
                Some(4.0),
                None,
            ]),
            Data::List(vec![
                Some(vec![Some("a"), None]),
                None,
                Some(vec![]),
                Some(vec![Some("b"), Some("c"), Some("d")]),
                None,
                Some(vec![Some("e")]),
                Some(vec![None]),
            ]),
            Data::I96(
                (0..7)
                    .map(|k| (k % 2 == 0).then_some([k as u32, 0, 2_460_000]))
                    .collect(),
            ),
            Data::Fixed((0..7).map(|k| Some(vec![k as u8, 9])).collect()),
        ],
        3,
        Compression::ZSTD(Default::default()),
        Some(kv.clone()),
    );
    let out = dir.path().join("out.parquet");
    let gone: HashSet<String> = ["c1".to_string(), "nobody".to_string()].into();
    let file = std::fs::File::create(&out).unwrap();
    let (report, _) = erase::erase_customers(&path, &gone, file, &out).unwrap();
    assert_eq!((report.kept, report.removed), (3, 4));
    assert_eq!(report.missing(), ["nobody"]);
    // The format-generic entry point, given the file as a stream, writes the same bytes.
    let mut from_stream = Vec::new();
    let input = std::fs::read(&path).unwrap();
    let again = crate::ingest::erase_customers(
        &input[..],
        &path,
        Format::Parquet,
        &gone,
        &mut from_stream,
        &out,
    )
    .unwrap();
    assert_eq!(again, report);
    assert!(from_stream == std::fs::read(&out).unwrap());

    let want: Vec<String> = rows_of(&path)
        .into_iter()
        .filter(|r| !r.starts_with("{customer_id: \"c1\""))
        .collect();
    assert_eq!(want.len(), 3);
    assert_eq!(rows_of(&out), want);
    let (a, b) = (open_file(&path).unwrap(), open_file(&out).unwrap());
    let (a, b) = (a.metadata(), b.metadata());
    assert_eq!(
        a.file_metadata().schema_descr().root_schema(),
        b.file_metadata().schema_descr().root_schema()
    );
    assert_eq!(b.file_metadata().key_value_metadata(), Some(&kv));
    // Row group 1 (rows 4-6) lost c1's rows 5 and 7, row group 0 kept c2 and row group 2
    // (row 7) is gone entirely.
    assert_eq!(b.num_row_groups(), 2);
    assert!(b.row_groups().iter().all(|rg| {
        rg.columns()
            .iter()
            .all(|c| matches!(c.compression(), Compression::ZSTD(_)))
    }));
    // What was erased cannot be read back; the rest reads as before.
    let (left, _) = events(&out, false).unwrap();
    assert_eq!(
        left.iter()
            .map(|e| e.customer_id.as_str())
            .collect::<Vec<_>>(),
        ["c2", "c3", "c2"]
    );
}

#[test]
fn erase_refuses_a_row_without_a_customer_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = with_bad_row(
        dir.path(),
        0,
        Data::Str(vec![
            Some("c1"),
            Some("c2"),
            Some("c3"),
            Some("c4"),
            None,
            Some("c6"),
            Some("c7"),
        ]),
    );
    let out = dir.path().join("out.parquet");
    let gone: HashSet<String> = ["c1".to_string()].into();
    let e = erase::erase_customers(&path, &gone, Vec::new(), &out).unwrap_err();
    let e = row_error(e);
    assert_eq!(
        (e.line, e.row_group, e.field.as_str()),
        (5, Some(1), "customer_id")
    );
}
