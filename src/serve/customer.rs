//! One customer as the server answers about them: the same type whether their scores come
//! from the bundle or were recomputed from events received since, so a handler asks for
//! what it shows (churn, forecast, order summary, RFM and value) and never branches on
//! where it comes from.
//!
//! Bundle customers are scored from their stored feature row on each call (a few GBDT
//! walks); live customers read the scores their last change computed on first use.

use std::sync::Arc;

use crate::features::customer::OrderSummary;
use crate::ingest::CustomerIdx;
use crate::live::{LiveCustomer, Lookup, Propensities};
use crate::models::CustomerScores;
use crate::propensity::{Factor, RiskBand};

use super::state::ServingState;

/// A customer the served model knows (neither unknown nor erased).
pub struct Customer<'s> {
    state: &'s ServingState,
    source: Source,
}

/// Where a customer's answers come from.
enum Source {
    /// Row `r` of the bundle's customer base, untouched since training.
    Bundle(usize),
    /// Recomputed from events since the bundle.
    Live(Arc<LiveCustomer>),
}

/// When the customer will buy next, and how often, at [`Customer::as_of`].
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// Calibrated churn probability the curve is anchored to (as [`Customer::churn`]).
    pub churn: f64,
    /// P(at least one purchase within d days), by curve horizon, shortest first.
    pub curve: Vec<(u32, f64)>,
    /// Time by which the next purchase is more likely than not; `None` when that is
    /// beyond the longest horizon.
    pub next_purchase: Option<i64>,
    /// Expected purchases within the churn horizon.
    pub expected_purchases: f64,
    /// Whole-number count forecast for the same horizon, when the bundle has one.
    pub predicted_purchases: Option<f64>,
}

impl ServingState {
    /// The customer `id` as the server knows them now: `None` when the model does not
    /// know them, or they were erased.
    pub fn customer(&self, id: &str) -> Option<Customer<'_>> {
        let source = match self.lookup(id) {
            Lookup::Erased => return None,
            Lookup::Live(c) => Source::Live(c),
            Lookup::Untouched => {
                let base = &self.models.trained.base;
                Source::Bundle(base.row(CustomerIdx(self.bundle_customer(id)?))?)
            }
        };
        Some(Customer {
            state: self,
            source,
        })
    }
}

/// A customer's scores: a bundle row, or what their last change computed.
enum Scored<'a> {
    Bundle(usize),
    Live(&'a Propensities),
}

impl Customer<'_> {
    fn scored(&self) -> Scored<'_> {
        match &self.source {
            Source::Bundle(r) => Scored::Bundle(*r),
            Source::Live(c) => Scored::Live(self.state.live_scores(c)),
        }
    }

    /// The customer's events since the bundle, if any.
    pub fn live(&self) -> Option<&LiveCustomer> {
        match &self.source {
            Source::Bundle(_) => None,
            Source::Live(c) => Some(c),
        }
    }

    /// The time the answers describe: the bundle's cutoff, or for a live customer their
    /// newest event + 1 s (the features see everything before it).
    pub fn as_of(&self) -> i64 {
        match &self.source {
            Source::Bundle(_) => self.state.models.trained.base.cutoff,
            Source::Live(c) => c.state.as_of,
        }
    }

    /// Feature row in the bundle's layout.
    pub fn row(&self) -> &[f32] {
        match self.scored() {
            Scored::Bundle(r) => self.state.models.trained.base.feature_row(r),
            Scored::Live(p) => &p.row,
        }
    }

    /// Calibrated probability of no purchase within the churn horizon.
    pub fn churn(&self) -> f64 {
        match self.scored() {
            Scored::Bundle(r) => {
                let base = &self.state.models.trained.base;
                self.state
                    .models
                    .trained
                    .propensity
                    .churn(base.feature_row(r))
            }
            Scored::Live(p) => p.churn,
        }
    }

    /// The churn probability's band.
    pub fn risk_band(&self) -> RiskBand {
        RiskBand::of(self.churn())
    }

    /// The `k` features that move the churn score most, strongest first (TreeSHAP).
    pub fn churn_factors(&self, k: usize) -> Vec<Factor> {
        self.state.models.trained.propensity.explain(self.row(), k)
    }

    /// Repurchase curve, predicted date and purchase counts.
    pub fn forecast(&self) -> Forecast {
        let trained = &self.state.models.trained;
        let model = &trained.propensity;
        let (curve, next_purchase, expected_purchases, churn) = match self.scored() {
            Scored::Live(p) => (
                p.curve.clone(),
                p.next_purchase,
                p.expected_purchases,
                p.churn,
            ),
            Scored::Bundle(r) => {
                let row = trained.base.feature_row(r);
                let churn = model.churn(row);
                let curve = model.repurchase_curve_given(row, churn);
                let next = model.next_purchase_on(&curve);
                (curve, next, model.expected_purchases(row), churn)
            }
        };
        Forecast {
            churn,
            next_purchase,
            expected_purchases,
            predicted_purchases: trained
                .forecast
                .map(|f| f.purchases(expected_purchases, churn)),
            curve,
        }
    }

    /// Orders, first and last order time and spend before [`Customer::as_of`].
    pub fn orders(&self) -> OrderSummary {
        match self.scored() {
            Scored::Bundle(r) => {
                let base = &self.state.models.trained.base;
                let (first, last) = base.first_last[r];
                OrderSummary {
                    orders: base.orders[r],
                    first: Some(first),
                    last: Some(last),
                    spend: base.spend[r],
                }
            }
            Scored::Live(p) => p.summary,
        }
    }

    /// RFM scores and segment (against the bundle's population) and BTYD value.
    pub fn scores(&self) -> &CustomerScores {
        match self.scored() {
            Scored::Bundle(r) => &self.state.models.trained.base.scores[r],
            Scored::Live(p) => &p.scores,
        }
    }
}
