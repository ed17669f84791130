//! Candidate-generator benches: one ALS sweep, one customer's top-10 over the item factors,
//! and cart-aware co-purchase scoring, on synthetic Ta-Feng-shaped inputs (fixed seeds).
//!
//! `cargo bench --bench cf`. Whole-fit timing against Python `implicit` lives in
//! `benches/als_vs_implicit.sh`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use propensity::cf::als::{AlsFit, AlsModel, AlsParams};
use propensity::cf::copurchase::{CoPurchase, CoPurchaseParams};
use propensity::cf::{Interactions, Scored};
use propensity::rng::Rng;
use std::hint::black_box;

/// Zipf(0.9) item draws for customers with log-normal activity, as in `als_vs_implicit.py`.
fn zipf_triples(n_users: usize, n_items: usize, draws: usize, seed: u64) -> Vec<(u32, u32, f32)> {
    let mut rng = Rng::new(seed);
    let mut cum = Vec::with_capacity(n_items);
    let mut total = 0f64;
    for i in 0..n_items {
        total += 1.0 / ((i + 1) as f64).powf(0.9);
        cum.push(total);
    }
    let mut ucum = Vec::with_capacity(n_users);
    let mut utotal = 0f64;
    for _ in 0..n_users {
        utotal += rng.normal().exp();
        ucum.push(utotal);
    }
    (0..draws)
        .map(|_| {
            let u = ucum
                .partition_point(|&c| c < rng.uniform() * utotal)
                .min(n_users - 1);
            let i = cum
                .partition_point(|&c| c < rng.uniform() * total)
                .min(n_items - 1);
            (u as u32, i as u32, 1.0)
        })
        .collect()
}

fn als_sweep(c: &mut Criterion) {
    let (n_users, n_items) = (32_000, 24_000);
    let m = Interactions::from_triples(
        n_users,
        n_items,
        &zipf_triples(n_users, n_items, 800_000, 1),
    )
    .expect("synthetic triples are valid");
    let mut group = c.benchmark_group("als_sweep");
    group.sample_size(10);
    for factors in [64, 128] {
        let params = AlsParams {
            factors,
            ..AlsParams::default()
        };
        let mut fit = AlsFit::new(&m, &params).expect("valid params");
        group.throughput(Throughput::Elements(m.nnz() as u64));
        group.bench_function(BenchmarkId::new("cg3", factors), |b| b.iter(|| fit.sweep()));
    }
    group.finish();
}

fn als_recommend(c: &mut Criterion) {
    let (n_items, k) = (24_000, 128);
    let mut rng = Rng::new(2);
    let items: Vec<f32> = (0..n_items * k)
        .map(|_| rng.normal() as f32 * 0.1)
        .collect();
    let user: Vec<f32> = (0..k).map(|_| rng.normal() as f32).collect();
    let model = AlsModel::from_parts(k, user.clone(), items).expect("shapes match");
    let exclude: Vec<u32> = (0..20).map(|i| i * 97).collect();
    c.bench_function("als_recommend_top10_24k_x_128", |b| {
        b.iter(|| model.recommend(black_box(&user), 10, black_box(&exclude)))
    });
    // The serving path for known customers: a lookup in the precomputed lists.
    let users: Vec<f32> = (0..1000 * k).map(|_| rng.normal() as f32).collect();
    let model =
        AlsModel::from_parts(k, users, model.item_factors().to_vec()).expect("shapes match");
    let lists = model.recommend_all(10, None).expect("no exclusions");
    c.bench_function("als_precomputed_top10_lookup", |b| {
        b.iter(|| {
            let (items, scores) = lists.row(black_box(417));
            items
                .iter()
                .zip(scores)
                .map(|(&item, &score)| Scored { item, score })
                .collect::<Vec<_>>()
        })
    });
}

fn copurchase(c: &mut Criterion) {
    let n_items = 24_000;
    let mut rng = Rng::new(3);
    let mut baskets: Vec<Vec<u32>> = vec![Vec::new(); 120_000];
    for (_, item, _) in zipf_triples(120_000, n_items, 800_000, 4) {
        let b = rng.below(baskets.len() as u64) as usize;
        baskets[b].push(item);
    }
    let mut group = c.benchmark_group("copurchase");
    group.sample_size(10);
    group.bench_function("build_120k_baskets", |b| {
        b.iter(|| {
            CoPurchase::build_from_baskets(
                n_items,
                black_box(&baskets),
                &CoPurchaseParams::default(),
            )
        })
    });
    let cp = CoPurchase::build_from_baskets(n_items, &baskets, &CoPurchaseParams::default())
        .expect("valid baskets");
    let cart: Vec<u32> = (0..8).map(|i| i * 31).collect();
    group.sample_size(100);
    group.bench_function("score_basket_8_items_top10", |b| {
        b.iter(|| cp.score_basket(black_box(&cart), 10))
    });
    group.finish();
}

criterion_group!(benches, als_sweep, als_recommend, copurchase);
criterion_main!(benches);
