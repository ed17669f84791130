//! Feature tables: point-in-time feature rows of many customers at one or more snapshots,
//! each with the BG/NBD features fitted at its own snapshot and its label window.

use super::error::{PropensityError, Result};
use crate::clv::{BgNbd, BgNbdParams, CustomerSummary, FitOptions, PurchaseModel};
use crate::features::{self, FeatureLayout, Label, OrderSummary};
use crate::ingest::{CustomerIdx, EventStore};
use crate::time::DAY;
use rayon::prelude::*;

/// Names of the count-model features appended to the behavioural ones.
pub const CLV_FEATURES: [&str; 3] = [
    "bgnbd_p_alive",
    "bgnbd_expected_purchases",
    "bgnbd_p_any_purchase",
];

/// The BG/NBD expected purchases column (the count model's optional baseline).
pub const EXPECTED_PURCHASES_FEATURE: &str = CLV_FEATURES[1];

/// Rows of the model's features (behavioural block, attributes, then [`CLV_FEATURES`]) with
/// the label of each row's window `[snapshot, snapshot + label_days)`.
#[derive(Debug, Clone, Default)]
pub struct FeatureTable {
    /// Column names.
    pub names: Vec<String>,
    /// Names of the categorical columns.
    pub categorical: Vec<String>,
    /// Customer of each row.
    pub customers: Vec<CustomerIdx>,
    /// Snapshot time of each row (seconds).
    pub snapshots: Vec<i64>,
    /// Label window length of each row (days).
    pub label_days: Vec<u32>,
    /// Row-major feature values.
    pub values: Vec<f32>,
    /// Order history of each row before its snapshot.
    pub summaries: Vec<OrderSummary>,
    /// What happened in each row's label window.
    pub labels: Vec<Label>,
}

/// Column names of a model row for `store`.
pub fn model_layout(store: &EventStore) -> (Vec<String>, Vec<String>) {
    let layout = FeatureLayout::for_store(store);
    let categorical = layout
        .names
        .iter()
        .zip(&layout.categorical)
        .filter(|(_, c)| **c)
        .map(|(n, _)| n.clone())
        .collect();
    let mut names = layout.names;
    names.extend(CLV_FEATURES.iter().map(|s| s.to_string()));
    (names, categorical)
}

impl FeatureTable {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.customers.len()
    }

    /// True when the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.customers.is_empty()
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.names.len()
    }

    /// Feature values of row `r`.
    pub fn row(&self, r: usize) -> &[f32] {
        let w = self.width();
        &self.values[r * w..(r + 1) * w]
    }

    /// Position of a column by name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Appends every row of `other` (same columns).
    pub fn extend(&mut self, other: FeatureTable) {
        if self.names.is_empty() {
            *self = other;
            return;
        }
        self.customers.extend(other.customers);
        self.snapshots.extend(other.snapshots);
        self.label_days.extend(other.label_days);
        self.values.extend(other.values);
        self.summaries.extend(other.summaries);
        self.labels.extend(other.labels);
    }

    /// Column-major f64 copy of the rows `rows` (all rows when `None`), as the GBDT reads it.
    pub fn columns(&self, rows: Option<&[usize]>) -> Vec<Vec<f64>> {
        let w = self.width();
        let pick = |f: usize| -> Vec<f64> {
            match rows {
                Some(rs) => rs.iter().map(|&r| self.values[r * w + f] as f64).collect(),
                None => (0..self.len())
                    .map(|r| self.values[r * w + f] as f64)
                    .collect(),
            }
        };
        (0..w).into_par_iter().map(pick).collect()
    }
}

/// A customer's `(x, t_x, T)` summary at snapshot `t`, in days; `None` without orders.
pub fn summary_days(s: &OrderSummary, t: i64) -> Option<CustomerSummary> {
    let (first, last) = (s.first?, s.last?);
    let days = |secs: i64| secs as f64 / DAY as f64;
    let x = s.orders.saturating_sub(1) as f64;
    Some(CustomerSummary {
        x,
        t_x: if x > 0.0 { days(last - first) } else { 0.0 },
        t: days(t - first),
        monetary: if x > 0.0 {
            (s.spend / s.orders as f64).max(0.0)
        } else {
            0.0
        },
    })
}

/// Most customers a BG/NBD fit reads. Four parameters are pinned down long before this;
/// past it a stable sample keeps each of the up to 18 fits of a training run from growing
/// with the store (at 180k customers a fit took 4–7 s on 100k of them, ~700–1300
/// likelihood evaluations). Above the public data sets' sizes, so their figures are exact.
pub const MAX_FIT_CUSTOMERS: usize = 40_000;

/// BG/NBD fitted at snapshot `t` on the customers with a purchase before `t` (days; a
/// stable sample of [`MAX_FIT_CUSTOMERS`] when there are more); `None` when nobody has one.
pub fn fit_bgnbd_at(store: &EventStore, t: i64) -> Result<Option<BgNbdParams>> {
    let mut history = features::customers_with_history(store, t);
    if history.len() > MAX_FIT_CUSTOMERS {
        // Evenly spaced over the customer order (order of first appearance in the log), so
        // every cohort is in the sample; deterministic and independent of the thread count.
        let n = history.len();
        history = (0..MAX_FIT_CUSTOMERS)
            .map(|k| history[k * n / MAX_FIT_CUSTOMERS])
            .collect();
    }
    let rows = features::compute(store, &history, t);
    let summaries: Vec<CustomerSummary> = rows
        .summaries
        .iter()
        .filter_map(|s| summary_days(s, t))
        .collect();
    if summaries.is_empty() {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let fit =
        BgNbd::fit(&summaries, &FitOptions::default()).map_err(|source| PropensityError::Clv {
            model: "BG/NBD",
            source,
        })?;
    tracing::debug!(
        customers = summaries.len(),
        evaluations = fit.report.evaluations,
        converged = fit.report.converged,
        seconds = started.elapsed().as_secs_f64(),
        "BG/NBD fitted at a snapshot"
    );
    Ok(Some(fit.params))
}

/// The BG/NBD features of one customer: P(alive), expected purchases and P(any purchase)
/// in the next `horizon_days`; NaN without a fitted model or without history.
pub fn clv_features(
    bg: Option<&BgNbdParams>,
    s: &OrderSummary,
    t: i64,
    horizon_days: u32,
) -> [f32; 3] {
    match (bg, summary_days(s, t)) {
        (Some(p), Some(cs)) => {
            let h = horizon_days as f64;
            [
                p.p_alive(&cs) as f32,
                p.expected_purchases(&cs, h) as f32,
                p.p_any_purchase(&cs, h) as f32,
            ]
        }
        _ => [f32::NAN; 3],
    }
}

/// Feature rows of `customers` at snapshot `t` with labels over `[t, t + label_days)`;
/// `bg` is the BG/NBD fitted at `t` (see [`fit_bgnbd_at`]), `horizon_days` the horizon of
/// its features.
pub fn snapshot_table(
    store: &EventStore,
    customers: &[CustomerIdx],
    t: i64,
    bg: Option<&BgNbdParams>,
    horizon_days: u32,
    label_days: u32,
) -> FeatureTable {
    let (names, categorical) = model_layout(store);
    let base = features::compute(store, customers, t);
    let wb = base.layout.len();
    let w = names.len();
    let mut values = vec![0f32; customers.len() * w];
    values.par_chunks_mut(w).enumerate().for_each(|(r, out)| {
        out[..wb].copy_from_slice(base.row(r));
        out[wb..].copy_from_slice(&clv_features(bg, &base.summaries[r], t, horizon_days));
    });
    FeatureTable {
        names,
        categorical,
        customers: customers.to_vec(),
        snapshots: vec![t; customers.len()],
        label_days: vec![label_days; customers.len()],
        values,
        summaries: base.summaries,
        labels: features::labels(store, customers, t, label_days),
    }
}

/// Who is in a snapshot's population.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Population {
    /// Customers with a purchase in the `n` days before the snapshot.
    Active(u32),
    /// Customers with any purchase before the snapshot.
    History,
}

impl Population {
    /// The population at `t`.
    pub fn at(self, store: &EventStore, t: i64) -> Vec<CustomerIdx> {
        match self {
            Population::Active(days) => features::active_population(store, t, days),
            Population::History => features::customers_with_history(store, t),
        }
    }
}
