//! Event journal: one fsync'd append of a 100-event batch (alone and with concurrent
//! appenders sharing fsyncs), and the decode side of a start-up replay of 1M events.
//!
//! Run: `cargo bench --bench journal`. The journals live in temp dirs (the machine's
//! /tmp file system); append figures are dominated by `fdatasync`, so they measure the
//! disk as much as the code.
//!
//! Baseline (2026-11-23, 2-core VM shared with other builds, load average ~13,
//! `cargo bench --bench journal`): batch100_fsync 6.24 ms (16.0k events/s);
//! 2 threads 8.68 ms per 2 batches (23.1k events/s); 4 threads 6.11 ms per 4 batches
//! (65.5k events/s); replay of 1M events 392 ms (66.7 bytes per event on disk).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use propensity::ingest::{EventKind, RawEvent};
use propensity::journal::{Journal, Record};
use propensity::rng::Rng;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// `n` purchase/view/cart events shaped like storefront traffic.
fn events(rng: &mut Rng, n: usize) -> Vec<Record> {
    (0..n)
        .map(|_| {
            let kind = EventKind::ALL[rng.below(3) as usize];
            Record::Event(RawEvent {
                customer_id: format!("{:08}", rng.below(200_000)),
                item_id: format!("47{:011}", rng.below(20_000)),
                timestamp: 1_700_000_000 + rng.below(86_400 * 30) as i64,
                kind,
                quantity: 1.0 + rng.below(3) as f32,
                price: 0.5 + rng.below(2_000) as f32 / 10.0,
                order_id: (kind == EventKind::Purchase).then(|| format!("o{}", rng.below(1 << 30))),
                category: Some(format!("{}", 100_000 + rng.below(2_000))),
            })
        })
        .collect()
}

fn journal(c: &mut Criterion) {
    let mut rng = Rng::new(11);
    let batch = events(&mut rng, 100);

    let mut group = c.benchmark_group("journal_append");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(100));
    let dir = tempfile::tempdir().expect("temp dir");
    let j = Journal::open(dir.path()).expect("opens");
    group.bench_function("batch100_fsync", |b| {
        b.iter(|| j.append(black_box(&batch)).expect("appends"))
    });
    drop(j);
    // Appenders on several threads: one fdatasync covers every batch written before it.
    for threads in [2usize, 4] {
        let dir = tempfile::tempdir().expect("temp dir");
        let j = Journal::open(dir.path()).expect("opens");
        group.throughput(Throughput::Elements(100 * threads as u64));
        group.bench_with_input(
            BenchmarkId::new("batch100_fsync_threads", threads),
            &threads,
            |b, &threads| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    std::thread::scope(|s| {
                        for _ in 0..threads {
                            s.spawn(|| {
                                for _ in 0..iters {
                                    j.append(black_box(&batch)).expect("appends");
                                }
                            });
                        }
                    });
                    start.elapsed()
                })
            },
        );
    }
    group.finish();

    // 1M events, written in large batches to keep the set-up short.
    let dir = tempfile::tempdir().expect("temp dir");
    let j = Journal::open(dir.path()).expect("opens");
    for _ in 0..100 {
        j.append(&events(&mut rng, 10_000)).expect("appends");
    }
    let bytes: u64 = std::fs::read_dir(dir.path())
        .expect("lists")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    eprintln!(
        "journal of 1M events: {bytes} bytes ({:.1} per event)",
        bytes as f64 / 1e6
    );
    let mut group = c.benchmark_group("journal_replay");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(1_000_000));
    group.bench_function("1M_events", |b| {
        b.iter(|| {
            let mut n = 0u64;
            j.replay(0, |_, r| {
                black_box(&r);
                n += 1;
            })
            .expect("replays");
            n
        })
    });
    group.finish();
}

criterion_group!(benches, journal);
criterion_main!(benches);
