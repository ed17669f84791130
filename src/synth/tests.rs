//! Planted-structure tests: each checks that a promise of the module docs holds in the log.

use super::*;
use crate::time::DAY;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// One mid-sized log shared by the structure tests (generation is the slow part).
fn log() -> &'static Synthetic {
    static LOG: OnceLock<Synthetic> = OnceLock::new();
    LOG.get_or_init(|| {
        generate(&SynthConfig {
            customers: 3_000,
            items: 300,
            seed: 7,
            ..SynthConfig::default()
        })
    })
}

fn purchases(s: &Synthetic) -> impl Iterator<Item = &SynthEvent> {
    s.events
        .iter()
        .filter(|e| e.kind == SynthEventKind::Purchase)
}

/// Item sets of every basket (one per order).
fn baskets(s: &Synthetic) -> Vec<Vec<u32>> {
    let mut by_order: HashMap<u64, Vec<u32>> = HashMap::new();
    for e in purchases(s) {
        by_order.entry(e.order).or_default().push(e.item);
    }
    by_order.into_values().collect()
}

fn files(cfg: &SynthConfig) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = write_csv(&generate(cfg), &dir.path().join("log.csv")).expect("write");
    [paths.events, paths.truth, paths.items, paths.pairs]
        .iter()
        .map(|p| std::fs::read(p).expect("read back"))
        .collect()
}

#[test]
fn same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    let cfg = SynthConfig {
        customers: 300,
        items: 80,
        ..SynthConfig::default()
    };
    let first = files(&cfg);
    assert!(first[0].len() > 10_000, "log too small to mean anything");
    assert_eq!(first, files(&cfg));
    let other = files(&SynthConfig { seed: 43, ..cfg });
    for (a, b) in first.iter().zip(&other) {
        assert_ne!(a, b);
    }
}

#[test]
fn thread_count_does_not_change_the_log() {
    let cfg = SynthConfig {
        customers: 400,
        items: 100,
        seed: 11,
        ..SynthConfig::default()
    };
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(|| generate(&cfg))
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn events_are_time_ordered_inside_the_window() {
    let s = log();
    let cfg = SynthConfig::default();
    assert!(s.events.windows(2).all(|w| w[0].ts <= w[1].ts));
    assert!(
        s.events
            .iter()
            .all(|e| e.ts >= cfg.start && e.ts < cfg.end())
    );
    let kinds: HashSet<_> = s.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds.len(), 4, "every event kind appears");
}

#[test]
fn dropped_out_customers_are_silent_after_their_last_purchase() {
    let s = log();
    let mut last_event = vec![i64::MIN; s.truth.len()];
    let mut last_purchase = vec![i64::MIN; s.truth.len()];
    let mut orders: Vec<HashSet<u64>> = vec![HashSet::new(); s.truth.len()];
    for e in &s.events {
        let c = e.customer as usize;
        last_event[c] = last_event[c].max(e.ts);
        if e.kind == SynthEventKind::Purchase {
            last_purchase[c] = last_purchase[c].max(e.ts);
            orders[c].insert(e.order);
        }
    }
    let dropped: Vec<_> = s.truth.iter().filter(|t| t.dropped_out()).collect();
    assert!(
        dropped.len() > 500 && dropped.len() < 2_500,
        "{} dropouts",
        dropped.len()
    );
    for t in &dropped {
        let c = t.customer as usize;
        let gone = t.dropout_time.expect("dropped out");
        assert!(last_event[c] <= gone, "customer {c} active after dropout");
        assert_eq!(last_purchase[c], gone, "dropout follows a purchase");
        assert!(t.trips >= 2, "BG/NBD drops only after a repeat trip");
    }
    for t in &s.truth {
        assert_eq!(orders[t.customer as usize].len(), t.trips as usize);
    }
}

#[test]
fn churn_truth_follows_the_bgnbd_priors() {
    let s = log();
    let cfg = SynthConfig::default();
    let n = s.truth.len() as f64;
    let rate = s.truth.iter().map(|t| t.rate_per_day).sum::<f64>() / n;
    let p = s.truth.iter().map(|t| t.dropout_prob).sum::<f64>() / n;
    let expected_rate = cfg.rate_r / cfg.rate_alpha;
    assert!((rate / expected_rate - 1.0).abs() < 0.08, "mean λ {rate}");
    let expected_p = cfg.dropout_a / (cfg.dropout_a + cfg.dropout_b);
    assert!((p / expected_p - 1.0).abs() < 0.08, "mean p {p}");
    // Fast, fickle customers must drop out more often than slow, loyal ones.
    let churn_share = |keep: &dyn Fn(&CustomerTruth) -> bool| {
        let group: Vec<_> = s.truth.iter().filter(|t| keep(t)).collect();
        group.iter().filter(|t| t.dropped_out()).count() as f64 / group.len() as f64
    };
    let fickle = churn_share(&|t| t.dropout_prob > 0.15 && t.rate_per_day > 0.05);
    let loyal = churn_share(&|t| t.dropout_prob < 0.05 && t.rate_per_day < 0.02);
    assert!(fickle > loyal + 0.4, "fickle {fickle}, loyal {loyal}");
}

#[test]
fn customers_join_over_time() {
    let s = log();
    let cfg = SynthConfig::default();
    let mut first: Vec<i64> = s.truth.iter().filter_map(|t| t.first_purchase).collect();
    first.sort_unstable();
    let day = |q: f64| (first[(q * (first.len() - 1) as f64) as usize] - cfg.start) / DAY;
    // Uniform over the first 75 % of 365 days: quartiles near 68, 137 and 205.
    assert!((55..=80).contains(&day(0.25)), "{}", day(0.25));
    assert!((125..=150).contains(&day(0.5)), "{}", day(0.5));
    assert!((190..=220).contains(&day(0.75)), "{}", day(0.75));
}

#[test]
fn planted_pairs_co_occur_far_above_chance() {
    let s = log();
    let baskets = baskets(s);
    let mut support = vec![0u32; s.items.len()];
    let mut together: HashMap<(u32, u32), u32> = HashMap::new();
    for basket in &baskets {
        for (k, &a) in basket.iter().enumerate() {
            support[a as usize] += 1;
            for &b in &basket[k + 1..] {
                *together.entry((a.min(b), a.max(b))).or_default() += 1;
            }
        }
    }
    let lift = |a: u32, b: u32| {
        let n_ab = f64::from(together.get(&(a, b)).copied().unwrap_or(0));
        n_ab * baskets.len() as f64 / f64::from(support[a as usize] * support[b as usize]).max(1.0)
    };
    let median = |mut xs: Vec<f64>| {
        xs.sort_by(f64::total_cmp);
        xs[xs.len() / 2]
    };
    let planted: HashSet<(u32, u32)> = s.pairs.iter().copied().collect();
    assert!(planted.len() >= 30);
    let planted_lift = median(planted.iter().map(|&(a, b)| lift(a, b)).collect());
    // The baseline shares the taste-group boost, so only the pairing itself can explain a gap.
    let mut same_group = Vec::new();
    for a in 0..s.items.len() as u32 {
        for b in a + 1..s.items.len() as u32 {
            let same = s.items[a as usize].group == s.items[b as usize].group;
            if same && !planted.contains(&(a, b)) && support[a as usize] >= 20 {
                same_group.push(lift(a, b));
            }
        }
    }
    let baseline = median(same_group);
    assert!(
        planted_lift > 5.0 * baseline,
        "planted {planted_lift}, same-group {baseline}"
    );
}

#[test]
fn taste_groups_dominate_purchases() {
    let s = log();
    let groups = SynthConfig::default().groups as usize;
    let mut per_customer = vec![vec![0u32; groups]; s.truth.len()];
    for e in purchases(s) {
        per_customer[e.customer as usize][s.items[e.item as usize].group as usize] += 1;
    }
    let (mut own, mut total, mut plurality, mut counted) = (0u32, 0u32, 0u32, 0u32);
    for (t, counts) in s.truth.iter().zip(&per_customer) {
        own += counts[t.group as usize];
        total += counts.iter().sum::<u32>();
        if counts.iter().sum::<u32>() >= 10 {
            counted += 1;
            let top = counts.iter().max().copied().unwrap_or(0);
            plurality += u32::from(counts[t.group as usize] == top);
        }
    }
    let share = f64::from(own) / f64::from(total);
    assert!(share > 0.75, "own-group share {share}");
    assert!(counted > 300);
    assert!(
        plurality as f64 > 0.95 * counted as f64,
        "{plurality}/{counted}"
    );
}

#[test]
fn staples_recur_at_their_cycle() {
    let s = log();
    let mut times: HashMap<(u32, u32), Vec<i64>> = HashMap::new();
    for e in purchases(s) {
        times.entry((e.customer, e.item)).or_default().push(e.ts);
    }
    let mut ratios = Vec::new();
    for t in &s.truth {
        for staple in &t.staples {
            let Some(ts) = times.get(&(t.customer, staple.item)) else {
                continue;
            };
            if ts.len() >= 5 {
                let span_days = (ts[ts.len() - 1] - ts[0]) as f64 / DAY as f64;
                ratios.push(span_days / (ts.len() - 1) as f64 / staple.cycle_days);
            }
        }
    }
    assert!(ratios.len() > 100, "{} staples observed", ratios.len());
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    assert!((0.85..=1.15).contains(&median), "interval / cycle {median}");
    let close = ratios.iter().filter(|r| (0.7..=1.3).contains(*r)).count();
    assert!(close * 4 > ratios.len() * 3, "{close} of {}", ratios.len());
}

#[test]
fn event_counts_scale_with_customers() {
    let count = |customers| {
        generate(&SynthConfig {
            customers,
            items: 100,
            seed: 5,
            ..SynthConfig::default()
        })
        .events
        .len() as f64
    };
    let (small, large) = (count(1_000), count(2_000));
    assert!(small > 20_000.0, "{small}");
    assert!((1.8..2.2).contains(&(large / small)), "{small} → {large}");
    assert_eq!(count(0), 0.0);
}

#[test]
fn views_and_carts_precede_purchases_of_the_same_item() {
    let s = log();
    let mut interest: HashMap<(u32, u32), Vec<i64>> = HashMap::new();
    for e in &s.events {
        if matches!(e.kind, SynthEventKind::View | SynthEventKind::Cart) {
            interest.entry((e.customer, e.item)).or_default().push(e.ts);
        }
    }
    let (mut preceded, mut bought) = (0u32, 0u32);
    for e in purchases(s) {
        bought += 1;
        let seen = interest
            .get(&(e.customer, e.item))
            .is_some_and(|ts| ts.iter().any(|&t| t < e.ts && e.ts - t <= 3 * 3600));
        preceded += u32::from(seen);
    }
    let share = f64::from(preceded) / f64::from(bought);
    // 1 - (1 - view_prob)(1 - cart_prob) = 0.85 of lines get a view or a cart first.
    assert!((0.8..0.9).contains(&share), "{share}");
}

#[test]
fn returns_follow_a_purchase_of_the_same_order() {
    let s = log();
    let bought: HashMap<(u64, u32), (u32, i64)> = purchases(s)
        .map(|e| ((e.order, e.item), (e.customer, e.ts)))
        .collect();
    let returns: Vec<_> = s
        .events
        .iter()
        .filter(|e| e.kind == SynthEventKind::Return)
        .collect();
    assert!(!returns.is_empty());
    for r in returns {
        let (customer, ts) = bought[&(r.order, r.item)];
        assert_eq!(customer, r.customer);
        assert!(r.ts >= ts + DAY && r.ts < ts + 30 * DAY);
    }
}

#[test]
fn popularity_is_zipf_like() {
    let top_share = |s: &Synthetic| {
        let mut counts = vec![0u64; s.items.len()];
        for e in purchases(s) {
            counts[e.item as usize] += u64::from(e.quantity);
        }
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top = counts.len() / 10;
        counts[..top].iter().sum::<u64>() as f64 / counts.iter().sum::<u64>() as f64
    };
    let zipf = top_share(log());
    assert!(zipf > 0.4, "top 10 % of items carry {zipf}");
    let flat = top_share(&generate(&SynthConfig {
        customers: 1_000,
        items: 300,
        zipf_exponent: 0.0,
        ..SynthConfig::default()
    }));
    assert!(flat < 0.25, "uniform popularity still concentrated: {flat}");
}

#[test]
fn discontinued_items_are_not_bought_after_they_go() {
    let s = log();
    let mut after = 0;
    for e in &s.events {
        let item = &s.items[e.item as usize];
        if e.kind != SynthEventKind::Return && item.discontinued_at.is_some_and(|d| e.ts >= d) {
            after += 1;
        }
    }
    assert!(s.items.iter().any(|i| !i.available()));
    assert_eq!(after, 0);
}

#[test]
fn validate_names_the_bad_field_and_generate_survives_it() {
    let bad = SynthConfig {
        taste_strength: f64::NAN,
        groups: 0,
        ..SynthConfig::default()
    };
    match bad.validate() {
        Err(SynthError::InvalidConfig { field, .. }) => assert_eq!(field, "groups"),
        other => panic!("expected an invalid-config error, got {other:?}"),
    }
    let fixed = bad.sanitized();
    assert_eq!(fixed.groups, 1);
    assert_eq!(fixed.taste_strength, SynthConfig::default().taste_strength);
    assert!(fixed.validate().is_ok());
    assert!(SynthConfig::default().validate().is_ok());
    for cfg in [
        SynthConfig {
            items: 0,
            customers: 5,
            ..SynthConfig::default()
        },
        SynthConfig {
            rate_r: -1.0,
            dropout_b: f64::INFINITY,
            days: 0,
            customers: 5,
            ..SynthConfig::default()
        },
        SynthConfig {
            start: i64::MAX - 5,
            customers: 5,
            ..SynthConfig::default()
        },
    ] {
        assert!(cfg.validate().is_err());
        let s = generate(&cfg);
        assert_eq!(s.truth.len(), 5);
    }
}
