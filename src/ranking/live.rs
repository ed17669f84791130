//! A customer's recommender state recomputed from their own purchase events, so answers
//! follow purchases posted after the bundle's snapshot without a retrain.
//!
//! The rows come from the same `summarise_history` that builds the snapshot, so a live
//! history over the customer's events before `T`, computed at `T`, equals the snapshot's
//! rows. Item-level state (popularity, neighbours, ALS item factors) stays at `T`; the
//! customer's ALS factors and precomputed ALS candidates are the snapshot's when it knows
//! the customer.

use std::sync::OnceLock;

use super::features::CustomerView;
use super::snapshot::{CustomerHistory, HistoryEvent, summarise_history};
use super::{Recommender, Snapshot};

/// A customer's recommender state recomputed from their events (replaces the bundle's).
///
/// It also memoises the customer's ranked list for an unfiltered request, computed on the
/// first read that needs it: a new event builds a new `LiveHistory` (the overlay
/// recomputes the customer), so the memo can never outlive the history it was ranked from,
/// and later reads of the same state cost what the bundle's ranked cache costs.
#[derive(Clone, Debug)]
pub struct LiveHistory {
    as_of: i64,
    history: CustomerHistory,
    ranked: OnceLock<RankedRow>,
}

/// The memoised ranked list: for which snapshot customer (whose ALS state it used) and
/// the first `cached_top` items, packed like the bundle's ranked cache, with their scores.
#[derive(Clone, Debug, Default)]
pub(crate) struct RankedRow {
    pub customer: Option<u32>,
    pub items: Vec<u32>,
    pub scores: Vec<f32>,
}

impl PartialEq for LiveHistory {
    /// Bit-for-bit equal histories (a NaN gap equals itself); the memo is derived from
    /// them and does not count.
    fn eq(&self, other: &LiveHistory) -> bool {
        let (a, b) = (&self.history, &other.history);
        let bits = |x: &[f32], y: &[f32]| {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits())
        };
        self.as_of == other.as_of
            && (a.item == b.item && a.baskets == b.baskets && a.lines == b.lines)
            && (a.first == b.first && a.last == b.last)
            && bits(&a.gap, &b.gap)
            && bits(&a.decayed, &b.decayed)
            && (a.n_baskets, a.n_lines, a.last_ts) == (b.n_baskets, b.n_lines, b.last_ts)
            && a.last_items == b.last_items
    }
}

impl LiveHistory {
    /// Time the history was computed at: only purchases strictly before it count.
    pub fn as_of(&self) -> i64 {
        self.as_of
    }

    /// True when no purchase counted (the customer is then a cold start).
    pub fn is_empty(&self) -> bool {
        self.history.n_lines == 0
    }

    /// Time of the latest purchase counted.
    pub fn last_purchase_at(&self) -> Option<i64> {
        (!self.is_empty()).then_some(self.history.last_ts)
    }

    /// Distinct items bought, sorted by item index.
    pub fn items(&self) -> &[u32] {
        &self.history.item
    }

    /// Distinct items of the latest baskets, sorted by item index.
    pub fn last_basket_items(&self) -> &[u32] {
        &self.history.last_items
    }

    /// The memoised ranked list for `customer`, computing it with `rank` on first use; `None`
    /// when the memo was made for another customer index (callers then rank in full).
    pub(crate) fn ranked_row(
        &self,
        customer: Option<u32>,
        rank: impl FnOnce() -> RankedRow,
    ) -> Option<&RankedRow> {
        let row = self.ranked.get_or_init(rank);
        (row.customer == customer).then_some(row)
    }

    /// Takes over `previous`'s memo when both histories are equal (same rows, same `as_of`),
    /// as after an event of an item the bundle does not know at an unchanged time: the
    /// ranked list is a function of the history, so it stays exact.
    pub(crate) fn inherit_ranking(&mut self, previous: &LiveHistory) {
        if let Some(row) = previous.ranked.get()
            && self.ranked.get().is_none()
            && *self == *previous
        {
            self.ranked = OnceLock::from(row.clone());
        }
    }

    /// Whether the ranked list has been memoised (tests: a new event starts without one).
    pub fn is_ranked(&self) -> bool {
        self.ranked.get().is_some()
    }

    /// The view candidate generation reads; `customer` is the snapshot index whose ALS
    /// state is reused (None or unknown to the snapshot ⇒ no ALS candidates or dot product).
    pub(crate) fn view<'a>(
        &'a self,
        snap: &'a Snapshot,
        customer: Option<u32>,
    ) -> CustomerView<'a> {
        let h = &self.history;
        let (als_items, factors, (knn_items, knn_scores)) = match customer {
            Some(c) => (snap.als_items(c), snap.user_factor_row(c), snap.knn(c)),
            None => (&[][..], None, (&[][..], &[][..])),
        };
        CustomerView {
            t: self.as_of,
            item: &h.item,
            baskets: &h.baskets,
            lines: &h.lines,
            first: &h.first,
            last: &h.last,
            gap: &h.gap,
            decayed: &h.decayed,
            recent: &h.recent,
            n_baskets: h.n_baskets,
            n_lines: h.n_lines,
            last_ts: h.last_ts,
            last_items: &h.last_items,
            als_items,
            knn_items,
            knn_scores,
            factors,
        }
    }
}

impl Recommender {
    /// Recomputes buy-again rows, last basket and last purchase time from `purchases`
    /// (sorted by ts; only ts < as_of used) exactly as Snapshot::build does at T.
    ///
    /// Items unknown to the bundle (index past its item count, e.g. a `u32::MAX` sentinel)
    /// are skipped; unsorted input is put in time order first (stable, so the lines of one
    /// basket keep their order).
    pub fn live_history(&self, purchases: &[HistoryEvent], as_of: i64) -> LiveHistory {
        let n_items = self.snapshot.n_items();
        let mut lines: Vec<HistoryEvent> = purchases
            .iter()
            .filter(|e| e.ts < as_of && (e.item as usize) < n_items)
            .copied()
            .collect();
        if !lines.is_sorted_by_key(|e| e.ts) {
            lines.sort_by_key(|e| e.ts);
        }
        LiveHistory {
            as_of,
            history: summarise_history(
                lines,
                as_of,
                self.config.half_life_days,
                self.config.last_baskets,
                self.config.recent_baskets,
            ),
            ranked: OnceLock::new(),
        }
    }

    /// Whether a request for `customer` (with its live history, if any) is answered from a
    /// purchase history rather than the cold-start popularity list.
    pub fn has_history(&self, customer: Option<u32>, live: Option<&LiveHistory>) -> bool {
        match live {
            Some(l) => !l.is_empty(),
            None => customer.is_some_and(|c| self.is_known(c)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{CustomerIdx, EventKind, EventStore, RawEvent};
    use crate::ranking::{RecommendConfig, RecommendRequest, Recommendation, Source};
    use crate::time::DAY;

    const T0: i64 = 19_723 * DAY;

    /// A small log: customer "a" repeats milk, "b" buys bread with jam, "c" buys once.
    fn store() -> EventStore {
        let mut ev = Vec::new();
        for d in 0..12 {
            let day = T0 + d * 7 * DAY;
            ev.push(RawEvent::purchase("a", "milk", day));
            if d % 2 == 0 {
                ev.push(RawEvent::purchase("a", "eggs", day + 60));
            }
            ev.push(RawEvent::purchase("b", "bread", day + 3600));
            ev.push(RawEvent::purchase("b", "jam", day + 3600));
            if d % 3 == 0 {
                ev.push(RawEvent::purchase("b", "milk", day + 2 * DAY));
                ev.push(RawEvent::purchase("c", "eggs", day + DAY));
                ev.push(RawEvent::purchase("c", "bread", day + DAY));
            }
        }
        EventStore::from_events(&ev)
    }

    fn config() -> RecommendConfig {
        let mut cfg = RecommendConfig::default();
        cfg.als.factors = 4;
        cfg.als.iterations = 3;
        cfg.ranker.num_iterations = 5;
        cfg.ranker.min_data_in_leaf = 1;
        cfg.horizon_days = 14;
        cfg
    }

    fn events_of(store: &EventStore, c: u32) -> Vec<HistoryEvent> {
        store
            .customer_events(CustomerIdx(c))
            .filter(|&e| store.kind[e] == EventKind::Purchase)
            .map(|e| HistoryEvent {
                item: store.item[e].0,
                ts: store.ts[e],
                basket: store.basket[e],
            })
            .collect()
    }

    #[test]
    fn live_history_of_pre_t_events_equals_the_snapshot_rows() {
        let store = store();
        let t = T0 + 60 * DAY;
        let rec = Recommender::fit(&store, t, &config()).unwrap();
        let snap = &rec.snapshot;
        for c in 0..store.n_customers() as u32 {
            // All events, including those at or after T: live_history must drop them.
            let live = rec.live_history(&events_of(&store, c), t);
            let (a, b) = (live.view(snap, Some(c)), snap.customer_view(c));
            assert_eq!(a.item, b.item, "customer {c}");
            assert_eq!((a.baskets, a.lines), (b.baskets, b.lines));
            assert_eq!((a.first, a.last), (b.first, b.last));
            assert_eq!(a.decayed, b.decayed);
            assert_eq!(
                a.gap.iter().map(|g| g.to_bits()).collect::<Vec<_>>(),
                b.gap.iter().map(|g| g.to_bits()).collect::<Vec<_>>()
            );
            assert_eq!(
                (a.n_baskets, a.n_lines, a.last_ts),
                (b.n_baskets, b.n_lines, b.last_ts)
            );
            assert_eq!(a.last_items, b.last_items);
            assert!(!a.item.is_empty(), "every customer bought before T");
            // Same rows ⇒ same answer as the snapshot path.
            let mut from_snap = Vec::new();
            let mut from_live = Vec::new();
            rec.recommend(Some(c), &RecommendRequest::default(), &mut from_snap);
            let req = RecommendRequest {
                live: Some(&live),
                ..RecommendRequest::default()
            };
            rec.recommend(Some(c), &req, &mut from_live);
            assert_eq!(from_snap, from_live, "customer {c}");
        }
    }

    #[test]
    fn unknown_items_are_skipped_and_unsorted_input_is_ordered() {
        let store = store();
        let t = T0 + 60 * DAY;
        let rec = Recommender::fit(&store, t, &config()).unwrap();
        let mut ev = events_of(&store, 0);
        let clean = rec.live_history(&ev, t);
        ev.push(HistoryEvent {
            item: u32::MAX,
            ts: T0 + DAY,
            basket: 999,
        });
        ev.reverse();
        assert_eq!(rec.live_history(&ev, t), clean);
    }

    #[test]
    fn live_purchases_drive_the_answer() {
        let store = store();
        let t = T0 + 60 * DAY;
        let rec = Recommender::fit(&store, t, &config()).unwrap();
        let jam = store.item_idx("jam").unwrap().0;
        let c = store.customer_idx("c").unwrap().0;
        let now = t + 2 * DAY;
        let mut ev = events_of(&store, c);
        ev.push(HistoryEvent {
            item: jam,
            ts: t + DAY,
            basket: 10_000,
        });
        let live = rec.live_history(&ev, now);
        assert_eq!(live.last_purchase_at(), Some(t + DAY));
        assert!(
            live.last_basket_items().contains(&jam),
            "the live basket is a latest basket"
        );
        let items = |req: &RecommendRequest<'_>, customer| {
            let mut out: Vec<Recommendation> = Vec::new();
            rec.recommend(customer, req, &mut out);
            out
        };
        let with_live = RecommendRequest {
            k: 20,
            live: Some(&live),
            ..RecommendRequest::default()
        };
        let answer = items(&with_live, Some(c));
        let j = answer.iter().find(|r| r.item == jam).expect("jam offered");
        assert_eq!(j.source, Source::BuyAgain, "a live purchase is buy-again");
        // exclude_purchased follows the live history.
        let excluded = items(
            &RecommendRequest {
                exclude_purchased: true,
                ..with_live
            },
            Some(c),
        );
        assert!(excluded.iter().all(|r| !live.items().contains(&r.item)));
        // A customer unknown to the bundle gets buy-again candidates from live events.
        let stranger = items(&with_live, None);
        assert!(
            stranger
                .iter()
                .any(|r| r.item == jam && r.source == Source::BuyAgain)
        );
        assert!(rec.has_history(None, Some(&live)));
        // Live history with nothing before as_of is a cold start.
        let empty = rec.live_history(&ev, T0);
        assert!(empty.is_empty() && !rec.has_history(Some(c), Some(&empty)));
        let cold = items(
            &RecommendRequest {
                live: Some(&empty),
                ..RecommendRequest::default()
            },
            Some(c),
        );
        assert!(cold.iter().all(|r| r.source == Source::Popular));
    }
}
