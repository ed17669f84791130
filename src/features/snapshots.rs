//! Which snapshot times and which customers make up training and evaluation sets.

use crate::ingest::{CustomerIdx, EventKind, EventStore};
use crate::time::DAY;
use rayon::prelude::*;

/// Customers with at least one purchase in `[t - active_days, t)`: the population scored at `t`.
pub fn active_population(store: &EventStore, t: i64, active_days: u32) -> Vec<CustomerIdx> {
    let since = t - active_days as i64 * DAY;
    (0..store.n_customers() as u32)
        .into_par_iter()
        .map(CustomerIdx)
        .filter(|&c| {
            store
                .events_before(c, t)
                .rev()
                .take_while(|&e| store.ts[e] >= since)
                .any(|e| store.kind[e] == EventKind::Purchase)
        })
        .collect()
}

/// Customers with at least one purchase before `t` (any history).
pub fn customers_with_history(store: &EventStore, t: i64) -> Vec<CustomerIdx> {
    (0..store.n_customers() as u32)
        .into_par_iter()
        .map(CustomerIdx)
        .filter(|&c| {
            store
                .events_before(c, t)
                .any(|e| store.kind[e] == EventKind::Purchase)
        })
        .collect()
}

/// Training snapshots for a model evaluated (or served) at `cutoff`: `cutoff - H`,
/// `cutoff - 2H`, … newest first, so every label window ends at or before the cutoff, keeping
/// only snapshots with at least `min_history_days` of data before them.
pub fn training_snapshots(
    data_start: i64,
    cutoff: i64,
    horizon_days: u32,
    min_history_days: u32,
    max_snapshots: usize,
) -> Vec<i64> {
    let h = horizon_days.max(1) as i64 * DAY;
    let mut out = Vec::new();
    let mut t = cutoff - h;
    while t - min_history_days as i64 * DAY >= data_start && out.len() < max_snapshots {
        out.push(t);
        t -= h;
    }
    out
}
