//! One customer recomputed from their bundle history plus the events received since: the
//! recommender's view at once, and on first read the feature row in the bundle's layout,
//! churn, repurchase curve, expected purchases, RFM and value, all at the customer's own
//! `as_of` with the bundle's model parameters.

use super::rfm::Population;
use crate::clv::{ClvOptions, PurchaseModel};
use crate::features::{BEHAVIOUR_FEATURES, OrderSummary, Scratch, behaviour_row};
use crate::ingest::EventKind;
use crate::models::customers::VALUE_HORIZON_DAYS;
use crate::models::{CustomerScores, EventColumns, TrainedModels};
use crate::propensity::PropensityModel;
use crate::propensity::table::{CLV_FEATURES, clv_features, summary_days};
use crate::ranking::{HistoryEvent, LiveHistory};

/// What a change recomputes for a customer at once: what the recommender needs. The
/// propensities follow on first read ([`LiveCustomer::propensities`]), so an event costs no
/// GBDT walk until someone asks for a score.
///
/// [`LiveCustomer::propensities`]: super::LiveCustomer::propensities
#[derive(Debug, Clone)]
pub struct Recomputed {
    /// Snapshot time: features see events strictly before it.
    pub as_of: i64,
    /// Purchases of items the bundle knows, in time order.
    pub purchases: Vec<HistoryEvent>,
    /// Buy-again rows, last basket and last purchase for the recommender, at `as_of`.
    pub recommender: LiveHistory,
    /// Filled by the first read that needs scores; a new change starts a new `Recomputed`.
    pub(super) propensities: std::sync::OnceLock<Propensities>,
}

/// A live customer's scores at their `as_of`, with the bundle's model parameters.
#[derive(Debug, Clone)]
pub struct Propensities {
    /// Feature row in the bundle's layout (behaviour, attributes, BG/NBD columns).
    pub row: Vec<f32>,
    /// Orders, first and last order time and spend before `as_of`.
    pub summary: OrderSummary,
    /// Calibrated churn probability.
    pub churn: f64,
    /// P(purchase within d days) by curve horizon.
    pub curve: Vec<(u32, f64)>,
    /// Median of the curve, as a time after `as_of`.
    pub next_purchase: Option<i64>,
    /// Expected purchases over the model horizon.
    pub expected_purchases: f64,
    /// RFM (against the bundle's population) and value.
    pub scores: CustomerScores,
}

/// Why a bundle cannot recompute customers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LayoutError {
    /// The bundle has no event history section.
    #[error(
        "the bundle holds no event history; hint: retrain with this version of propensity-train"
    )]
    NoHistory,
    /// The stored rows are not behaviour + attributes + BG/NBD columns.
    #[error("the bundle's feature layout is not the one this server recomputes")]
    Layout,
}

/// Checks that `models` can be recomputed: a history and the standard row layout.
pub fn check_layout(models: &TrainedModels) -> Result<(), LayoutError> {
    if models.history.is_none() {
        return Err(LayoutError::NoHistory);
    }
    let names = &models.base.layout.names;
    let nb = BEHAVIOUR_FEATURES.len();
    let nc = CLV_FEATURES.len();
    let ok = names.len() >= nb + nc
        && names[..nb]
            .iter()
            .zip(BEHAVIOUR_FEATURES)
            .all(|(a, b)| a == b)
        && names[names.len() - nc..]
            .iter()
            .zip(CLV_FEATURES)
            .all(|(a, b)| a == b);
    if ok { Ok(()) } else { Err(LayoutError::Layout) }
}

/// Merges customer `bundle_idx`'s bundle history (if any) with `live` (time-ordered) into
/// one time-ordered history; on equal times bundle events come first.
pub fn merged_history(
    models: &TrainedModels,
    bundle_idx: Option<u32>,
    live: &EventColumns,
) -> EventColumns {
    let mut old = EventColumns::default();
    if let (Some(h), Some(c)) = (&models.history, bundle_idx) {
        h.customer_into(c, &mut old);
    }
    if old.is_empty() {
        return live.clone();
    }
    let mut out = EventColumns::default();
    out.reserve(old.len() + live.len());
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < live.len() {
        let take_old = j >= live.len() || (i < old.len() && old.ts[i] <= live.ts[j]);
        let (src, k) = if take_old { (&old, i) } else { (live, j) };
        out.push(
            src.ts[k],
            src.kind[k],
            src.quantity[k],
            src.price[k],
            src.basket[k],
            src.item[k],
        );
        if take_old {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Recomputes what the recommender needs of one customer at `as_of` from their bundle
/// history (if any) and `live` events (time-ordered): only purchases strictly before
/// `as_of` are seen, in [`merged_history`]'s order.
pub fn recompute(
    models: &TrainedModels,
    bundle_idx: Option<u32>,
    live: &EventColumns,
    as_of: i64,
) -> Recomputed {
    let n_items = models.base.item_ids.len() as u32;
    let mut old = Vec::new();
    if let (Some(h), Some(c)) = (&models.history, bundle_idx) {
        h.purchases_into(c, n_items, as_of, &mut old);
    }
    let new = (0..live.len())
        .take_while(|&e| live.ts[e] < as_of)
        .filter(|&e| live.kind[e] == EventKind::Purchase && live.item[e].0 < n_items)
        .map(|e| HistoryEvent {
            item: live.item[e].0,
            ts: live.ts[e],
            basket: live.basket[e],
        });
    // Filtering commutes with the merge (an old event precedes a live one iff its time is
    // not later), so this is the merged history's purchases without building it.
    let mut purchases = Vec::with_capacity(old.len() + live.len());
    let mut old = old.into_iter().peekable();
    for p in new {
        while let Some(o) = old.next_if(|o| o.ts <= p.ts) {
            purchases.push(o);
        }
        purchases.push(p);
    }
    purchases.extend(old);
    let recommender = models.recommender.live_history(&purchases, as_of);
    Recomputed {
        as_of,
        purchases,
        recommender,
        propensities: std::sync::OnceLock::new(),
    }
}

/// Scores one customer at `as_of` from their merged history: only events strictly before
/// `as_of` are seen. Attribute columns come from the customer's bundle row (NaN for
/// customers the bundle has no row for). The caller has checked [`check_layout`].
pub fn propensities(
    models: &TrainedModels,
    population: &Population,
    clv: Option<&ClvOptions>,
    bundle_idx: Option<u32>,
    history: &EventColumns,
    as_of: i64,
) -> Propensities {
    let base = &models.base;
    let model: &PropensityModel = &models.propensity;
    let w = base.layout.len();
    let nb = BEHAVIOUR_FEATURES.len();
    let nc = CLV_FEATURES.len();
    let mut row = vec![f32::NAN; w];
    let summary = behaviour_row(
        &history.view(),
        &base.item_category,
        as_of,
        &mut row,
        &mut Scratch::default(),
    );
    if let Some(r) = bundle_idx.and_then(|c| base.row(crate::ingest::CustomerIdx(c))) {
        row[nb..w - nc].copy_from_slice(&base.feature_row(r)[nb..w - nc]);
    }
    row[w - nc..].copy_from_slice(&clv_features(
        model.bgnbd.as_ref(),
        &summary,
        as_of,
        model.horizon_days,
    ));
    let churn = model.churn(&row);
    let curve = model.repurchase_curve_given(&row, churn);
    let next_purchase = PropensityModel::days_to_level(&curve, 0.5)
        .map(|d| as_of + (d * crate::time::DAY as f64).round() as i64);
    let scores = scores_of(models, population, clv, &summary, as_of);
    Propensities {
        churn,
        expected_purchases: model.expected_purchases(&row),
        curve,
        next_purchase,
        row,
        summary,
        scores,
    }
}

/// RFM and value as `models::CustomerBase::fit` computes them, at `as_of`.
fn scores_of(
    models: &TrainedModels,
    population: &Population,
    clv: Option<&ClvOptions>,
    s: &OrderSummary,
    as_of: i64,
) -> CustomerScores {
    let bg = models.propensity.bgnbd.as_ref();
    let gg = models.propensity.gamma_gamma.as_ref();
    let cs = summary_days(s, as_of);
    let recency = s.last.map_or(f64::INFINITY, |l| {
        (as_of - l) as f64 / crate::time::DAY as f64
    });
    // Without purchases recency is "older than anyone": the lowest score.
    let rfm = population.score(
        if recency.is_finite() {
            recency
        } else {
            f64::MAX
        },
        s.orders as f64,
        s.spend,
    );
    let nan = f64::NAN;
    let (p_alive, expected_orders) = match (bg, &cs) {
        (Some(bg), Some(cs)) => (
            bg.p_alive(cs),
            bg.expected_purchases(cs, VALUE_HORIZON_DAYS as f64),
        ),
        _ => (nan, nan),
    };
    let expected_order_value = match (gg, &cs) {
        (Some(gg), Some(cs)) => gg.expected_spend(cs),
        _ => nan,
    };
    let value = match (bg, gg, &cs, clv) {
        (_, _, None, _) => 0.0,
        (Some(bg), Some(gg), Some(cs), Some(opts)) => gg.clv(bg, cs, opts),
        _ => nan,
    };
    CustomerScores {
        r: rfm.recency,
        f: rfm.frequency,
        m: rfm.monetary,
        segment: rfm.segment,
        p_alive: p_alive as f32,
        expected_orders: expected_orders as f32,
        expected_order_value: expected_order_value as f32,
        value: value as f32,
    }
}

/// The value options profiles use (365-day horizon, undiscounted), as at training.
pub fn value_options() -> Option<ClvOptions> {
    let d = VALUE_HORIZON_DAYS as f64;
    ClvOptions::new(d, d.max(1.0), 0.0).ok()
}
