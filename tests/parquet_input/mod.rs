//! Parquet input end to end: a Parquet copy of a synthetic log (typed columns, several row
//! groups, written here with the `parquet` crate) loads, featurises and trains exactly like
//! the CSV it was made from; side files may be Parquet; bad files are refused naming file,
//! row group and column; `erase` rewrites Parquet as Parquet.

use crate::trainer;
use ::parquet::basic::{Compression, ZstdLevel};
use ::parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use ::parquet::file::properties::WriterProperties;
use ::parquet::file::writer::{SerializedColumnWriter, SerializedFileWriter};
use ::parquet::schema::parser::parse_message_type;
use propensity::ingest::{Format, RawEvent, read_events};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exit status 2 and the error on stderr.
fn refused(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    stderr
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// One column's values for a row range; `None` is null.
enum Col<'a> {
    Str(&'a [Option<String>]),
    I32(&'a [Option<i32>]),
    I64(&'a [Option<i64>]),
    F64(&'a [Option<f64>]),
    Bool(&'a [Option<bool>]),
}

fn put<T: ::parquet::data_type::DataType>(w: &mut SerializedColumnWriter<'_>, v: &[Option<T::T>])
where
    T::T: Clone,
{
    let values: Vec<T::T> = v.iter().flatten().cloned().collect();
    let def: Vec<i16> = v.iter().map(|x| i16::from(x.is_some())).collect();
    w.typed::<T>()
        .write_batch(&values, Some(&def), None)
        .expect("write batch");
}

/// Writes `cols` (all optional in `schema`) in row groups of `group` rows, zstd.
fn write_parquet(path: &Path, schema: &str, cols: &[Col<'_>], rows: usize, group: usize) {
    let schema = Arc::new(parse_message_type(schema).expect("schema"));
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let file = std::fs::File::create(path).expect("create");
    let mut w = SerializedFileWriter::new(file, schema, Arc::new(props)).expect("writer");
    for start in (0..rows).step_by(group) {
        let r = start..(start + group).min(rows);
        let mut rg = w.next_row_group().expect("row group");
        for c in cols {
            let mut cw = rg.next_column().expect("column").expect("one per leaf");
            match c {
                Col::Str(v) => {
                    let v: Vec<Option<ByteArray>> = v[r.clone()]
                        .iter()
                        .map(|x| x.as_deref().map(ByteArray::from))
                        .collect();
                    put::<ByteArrayType>(&mut cw, &v)
                }
                Col::I32(v) => put::<Int32Type>(&mut cw, &v[r.clone()]),
                Col::I64(v) => put::<Int64Type>(&mut cw, &v[r.clone()]),
                Col::F64(v) => put::<DoubleType>(&mut cw, &v[r.clone()]),
                Col::Bool(v) => put::<BoolType>(&mut cw, &v[r.clone()]),
            }
            cw.close().expect("close column");
        }
        rg.close().expect("close row group");
    }
    w.close().expect("close file");
}

/// A synthetic log as CSV and as Parquet, with its items and a customers file in both.
struct Log {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    csv: PathBuf,
    parquet: PathBuf,
    items_csv: PathBuf,
    items_parquet: PathBuf,
    customers_csv: PathBuf,
    customers_parquet: PathBuf,
}

fn log() -> Log {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let csv = dir.join("events.csv");
    ok(&trainer(&[
        "synth",
        "--customers",
        "300",
        "--items",
        "80",
        "--days",
        "240",
        "--seed",
        "11",
        "--out",
        s(&csv),
    ]));

    // Events: ids as strings, the time as TIMESTAMP(MICROS), the quantity as INT64, the
    // price as DOUBLE (null when absent), in row groups of 2,000 rows.
    let mut events = Vec::new();
    read_events(&csv, Format::Csv, false, |_, e| {
        events.push(RawEvent::from(e))
    })
    .expect("csv");
    let n = events.len();
    assert!(n > 4000, "several row groups: {n} rows");
    let customer: Vec<_> = events.iter().map(|e| Some(e.customer_id.clone())).collect();
    let item: Vec<_> = events.iter().map(|e| Some(e.item_id.clone())).collect();
    let ts: Vec<_> = events
        .iter()
        .map(|e| Some(e.timestamp * 1_000_000))
        .collect();
    let kind: Vec<_> = events
        .iter()
        .map(|e| Some(e.kind.as_str().to_string()))
        .collect();
    let quantity: Vec<_> = events
        .iter()
        .map(|e| {
            assert_eq!(e.quantity.fract(), 0.0);
            Some(e.quantity as i64)
        })
        .collect();
    let price: Vec<_> = events
        .iter()
        .map(|e| (!e.price.is_nan()).then_some(f64::from(e.price)))
        .collect();
    let order: Vec<_> = events.iter().map(|e| e.order_id.clone()).collect();
    let parquet = dir.join("events.parquet");
    write_parquet(
        &parquet,
        "message events {
            optional binary customer_id (STRING);
            optional binary item_id (STRING);
            optional int64 timestamp (TIMESTAMP(MICROS, true));
            optional binary event (STRING);
            optional int64 quantity;
            optional double price;
            optional binary order_id (STRING);
        }",
        &[
            Col::Str(&customer),
            Col::Str(&item),
            Col::I64(&ts),
            Col::Str(&kind),
            Col::I64(&quantity),
            Col::F64(&price),
            Col::Str(&order),
        ],
        n,
        2000,
    );

    // Items: the synthetic catalogue, `available` as BOOLEAN.
    let items_csv = dir.join("events.items.csv");
    let mut rdr = csv::Reader::from_path(&items_csv).expect("items csv");
    let (mut id, mut cat, mut name, mut p, mut avail) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for rec in rdr.records() {
        let rec = rec.expect("items row");
        let opt = |i: usize| Some(rec[i].to_string()).filter(|v| !v.is_empty());
        id.push(opt(0));
        cat.push(opt(1));
        name.push(opt(2));
        p.push(opt(3).map(|v| v.parse::<f64>().expect("price")));
        avail.push(opt(4).map(|v| v == "true"));
    }
    let items_parquet = dir.join("items.parquet");
    write_parquet(
        &items_parquet,
        "message items {
            optional binary item_id (STRING);
            optional binary category (STRING);
            optional binary name (STRING);
            optional double price;
            optional boolean available;
        }",
        &[
            Col::Str(&id),
            Col::Str(&cat),
            Col::Str(&name),
            Col::F64(&p),
            Col::Bool(&avail),
        ],
        id.len(),
        30,
    );

    // Customers: a numeric tier attribute (INT32 in Parquet), missing for every 7th.
    let mut ids: Vec<String> = events.iter().map(|e| e.customer_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let tier: Vec<Option<i32>> = (0..ids.len())
        .map(|k| (k % 7 != 0).then_some((k % 3) as i32))
        .collect();
    let customers_csv = dir.join("customers.csv");
    let mut text = String::from("customer_id,tier\n");
    for (c, t) in ids.iter().zip(&tier) {
        text.push_str(&format!(
            "{c},{}\n",
            t.map(|t| t.to_string()).unwrap_or_default()
        ));
    }
    std::fs::write(&customers_csv, text).expect("customers csv");
    let customers_parquet = dir.join("customers.parquet");
    let cid: Vec<_> = ids.iter().cloned().map(Some).collect();
    write_parquet(
        &customers_parquet,
        "message customers { optional binary customer_id (STRING); optional int32 tier; }",
        &[Col::Str(&cid), Col::I32(&tier)],
        ids.len(),
        100,
    );
    Log {
        _dir: tmp,
        dir,
        csv,
        parquet,
        items_csv,
        items_parquet,
        customers_csv,
        customers_parquet,
    }
}

fn stats_json(events: &Path, side: &[&str]) -> Value {
    let mut args = vec!["stats", "--events", s(events), "--json"];
    args.extend_from_slice(side);
    serde_json::from_str(&ok(&trainer(&args))).expect("stats json")
}

#[test]
fn a_parquet_copy_loads_featurises_and_trains_exactly_like_the_csv() {
    let log = log();
    let csv_side = [
        "--items",
        s(&log.items_csv),
        "--customers",
        s(&log.customers_csv),
    ];
    let pq_side = [
        "--items",
        s(&log.items_parquet),
        "--customers",
        s(&log.customers_parquet),
    ];

    // The same store: rows, ids, baskets, range, kinds, categories, attributes.
    let from_csv = stats_json(&log.csv, &csv_side);
    let from_parquet = stats_json(&log.parquet, &pq_side);
    assert_eq!(from_csv, from_parquet);
    assert_eq!(from_csv["customer_attributes"], serde_json::json!(["tier"]));
    assert!(from_csv["baskets"].as_u64().expect("baskets") > 1000);
    let text = ok(&trainer(&["stats", "--events", s(&log.parquet)]));
    assert!(text.contains("(parquet)"), "{text}");

    // The same feature table, byte for byte.
    let features = |events: &Path, side: &[&str], out: &Path| {
        let mut args = vec![
            "features",
            "--events",
            s(events),
            "--cutoff",
            "2024-07-01",
            "--horizon-days",
            "28",
            "--out",
            s(out),
        ];
        args.extend_from_slice(side);
        ok(&trainer(&args));
        std::fs::read(out).expect("features")
    };
    let f_csv = features(&log.csv, &csv_side, &log.dir.join("f-csv.csv"));
    let f_pq = features(&log.parquet, &pq_side, &log.dir.join("f-pq.csv"));
    assert!(f_csv.len() > 1000);
    assert!(f_csv == f_pq, "feature tables differ");

    // The same models: metrics, feature importance, counts and data range.
    let train = |events: &Path, side: &[&str], out: &Path| {
        let mut args = vec!["train", "--events", s(events), "--out", s(out)];
        args.extend_from_slice(side);
        ok(&trainer(&args));
        let mut v: Value = serde_json::from_str(&ok(&trainer(&["inspect", s(out), "--json"])))
            .expect("inspect json");
        // What differs between any two runs: the time, and the names and sizes derived
        // from it.
        let o = v.as_object_mut().expect("object");
        for k in ["created_at", "model_version", "len_bytes", "sections"] {
            o.remove(k);
        }
        o["metrics"]
            .as_object_mut()
            .expect("metrics")
            .remove("train.seconds");
        v
    };
    let m_csv = train(&log.csv, &csv_side, &log.dir.join("csv.bundle"));
    let m_pq = train(&log.parquet, &pq_side, &log.dir.join("pq.bundle"));
    assert!(
        !m_csv["metrics"].as_object().expect("metrics").is_empty(),
        "{m_csv}"
    );
    assert_eq!(m_csv, m_pq);
}

/// Corrupts 16 bytes in the middle of row group 1's `item_id` chunk.
fn corrupt_item_ids(src: &Path, dst: &Path) {
    use ::parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(src).expect("open")).expect("read");
    let chunk = reader.metadata().row_group(1).column(1);
    assert_eq!(chunk.column_path().string(), "item_id");
    let (start, len) = chunk.byte_range();
    let mut bytes = std::fs::read(src).expect("read");
    let mid = (start + len / 2) as usize;
    for b in &mut bytes[mid..mid + 16] {
        *b ^= 0xA5;
    }
    std::fs::write(dst, bytes).expect("write");
}

#[test]
fn bad_parquet_is_refused_naming_file_row_group_and_column() {
    let log = log();
    let stats = |p: &Path, extra: &[&str]| {
        let mut args = vec!["stats", "--events", s(p)];
        args.extend_from_slice(extra);
        trainer(&args)
    };

    // Not Parquet at all (a CSV with the wrong name).
    let fake = log.dir.join("fake.parquet");
    std::fs::copy(&log.csv, &fake).expect("copy");
    let e = refused(&stats(&fake, &[]));
    assert!(
        e.contains(&format!("{}: not a Parquet file", fake.display())),
        "{e}"
    );

    // A missing required column: the items file given as events.
    let e = refused(&stats(&log.items_parquet, &[]));
    assert!(
        e.contains(&format!(
            "{}, column \"customer_id\": required column is missing from the schema [item_id, category, name, price, available]",
            log.items_parquet.display()
        )),
        "{e}"
    );

    // A column of the wrong type.
    let wrong = log.dir.join("wrong.parquet");
    let ids: Vec<Option<String>> = vec![Some("c1".into())];
    write_parquet(
        &wrong,
        "message m { optional binary customer_id (STRING); optional binary item_id (STRING); optional boolean timestamp; }",
        &[Col::Str(&ids), Col::Str(&ids), Col::Bool(&[Some(true)])],
        1,
        1,
    );
    let e = refused(&stats(&wrong, &[]));
    assert!(
        e.contains(&format!(
            "{}, column \"timestamp\": has Parquet type BOOLEAN; it must be",
            wrong.display()
        )),
        "{e}"
    );

    // A corrupt page.
    let corrupt = log.dir.join("corrupt.parquet");
    corrupt_item_ids(&log.parquet, &corrupt);
    let e = refused(&stats(&corrupt, &[]));
    assert!(
        e.contains(&format!(
            "{}, row group 1, column \"item_id\": corrupt",
            corrupt.display()
        )),
        "{e}"
    );

    // A bad value: the row, with its row group; skipped and counted on request.
    let bad = log.dir.join("bad.parquet");
    let (c, i) = (
        vec![Some("c1".to_string()); 5],
        vec![Some("i1".to_string()); 5],
    );
    let mut t: Vec<Option<String>> = vec![Some("2024-01-02".into()); 5];
    t[3] = Some("20240104".into());
    write_parquet(
        &bad,
        "message m { optional binary customer_id (STRING); optional binary item_id (STRING); optional binary timestamp (STRING); }",
        &[Col::Str(&c), Col::Str(&i), Col::Str(&t)],
        5,
        2,
    );
    let e = refused(&stats(&bad, &[]));
    assert!(
        e.contains(&format!(
            "{}: row group 1, row 4, column \"timestamp\": \"20240104\" is not RFC 3339 or YYYY-MM-DD",
            bad.display()
        )),
        "{e}"
    );
    let out = stats(&bad, &["--skip-bad-rows", "--json"]);
    let v: Value = serde_json::from_str(&ok(&out)).expect("json");
    assert_eq!(
        (v["rows"].as_u64(), v["skipped"]["total"].as_u64()),
        (Some(4), Some(1))
    );
    assert_eq!(v["skipped"]["examples"][0]["row_group"].as_u64(), Some(1));
}

#[test]
fn erase_rewrites_parquet_as_parquet_and_matches_the_csv_erase() {
    let log = log();
    let mut events = Vec::new();
    read_events(&log.csv, Format::Csv, false, |_, e| {
        events.push(RawEvent::from(e))
    })
    .expect("csv");
    let victim = events[events.len() / 3].customer_id.clone();
    let erase = |input: &Path, out: &Path| {
        ok(&trainer(&[
            "erase",
            "--events",
            s(input),
            "--customer",
            &victim,
            "--out",
            s(out),
        ]))
    };
    let (out_csv, out_pq) = (log.dir.join("erased.csv"), log.dir.join("erased.parquet"));
    let said_csv = erase(&log.csv, &out_csv);
    let said_pq = erase(&log.parquet, &out_pq);
    assert!(said_pq.contains("(parquet)"), "{said_pq}");
    // The same counts, and the same store after.
    assert_eq!(
        said_csv.lines().skip(1).collect::<Vec<_>>(),
        said_pq.lines().skip(1).collect::<Vec<_>>()
    );
    let bytes = std::fs::read(&out_pq).expect("read");
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
    let (a, b) = (stats_json(&out_csv, &[]), stats_json(&out_pq, &[]));
    assert_eq!(a, b);
    assert_eq!(
        a["customers"].as_u64(),
        stats_json(&log.csv, &[])["customers"]
            .as_u64()
            .map(|n| n - 1)
    );
    // Nothing but the output is left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(&log.dir)
        .expect("list")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
}

/// Drops the wall-clock fields (`train_seconds`, wherever they are) from a report.
fn without_times(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.ends_with("seconds"));
            m.values_mut().for_each(without_times);
        }
        Value::Array(a) => a.iter_mut().for_each(without_times),
        _ => {}
    }
}

#[test]
fn format_parquet_reads_a_parquet_file_of_any_name_in_every_command() {
    let log = log();
    // A warehouse export without the extension: refused until --format says what it is.
    let export = log.dir.join("events.export");
    std::fs::copy(&log.parquet, &export).expect("copy");
    let e = refused(&trainer(&["stats", "--events", s(&export)]));
    assert!(e.contains("cannot guess the format"), "{e}");
    let pq = ["--format", "parquet"];

    let stats = |events: &Path, extra: &[&str]| -> Value {
        let mut args = vec!["stats", "--events", s(events), "--json"];
        args.extend_from_slice(extra);
        serde_json::from_str(&ok(&trainer(&args))).expect("stats json")
    };
    assert_eq!(stats(&export, &pq), stats(&log.csv, &[]));

    // evaluate: the same report, metric for metric.
    let evaluate = |events: &Path, extra: &[&str], out: &Path| -> Value {
        let mut args = vec![
            "evaluate",
            "--events",
            s(events),
            "--cutoff",
            "2024-07-01",
            "--horizon-days",
            "28",
            "--no-baselines",
            "--report",
            s(out),
        ];
        args.extend_from_slice(extra);
        ok(&trainer(&args));
        let mut v: Value =
            serde_json::from_slice(&std::fs::read(out).expect("report")).expect("report json");
        without_times(&mut v);
        v
    };
    let r_csv = evaluate(&log.csv, &[], &log.dir.join("r-csv.json"));
    let r_pq = evaluate(&export, &pq, &log.dir.join("r-pq.json"));
    assert!(r_csv["churn"]["auc"].as_f64().is_some(), "{r_csv}");
    assert_eq!(r_csv, r_pq);

    // features: the same table.
    let features = |events: &Path, extra: &[&str], out: &Path| {
        let mut args = vec![
            "features",
            "--events",
            s(events),
            "--cutoff",
            "2024-07-01",
            "--horizon-days",
            "28",
            "--out",
            s(out),
        ];
        args.extend_from_slice(extra);
        ok(&trainer(&args));
        std::fs::read(out).expect("features")
    };
    assert!(
        features(&log.csv, &[], &log.dir.join("f-csv.csv"))
            == features(&export, &pq, &log.dir.join("f-pq.csv"))
    );

    // erase: the output is Parquet whatever its name, and reads back without the customer.
    let mut all = Vec::new();
    read_events(&log.csv, Format::Csv, false, |_, e| {
        all.push(e.customer_id.to_string())
    })
    .expect("csv");
    let victim = all[0].clone();
    let theirs = all.iter().filter(|c| **c == victim).count();
    let out = log.dir.join("erased.export");
    let said = ok(&trainer(&[
        "erase",
        "--events",
        s(&export),
        "--format",
        "parquet",
        "--customer",
        &victim,
        "--out",
        s(&out),
    ]));
    assert!(said.contains("(parquet)"), "{said}");
    let bytes = std::fs::read(&out).expect("read");
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
    let mut left = Vec::new();
    read_events(&out, Format::Parquet, false, |_, e| {
        left.push(e.customer_id.to_string())
    })
    .expect("erased file reads");
    assert_eq!(left.len(), all.len() - theirs);
    assert!(theirs > 0 && !left.contains(&victim));
}
