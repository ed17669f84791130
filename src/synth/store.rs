//! Synthetic logs straight into an [`EventStore`], without writing and re-reading a file:
//! how the server builds its demo model and how tests build realistic stores.

use super::{NO_ORDER, SynthEventKind, Synthetic, customer_id, item_id};
use crate::ingest::{Event, EventKind, EventStore, StoreBuilder};

/// Builds the columnar store of a synthetic log, with the catalogue's categories, names,
/// prices and availability, exactly as loading the written files would.
pub fn to_store(s: &Synthetic) -> EventStore {
    let mut b = StoreBuilder::with_capacity(s.events.len());
    let customer_ids: Vec<String> = (0..s.truth.len() as u32).map(customer_id).collect();
    let item_ids: Vec<String> = (0..s.items.len() as u32).map(item_id).collect();
    for info in &s.items {
        let i = b.item(&item_ids[info.item as usize]);
        b.set_category(i, &info.category, true);
        b.set_item_meta(i, Some(&info.name), info.price, info.available());
    }
    let mut order = String::new();
    for e in &s.events {
        order.clear();
        if e.order != NO_ORDER {
            use std::fmt::Write;
            let _ = write!(order, "o{}", e.order);
        }
        let kind = match e.kind {
            SynthEventKind::View => EventKind::View,
            SynthEventKind::Cart => EventKind::Cart,
            SynthEventKind::Purchase => EventKind::Purchase,
            SynthEventKind::Return => EventKind::Return,
        };
        b.push(&Event {
            customer_id: &customer_ids[e.customer as usize],
            item_id: &item_ids[e.item as usize],
            timestamp: e.ts,
            kind,
            quantity: e.quantity as f32,
            price: e.price,
            order_id: (e.order != NO_ORDER).then_some(order.as_str()),
            category: None,
            customer_attrs: &[],
        });
    }
    b.finish_unchecked().0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{SynthConfig, generate};

    #[test]
    fn store_matches_the_generated_log() {
        let s = generate(&SynthConfig {
            customers: 200,
            items: 80,
            seed: 3,
            ..SynthConfig::default()
        });
        let store = to_store(&s);
        assert_eq!(store.len(), s.events.len());
        let purchases = s
            .events
            .iter()
            .filter(|e| e.kind == SynthEventKind::Purchase)
            .count();
        let stored = store
            .kind
            .iter()
            .filter(|k| **k == EventKind::Purchase)
            .count();
        assert_eq!(purchases, stored);
        // Every item keeps its catalogue category.
        for info in &s.items {
            let i = store.item_idx(&item_id(info.item)).unwrap();
            assert_eq!(store.category_of(i), Some(info.category.as_str()));
        }
    }
}
