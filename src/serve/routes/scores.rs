//! Customer scores for CRM: `GET /v1/customers/{id}/churn`, `GET /v1/customers/{id}/next-purchase`
//! and the batch `POST /v1/churn` (JSON, or NDJSON with `Accept: application/x-ndjson`).

use actix_web::http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::X_MODEL_VERSION;
use super::json_ok;
use std::sync::Arc;

use super::events::LiveInfo;
use crate::ingest::CustomerIdx;
use crate::live::{LiveCustomer, Lookup};
use crate::propensity::Factor;
use crate::ranking::{RecommendRequest, Source};
use crate::serve::auth::{Auth, Score};
use crate::serve::error::ApiError;
use crate::serve::state::{AppState, ServingState};
use crate::time::format_date;

/// Churn probability of one feature row as a band a CRM user acts on.
pub fn risk_band(p: f64) -> &'static str {
    if p >= 0.6 {
        "high"
    } else if p >= 0.3 {
        "medium"
    } else {
        "low"
    }
}

/// Query of the single-customer churn endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChurnQuery {
    /// Include the top factors (TreeSHAP).
    #[serde(default)]
    pub explain: bool,
}

/// Body of the batch churn endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Customer ids to score.
    pub customer_ids: Vec<String>,
    /// Include the top factors of each customer.
    #[serde(default)]
    pub explain: bool,
}

#[derive(Serialize)]
struct Churn<'a> {
    customer_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    churn_probability: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    risk_band: Option<&'static str>,
    horizon_days: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    factors: Option<Vec<Factor>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<LiveInfo>,
}

/// A customer the server can score: from the bundle, or recomputed from live events.
enum Known<'a> {
    Bundle(&'a [f32]),
    Live(Arc<LiveCustomer>),
}

impl Known<'_> {
    fn row(&self, s: &ServingState) -> &[f32] {
        match self {
            Known::Bundle(r) => r,
            Known::Live(c) => &s.live_scores(c).row,
        }
    }

    fn live(&self, s: &ServingState) -> Option<LiveInfo> {
        match self {
            Known::Bundle(_) => None,
            Known::Live(c) => Some(LiveInfo::of(s, c)),
        }
    }
}

/// What the server knows of `id`: `None` for unknown or erased customers.
fn known<'a>(s: &'a ServingState, id: &str) -> Option<Known<'a>> {
    match s.lookup(id) {
        Lookup::Erased => None,
        Lookup::Live(c) => Some(Known::Live(c)),
        Lookup::Untouched => {
            let base = &s.models.trained.base;
            let r = base.row(CustomerIdx(s.bundle_customer(id)?))?;
            Some(Known::Bundle(base.feature_row(r)))
        }
    }
}

fn churn_of<'a>(
    s: &ServingState,
    id: &'a str,
    explain: bool,
    with_version: Option<&'a str>,
) -> Churn<'a> {
    let horizon_days = s.models.trained.propensity.horizon_days;
    match known(s, id) {
        Some(k) => {
            let row = k.row(s);
            let model = &s.models.trained.propensity;
            let p = match &k {
                Known::Live(c) => s.live_scores(c).churn,
                Known::Bundle(_) => model.churn(row),
            };
            Churn {
                customer_id: id,
                model_version: with_version,
                churn_probability: Some(p),
                risk_band: Some(risk_band(p)),
                horizon_days,
                factors: explain.then(|| model.explain(row, 5)),
                error: None,
                live: k.live(s),
            }
        }
        None => Churn {
            customer_id: id,
            model_version: with_version,
            churn_probability: None,
            risk_band: None,
            horizon_days,
            factors: None,
            error: Some("unknown_customer"),
            live: None,
        },
    }
}

/// Churn probability, risk band and (with `explain=true`) its top factors.
pub async fn churn(
    _: Auth<Score>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<ChurnQuery>,
) -> Result<HttpResponse, ApiError> {
    let s = state.current().ok_or(ApiError::NoModel)?;
    if known(&s, &id).is_none() {
        return Err(ApiError::UnknownCustomer { id: id.to_string() });
    }
    let answer = churn_of(&s, &id, q.explain, Some(s.model_version()));
    let body = serde_json::to_vec(&answer).map_err(|_| ApiError::Internal {
        reason: "serialising churn",
    })?;
    Ok(json_ok(Some(&s), Bytes::from(body)))
}

#[derive(Serialize)]
struct Horizon {
    days: u32,
    probability: f64,
}

#[derive(Serialize)]
struct LikelyItem<'a> {
    item_id: &'a str,
    score: f32,
}

#[derive(Serialize)]
struct NextPurchase<'a> {
    customer_id: &'a str,
    model_version: &'a str,
    as_of: String,
    probabilities: Vec<Horizon>,
    predicted_date: Option<String>,
    expected_purchases: f64,
    /// Whole-number forecast of the purchases in the horizon (see `PurchaseForecast`).
    #[serde(skip_serializing_if = "Option::is_none")]
    predicted_purchases: Option<f64>,
    expected_purchases_horizon_days: u32,
    likely_items: Vec<LikelyItem<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<LiveInfo>,
}

/// P(purchase within d days) by horizon, predicted date and likely (due) items.
pub async fn next_purchase(
    _: Auth<Score>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let s = state.current().ok_or(ApiError::NoModel)?;
    let k = known(&s, &id).ok_or_else(|| ApiError::UnknownCustomer { id: id.to_string() })?;
    let m = &s.models;
    let model = &m.trained.propensity;
    let (as_of, curve, predicted, expected, churn) = match &k {
        Known::Live(c) => {
            let p = s.live_scores(c);
            (
                c.state.as_of,
                p.curve.clone(),
                p.next_purchase,
                p.expected_purchases,
                p.churn,
            )
        }
        Known::Bundle(row) => {
            let churn = model.churn(row);
            let curve = model.repurchase_curve_given(row, churn);
            let next = model.next_purchase_on(&curve);
            (
                model.cutoff,
                curve,
                next,
                model.expected_purchases(row),
                churn,
            )
        }
    };
    let mut recs = Vec::new();
    let req = RecommendRequest {
        k: 10,
        ..RecommendRequest::default()
    };
    let _ = super::recommend::recommend_known(&s, &id, &req, &mut recs);
    let base = &m.trained.base;
    let answer = NextPurchase {
        customer_id: &id,
        model_version: s.model_version(),
        as_of: format_date(as_of),
        probabilities: curve
            .iter()
            .map(|&(days, probability)| Horizon { days, probability })
            .collect(),
        predicted_date: predicted.map(format_date),
        expected_purchases: expected,
        predicted_purchases: m.trained.forecast.map(|f| f.purchases(expected, churn)),
        expected_purchases_horizon_days: model.horizon_days,
        likely_items: recs
            .iter()
            .filter(|r| r.source == Source::BuyAgain)
            .take(5)
            .filter_map(|r| {
                Some(LikelyItem {
                    item_id: base.item_ids.get(r.item as usize)?,
                    score: r.score,
                })
            })
            .collect(),
        live: k.live(&s),
    };
    let body = serde_json::to_vec(&answer).map_err(|_| ApiError::Internal {
        reason: "serialising next purchase",
    })?;
    Ok(json_ok(Some(&s), Bytes::from(body)))
}

#[derive(Serialize)]
struct BatchAnswer<'a> {
    model_version: &'a str,
    scored: usize,
    unknown: usize,
    results: Vec<Churn<'a>>,
}

/// Churn scores of many customers; unknown ids are reported per id, not failing the batch.
pub async fn churn_batch(
    _: Auth<Score>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<BatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let s = state.current().ok_or(ApiError::NoModel)?;
    let limit = state.config.batch_limit;
    let n = body.customer_ids.len();
    if n > limit {
        return Err(ApiError::BatchTooLarge { len: n, limit });
    }
    super::check_body_ids(
        "customer_ids",
        body.customer_ids.iter().map(String::as_str),
        true,
    )?;
    let ndjson = match req.headers().get(ACCEPT).map(|v| v.to_str().unwrap_or("")) {
        None => false,
        Some(a) if a.contains("application/x-ndjson") => true,
        Some(a) if a.contains("application/json") || a.contains("*/*") || a.is_empty() => false,
        Some(a) => {
            return Err(ApiError::NotAcceptable {
                accept: a.to_string(),
            });
        }
    };
    let explain = body.explain;
    let st = s.clone();
    let ids = body.into_inner().customer_ids;
    // Scoring 10k rows is CPU work: keep it off the async workers.
    let rendered = web::block(move || -> Result<Vec<u8>, serde_json::Error> {
        // Rows are independent: score them on every core; `collect` keeps the input order.
        let results: Vec<Churn<'_>> = ids
            .par_iter()
            .map(|id| churn_of(&st, id, explain, None))
            .collect();
        if ndjson {
            let mut out = Vec::with_capacity(results.len() * 64);
            for r in &results {
                serde_json::to_writer(&mut out, r)?;
                out.push(b'\n');
            }
            Ok(out)
        } else {
            let unknown = results.iter().filter(|r| r.error.is_some()).count();
            serde_json::to_vec(&BatchAnswer {
                model_version: st.model_version(),
                scored: results.len() - unknown,
                unknown,
                results,
            })
        }
    })
    .await
    .map_err(|_| ApiError::Internal {
        reason: "batch scoring task failed",
    })?
    .map_err(|_| ApiError::Internal {
        reason: "serialising batch",
    })?;
    if ndjson {
        Ok(HttpResponse::Ok()
            .insert_header((
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            ))
            .insert_header((X_MODEL_VERSION, s.version_header().clone()))
            .body(rendered))
    } else {
        Ok(json_ok(Some(&s), Bytes::from(rendered)))
    }
}
