//! Likely items: the customer's staples (items bought in several orders) whose usual cycle
//! is due at the snapshot.

use crate::ingest::{CustomerIdx, EventKind, EventStore, ItemIdx};
use crate::time::DAY;
use serde::{Deserialize, Serialize};

/// A staple due for repurchase.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LikelyItem {
    /// The item.
    pub item: ItemIdx,
    /// Orders it was in before the snapshot.
    pub orders: u32,
    /// Mean days between those orders.
    pub cycle_days: f64,
    /// Days since it was last bought, divided by the cycle (1 = due today).
    pub due_ratio: f64,
}

/// A staple counts as due from this share of its cycle on…
const DUE_FROM: f64 = 0.75;
/// …until this many cycles have passed (by then the customer has likely moved on).
const DUE_UNTIL: f64 = 3.0;

/// Up to `k` staples of customer `c` due at `t`, closest to exactly one cycle first; reads
/// only purchases before `t`.
pub fn likely_items(store: &EventStore, c: CustomerIdx, t: i64, k: usize) -> Vec<LikelyItem> {
    // (item, order time) of every purchase line, one per basket and item.
    let mut lines: Vec<(u32, i64, u32)> = store
        .events_before(c, t)
        .filter(|&e| store.kind[e] == EventKind::Purchase)
        .map(|e| (store.item[e].0, store.ts[e], store.basket[e]))
        .collect();
    lines.sort_unstable();
    lines.dedup_by_key(|l| (l.0, l.2));
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let item = lines[i].0;
        let j = i + lines[i..].iter().take_while(|l| l.0 == item).count();
        let n = (j - i) as u32;
        if n >= 2 {
            let (first, last) = (lines[i].1, lines[j - 1].1);
            let cycle = (last - first) as f64 / DAY as f64 / (n - 1) as f64;
            if cycle > 0.0 {
                let ratio = (t - last) as f64 / DAY as f64 / cycle;
                if (DUE_FROM..=DUE_UNTIL).contains(&ratio) {
                    out.push(LikelyItem {
                        item: ItemIdx(item),
                        orders: n,
                        cycle_days: cycle,
                        due_ratio: ratio,
                    });
                }
            }
        }
        i = j;
    }
    out.sort_by(|a, b| {
        (a.due_ratio - 1.0)
            .abs()
            .total_cmp(&(b.due_ratio - 1.0).abs())
            .then(b.orders.cmp(&a.orders))
            .then(a.item.0.cmp(&b.item.0))
    });
    out.truncate(k);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::RawEvent;
    use crate::time::parse_timestamp;

    fn buy(item: &str, day: &str) -> RawEvent {
        RawEvent::purchase("a", item, parse_timestamp(day).unwrap())
    }

    #[test]
    fn due_staples_come_first_and_one_offs_or_long_gone_items_never() {
        let store = EventStore::from_events(&[
            // Milk every 10 days, last 10 days before t: due exactly.
            buy("milk", "2001-01-01"),
            buy("milk", "2001-01-11"),
            buy("milk", "2001-01-21"),
            // Coffee every 20 days, last 12 days before t: 0.6 of a cycle, not yet due.
            buy("coffee", "2000-12-30"),
            buy("coffee", "2001-01-19"),
            // Soap every 5 days, last 29 days before t: gone for almost 6 cycles.
            buy("soap", "2000-12-28"),
            buy("soap", "2001-01-02"),
            // A one-off.
            buy("tv", "2001-01-05"),
            // Bread every 8 days, last 8 days ago: due too, but with fewer orders than milk.
            buy("bread", "2001-01-15"),
            buy("bread", "2001-01-23"),
            // Bought at t: not seen.
            buy("coffee", "2001-01-31"),
        ]);
        let t = parse_timestamp("2001-01-31").unwrap();
        let c = store.customer_idx("a").unwrap();
        let got = likely_items(&store, c, t, 5);
        let names: Vec<&str> = got
            .iter()
            .map(|l| store.items.name(l.item.0).unwrap())
            .collect();
        assert_eq!(names, vec!["milk", "bread"]);
        assert!((got[0].cycle_days - 10.0).abs() < 1e-9 && (got[0].due_ratio - 1.0).abs() < 1e-9);
        assert_eq!(got[0].orders, 3);
        assert_eq!(likely_items(&store, c, t, 1).len(), 1);
    }
}
