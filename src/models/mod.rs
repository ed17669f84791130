//! The trained model set as one unit: [`TrainedModels::fit`] fits every model family on one
//! event store and cutoff; [`bundle_io`] writes the set into a bundle and decodes it back
//! for the server; [`customers`] holds the per-customer tables (rows, RFM, value) and
//! [`history`] the training events kept for recomputing customers online.

pub mod bundle_io;
pub mod customers;
pub mod history;

pub use bundle_io::{
    CUSTOMER_BASE, CUSTOMER_FEATURES, PROPENSITY, RECOMMENDER, RECOMMENDER_LAYOUT,
};
pub use customers::{CustomerBase, CustomerBaseError, CustomerScores};
pub use history::{EventColumns, EventHistory};

use crate::bundle::BundleError;
use crate::ingest::EventStore;
use crate::propensity::table::{CLV_FEATURES, clv_features};
use crate::propensity::{PropensityError, PropensityModel, PurchaseForecast};
use crate::ranking::{RankingError, Recommender};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::time::Instant;

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The customer base could not be built.
    #[error(transparent)]
    Customers(#[from] CustomerBaseError),
    /// The churn / next-purchase models could not be fitted.
    #[error("propensity models: {0}")]
    Propensity(#[from] PropensityError),
    /// The recommender could not be fitted.
    #[error("recommender: {0}")]
    Ranking(#[from] RankingError),
    /// The models disagree on the feature layout (a bug, reported rather than served).
    #[error(
        "feature layout mismatch: customer rows have {rows:?}, the propensity model expects {model:?}"
    )]
    Layout {
        /// Column names of the stored rows.
        rows: Vec<String>,
        /// Column names the model was trained on.
        model: Vec<String>,
    },
    /// Writing the bundle failed.
    #[error(transparent)]
    Bundle(#[from] BundleError),
}

pub use crate::config::TrainConfig;

/// Seconds spent in each training stage, printed by `train`.
#[derive(Debug, Clone, Default)]
pub struct StageTimes {
    /// (stage, seconds) in the order they ended; the propensity models and the
    /// recommender are fitted side by side, so their times overlap.
    pub stages: Vec<(&'static str, f64)>,
}

/// Everything a bundle holds, decoded.
#[derive(Debug, Clone)]
pub struct TrainedModels {
    /// Customers, items and their scores at the cutoff; feature rows are the propensity
    /// model's layout.
    pub base: CustomerBase,
    /// Churn, repurchase curve and expected purchases.
    pub propensity: PropensityModel,
    /// Next-best products.
    pub recommender: Recommender,
    /// Churn metrics and calibration curve measured out of fold while fitting
    /// ([`crate::propensity::heldout`]); empty for models read from a bundle, whose
    /// metadata holds them.
    pub held_out_metrics: BTreeMap<String, f64>,
    /// Training events before the cutoff, for recomputing customers online; `None` for
    /// bundles written before it was stored.
    pub history: Option<EventHistory>,
    /// Point forecast of purchases in the horizon, its level fitted on the customers at the
    /// cutoff; `None` for bundles written before it was stored.
    pub forecast: Option<PurchaseForecast>,
}

impl TrainedModels {
    /// Fits every model on events strictly before `cutoff`.
    pub fn fit(
        store: &EventStore,
        cutoff: i64,
        config: &TrainConfig,
    ) -> Result<(TrainedModels, StageTimes), TrainError> {
        let mut times = StageTimes::default();
        // The propensity fits keep two cores only half busy (their snapshots and small
        // GBDTs have sequential stretches); the recommender's rayon work fills the gaps.
        // Each side is deterministic on its own, so the overlap changes no model.
        let (propensity_fit, recommender_fit) = rayon::join(
            || {
                let t = Instant::now();
                PropensityModel::fit_with_held_out(store, cutoff, &config.propensity)
                    .map(|fit| (fit, t.elapsed().as_secs_f64()))
            },
            || {
                let t = Instant::now();
                Recommender::fit(store, cutoff, &config.recommend)
                    .map(|rec| (rec, t.elapsed().as_secs_f64()))
            },
        );
        let ((propensity, held_out), propensity_s) = propensity_fit?;
        let (recommender, recommender_s) = recommender_fit?;
        times.stages.push(("propensity models", propensity_s));
        times.stages.push(("recommender", recommender_s));
        let t = Instant::now();
        // Profiles reuse the propensity model's BG/NBD and Gamma-Gamma fits at the cutoff.
        let mut base = CustomerBase::fit(
            store,
            cutoff,
            propensity.bgnbd.as_ref(),
            propensity.gamma_gamma.as_ref(),
        )?;
        times
            .stages
            .push(("customer base", t.elapsed().as_secs_f64()));
        let history = Some(EventHistory::from_store(store, cutoff));
        widen_with_clv_features(&mut base, &propensity);
        if base.layout.names != propensity.feature_names {
            return Err(TrainError::Layout {
                rows: base.layout.names.clone(),
                model: propensity.feature_names.clone(),
            });
        }
        let forecast = Some(fit_forecast(&base, &propensity));
        Ok((
            TrainedModels {
                base,
                propensity,
                recommender,
                held_out_metrics: held_out.metrics(),
                history,
                forecast,
            },
            times,
        ))
    }
}

/// Fits the forecast level on every stored customer's scores at the cutoff: the population
/// the service answers for, and no labels.
fn fit_forecast(base: &CustomerBase, model: &PropensityModel) -> PurchaseForecast {
    let scores: Vec<(f64, f64)> = (0..base.rows())
        .into_par_iter()
        .map(|r| {
            let row = base.feature_row(r);
            (model.expected_purchases(row), model.churn(row))
        })
        .collect();
    PurchaseForecast::fit(&scores)
}

/// Appends the BG/NBD features the propensity model was trained with to every stored row,
/// computed at the cutoff with the model's own BG/NBD fit.
fn widen_with_clv_features(base: &mut CustomerBase, model: &PropensityModel) {
    let w = base.layout.len();
    let extra = CLV_FEATURES.len();
    let mut values = Vec::with_capacity(base.rows() * (w + extra));
    for r in 0..base.rows() {
        values.extend_from_slice(base.feature_row(r));
        let (first, last) = base.first_last[r];
        let summary = crate::features::OrderSummary {
            orders: base.orders[r],
            first: Some(first),
            last: Some(last),
            spend: base.spend[r],
        };
        values.extend_from_slice(&clv_features(
            model.bgnbd.as_ref(),
            &summary,
            base.cutoff,
            model.horizon_days,
        ));
    }
    base.features = values;
    base.layout
        .names
        .extend(CLV_FEATURES.iter().map(|s| s.to_string()));
    base.layout.categorical.extend([false; 3]);
}
