//! GBDT kernels: histogram construction (root and a sparse leaf), split search, and prediction
//! (batch over a block of rows, and the single-row path request handlers use).
//!
//! Inputs are built once from a fixed seed outside `b.iter`. Run with
//! `cargo bench --bench gbdt`; the end-to-end protocol is benches/gbdt_speed.sh (GBDT-SPEED).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use propensity::gbdt::histogram::{BinStats, Histogram};
use propensity::gbdt::split::SplitConfig;
use propensity::gbdt::{Booster, Dataset, DenseInput, Params};
use propensity::rng::Rng;
use std::hint::black_box;

const ROWS: usize = 200_000;
const FEATURES: usize = 48;

fn columns(rows: usize) -> Vec<Vec<f64>> {
    let mut rng = Rng::new(7);
    (0..FEATURES)
        .map(|_| (0..rows).map(|_| rng.normal()).collect())
        .collect()
}

fn dataset() -> Dataset {
    let columns = columns(ROWS);
    let names: Vec<String> = (0..FEATURES).map(|f| format!("f{f}")).collect();
    let labels: Vec<f64> = (0..ROWS)
        .map(|r| f64::from(columns[0][r] + columns[1][r] > 0.0))
        .collect();
    let input = DenseInput {
        columns: &columns,
        feature_names: &names,
        categorical: &[],
        labels: &labels,
        weights: None,
    };
    Dataset::from_dense(input, &Params::default()).expect("valid synthetic data")
}

fn bench_histogram(c: &mut Criterion) {
    let ds = dataset();
    let mut rng = Rng::new(8);
    let gh: Vec<[f64; 2]> = (0..ROWS).map(|_| [rng.normal(), 0.25]).collect();
    let used = vec![true; FEATURES];
    let mut hist = Histogram::new(FEATURES);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let mut group = c.benchmark_group("histogram_build_1thread");
    group.sample_size(20);
    group.throughput(Throughput::Elements((ROWS * FEATURES) as u64));
    group.bench_function(BenchmarkId::new("root", ROWS), |b| {
        b.iter(|| pool.install(|| hist.build(&ds, None, black_box(&gh), &used)))
    });
    for keep in [4usize, 32] {
        // A leaf holding every `keep`-th row: gathered, increasing, sparse row indices.
        let rows: Vec<u32> = (0..ROWS as u32).filter(|r| r % keep as u32 == 0).collect();
        let ordered: Vec<[f64; 2]> = rows.iter().map(|&r| gh[r as usize]).collect();
        group.throughput(Throughput::Elements((rows.len() * FEATURES) as u64));
        group.bench_function(BenchmarkId::new("leaf_every", keep), |b| {
            b.iter(|| pool.install(|| hist.build(&ds, Some(black_box(&rows)), &ordered, &used)))
        });
    }
    group.finish();
}

fn bench_split(c: &mut Criterion) {
    let ds = dataset();
    let mut rng = Rng::new(9);
    let gh: Vec<[f64; 2]> = ds
        .labels()
        .iter()
        .map(|&y| [0.5 - y + 0.1 * rng.normal(), 0.25])
        .collect();
    let used = vec![true; FEATURES];
    let mut hist = Histogram::new(FEATURES);
    hist.build(&ds, None, &gh, &used);
    let total = gh.iter().fold(BinStats::default(), |mut t, g| {
        t += BinStats {
            grad: g[0],
            hess: g[1],
            count: 1.0,
        };
        t
    });
    let cfg = SplitConfig::from(&Params::default());
    c.bench_function("best_split_all_features", |b| {
        b.iter(|| {
            (0..FEATURES)
                .filter_map(|f| {
                    cfg.best_split(
                        f,
                        hist.feature(f),
                        &ds.features()[f].mapper,
                        black_box(total),
                    )
                })
                .map(|s| s.gain)
                .fold(f64::MIN, f64::max)
        })
    });
}

/// A GBDT-SPEED-shaped model (63 leaves, 100 rounds) on a planted interaction.
fn bench_predict(c: &mut Criterion) {
    const TRAIN_ROWS: usize = 20_000;
    const PREDICT_ROWS: usize = 20_000;
    let cols = columns(TRAIN_ROWS + PREDICT_ROWS);
    let names: Vec<String> = (0..FEATURES).map(|f| format!("f{f}")).collect();
    let labels: Vec<f64> = (0..TRAIN_ROWS)
        .map(|r| f64::from(cols[0][r] * cols[1][r] + cols[2][r] > 0.0))
        .collect();
    let train: Vec<Vec<f64>> = cols.iter().map(|c| c[..TRAIN_ROWS].to_vec()).collect();
    let test: Vec<Vec<f64>> = cols.iter().map(|c| c[TRAIN_ROWS..].to_vec()).collect();
    let params = Params {
        num_leaves: 63,
        num_iterations: 100,
        threads: 1,
        ..Params::default()
    };
    let input = DenseInput {
        columns: &train,
        feature_names: &names,
        categorical: &[],
        labels: &labels,
        weights: None,
    };
    let ds = Dataset::from_dense(input, &params).expect("valid synthetic data");
    let booster = Booster::train(&params, &ds, None).expect("trains");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let mut group = c.benchmark_group("predict_1thread");
    group.sample_size(20);
    group.throughput(Throughput::Elements(PREDICT_ROWS as u64));
    group.bench_function(BenchmarkId::new("batch_columns", PREDICT_ROWS), |b| {
        b.iter(|| pool.install(|| booster.predict_columns(black_box(&test))))
    });
    let row: Vec<f64> = test.iter().map(|c| c[0]).collect();
    group.throughput(Throughput::Elements(1));
    group.bench_function("single_row", |b| {
        b.iter(|| booster.predict_row(black_box(&row)))
    });
    group.finish();
}

criterion_group!(benches, bench_histogram, bench_split, bench_predict);
criterion_main!(benches);
