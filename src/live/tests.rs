use std::sync::OnceLock;

use super::customer::{merged_history, propensities, recompute};
use super::*;
use crate::demo::{demo_store, train_on_whole_log};
use crate::ingest::{CustomerIdx, EventKind};
use crate::models::TrainedModels;
use crate::synth::SynthConfig;

struct Fixture {
    models: TrainedModels,
    customers: std::collections::HashMap<String, u32>,
    items: std::collections::HashMap<String, u32>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let cfg = SynthConfig {
            customers: 400,
            items: 80,
            seed: 7,
            ..SynthConfig::default()
        };
        let store = demo_store(&cfg);
        let (models, _) = train_on_whole_log(&store).expect("synthetic data trains");
        Fixture {
            customers: models.base.customer_index(),
            items: models.base.item_index(),
            models,
        }
    })
}

fn apply(o: &Overlay, changes: Vec<Change>) -> Result<(), ApplyError> {
    let f = fixture();
    o.apply(
        &f.models,
        &|id| f.customers.get(id).copied(),
        &|id| f.items.get(id).copied(),
        changes,
    )
}

/// A customer with bundle history (a feature row) and their id.
fn known_customer(f: &Fixture) -> (u32, String) {
    let c = f.models.base.modelled[0];
    (c, f.models.base.customer_ids[c as usize].clone())
}

fn purchase(id: &str, item: &str, ts: i64, price: f32) -> RawEvent {
    let mut e = RawEvent::purchase(id, item, ts);
    e.price = price;
    e
}

fn same(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
}

#[test]
fn recomputing_without_live_events_at_the_cutoff_reproduces_the_bundle_row() {
    let f = fixture();
    let m = &f.models;
    let pop = Population::of(&m.base);
    for r in [0usize, 1, m.base.rows() / 2, m.base.rows() - 1] {
        let c = m.base.modelled[r];
        let history = merged_history(m, Some(c), &EventColumns::default());
        let got = propensities(
            m,
            &pop,
            value_options().as_ref(),
            Some(c),
            &history,
            m.base.cutoff,
        );
        assert!(
            same(&got.row, m.base.feature_row(r)),
            "row {r}: {:?} != {:?}",
            got.row,
            m.base.feature_row(r)
        );
        assert_eq!(got.summary.orders, m.base.orders[r]);
        let stored = &m.base.scores[r];
        assert_eq!(got.scores.p_alive.to_bits(), stored.p_alive.to_bits());
        assert_eq!(got.scores.value.to_bits(), stored.value.to_bits());
        assert_eq!(got.churn, m.propensity.churn(m.base.feature_row(r)));
    }
}

#[test]
fn an_event_at_exactly_as_of_is_not_seen() {
    let f = fixture();
    let m = &f.models;
    let pop = Population::of(&m.base);
    let (c, id) = known_customer(f);
    let t = m.base.cutoff + 10 * DAY;
    let item = &m.base.item_ids[0];
    let mut live = LiveCustomer::empty(m, Some(c));
    live.insert(&purchase(&id, item, t - 1, 500.0), ItemIdx(0));
    live.insert(&purchase(&id, item, t, 9_999.0), ItemIdx(0));
    let history = merged_history(m, Some(c), &live.events);
    let got = propensities(m, &pop, None, Some(c), &history, t);
    let rec = recompute(m, Some(c), &live.events, t);
    let all_purchases: Vec<_> = (0..history.len())
        .filter(|&e| history.ts[e] < t && history.kind[e] == EventKind::Purchase)
        .map(|e| (history.item[e].0, history.ts[e], history.basket[e]))
        .collect();
    assert_eq!(
        rec.purchases
            .iter()
            .map(|p| (p.item, p.ts, p.basket))
            .collect::<Vec<_>>(),
        all_purchases,
        "the recommender's purchases are the merged history's"
    );
    let r = m.base.row(CustomerIdx(c)).unwrap();
    assert_eq!(
        got.summary.orders,
        m.base.orders[r] + 1,
        "only the event before as_of"
    );
    assert!((got.summary.spend - (m.base.spend[r] + 500.0)).abs() < 1e-6);
    assert_eq!(got.row[crate::features::col::RECENCY], 1.0 / DAY as f32);
    assert!(rec.purchases.iter().all(|p| p.ts < t));
    assert_eq!(rec.recommender.last_purchase_at(), Some(t - 1));
}

#[test]
fn a_purchase_moves_recency_churn_and_counts_at_once() {
    let f = fixture();
    let m = &f.models;
    let o = Overlay::new(m);
    let (c, id) = known_customer(f);
    let r = m.base.row(CustomerIdx(c)).unwrap();
    let before = m.base.feature_row(r).to_vec();
    let t = m.base.cutoff + 3600;
    apply(
        &o,
        vec![Change::Event(purchase(&id, &m.base.item_ids[1], t, 12.0))],
    )
    .unwrap();
    let Lookup::Live(live) = o.lookup(&id) else {
        panic!("customer has live state")
    };
    assert_eq!(live.n_events(), 1);
    assert_eq!(o.events_total(), 1);
    assert_eq!(o.live_customers(), 1);
    assert_eq!(live.state.as_of, t + 1);
    assert!(
        live.state.propensities.get().is_none(),
        "scores wait for the first read"
    );
    let p = live.propensities(&o, m);
    assert_eq!(p.row[crate::features::col::RECENCY], 1.0 / DAY as f32);
    assert_eq!(
        p.row[crate::features::col::ORDERS_TOTAL],
        before[crate::features::col::ORDERS_TOTAL] + 1.0
    );
    // The score is the bundle's model on the new row (whether a small model's calibrated
    // score moves for this one customer is checked end to end on the demo model).
    assert_eq!(p.churn, m.propensity.churn(&p.row));
    assert!(!same(&p.row, &before));
    assert!(
        live.state
            .purchases
            .iter()
            .any(|p| p.item == 1 && p.ts == t)
    );
    assert!(live.state.recommender.items().contains(&1));
}

#[test]
fn applying_in_one_batch_or_one_by_one_gives_the_same_state() {
    let f = fixture();
    let m = &f.models;
    let (_, id) = known_customer(f);
    let t = m.base.cutoff;
    let events: Vec<RawEvent> = (0..6)
        .map(|k| purchase(&id, &m.base.item_ids[k % 3], t + (5 - k as i64) * DAY, 3.0))
        .chain([purchase("brand-new", "never-seen-item", t - DAY, 4.0)])
        .collect();
    let all = Overlay::new(m);
    apply(&all, events.iter().cloned().map(Change::Event).collect()).unwrap();
    let single = Overlay::new(m);
    for e in &events {
        apply(&single, vec![Change::Event(e.clone())]).unwrap();
    }
    for who in [id.as_str(), "brand-new"] {
        let (Lookup::Live(a), Lookup::Live(b)) = (all.lookup(who), single.lookup(who)) else {
            panic!("{who} is live in both")
        };
        assert!(
            same(
                &a.propensities(&all, m).row,
                &b.propensities(&single, m).row
            ),
            "{who}"
        );
        assert_eq!(a.events.ts, b.events.ts);
    }
    assert_eq!(all.events_total(), 7);
}

#[test]
fn a_new_customer_is_known_from_their_own_events_and_new_items_are_kept_apart() {
    let f = fixture();
    let m = &f.models;
    let o = Overlay::new(m);
    let t = m.base.cutoff + DAY;
    apply(
        &o,
        vec![
            Change::Event(purchase("newcomer", &m.base.item_ids[2], t, 10.0)),
            Change::Event(purchase("newcomer", "item-from-tomorrow", t + 60, 5.0)),
        ],
    )
    .unwrap();
    let Lookup::Live(c) = o.lookup("newcomer") else {
        panic!("newcomer is known")
    };
    assert_eq!(c.bundle_idx, None);
    let p = c.propensities(&o, m);
    assert_eq!(p.summary.orders, 1, "same day, no order id: one order");
    assert!((p.summary.spend - 15.0).abs() < 1e-9);
    assert!(p.churn.is_finite());
    assert_eq!(
        c.state.purchases.iter().map(|p| p.item).collect::<Vec<_>>(),
        vec![2],
        "items the bundle does not know are not offered to the recommender"
    );
    assert!(
        c.events
            .item
            .iter()
            .any(|i| i.0 as usize >= m.base.item_ids.len())
    );
}

#[test]
fn erasure_hides_bundle_and_live_data_before_and_after_it() {
    let f = fixture();
    let m = &f.models;
    let o = Overlay::new(m);
    let (c, id) = known_customer(f);
    let t = m.base.cutoff + DAY;
    apply(
        &o,
        vec![Change::Event(purchase(&id, &m.base.item_ids[0], t, 1.0))],
    )
    .unwrap();
    assert!(!o.is_erased(c));
    apply(&o, vec![Change::Erase(id.clone())]).unwrap();
    assert!(matches!(o.lookup(&id), Lookup::Erased));
    assert!(o.is_erased(c));
    assert_eq!(
        (o.events_total(), o.live_customers(), o.erasures()),
        (0, 0, 1)
    );
    // The journal's rule (and the trainer's): events after the erasure are excluded too.
    apply(
        &o,
        vec![Change::Event(purchase(
            &id,
            &m.base.item_ids[0],
            t + DAY,
            2.0,
        ))],
    )
    .unwrap();
    assert!(matches!(o.lookup(&id), Lookup::Erased));
    assert_eq!(o.events_total(), 0);
    // Replay order: events, the erasure, more events: gone, nothing counted.
    let replayed = Overlay::new(m);
    apply(
        &replayed,
        vec![
            Change::Event(purchase(&id, &m.base.item_ids[0], t, 1.0)),
            Change::Erase(id.clone()),
            Change::Event(purchase(&id, &m.base.item_ids[0], t + DAY, 1.0)),
            Change::Event(purchase("someone-else", &m.base.item_ids[0], t, 1.0)),
        ],
    )
    .unwrap();
    assert!(matches!(replayed.lookup(&id), Lookup::Erased));
    assert!(replayed.is_erased(c));
    assert_eq!(replayed.events_total(), 1);
}

#[test]
fn bundles_without_history_refuse_events_but_accept_erasures() {
    let f = fixture();
    let mut m = f.models.clone();
    m.history = None;
    let o = Overlay::new(&m);
    assert_eq!(o.accepts_events(), Err(LayoutError::NoHistory));
    let r = o.apply(
        &m,
        &|_| None,
        &|_| None,
        vec![Change::Event(purchase("a", "b", 0, 1.0))],
    );
    assert_eq!(r, Err(ApplyError::Layout(LayoutError::NoHistory)));
    o.apply(&m, &|_| Some(3), &|_| None, vec![Change::Erase("x".into())])
        .unwrap();
    assert!(o.is_erased(3));
}

#[test]
fn readers_see_whole_states_while_writers_update_one_customer() {
    let f = fixture();
    let m = &f.models;
    let o = Overlay::new(m);
    let (_, id) = known_customer(f);
    let t = m.base.cutoff;
    std::thread::scope(|s| {
        for w in 0..2 {
            let (o, id) = (&o, id.clone());
            s.spawn(move || {
                for k in 0..20 {
                    let ts = t + (w * 100 + k) as i64 * 60;
                    apply(
                        o,
                        vec![Change::Event(purchase(&id, &m.base.item_ids[0], ts, 1.0))],
                    )
                    .unwrap();
                }
            });
        }
        s.spawn(|| {
            for _ in 0..200 {
                if let Lookup::Live(c) = o.lookup(&id) {
                    assert_eq!(c.state.as_of, c.events.ts.last().unwrap() + 1);
                }
            }
        });
    });
    let Lookup::Live(c) = o.lookup(&id) else {
        panic!("live")
    };
    assert_eq!(c.n_events(), 40, "no update lost between two writers");
    assert_eq!(o.events_total(), 40);
}

/// Applies one event and returns the customer's new live state.
fn live_after(o: &Overlay, id: &str, event: RawEvent) -> Arc<LiveCustomer> {
    apply(o, vec![Change::Event(event)]).unwrap();
    match o.lookup(id) {
        Lookup::Live(c) => c,
        _ => panic!("customer has live state"),
    }
}

#[test]
fn a_new_event_replaces_the_memoised_ranked_list() {
    use crate::ranking::{RecommendRequest, Source};
    let f = fixture();
    let m = &f.models;
    let rec = &m.recommender;
    let o = Overlay::new(m);
    let (c, id) = known_customer(f);
    let t = m.base.cutoff + 3600;
    let first = live_after(&o, &id, purchase(&id, &m.base.item_ids[1], t, 3.0));
    let answer = |live: &crate::ranking::LiveHistory, memo: bool| {
        let req = RecommendRequest {
            k: 100,
            live: Some(live),
            ..RecommendRequest::default()
        };
        let mut out = Vec::new();
        if memo {
            rec.recommend(Some(c), &req, &mut out);
        } else {
            rec.recommend_uncached(Some(c), &req, &mut out);
        }
        out
    };
    let first_answer = answer(&first.state.recommender, true);
    assert!(first.state.recommender.is_ranked());
    assert_eq!(first_answer, answer(&first.state.recommender, false));
    // An item this customer never bought, bought now: it must turn into buy-again.
    let snap = &rec.snapshot;
    let new_item = (0..snap.n_items() as u32)
        .find(|&i| snap.item_available[i as usize] && !first.state.recommender.items().contains(&i))
        .expect("an item the customer has not bought");
    let second = live_after(
        &o,
        &id,
        purchase(&id, &m.base.item_ids[new_item as usize], t + 60, 3.0),
    );
    assert!(
        !second.state.recommender.is_ranked(),
        "the new state starts without the old memo"
    );
    let second_answer = answer(&second.state.recommender, true);
    assert_eq!(second_answer, answer(&second.state.recommender, false));
    let sourced = |a: &[crate::ranking::Recommendation]| {
        a.iter().find(|r| r.item == new_item).map(|r| r.source)
    };
    assert_eq!(sourced(&second_answer), Some(Source::BuyAgain));
    assert_ne!(sourced(&first_answer), Some(Source::BuyAgain));
}

#[test]
fn events_that_leave_the_history_unchanged_keep_the_memo_exact() {
    use crate::ranking::RecommendRequest;
    let f = fixture();
    let m = &f.models;
    let rec = &m.recommender;
    let o = Overlay::new(m);
    let (c, id) = known_customer(f);
    let t = m.base.cutoff + 3600;
    // Items the bundle does not know never enter the recommender's history, and a second
    // event at the same time leaves `as_of` where it was.
    let first = live_after(&o, &id, purchase(&id, "not-in-bundle-1", t, 1.0));
    let req = RecommendRequest {
        live: Some(&first.state.recommender),
        ..RecommendRequest::default()
    };
    let mut out = Vec::new();
    rec.recommend(Some(c), &req, &mut out);
    assert!(first.state.recommender.is_ranked());
    let second = live_after(&o, &id, purchase(&id, "not-in-bundle-2", t, 1.0));
    assert_eq!(second.n_events(), 2);
    assert!(
        second.state.recommender.is_ranked(),
        "an unchanged history keeps its memo"
    );
    let req = RecommendRequest {
        live: Some(&second.state.recommender),
        ..RecommendRequest::default()
    };
    let (mut memo, mut full) = (Vec::new(), Vec::new());
    rec.recommend(Some(c), &req, &mut memo);
    rec.recommend_uncached(Some(c), &req, &mut full);
    assert_eq!(memo, full);
    // A later time moves `as_of` (every day count): the memo must go.
    let third = live_after(&o, &id, purchase(&id, "not-in-bundle-3", t + 60, 1.0));
    assert!(!third.state.recommender.is_ranked());
}

#[test]
fn the_recommenders_purchases_follow_the_merged_history_on_equal_times() {
    let f = fixture();
    let m = &f.models;
    let (c, id) = known_customer(f);
    let bundle = merged_history(m, Some(c), &EventColumns::default());
    let last = *bundle.ts.last().expect("known customers have history");
    let mut live = LiveCustomer::empty(m, Some(c));
    // One live purchase at the time of the last bundle event, one later.
    live.insert(&purchase(&id, &m.base.item_ids[1], last, 2.0), ItemIdx(1));
    live.insert(
        &purchase(&id, &m.base.item_ids[2], last + 60, 2.0),
        ItemIdx(2),
    );
    let as_of = last + 61;
    let history = merged_history(m, Some(c), &live.events);
    let want: Vec<_> = (0..history.len())
        .filter(|&e| history.kind[e] == EventKind::Purchase)
        .map(|e| (history.item[e].0, history.ts[e], history.basket[e]))
        .collect();
    let got = recompute(m, Some(c), &live.events, as_of);
    let got: Vec<_> = got
        .purchases
        .iter()
        .map(|p| (p.item, p.ts, p.basket))
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        got[got.len() - 2].1,
        last,
        "the live tie comes after the bundle's"
    );
}
