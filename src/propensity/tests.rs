//! End-to-end tests on synthetic logs with planted ground truth: no leakage past the
//! snapshot or the cutoff, monotone curves, the report schema, and planted churners found.

use super::config::PropensityConfig;
use super::evaluate::{EvalOptions, Split, evaluate};
use super::model::{
    PropensityModel, RowCaps, customer_sampled, expand_curve, sample_share, time_split_tables,
    time_split_tables_capped,
};
use super::table::{Population, fit_bgnbd_at, snapshot_table};
use crate::eval::metrics::auc;
use crate::features::label;
use crate::gbdt::Params;
use crate::ingest::{EventKind, EventStore, RawEvent};
use crate::synth::{SynthConfig, SynthEventKind, Synthetic, generate};
use crate::time::DAY;

fn synth(customers: u32, seed: u64) -> (Synthetic, EventStore) {
    let s = generate(&SynthConfig {
        customers,
        items: 100,
        seed,
        ..SynthConfig::default()
    });
    let events: Vec<RawEvent> = s
        .events
        .iter()
        .map(|e| RawEvent {
            customer_id: format!("c{}", e.customer),
            item_id: format!("i{}", e.item),
            timestamp: e.ts,
            kind: match e.kind {
                SynthEventKind::View => EventKind::View,
                SynthEventKind::Cart => EventKind::Cart,
                SynthEventKind::Purchase => EventKind::Purchase,
                SynthEventKind::Return => EventKind::Return,
            },
            quantity: e.quantity as f32,
            price: e.price,
            order_id: (e.kind == SynthEventKind::Purchase).then(|| format!("o{}", e.order)),
            category: None,
        })
        .collect();
    let store = EventStore::from_events(&events);
    (s, store)
}

/// Small, fast models: the tests check behaviour, not accuracy records.
fn small_config() -> PropensityConfig {
    let p = |base: &Params| Params {
        num_iterations: 40,
        learning_rate: 0.1,
        min_data_in_leaf: 20,
        ..base.clone()
    };
    let d = PropensityConfig::default();
    PropensityConfig {
        churn: p(&d.churn),
        count: p(&d.count),
        curve: p(&d.curve),
        max_snapshots: 4,
        ..d
    }
}

fn start(store: &EventStore) -> i64 {
    store.time_range().map(|r| r.0).unwrap_or_default()
}

#[test]
fn bgnbd_features_ignore_everything_from_the_snapshot_on() {
    let (s, store) = synth(300, 5);
    let t = start(&store) + 200 * DAY;
    // The same log cut at t: any difference in the rows would be a leak.
    let cut: Vec<RawEvent> = s
        .events
        .iter()
        .filter(|e| e.ts < t)
        .map(|e| {
            let mut r =
                RawEvent::purchase(&format!("c{}", e.customer), &format!("i{}", e.item), e.ts);
            r.kind = match e.kind {
                SynthEventKind::View => EventKind::View,
                SynthEventKind::Cart => EventKind::Cart,
                SynthEventKind::Purchase => EventKind::Purchase,
                SynthEventKind::Return => EventKind::Return,
            };
            r.quantity = e.quantity as f32;
            r.price = e.price;
            r.order_id = (e.kind == SynthEventKind::Purchase).then(|| format!("o{}", e.order));
            r
        })
        .collect();
    let past = EventStore::from_events(&cut);
    let bg_full = fit_bgnbd_at(&store, t).unwrap();
    let bg_past = fit_bgnbd_at(&past, t).unwrap();
    assert_eq!(bg_full, bg_past);
    assert!(bg_full.is_some());
    let mut compared = 0;
    for c in 0..300 {
        let name = format!("c{c}");
        let (Some(a), Some(b)) = (store.customer_idx(&name), past.customer_idx(&name)) else {
            continue;
        };
        let ra = snapshot_table(&store, &[a], t, bg_full.as_ref(), 28, 28);
        let rb = snapshot_table(&past, &[b], t, bg_past.as_ref(), 28, 28);
        for (x, y) in ra.row(0).iter().zip(rb.row(0)) {
            assert!(x == y || (x.is_nan() && y.is_nan()), "{name}: {x} vs {y}");
        }
        compared += 1;
    }
    assert!(compared > 100);
}

#[test]
fn large_tables_are_sampled_by_whole_customers_down_to_their_caps() {
    let (_, store) = synth(800, 12);
    let cutoff = start(&store) + 300 * DAY;
    let config = small_config();
    let full = time_split_tables(&store, cutoff, 28, &config, &|_| true).unwrap();
    let days = config.curve_horizons(None);
    let full_curve = expand_curve(&full.curve, &days).1.len();
    let caps = RowCaps {
        main: full.main.len() / 4,
        curve: full_curve / 4,
    };
    let small = time_split_tables_capped(&store, cutoff, 28, &config, &|_| true, caps).unwrap();
    let small_curve = expand_curve(&small.curve, &days).1.len();
    // About a quarter of the rows remain (a sample of customers, not an exact count).
    for (got, cap) in [(small.main.len(), caps.main), (small_curve, caps.curve)] {
        assert!(
            got as f64 > cap as f64 * 0.7 && (got as f64) < cap as f64 * 1.3,
            "{got} rows for a cap of {cap}"
        );
    }
    // Whole customers: a kept customer keeps every row it had, at every snapshot.
    let rows_of = |t: &super::table::FeatureTable, c| {
        (0..t.len())
            .filter(|&r| t.customers[r] == c)
            .map(|r| {
                (
                    t.snapshots[r],
                    t.row(r).iter().map(|v| v.to_bits()).collect(),
                )
            })
            .collect::<Vec<(i64, Vec<u32>)>>()
    };
    let mut kept: Vec<_> = small.main.customers.clone();
    kept.sort_unstable();
    kept.dedup();
    for &c in kept.iter().take(50) {
        assert_eq!(rows_of(&small.main, c), rows_of(&full.main, c));
    }
    // Under the caps nothing is sampled.
    let roomy = RowCaps {
        main: full.main.len(),
        curve: full_curve,
    };
    let same = time_split_tables_capped(&store, cutoff, 28, &config, &|_| true, roomy).unwrap();
    assert_eq!(same.main.customers, full.main.customers);
    assert_eq!(same.curve.customers, full.curve.customers);
}

#[test]
fn customer_samples_are_stable_and_the_size_asked_for() {
    assert_eq!(sample_share(100, 100), 1.0);
    assert_eq!(sample_share(100, 400), 0.25);
    let kept: Vec<bool> = (0..100_000)
        .map(|c| customer_sampled(7, crate::ingest::CustomerIdx(c), 0.25))
        .collect();
    let n = kept.iter().filter(|&&k| k).count();
    assert!((24_000..26_000).contains(&n), "{n}");
    // The same seed keeps the same customers; another seed another sample.
    let again = (0..100_000).filter(|&c| customer_sampled(7, crate::ingest::CustomerIdx(c), 0.25));
    assert!(again.eq((0..100_000).filter(|&c| kept[c as usize])));
    let other = (0..100_000)
        .filter(|&c| customer_sampled(8, crate::ingest::CustomerIdx(c), 0.25) != kept[c as usize])
        .count();
    assert!(other > 10_000);
    assert!((0..1000).all(|c| customer_sampled(7, crate::ingest::CustomerIdx(c), 1.0)));
}

#[test]
fn no_training_label_window_passes_the_cutoff() {
    let (_, store) = synth(400, 11);
    let cutoff = start(&store) + 300 * DAY;
    for step in [0, 9] {
        let config = PropensityConfig {
            snapshot_step_days: step,
            ..small_config()
        };
        let tables = time_split_tables(&store, cutoff, 28, &config, &|_| true).unwrap();
        assert!(tables.main.len() > 100 && tables.curve.len() > 100);
        let mut snaps = tables.main.snapshots.clone();
        snaps.dedup();
        assert!(snaps.len() >= 2, "several snapshots expected: {snaps:?}");
        for table in [&tables.main, &tables.curve] {
            for r in 0..table.len() {
                let (t, d) = (table.snapshots[r], table.label_days[r]);
                assert!(
                    t + d as i64 * DAY <= cutoff,
                    "row {r}: window [{t}, +{d}d) passes the cutoff"
                );
                assert_eq!(table.labels[r], label(&store, table.customers[r], t, d));
            }
        }
        // The curve only learns horizons its label windows cover.
        let days = config.curve_horizons(None);
        let (cols, labels, rows) = expand_curve(&tables.curve, &days);
        let d_col = cols.last().unwrap();
        for (i, &r) in rows.iter().enumerate() {
            assert!(d_col[i] <= tables.curve.label_days[r] as f64);
            let bought = tables.curve.labels[r]
                .days_to_next
                .is_some_and(|x| x < d_col[i]);
            assert_eq!(labels[i], f64::from(bought));
        }
    }
}

#[test]
fn planted_churners_are_found_and_curves_are_monotone() {
    let (s, store) = synth(1500, 3);
    let cutoff = start(&store) + 300 * DAY;
    let model = PropensityModel::fit(&store, cutoff, &small_config()).unwrap();
    let pop = Population::Active(90).at(&store, cutoff);
    let rows = snapshot_table(&store, &pop, cutoff, model.bgnbd.as_ref(), 28, 28);
    let mut scores = Vec::new();
    let mut truth = Vec::new();
    for r in 0..rows.len() {
        let row = rows.row(r);
        let p = model.churn(row);
        assert!((0.0..=1.0).contains(&p));
        scores.push(p);
        let name = store.customers.name(rows.customers[r].0).unwrap();
        let idx: usize = name[1..].parse().unwrap();
        let dropped = s.truth[idx].dropout_time.is_some_and(|d| d < cutoff);
        truth.push(f64::from(dropped));
        let curve = model.repurchase_curve(row);
        assert_eq!(curve.len(), model.curve_days.len());
        for w in curve.windows(2) {
            assert!(
                w[0].0 < w[1].0 && w[0].1 <= w[1].1,
                "curve not monotone: {curve:?}"
            );
        }
        assert!(curve.iter().all(|c| (0.0..=1.0).contains(&c.1)));
        // The curve agrees with the churn model at the churn horizon (28 days, between the
        // 14- and 30-day points, read on the log-survival line).
        let (s14, s30) = (1.0 - curve[1].1, 1.0 - curve[2].1);
        let s28 = (s14.ln() + (28.0 - 14.0) / 16.0 * (s30.ln() - s14.ln())).exp();
        assert!((s28 - p).abs() < 1e-6, "curve {curve:?} vs churn {p}");
        assert!(model.expected_purchases(row) >= 0.0);
        let factors = model.explain(row, 3);
        assert!(factors.len() <= 3 && !factors.is_empty());
        assert!(
            factors
                .windows(2)
                .all(|w| w[0].impact.abs() >= w[1].impact.abs())
        );
        assert!(factors.iter().all(|f| !f.text.is_empty()));
    }
    let a = auc(&scores, &truth, None);
    assert!(a > 0.7, "planted churners ranked at AUC {a}");
}

#[test]
fn report_has_the_contract_keys_and_is_the_same_whatever_the_thread_count() {
    let (_, store) = synth(600, 9);
    let opts = EvalOptions {
        cutoff: start(&store) + 300 * DAY,
        horizon_days: 28,
        split: Split::Time,
        config: small_config(),
        baselines: true,
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut v =
            serde_json::to_value(pool.install(|| evaluate(&store, &opts)).unwrap()).unwrap();
        assert!(v["train_seconds"].as_f64().unwrap() >= 0.0);
        v["train_seconds"] = 0.into();
        v
    };
    let v = run(1);
    for (section, keys) in [
        ("churn", &["auc", "logloss", "brier", "base_rate", "n"][..]),
        ("repurchase", &["auc", "logloss", "brier", "n"][..]),
        (
            "next_purchase",
            &[
                "mae_days",
                "transactions_mae",
                "transactions_rmse",
                "total_predicted",
                "total_actual",
            ][..],
        ),
    ] {
        for k in keys {
            assert!(!v[section][k].is_null(), "{section}.{k} missing in {v}");
        }
    }
    for k in ["transactions_mae", "transactions_rmse", "total_predicted"] {
        assert!(
            v["next_purchase"]["median_forecast"][k].is_number(),
            "median_forecast.{k}"
        );
    }
    // Medians are whole numbers of orders, so their total is one too.
    let median_total = v["next_purchase"]["median_forecast"]["total_predicted"]
        .as_f64()
        .unwrap();
    assert_eq!(median_total.fract(), 0.0);
    // The point forecast is whole numbers too, and (unlike the medians) adds up to the mean's
    // total: its level is fitted for that.
    let np = &v["next_purchase"];
    let point_total = np["point_forecast"]["total_predicted"].as_f64().unwrap();
    let mean_total = np["total_predicted"].as_f64().unwrap();
    assert_eq!(point_total.fract(), 0.0);
    assert!(
        (point_total - mean_total).abs() <= (0.05 * mean_total).max(2.0),
        "point forecast total {point_total} vs expected {mean_total}"
    );
    let level = np["point_forecast_level"].as_f64().unwrap();
    assert!(level > 0.0 && level < 1.0, "{level}");
    assert!(v.get("recommend").is_none());
    assert!(v["baselines"]["churn"]["recency_only"]["auc"].is_number());
    assert!(v["baselines"]["next_purchase"]["last_gap_repeats"]["mae_days"].is_number());
    assert_eq!(v, run(2), "the report depends on the thread count");
}

#[test]
fn days_to_level_interpolates_from_day_zero() {
    let curve = [(7, 0.2), (14, 0.4), (30, 0.8)];
    assert_eq!(PropensityModel::days_to_level(&curve, 0.1), Some(3.5));
    assert_eq!(PropensityModel::days_to_level(&curve, 0.6), Some(22.0));
    assert_eq!(PropensityModel::days_to_level(&curve, 0.9), None);
}

#[test]
fn count_model_anchored_on_bgnbd_keeps_the_total_and_falls_back_without_the_column() {
    use super::config::CountBase;
    use super::model::CountOffset;
    let (_, store) = synth(1000, 4);
    let cutoff = start(&store) + 300 * DAY;
    let config = PropensityConfig {
        count_base: CountBase::Bgnbd,
        ..small_config()
    };
    let model = PropensityModel::fit(&store, cutoff, &config).unwrap();
    let off = model.count_offset.clone().expect("bgnbd base configured");
    assert_eq!(
        model.feature_names[off.column],
        super::table::EXPECTED_PURCHASES_FEATURE
    );
    // Rows of the newest training snapshot: the anchored model reproduces their total
    // (the Poisson fit with an intercept matches the weighted mean) to within a few percent.
    let t = cutoff - 28 * DAY;
    let pop = Population::Active(90).at(&store, t);
    let bg = fit_bgnbd_at(&store, t).unwrap();
    let rows = snapshot_table(&store, &pop, t, bg.as_ref(), 28, 28);
    let (mut predicted, mut actual) = (0.0, 0.0);
    for r in 0..rows.len() {
        let e = model.expected_purchases(rows.row(r));
        assert!(e.is_finite() && e >= 0.0, "row {r}: {e}");
        predicted += e;
        actual += rows.labels[r].orders as f64;
    }
    assert!(
        (predicted / actual - 1.0).abs() < 0.15,
        "predicted {predicted} vs actual {actual}"
    );
    // A row without the baseline uses the training mean; tiny baselines are floored.
    let o = CountOffset {
        column: 1,
        fallback: 0.7,
    };
    assert_eq!(o.of(&[0.0, f32::NAN]), 0.7);
    assert_eq!(o.of(&[0.0]), 0.7);
    assert_eq!(o.of(&[0.0, 2.5]), 2.5);
    assert!(o.of(&[0.0, 0.0]) > 0.0);
}

#[test]
fn tuning_split_never_reads_the_reported_half() {
    use super::evaluate::{in_training_half, protocol_config, protocol_tables};
    let (_, store) = synth(600, 2);
    let mut opts = EvalOptions {
        cutoff: start(&store) + 300 * DAY,
        horizon_days: 28,
        split: Split::Tuning,
        config: small_config(),
        baselines: false,
    };
    let config = protocol_config(&opts).unwrap();
    let tuning = protocol_tables(&store, &opts, &config).unwrap();
    let train = &tuning.train.main.customers;
    let eval = &tuning.eval.customers;
    assert!(!train.is_empty() && !eval.is_empty());
    assert!(
        train
            .iter()
            .chain(eval)
            .all(|&c| in_training_half(&store, c))
    );
    assert!(eval.iter().all(|c| !train.contains(c)));
    // The customers split measures exactly the half tuning never touched.
    opts.split = Split::Customers;
    let reported = protocol_tables(&store, &opts, &config).unwrap();
    assert!(
        reported
            .eval
            .customers
            .iter()
            .all(|&c| !in_training_half(&store, c))
    );
    assert!(!reported.eval.customers.is_empty());
}
