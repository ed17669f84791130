//! Ingest throughput: parse-only streaming and full load (parse, intern, sort) of a
//! synthetic ~200k-row contract CSV, plus the same rows in Ta-Feng's shipped layout.
//!
//! Run: `cargo bench --bench ingest`. Inputs are written once to a temp dir outside
//! `b.iter`. Ta-Feng itself is measured end to end by `benches/ingest_vs_pandas.sh`.
//!
//! Baseline (2026-11-23, 2-core dev machine shared with other builds, load average ~6,
//! `cargo bench --bench ingest -- --warm-up-time 1 --measurement-time 5`):
//! parse/csv 41.2 ms (269 MiB/s), load/csv 79.6 ms (139 MiB/s),
//! parse/tafeng 51.4 ms (282 MiB/s), load/tafeng 96.8 ms (149 MiB/s).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use propensity::ingest::{Format, LoadOptions, load_events, read_events};
use propensity::rng::Rng;
use std::hint::black_box;
use std::io::Write;
use std::path::Path;

const ROWS: usize = 200_000;

/// Writes `ROWS` events: 20k customers, 8k items with a skewed popularity, baskets of a
/// few lines per customer-day, dates over four months. Returns the file size in bytes.
fn write_events(path: &Path, tafeng: bool) -> u64 {
    let mut rng = Rng::new(7);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("temp file"));
    if tafeng {
        out.write_all(b"\xEF\xBB\xBF\"TRANSACTION_DT\",\"CUSTOMER_ID\",\"AGE_GROUP\",\"PIN_CODE\",\"PRODUCT_SUBCLASS\",\"PRODUCT_ID\",\"AMOUNT\",\"ASSET\",\"SALES_PRICE\"\r\n").expect("write");
    } else {
        out.write_all(b"customer_id,item_id,timestamp,event,quantity,price\n")
            .expect("write");
    }
    let mut written = 0;
    while written < ROWS {
        let customer = rng.below(20_000);
        let day = rng.below(120);
        let lines = 1 + rng.below(8) as usize;
        for _ in 0..lines.min(ROWS - written) {
            // Squaring a uniform skews popularity towards low item numbers.
            let u = rng.uniform();
            let item = 4_710_000_000_000u64 + (u * u * 8_000.0) as u64;
            let qty = 1 + rng.below(3);
            let price = 5 + rng.below(300);
            if tafeng {
                let (m, d) = (11 + day / 30, 1 + day % 28);
                let (m, y) = if m > 12 { (m - 12, 2001) } else { (m, 2000) };
                writeln!(out, "\"{m}/{d}/{y}\",\"{customer:08}\",\"35-39\",\"115\",\"{}\",\"{item}\",\"{qty}\",\"{price}\",\"{}\"\r", item % 2000, price * qty).expect("write");
            } else {
                let ts = propensity::time::format_rfc3339(
                    975_628_800 + day as i64 * 86_400 + rng.below(86_400) as i64,
                );
                writeln!(out, "c{customer},{item},{ts},purchase,{qty},{price}.5").expect("write");
            }
            written += 1;
        }
    }
    out.flush().expect("flush");
    std::fs::metadata(path).expect("stat").len()
}

fn ingest(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    for (name, format) in [("csv", Format::Csv), ("tafeng", Format::Tafeng)] {
        let path = dir.path().join(format!("events-{name}.csv"));
        let bytes = write_events(&path, format == Format::Tafeng);
        group.throughput(Throughput::Bytes(bytes));
        group.bench_with_input(BenchmarkId::new("parse", name), &path, |b, path| {
            b.iter(|| {
                let mut n = 0u64;
                read_events(black_box(path), format, false, |_, e| {
                    n += e.quantity as u64
                })
                .expect("synthetic file parses");
                n
            })
        });
        let opts = LoadOptions {
            format: Some(format),
            ..LoadOptions::default()
        };
        group.bench_with_input(BenchmarkId::new("load", name), &path, |b, path| {
            b.iter(|| {
                load_events(black_box(path), &opts)
                    .expect("synthetic file loads")
                    .0
                    .len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
