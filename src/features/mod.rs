//! Point-in-time features and labels for customer models.
//!
//! The one rule of this module: a feature for snapshot time `T` reads only events with
//! timestamp `< T`, a label only events in `[T, T + H)`. Everything a churn, repurchase or
//! next-purchase model sees passes through here, so the leak tests below guard all of them.

pub mod customer;
pub mod labels;
pub mod snapshots;

pub use customer::{
    BEHAVIOUR_FEATURES, CustomerEvents, FeatureLayout, FeatureRows, OrderSummary, Scratch, WINDOWS,
    behaviour_row, col, compute, customer_row,
};
pub use labels::{Label, UnobservedWindow, check_observed, label, labels, observed_until};
pub use snapshots::{active_population, customers_with_history, training_snapshots};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{CustomerIdx, EventKind, EventStore, RawEvent};
    use crate::time::{DAY, parse_timestamp};

    fn ts(s: &str) -> i64 {
        parse_timestamp(s).unwrap()
    }

    fn buy(c: &str, item: &str, t: &str, price: f32) -> RawEvent {
        let mut e = RawEvent::purchase(c, item, ts(t));
        e.price = price;
        e
    }

    fn row_of(store: &EventStore, c: &str, t: i64) -> (Vec<f32>, OrderSummary) {
        let layout = FeatureLayout::for_store(store);
        let mut out = vec![0.0; layout.len()];
        let cidx = store.customer_idx(c).unwrap();
        let s = customer_row(store, cidx, t, &mut out, &mut Default::default());
        (out, s)
    }

    #[test]
    fn features_see_only_events_strictly_before_the_snapshot() {
        let t = ts("2001-02-01T00:00:00Z");
        let store = EventStore::from_events(&[
            buy("a", "x", "2001-01-01T10:00:00Z", 2.0),
            // One second before the snapshot: seen.
            buy("a", "y", "2001-01-31T23:59:59Z", 3.0),
            // Exactly at the snapshot: must not be seen (a `<=` would leak it).
            buy("a", "z", "2001-02-01T00:00:00Z", 100.0),
        ]);
        let (row, summary) = row_of(&store, "a", t);
        assert_eq!(summary.orders, 2);
        assert_eq!(row[col::ORDERS_TOTAL], 2.0);
        assert_eq!(row[col::SPEND_TOTAL], 5.0);
        assert!((row[col::RECENCY] - 1.0 / 86_400.0).abs() < 1e-6);
        assert_eq!(
            row[BEHAVIOUR_FEATURES
                .iter()
                .position(|f| *f == "distinct_items")
                .unwrap()],
            2.0
        );
        // The label window starts exactly at the snapshot and sees the third purchase.
        let l = label(&store, store.customer_idx("a").unwrap(), t, 28);
        assert_eq!(l.orders, 1);
        assert_eq!(l.spend, 100.0);
        assert_eq!(l.days_to_next, Some(0.0));
    }

    #[test]
    fn a_label_window_past_the_logs_last_day_is_refused() {
        let store = EventStore::from_events(&[
            buy("a", "x", "2001-01-20", 1.0),
            buy("b", "y", "2001-02-28T15:30:00Z", 1.0),
        ]);
        // The last day is covered whole: a window ending at midnight after it is observed.
        assert_eq!(check_observed(&store, ts("2001-02-01"), 28), Ok(()));
        assert_eq!(check_observed(&store, ts("2001-01-04"), 56), Ok(()));
        // One day further is not, and the error says how far back the cutoff must move.
        let e = check_observed(&store, ts("2001-02-02"), 28).unwrap_err();
        assert_eq!(e.to, "2001-03-02");
        assert_eq!(e.last_day, "2001-02-28");
        assert_eq!(e.latest, "2001-02-01");
        assert!(e.to_string().contains("2001-02-01 or earlier"), "{e}");
        // Nothing to check on an empty log.
        assert_eq!(check_observed(&EventStore::from_events(&[]), 0, 28), Ok(()));
    }

    #[test]
    fn label_window_is_half_open() {
        let t = ts("2001-02-01");
        let store = EventStore::from_events(&[
            buy("a", "x", "2001-01-20", 1.0),
            buy("a", "x", "2001-02-28T23:59:59Z", 1.0),
            buy("a", "x", "2001-03-01", 1.0), // t + 28 days: outside
        ]);
        let l = label(&store, store.customer_idx("a").unwrap(), t, 28);
        assert_eq!(l.orders, 1);
        assert!((l.days_to_next.unwrap() - (28.0 - 1.0 / 86_400.0)).abs() < 1e-9);
    }

    #[test]
    fn windows_gaps_and_trend_on_a_hand_made_history() {
        let t = ts("2001-03-01");
        let store = EventStore::from_events(&[
            buy("a", "x", "2000-12-01", 10.0), // 90 days before
            buy("a", "y", "2001-01-10", 10.0), // 50 days before
            buy("a", "x", "2001-02-15", 10.0), // 14 days before
            buy("a", "z", "2001-02-15", 5.0),  // same basket (same day)
            buy("a", "x", "2001-02-25", 10.0), // 4 days before
        ]);
        let (row, s) = row_of(&store, "a", t);
        let f = |name: &str| row[BEHAVIOUR_FEATURES.iter().position(|x| *x == name).unwrap()];
        assert_eq!(s.orders, 4);
        assert_eq!(f("orders_7d"), 1.0);
        assert_eq!(f("orders_14d"), 2.0); // 14 days before is inside [t-14d, t)
        assert_eq!(f("orders_30d"), 2.0);
        assert_eq!(f("orders_60d"), 3.0);
        assert_eq!(f("orders_90d"), 4.0);
        assert_eq!(f("spend_30d"), 25.0);
        assert_eq!(f("orders_trend_30d"), 2.0 - 1.0);
        assert_eq!(f("recency_days"), 4.0);
        assert_eq!(f("tenure_days"), 90.0);
        assert_eq!(f("gap_last_days"), 10.0);
        assert!((f("gap_mean_days") - 86.0 / 3.0).abs() < 1e-4);
        assert_eq!(f("avg_basket_lines"), 5.0 / 4.0);
        assert_eq!(f("distinct_items"), 3.0);
    }

    #[test]
    fn customers_without_history_get_missing_recency_not_zero() {
        let t = ts("2001-01-01");
        let store = EventStore::from_events(&[buy("a", "x", "2001-01-05", 1.0)]);
        let (row, s) = row_of(&store, "a", t);
        assert_eq!(s.orders, 0);
        assert!(row[col::RECENCY].is_nan());
        assert_eq!(row[col::ORDERS_TOTAL], 0.0);
    }

    #[test]
    fn views_carts_and_returns_are_counted_apart_from_orders() {
        let t = ts("2001-02-01");
        let mut view = buy("a", "x", "2001-01-30", 1.0);
        view.kind = EventKind::View;
        let mut cart = buy("a", "x", "2001-01-31", 1.0);
        cart.kind = EventKind::Cart;
        let mut ret = buy("a", "x", "2001-01-20", 1.0);
        ret.kind = EventKind::Return;
        let store = EventStore::from_events(&[buy("a", "x", "2001-01-10", 1.0), view, cart, ret]);
        let (row, s) = row_of(&store, "a", t);
        let f = |name: &str| row[BEHAVIOUR_FEATURES.iter().position(|x| *x == name).unwrap()];
        assert_eq!(s.orders, 1);
        assert_eq!(f("views_30d"), 1.0);
        assert_eq!(f("carts_total"), 1.0);
        assert_eq!(f("returns_total"), 1.0);
        assert_eq!(f("days_since_cart"), 1.0);
        assert_eq!(f("recency_days"), 22.0);
    }

    #[test]
    fn population_and_snapshots_respect_the_cutoff() {
        let t = ts("2001-02-01");
        let store = EventStore::from_events(&[
            buy("old", "x", "2000-09-01", 1.0),
            buy("recent", "x", "2001-01-15", 1.0),
            buy("future", "x", "2001-02-01", 1.0), // first purchase at the cutoff: not active
        ]);
        let pop = active_population(&store, t, 90);
        let names: Vec<&str> = pop
            .iter()
            .map(|c| store.customers.name(c.0).unwrap())
            .collect();
        assert_eq!(names, vec!["recent"]);
        let hist = customers_with_history(&store, t);
        assert_eq!(hist.len(), 2);
        let snaps = training_snapshots(ts("2000-11-01"), t, 28, 28, 10);
        assert_eq!(snaps, vec![t - 28 * DAY, t - 56 * DAY]);
        for s in &snaps {
            assert!(
                s + 28 * DAY <= t,
                "label window must end at or before the cutoff"
            );
        }
        let _ = CustomerIdx(0);
    }

    #[test]
    fn parallel_compute_matches_row_by_row() {
        let mut events = Vec::new();
        for c in 0..50 {
            for d in 0..(c % 7 + 1) {
                events.push(buy(
                    &format!("c{c}"),
                    &format!("i{}", (c + d) % 5),
                    &format!("2001-01-{:02}", d * 3 + 1),
                    1.5,
                ));
            }
        }
        let store = EventStore::from_events(&events);
        let t = ts("2001-01-20");
        let customers: Vec<CustomerIdx> =
            (0..store.n_customers() as u32).map(CustomerIdx).collect();
        let rows = compute(&store, &customers, t);
        for (r, c) in customers.iter().enumerate() {
            let (single, _) = row_of(&store, store.customers.name(c.0).unwrap(), t);
            let got = rows.row(r);
            for (a, b) in got.iter().zip(&single) {
                assert!(a == b || (a.is_nan() && b.is_nan()));
            }
        }
    }
}
