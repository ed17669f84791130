//! What happened in the label window `[T, T + H)`: the targets churn, repurchase and
//! next-purchase models learn, read only from events at or after the snapshot.

use crate::ingest::{CustomerIdx, EventKind, EventStore};
use crate::time::DAY;

/// Outcome of one customer in `[t, t + horizon)`.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Label {
    /// Orders (baskets with a purchase) in the window.
    pub orders: u32,
    /// Spend in the window.
    pub spend: f64,
    /// Days from `t` to the first order in the window (`None` when there is none).
    pub days_to_next: Option<f64>,
}

impl Label {
    /// True when the customer bought in the window.
    pub fn purchased(&self) -> bool {
        self.orders > 0
    }

    /// True when the customer did not buy in the window (churn target).
    pub fn churned(&self) -> bool {
        self.orders == 0
    }
}

/// Label of customer `c` for the window `[t, t + horizon_days)`.
pub fn label(store: &EventStore, c: CustomerIdx, t: i64, horizon_days: u32) -> Label {
    let end = t + horizon_days as i64 * DAY;
    let all = store.customer_events(c);
    let start = store.events_before(c, t).end;
    let mut out = Label::default();
    let mut current_basket = u32::MAX;
    for e in start..all.end {
        let ts = store.ts[e];
        if ts >= end {
            break;
        }
        if store.kind[e] != EventKind::Purchase {
            continue;
        }
        let p = store.price[e] as f64;
        if p.is_finite() {
            out.spend += store.quantity[e] as f64 * p;
        }
        if store.basket[e] != current_basket {
            current_basket = store.basket[e];
            out.orders += 1;
            if out.days_to_next.is_none() {
                out.days_to_next = Some((ts - t) as f64 / DAY as f64);
            }
        }
    }
    out
}

/// Labels for many customers.
pub fn labels(
    store: &EventStore,
    customers: &[CustomerIdx],
    t: i64,
    horizon_days: u32,
) -> Vec<Label> {
    use rayon::prelude::*;
    customers
        .par_iter()
        .map(|&c| label(store, c, t, horizon_days))
        .collect()
}
