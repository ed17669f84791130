//! Latency of one top-10 recommendation for a known customer on a synthetic store.
//!
//! `cargo bench --bench recommend`. Target: ≤ 50 µs per call through all stages
//! (`recommend_top10_known_customer`: candidates, features, ranker, filters; the ranked
//! cache is bypassed). `…_cached` is the served path for an unfiltered request, answered
//! from the per-customer ranked cache computed at training time.

use criterion::{Criterion, criterion_group, criterion_main};
use propensity::ingest::{EventStore, RawEvent};
use propensity::ranking::{RecommendConfig, RecommendRequest, Recommender};
use propensity::synth::{self, SynthConfig, SynthEventKind};
use propensity::time::DAY;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let cfg = SynthConfig {
        customers: 3_000,
        items: 2_000,
        days: 240,
        ..SynthConfig::default()
    };
    let s = synth::generate(&cfg);
    let events: Vec<RawEvent> = s
        .events
        .iter()
        .filter(|e| e.kind == SynthEventKind::Purchase)
        .map(|e| RawEvent {
            order_id: Some(e.order.to_string()),
            category: s.items.get(e.item as usize).map(|i| i.category.clone()),
            ..RawEvent::purchase(
                &synth::customer_id(e.customer),
                &synth::item_id(e.item),
                e.ts,
            )
        })
        .collect();
    let store = EventStore::from_events(&events);
    let rec = match Recommender::fit(&store, cfg.start + 200 * DAY, &RecommendConfig::default()) {
        Ok(r) => r,
        Err(e) => panic!("fit failed: {e}"),
    };
    let known: Vec<u32> = (0..store.n_customers() as u32)
        .filter(|&c| rec.is_known(c))
        .collect();
    let mut out = Vec::with_capacity(100);
    let mut i = 0usize;
    c.bench_function("recommend_top10_known_customer", |b| {
        b.iter(|| {
            i = (i + 1) % known.len();
            rec.recommend_uncached(Some(known[i]), &RecommendRequest::default(), &mut out);
            black_box(out.len())
        })
    });
    c.bench_function("recommend_top10_known_customer_cached", |b| {
        b.iter(|| {
            i = (i + 1) % known.len();
            rec.recommend(Some(known[i]), &RecommendRequest::default(), &mut out);
            black_box(out.len())
        })
    });
    c.bench_function("recommend_top10_cold_start", |b| {
        b.iter(|| {
            rec.recommend(None, &RecommendRequest::default(), &mut out);
            black_box(out.len())
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
