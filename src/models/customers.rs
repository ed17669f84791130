//! The customer base at the training cutoff: who the customers and items are, each
//! customer's point-in-time features, order summary, RFM segment and value. This is the
//! state the server answers profile questions from without the event log.

use crate::clv::rfm::Segment;
use crate::clv::{BgNbdParams, GammaGammaParams, PurchaseModel};
use crate::features::{self, FeatureLayout};
use crate::ingest::{CustomerIdx, EventStore, MISSING};
use crate::propensity::customer_values;
use crate::propensity::table::summary_days;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Horizon (days) of the value estimate shown in profiles.
pub const VALUE_HORIZON_DAYS: u32 = 365;

/// Why the customer base could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CustomerBaseError {
    /// The log has no purchase before the cutoff, so there is nothing to model.
    #[error("no purchase before the cutoff {cutoff}; hint: pass a later --cutoff or check the log")]
    NoHistory {
        /// The cutoff, RFC 3339.
        cutoff: String,
    },
    /// RFM scoring or the value model refused the summaries.
    #[error("customer value models: {0}")]
    Value(#[from] crate::propensity::PropensityError),
}

/// One customer's scores at the cutoff (RFM and value), compact for the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CustomerScores {
    /// RFM recency score, 1–5 (5 = most recent).
    pub r: u8,
    /// RFM frequency score, 1–5.
    pub f: u8,
    /// RFM monetary score, 1–5.
    pub m: u8,
    /// Named RFM segment.
    pub segment: Segment,
    /// BG/NBD probability the customer is still active (NaN without a fitted model).
    pub p_alive: f32,
    /// Expected orders over the value horizon (BG/NBD).
    pub expected_orders: f32,
    /// Expected spend per order (Gamma-Gamma).
    pub expected_order_value: f32,
    /// Expected spend over the value horizon (BG/NBD × Gamma-Gamma).
    pub value: f32,
}

/// The customer base at the cutoff.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomerBase {
    /// Training cutoff: every number here uses events strictly before it.
    pub cutoff: i64,
    /// External customer ids, by dense index.
    pub customer_ids: Vec<String>,
    /// External item ids, by dense index.
    pub item_ids: Vec<String>,
    /// Category names.
    pub categories: Vec<String>,
    /// Category of each item (`MISSING` = none).
    pub item_category: Vec<u32>,
    /// Display name of each item (empty = none).
    pub item_name: Vec<String>,
    /// Whether each item may be recommended.
    pub item_available: Vec<bool>,
    /// Feature columns.
    pub layout: FeatureLayout,
    /// Customers with a purchase before the cutoff (rows of `features`), by dense index.
    pub modelled: Vec<u32>,
    /// Row of each customer in `features`, `u32::MAX` when they have no purchase history.
    pub row_of: Vec<u32>,
    /// Row-major feature values at the cutoff, `modelled.len() × layout.len()`; stored in
    /// the bundle as a raw section, not inside the struct.
    #[serde(skip)]
    pub features: Vec<f32>,
    /// Orders before the cutoff, per row.
    pub orders: Vec<u32>,
    /// First and last order time, per row.
    pub first_last: Vec<(i64, i64)>,
    /// Spend before the cutoff, per row.
    pub spend: Vec<f64>,
    /// RFM and value per row.
    pub scores: Vec<CustomerScores>,
}

impl CustomerBase {
    /// Builds the base from every event before `cutoff`; `bgnbd` and `gamma_gamma` are the
    /// count and spend models the propensity model fitted at the same cutoff (not refitted).
    pub fn fit(
        store: &EventStore,
        cutoff: i64,
        bgnbd: Option<&BgNbdParams>,
        gamma_gamma: Option<&GammaGammaParams>,
    ) -> Result<CustomerBase, CustomerBaseError> {
        let modelled = features::customers_with_history(store, cutoff);
        if modelled.is_empty() {
            return Err(CustomerBaseError::NoHistory {
                cutoff: crate::time::format_rfc3339(cutoff),
            });
        }
        let rows = features::compute(store, &modelled, cutoff);
        let values = customer_values(
            &rows.summaries,
            cutoff,
            bgnbd,
            gamma_gamma,
            VALUE_HORIZON_DAYS,
        )?;
        let scores: Vec<CustomerScores> = rows
            .summaries
            .par_iter()
            .zip(values.par_iter())
            .map(|(s, v)| {
                let cs = summary_days(s, cutoff);
                let nan = f64::NAN;
                let (p_alive, expected_orders) = match (bgnbd, &cs) {
                    (Some(bg), Some(cs)) => (
                        bg.p_alive(cs),
                        bg.expected_purchases(cs, VALUE_HORIZON_DAYS as f64),
                    ),
                    _ => (nan, nan),
                };
                let expected_order_value = match (gamma_gamma, &cs) {
                    (Some(gg), Some(cs)) => gg.expected_spend(cs),
                    _ => nan,
                };
                CustomerScores {
                    r: v.rfm.recency,
                    f: v.rfm.frequency,
                    m: v.rfm.monetary,
                    segment: v.rfm.segment,
                    p_alive: p_alive as f32,
                    expected_orders: expected_orders as f32,
                    expected_order_value: expected_order_value as f32,
                    value: v.value as f32,
                }
            })
            .collect();
        let mut row_of = vec![u32::MAX; store.n_customers()];
        for (r, c) in modelled.iter().enumerate() {
            row_of[c.index()] = r as u32;
        }
        Ok(CustomerBase {
            cutoff,
            customer_ids: store.customers.iter().map(str::to_string).collect(),
            item_ids: store.items.iter().map(str::to_string).collect(),
            categories: store.categories.iter().map(str::to_string).collect(),
            item_category: store.item_category.clone(),
            item_name: store.item_name.clone(),
            item_available: store.item_available.clone(),
            layout: rows.layout.clone(),
            modelled: modelled.iter().map(|c| c.0).collect(),
            row_of,
            orders: rows.summaries.iter().map(|s| s.orders).collect(),
            first_last: rows
                .summaries
                .iter()
                .map(|s| (s.first.unwrap_or(cutoff), s.last.unwrap_or(cutoff)))
                .collect(),
            spend: rows.summaries.iter().map(|s| s.spend).collect(),
            features: rows.values,
            scores,
        })
    }

    /// Number of modelled customers (rows).
    pub fn rows(&self) -> usize {
        self.modelled.len()
    }

    /// Feature row `r`.
    pub fn feature_row(&self, r: usize) -> &[f32] {
        let w = self.layout.len();
        &self.features[r * w..(r + 1) * w]
    }

    /// Lookup table from external customer id to dense index.
    pub fn customer_index(&self) -> HashMap<String, u32> {
        self.customer_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i as u32))
            .collect()
    }

    /// Lookup table from external item id to dense index.
    pub fn item_index(&self) -> HashMap<String, u32> {
        self.item_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i as u32))
            .collect()
    }

    /// Category name of item `i`, if any.
    pub fn category_of(&self, i: u32) -> Option<&str> {
        match self.item_category.get(i as usize) {
            Some(&c) if c != MISSING => self.categories.get(c as usize).map(String::as_str),
            _ => None,
        }
    }

    /// Row of customer `c` in the feature table, if they have history.
    pub fn row(&self, c: CustomerIdx) -> Option<usize> {
        match self.row_of.get(c.index()) {
            Some(&r) if r != u32::MAX => Some(r as usize),
            _ => None,
        }
    }

    /// Count of customers in each RFM segment (dashboard and `inspect`).
    pub fn segment_sizes(&self) -> Vec<(Segment, usize)> {
        let mut counts: HashMap<Segment, usize> = HashMap::new();
        for s in &self.scores {
            *counts.entry(s.segment).or_default() += 1;
        }
        let mut v: Vec<_> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.name().cmp(b.0.name())));
        v
    }
}
