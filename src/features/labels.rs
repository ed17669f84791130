//! What happened in the label window `[T, T + H)`: the targets churn, repurchase and
//! next-purchase models learn, read only from events at or after the snapshot.

use crate::ingest::{CustomerIdx, EventKind, EventStore};
use crate::time::{DAY, format_date};

/// A label window that runs past the log's last day: customers would look as if they did not
/// buy there for lack of data, so churn, repurchase and recommendation truth would be wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "the label window [{from}, {to}) runs past the log's last day, {last_day}: its labels would count missing data as customers not buying; use a cutoff of {latest} or earlier, or a shorter horizon"
)]
pub struct UnobservedWindow {
    /// Window start (the cutoff), `YYYY-MM-DD`.
    pub from: String,
    /// Window end, `YYYY-MM-DD` (exclusive).
    pub to: String,
    /// Day of the log's last event.
    pub last_day: String,
    /// Latest cutoff whose window the log covers with this horizon.
    pub latest: String,
}

/// The log's last event time and the end of the data it covers: midnight after that event's
/// day (logs are taken to hold whole days); `None` for an empty log. The default training
/// cutoff, and the latest end a label window may have.
pub fn observed_until(store: &EventStore) -> Option<(i64, i64)> {
    let (_, last) = store.time_range()?;
    Some((last, (last.div_euclid(DAY) + 1) * DAY))
}

/// Checks that the log covers the label window `[t, t + horizon_days)`: the window ends no
/// later than midnight after the day of the last event (logs are taken to hold whole days).
/// An empty log passes (there is nothing to label and the callers say so).
pub fn check_observed(
    store: &EventStore,
    t: i64,
    horizon_days: u32,
) -> Result<(), UnobservedWindow> {
    let Some((last, observed_until)) = observed_until(store) else {
        return Ok(());
    };
    let h = horizon_days as i64 * DAY;
    if t.saturating_add(h) <= observed_until {
        return Ok(());
    }
    Err(UnobservedWindow {
        from: format_date(t),
        to: format_date(t.saturating_add(h)),
        last_day: format_date(last),
        latest: format_date(observed_until - h),
    })
}

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
