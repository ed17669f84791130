//! RFM segments and customer value (Gamma-Gamma spend × BG/NBD purchases) at a cutoff.

use super::error::{PropensityError, Result};
use super::table::summary_days;
use crate::clv::rfm::{RfmInput, RfmScore, rfm_scores};
use crate::clv::{
    BgNbdParams, ClvOptions, CustomerSummary, FitOptions, GammaGamma, GammaGammaParams,
};
use crate::features::{self, OrderSummary};
use crate::ingest::EventStore;
use crate::time::DAY;
use serde::{Deserialize, Serialize};

/// Gamma-Gamma fitted at `t` on customers with a repeat purchase and positive spend before
/// it; `None` when there are none.
pub fn fit_gamma_gamma_at(store: &EventStore, t: i64) -> Result<Option<GammaGammaParams>> {
    let history = features::customers_with_history(store, t);
    let rows = features::compute(store, &history, t);
    let summaries: Vec<CustomerSummary> = rows
        .summaries
        .iter()
        .filter_map(|s| summary_days(s, t))
        .filter(|s| s.x > 0.0 && s.monetary > 0.0)
        .collect();
    if summaries.is_empty() {
        return Ok(None);
    }
    match GammaGamma::fit(&summaries, &FitOptions::default()) {
        Ok(fit) => Ok(Some(fit.params)),
        Err(crate::clv::Error::NoCustomers { .. }) => Ok(None),
        Err(source) => Err(PropensityError::Clv {
            model: "Gamma-Gamma",
            source,
        }),
    }
}

/// A customer's segment and value at the cutoff.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomerValue {
    /// RFM scores and segment against the scored population.
    pub rfm: RfmScore,
    /// Expected spend over `value_days` (Gamma-Gamma × BG/NBD, undiscounted); NaN without
    /// the models.
    pub value: f64,
}

/// RFM segments and values of customers with the order summaries `summaries` at `t`
/// (customers without orders get the lowest recency); value over `value_days`.
pub fn customer_values(
    summaries: &[OrderSummary],
    t: i64,
    bgnbd: Option<&BgNbdParams>,
    gamma_gamma: Option<&GammaGammaParams>,
    value_days: u32,
) -> Result<Vec<CustomerValue>> {
    let oldest = summaries
        .iter()
        .filter_map(|s| s.last)
        .min()
        .map_or(0.0, |l| (t - l) as f64 / DAY as f64);
    let inputs: Vec<RfmInput> = summaries
        .iter()
        .map(|s| RfmInput {
            recency: s.last.map_or(oldest + 1.0, |l| (t - l) as f64 / DAY as f64),
            frequency: s.orders as f64,
            monetary: if s.spend.is_finite() { s.spend } else { 0.0 },
        })
        .collect();
    let scores = rfm_scores(&inputs).map_err(|source| PropensityError::Clv {
        model: "RFM",
        source,
    })?;
    let opts =
        ClvOptions::new(value_days as f64, value_days.max(1) as f64, 0.0).map_err(|source| {
            PropensityError::Clv {
                model: "CLV",
                source,
            }
        })?;
    Ok(summaries
        .iter()
        .zip(scores)
        .map(|(s, rfm)| {
            let value = match (bgnbd, gamma_gamma, summary_days(s, t)) {
                (Some(bg), Some(gg), Some(cs)) => gg.clv(bg, &cs, &opts),
                (_, _, None) => 0.0,
                _ => f64::NAN,
            };
            CustomerValue { rfm, value }
        })
        .collect())
}
