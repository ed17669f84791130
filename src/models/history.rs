//! The training events a server needs to recompute a customer's point-in-time features and
//! recommender history between retrains, stored in the bundle as raw little-endian arrays
//! (customer-sorted CSR) so loading them is a copy, not a decode.
//!
//! Sections: `history.offsets` (`u32`, customers + 1), `history.ts` (`u32` pairs: low and
//! high halves of the `i64` seconds, so no time range can overflow), `history.item`,
//! `history.kinds` (`u32`, four one-byte event kinds per word, first event in the low
//! byte), `history.basket` (`u32`), `history.quantity`, `history.price` (`f32`). Bundles
//! written before the history existed simply lack it; bundles from before the kinds were
//! packed carry `history.kind` (one `u32` per event) instead, and still read.

use crate::bundle::{Bundle, BundleError, BundleWriter};
use crate::features::CustomerEvents;
use crate::ingest::{EventKind, EventStore, ItemIdx};
use crate::ranking::HistoryEvent;

const OFFSETS: &str = "history.offsets";
const TS: &str = "history.ts";
const ITEM: &str = "history.item";
/// One `u32` per event (bundles written before the kinds were packed).
const KIND: &str = "history.kind";
/// Four one-byte kinds per `u32`: a quarter of the size (315 MB less at 105M events).
const KINDS: &str = "history.kinds";
const BASKET: &str = "history.basket";
const QUANTITY: &str = "history.quantity";
const PRICE: &str = "history.price";

/// Every customer's events before the cutoff, in the store's order (customer, time, basket).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventHistory {
    offsets: Vec<u32>,
    ts: Vec<u32>,
    item: Vec<u32>,
    /// Event kinds packed four per word (see [`KINDS`]); unused bytes are zero.
    kinds: Vec<u32>,
    basket: Vec<u32>,
    quantity: Vec<f32>,
    price: Vec<f32>,
}

/// One customer's events decoded into owned columns (what [`CustomerEvents`] borrows).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventColumns {
    /// Timestamps, non-decreasing.
    pub ts: Vec<i64>,
    /// Kinds.
    pub kind: Vec<EventKind>,
    /// Units.
    pub quantity: Vec<f32>,
    /// Unit prices (NaN = unknown).
    pub price: Vec<f32>,
    /// Basket ids (equal for lines of one basket).
    pub basket: Vec<u32>,
    /// Items.
    pub item: Vec<ItemIdx>,
}

impl EventColumns {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// True without events.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Room for `n` more events in every column.
    pub fn reserve(&mut self, n: usize) {
        self.ts.reserve(n);
        self.kind.reserve(n);
        self.quantity.reserve(n);
        self.price.reserve(n);
        self.basket.reserve(n);
        self.item.reserve(n);
    }

    /// Appends one event at the end (the caller keeps the time order).
    pub fn push(
        &mut self,
        ts: i64,
        kind: EventKind,
        quantity: f32,
        price: f32,
        basket: u32,
        item: ItemIdx,
    ) {
        self.ts.push(ts);
        self.kind.push(kind);
        self.quantity.push(quantity);
        self.price.push(price);
        self.basket.push(basket);
        self.item.push(item);
    }

    /// Borrowed view for the feature code.
    pub fn view(&self) -> CustomerEvents<'_> {
        CustomerEvents {
            ts: &self.ts,
            kind: &self.kind,
            quantity: &self.quantity,
            price: &self.price,
            basket: &self.basket,
            item: &self.item,
        }
    }
}

impl EventHistory {
    /// The events of `store` strictly before `cutoff` (what the models were fitted on).
    pub fn from_store(store: &EventStore, cutoff: i64) -> EventHistory {
        let n_customers = store.n_customers();
        let mut h = EventHistory {
            offsets: Vec::with_capacity(n_customers + 1),
            ..EventHistory::default()
        };
        h.offsets.push(0);
        for c in 0..n_customers as u32 {
            for e in store.events_before(crate::ingest::CustomerIdx(c), cutoff) {
                let t = store.ts[e] as u64;
                h.ts.push(t as u32);
                h.ts.push((t >> 32) as u32);
                push_kind(&mut h.kinds, h.item.len(), store.kind[e] as u32);
                h.item.push(store.item[e].0);
                h.basket.push(store.basket[e]);
                h.quantity.push(store.quantity[e]);
                h.price.push(store.price[e]);
            }
            // A log of more than u32::MAX events is refused by the store builder, so the
            // count of a prefix of it fits.
            h.offsets.push(h.item.len() as u32);
        }
        h
    }

    /// Number of events held.
    pub fn len(&self) -> usize {
        self.item.len()
    }

    /// True when no event is held.
    pub fn is_empty(&self) -> bool {
        self.item.is_empty()
    }

    /// Number of customers (dense indices `0..n`).
    pub fn n_customers(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Number of events of customer `c` (0 for an index out of range).
    pub fn count(&self, c: u32) -> usize {
        self.range(c).len()
    }

    fn range(&self, c: u32) -> std::ops::Range<usize> {
        let c = c as usize;
        match (self.offsets.get(c), self.offsets.get(c + 1)) {
            (Some(&a), Some(&b)) => a as usize..b as usize,
            _ => 0..0,
        }
    }

    /// Appends customer `c`'s events to `out` (nothing for an index out of range).
    pub fn customer_into(&self, c: u32, out: &mut EventColumns) {
        let range = self.range(c);
        out.reserve(range.len());
        for e in range {
            out.push(
                self.time(e),
                self.kind_of(e),
                self.quantity[e],
                self.price[e],
                self.basket[e],
                ItemIdx(self.item[e]),
            );
        }
    }

    /// Appends customer `c`'s purchases of items below `n_items` strictly before `before`,
    /// in time order: what the recommender's live history is built from, without copying
    /// every column of every event.
    pub fn purchases_into(&self, c: u32, n_items: u32, before: i64, out: &mut Vec<HistoryEvent>) {
        out.extend(
            self.range(c)
                .filter(|&e| self.kind_of(e) == EventKind::Purchase && self.item[e] < n_items)
                .map(|e| HistoryEvent {
                    item: self.item[e],
                    ts: self.time(e),
                    basket: self.basket[e],
                })
                .take_while(|p| p.ts < before),
        );
    }

    fn time(&self, e: usize) -> i64 {
        (u64::from(self.ts[2 * e + 1]) << 32 | u64::from(self.ts[2 * e])) as i64
    }

    fn kind_of(&self, e: usize) -> EventKind {
        // Kinds were checked when the bundle was decoded.
        EventKind::ALL
            .get(kind_code(&self.kinds, e) as usize)
            .copied()
            .unwrap_or(EventKind::Purchase)
    }

    /// Adds the history sections to a bundle being written.
    pub fn put_sections<'a>(&'a self, w: &mut BundleWriter<'a>) -> Result<(), BundleError> {
        let n = self.len();
        w.put_array_u32(OFFSETS, &self.offsets, &[self.offsets.len()])?;
        w.put_array_u32(TS, &self.ts, &[n, 2])?;
        w.put_array_u32(ITEM, &self.item, &[n])?;
        w.put_array_u32(KINDS, &self.kinds, &[self.kinds.len()])?;
        w.put_array_u32(BASKET, &self.basket, &[n])?;
        w.put_array_f32(QUANTITY, &self.quantity, &[n])?;
        w.put_array_f32(PRICE, &self.price, &[n])?;
        Ok(())
    }

    /// Reads the history of a bundle: `None` for bundles written before it existed, an
    /// error when it is there but inconsistent with itself or with `n_customers`/`n_items`.
    pub fn from_bundle(
        bundle: &Bundle,
        n_customers: usize,
        n_items: usize,
    ) -> Result<Option<EventHistory>, BundleError> {
        if bundle.section(OFFSETS).is_err() {
            return Ok(None);
        }
        let h = EventHistory {
            offsets: bundle.array_u32(OFFSETS)?.to_vec(),
            ts: bundle.array_u32(TS)?.to_vec(),
            item: bundle.array_u32(ITEM)?.to_vec(),
            // A present but malformed packed section is an error of its own, not a reason to
            // look for the older one.
            kinds: if bundle.section(KINDS).is_ok() {
                bundle.array_u32(KINDS)?.to_vec()
            } else {
                pack_kinds(bundle.array_u32(KIND)?)?
            },
            basket: bundle.array_u32(BASKET)?.to_vec(),
            quantity: bundle.array_f32(QUANTITY)?.to_vec(),
            price: bundle.array_f32(PRICE)?.to_vec(),
        };
        h.check(n_customers, n_items)
            .map_err(|what| BundleError::Inconsistent { what })?;
        Ok(Some(h))
    }

    fn check(&self, n_customers: usize, n_items: usize) -> Result<(), String> {
        let n = self.item.len();
        if self.offsets.len() != n_customers + 1 {
            return Err(format!(
                "event history has offsets for {} customers, the base has {n_customers}",
                self.offsets.len().saturating_sub(1)
            ));
        }
        if self.ts.len() != 2 * n
            || self.kinds.len() != n.div_ceil(4)
            || self.basket.len() != n
            || self.quantity.len() != n
            || self.price.len() != n
        {
            return Err("event history columns differ in length".to_string());
        }
        let monotone = self.offsets.first() == Some(&0)
            && self.offsets.windows(2).all(|w| w[0] <= w[1])
            && self.offsets.last().is_some_and(|&l| l as usize == n);
        if !monotone {
            return Err("event history offsets are not a partition of its events".to_string());
        }
        if let Some(k) = (0..n)
            .map(|e| kind_code(&self.kinds, e))
            .find(|&k| k as usize >= EventKind::ALL.len())
        {
            return Err(format!("event history holds an unknown event kind {k}"));
        }
        if let Some(i) = self.item.iter().find(|&&i| i as usize >= n_items) {
            return Err(format!(
                "event history names item {i}, the base has {n_items}"
            ));
        }
        Ok(())
    }
}

/// Kind code of event `e` in a packed kinds array.
fn kind_code(kinds: &[u32], e: usize) -> u32 {
    (kinds[e / 4] >> (8 * (e % 4))) & 0xff
}

/// Packs one-`u32`-per-event kinds (older bundles) four per word.
fn pack_kinds(kind: &[u32]) -> Result<Vec<u32>, BundleError> {
    let mut packed = Vec::with_capacity(kind.len().div_ceil(4));
    for (e, &k) in kind.iter().enumerate() {
        if k as usize >= EventKind::ALL.len() {
            return Err(BundleError::Inconsistent {
                what: format!("event history holds an unknown event kind {k}"),
            });
        }
        push_kind(&mut packed, e, k);
    }
    Ok(packed)
}

/// Stores the kind code of event `e`, the next one after `e` events, in a packed array.
fn push_kind(kinds: &mut Vec<u32>, e: usize, code: u32) {
    if e.is_multiple_of(4) {
        kinds.push(0);
    }
    kinds[e / 4] |= code << (8 * (e % 4));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::RawEvent;
    use crate::time::parse_timestamp;

    fn ts(s: &str) -> i64 {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn keeps_only_events_before_the_cutoff_and_round_trips_through_a_bundle() {
        let mut late = RawEvent::purchase("a", "y", ts("2001-02-01"));
        late.price = 9.0;
        let mut early = RawEvent::purchase("a", "x", ts("1901-01-10T10:00:00Z"));
        early.price = 2.5;
        early.quantity = 3.0;
        let mut view = RawEvent::purchase("b", "y", ts("2001-01-20"));
        view.kind = EventKind::View;
        let store = EventStore::from_events(&[late, early, view]);
        let h = EventHistory::from_store(&store, ts("2001-02-01"));
        assert_eq!(h.len(), 2, "the event at the cutoff is not history");
        let mut w = BundleWriter::new();
        w.metadata(crate::bundle::Metadata::new(0));
        h.put_sections(&mut w).unwrap();
        let bytes = w.to_bytes().unwrap();
        let bundle = Bundle::from_bytes(&bytes).unwrap();
        let back = EventHistory::from_bundle(&bundle, 2, 2).unwrap().unwrap();
        // Debug output compares NaN prices as equal, unlike `PartialEq`.
        assert_eq!(format!("{back:?}"), format!("{h:?}"));
        let a = store.customer_idx("a").unwrap().0;
        let mut cols = EventColumns::default();
        back.customer_into(a, &mut cols);
        assert_eq!(
            cols.ts,
            vec![ts("1901-01-10T10:00:00Z")],
            "negative times survive"
        );
        assert_eq!(cols.quantity, vec![3.0]);
        assert_eq!(cols.price, vec![2.5]);
        assert!(
            EventHistory::from_bundle(&bundle, 3, 2)
                .unwrap_err()
                .to_string()
                .contains("customers")
        );
    }

    /// Bundles written before the kinds were packed hold one `u32` per event; they read
    /// into the same history, and an unknown kind in them is refused.
    #[test]
    fn unpacked_kinds_of_older_bundles_still_read() {
        let kinds = [
            EventKind::Purchase,
            EventKind::View,
            EventKind::Cart,
            EventKind::Return,
            EventKind::View,
        ];
        let events: Vec<RawEvent> = kinds
            .iter()
            .enumerate()
            .map(|(d, &k)| {
                let mut e = RawEvent::purchase("a", "x", ts("2001-01-01") + d as i64 * 86_400);
                e.kind = k;
                e
            })
            .collect();
        let store = EventStore::from_events(&events);
        let h = EventHistory::from_store(&store, ts("2002-01-01"));
        assert_eq!(h.kinds.len(), 2, "five kinds take two words");
        let old = |kind: Vec<u32>| {
            let mut w = BundleWriter::new();
            w.metadata(crate::bundle::Metadata::new(0));
            let n = h.len();
            w.put_array_u32(OFFSETS, &h.offsets, &[h.offsets.len()])
                .unwrap();
            w.put_array_u32(TS, &h.ts, &[n, 2]).unwrap();
            w.put_array_u32(ITEM, &h.item, &[n]).unwrap();
            w.put_array_u32(KIND, &kind, &[n]).unwrap();
            w.put_array_u32(BASKET, &h.basket, &[n]).unwrap();
            w.put_array_f32(QUANTITY, &h.quantity, &[n]).unwrap();
            w.put_array_f32(PRICE, &h.price, &[n]).unwrap();
            w.to_bytes().unwrap()
        };
        let unpacked: Vec<u32> = kinds.iter().map(|&k| k as u32).collect();
        let bytes = old(unpacked);
        let back = EventHistory::from_bundle(&Bundle::from_bytes(&bytes).unwrap(), 1, 1)
            .unwrap()
            .unwrap();
        assert_eq!(format!("{back:?}"), format!("{h:?}"));
        let mut cols = EventColumns::default();
        back.customer_into(0, &mut cols);
        assert_eq!(cols.kind, kinds);
        let bad = old(vec![0, 1, 9, 0, 0]);
        let err = EventHistory::from_bundle(&Bundle::from_bytes(&bad).unwrap(), 1, 1).unwrap_err();
        assert!(err.to_string().contains("unknown event kind 9"), "{err}");
    }

    #[test]
    fn bundles_without_history_read_as_none() {
        let mut w = BundleWriter::new();
        w.metadata(crate::bundle::Metadata::new(0));
        let bytes = w.to_bytes().unwrap();
        let bundle = Bundle::from_bytes(&bytes).unwrap();
        assert!(EventHistory::from_bundle(&bundle, 0, 0).unwrap().is_none());
    }
}
