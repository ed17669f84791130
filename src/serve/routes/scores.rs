//! Customer scores for CRM: `GET /v1/customers/{id}/churn`, `GET /v1/customers/{id}/next-purchase`
//! and the batch `POST /v1/churn` (JSON, or NDJSON with `Accept: application/x-ndjson`).

use actix_web::http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::X_MODEL_VERSION;
use super::json_ok;
use super::openapi::error_responses;

use super::events::LiveInfo;
use crate::propensity::{Factor, RiskBand};
use crate::ranking::{RecommendRequest, Source};
use crate::serve::auth::{Auth, Score};
use crate::serve::customer::Customer;
use crate::serve::error::ApiError;
use crate::serve::state::{AppState, ServingState};
use crate::time::format_date;

/// Query of the single-customer churn endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChurnQuery {
    /// Include the top factors (TreeSHAP).
    #[serde(default)]
    #[param(default = false)]
    pub explain: bool,
}

/// Body of the batch churn endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ChurnBatchRequest, example = json!({"customer_ids": ["C00042", "C00043", "C99999"], "explain": false}))]
pub struct BatchRequest {
    /// Customer ids to score, at most `batch_limit` (100,000 unless configured).
    pub customer_ids: Vec<String>,
    /// Include the top factors of each customer.
    #[serde(default)]
    pub explain: bool,
}

/// Churn score of one customer (single answer, batch result or NDJSON line).
#[derive(Serialize, ToSchema)]
#[schema(as = ChurnScore)]
pub(crate) struct Churn<'a> {
    /// The customer.
    customer_id: &'a str,
    /// Version of the model that answered (single-customer answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    model_version: Option<&'a str>,
    /// Probability the customer makes no purchase within `horizon_days` (absent for an
    /// unknown customer).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 0.0, maximum = 1.0)]
    churn_probability: Option<f64>,
    /// Band of `churn_probability` (absent for an unknown customer).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    risk_band: Option<RiskBand>,
    /// The churn horizon, in days.
    horizon_days: u32,
    /// Top factors behind the score, strongest first (with `explain=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    factors: Option<Vec<Factor>>,
    /// `unknown_customer` in a batch for an id the model does not know (or erased).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Option<String>, pattern = "^unknown_customer$")]
    error: Option<&'static str>,
    /// Present when the customer has events since the bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    live: Option<LiveInfo>,
}

error_responses!(
    /// Errors of `GET /v1/customers/{id}/churn`.
    ChurnErrors = [BadParameter, MissingApiKey, InvalidApiKey, InsufficientScope, UnknownCustomer, NoModel, Internal],
    examples = [super::openapi::bad_query::<ChurnQuery>("explain=maybe")]
);
error_responses!(
    /// Errors of `GET /v1/customers/{id}/next-purchase`.
    NextPurchaseErrors = [MissingApiKey, InvalidApiKey, InsufficientScope, UnknownCustomer, NoModel, Internal]
);
error_responses!(
    /// Errors of `POST /v1/churn`.
    BatchErrors = [
        BadJson,
        MissingApiKey,
        InvalidApiKey,
        InsufficientScope,
        NotAcceptable,
        PayloadTooLarge,
        BatchTooLarge,
        UnsupportedMediaType,
        NoModel,
        Internal,
    ]
);

/// The churn answer for `id`, whom the serving state knows as `customer` (`None`: unknown
/// or erased).
fn churn_of<'a>(
    s: &ServingState,
    id: &'a str,
    customer: Option<Customer<'_>>,
    explain: bool,
    with_version: Option<&'a str>,
) -> Churn<'a> {
    let horizon_days = s.models.trained.propensity.horizon_days;
    match customer {
        Some(c) => {
            let p = c.churn();
            Churn {
                customer_id: id,
                model_version: with_version,
                churn_probability: Some(p),
                risk_band: Some(RiskBand::of(p)),
                horizon_days,
                factors: explain.then(|| c.churn_factors(5)),
                error: None,
                live: c.live().map(|l| LiveInfo::of(s, l)),
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
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/churn",
    operation_id = "churn",
    tag = "score",
    summary = "Churn probability, risk band and top factors",
    params(("id" = String, Path, description = "Customer id"), ChurnQuery),
    security(("api_key" = ["score"])),
    responses(
        (status = 200, description = "The customer's churn score", body = Churn,
            example = json!({"customer_id": "C00042", "model_version": "20261201T020000Z-3fa9c2d1",
                "churn_probability": 0.64, "risk_band": "high", "horizon_days": 90,
                "factors": [{"feature": "recency_days", "value": 123.0, "impact": 0.82, "text": "no purchase for 123 days, 3× their usual gap"}]})),
        ChurnErrors
    )
)]
pub async fn churn(
    _: Auth<Score>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<ChurnQuery>,
) -> Result<HttpResponse, ApiError> {
    let s = state.current().ok_or(ApiError::NoModel)?;
    let c = s
        .customer(&id)
        .ok_or_else(|| ApiError::UnknownCustomer { id: id.to_string() })?;
    let answer = churn_of(&s, &id, Some(c), q.explain, Some(s.model_version()));
    let body = serde_json::to_vec(&answer).map_err(|_| ApiError::Internal {
        reason: "serialising churn",
    })?;
    Ok(json_ok(Some(&s), Bytes::from(body)))
}

/// Probability of a purchase within a horizon.
#[derive(Serialize, ToSchema)]
#[schema(as = PurchaseHorizon)]
pub(crate) struct Horizon {
    /// Horizon in days.
    days: u32,
    /// Probability of at least one purchase within `days`.
    #[schema(minimum = 0.0, maximum = 1.0)]
    probability: f64,
}

/// An item the customer is likely to buy again soon.
#[derive(Serialize, ToSchema)]
pub(crate) struct LikelyItem<'a> {
    /// Item id.
    item_id: &'a str,
    /// Buy-again score (higher is more likely).
    #[schema(nullable)]
    score: f32,
}

/// When the customer will buy next, and what.
#[derive(Serialize, ToSchema)]
#[schema(as = NextPurchaseAnswer)]
pub(crate) struct NextPurchase<'a> {
    /// The customer.
    customer_id: &'a str,
    /// Version of the model that answered.
    model_version: &'a str,
    /// Day the probabilities start from (the cutoff, or the customer's last event).
    #[schema(format = Date)]
    as_of: String,
    /// P(purchase within d days) by horizon, shortest first.
    probabilities: Vec<Horizon>,
    /// Day the next purchase is most likely by; `null` when unlikely within the horizons.
    #[schema(required = true, format = Date)]
    predicted_date: Option<String>,
    /// Expected purchases within `expected_purchases_horizon_days` (`null` when the model
    /// cannot tell).
    #[schema(nullable)]
    expected_purchases: f64,
    /// Whole-number forecast of the purchases in the horizon (see `PurchaseForecast`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    predicted_purchases: Option<f64>,
    /// Horizon of `expected_purchases`, in days.
    expected_purchases_horizon_days: u32,
    /// Items due for a repeat purchase, most likely first (at most 5).
    likely_items: Vec<LikelyItem<'a>>,
    /// Present when the customer has events since the bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    live: Option<LiveInfo>,
}

/// P(purchase within d days) by horizon, predicted date and likely (due) items.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/next-purchase",
    operation_id = "next_purchase",
    tag = "score",
    summary = "Next purchase: probabilities by horizon, predicted date, likely items",
    params(("id" = String, Path, description = "Customer id")),
    security(("api_key" = ["score"])),
    responses(
        (status = 200, description = "The customer's next-purchase forecast", body = NextPurchase,
            example = json!({"customer_id": "C00042", "model_version": "20261201T020000Z-3fa9c2d1",
                "as_of": "2026-12-01",
                "probabilities": [{"days": 7, "probability": 0.18}, {"days": 30, "probability": 0.52}, {"days": 90, "probability": 0.81}],
                "predicted_date": "2026-12-24", "expected_purchases": 1.7, "predicted_purchases": 2.0,
                "expected_purchases_horizon_days": 90,
                "likely_items": [{"item_id": "I0007", "score": 2.31}]})),
        NextPurchaseErrors
    )
)]
pub async fn next_purchase(
    _: Auth<Score>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let s = state.current().ok_or(ApiError::NoModel)?;
    let c = s
        .customer(&id)
        .ok_or_else(|| ApiError::UnknownCustomer { id: id.to_string() })?;
    let m = &s.models;
    let f = c.forecast();
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
        as_of: format_date(c.as_of()),
        probabilities: f
            .curve
            .iter()
            .map(|&(days, probability)| Horizon { days, probability })
            .collect(),
        predicted_date: f.next_purchase.map(format_date),
        expected_purchases: f.expected_purchases,
        predicted_purchases: f.predicted_purchases,
        expected_purchases_horizon_days: m.trained.propensity.horizon_days,
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
        live: c.live().map(|l| LiveInfo::of(&s, l)),
    };
    let body = serde_json::to_vec(&answer).map_err(|_| ApiError::Internal {
        reason: "serialising next purchase",
    })?;
    Ok(json_ok(Some(&s), Bytes::from(body)))
}

/// Answer of the batch churn endpoint (JSON).
#[derive(Serialize, ToSchema)]
#[schema(as = ChurnBatchAnswer)]
pub(crate) struct BatchAnswer<'a> {
    /// Version of the model that answered.
    model_version: &'a str,
    /// Ids scored.
    scored: usize,
    /// Ids the model does not know (their results carry `error`).
    unknown: usize,
    /// One result per id, in request order.
    results: Vec<Churn<'a>>,
}

/// Churn scores of many customers; unknown ids are reported per id, not failing the batch.
#[utoipa::path(
    post,
    path = "/v1/churn",
    operation_id = "churn_batch",
    tag = "score",
    summary = "Churn scores of many customers (JSON or NDJSON)",
    description = "Scores every id, in request order; unknown ids are reported per id (`error: unknown_customer`), not failing the batch. With `Accept: application/x-ndjson` the answer is one `ChurnScore` object per line instead of one JSON document.",
    request_body = BatchRequest,
    security(("api_key" = ["score"])),
    responses(
        (status = 200, description = "One result per id, in request order",
            content(
                (BatchAnswer = "application/json",
                    example = json!({"model_version": "20261201T020000Z-3fa9c2d1", "scored": 2, "unknown": 1, "results": [
                        {"customer_id": "C00042", "churn_probability": 0.64, "risk_band": "high", "horizon_days": 90},
                        {"customer_id": "C00043", "churn_probability": 0.08, "risk_band": "low", "horizon_days": 90},
                        {"customer_id": "C99999", "horizon_days": 90, "error": "unknown_customer"}]})),
                (Churn = "application/x-ndjson",
                    example = json!("{\"customer_id\":\"C00042\",\"churn_probability\":0.64,\"risk_band\":\"high\",\"horizon_days\":90}\n{\"customer_id\":\"C99999\",\"horizon_days\":90,\"error\":\"unknown_customer\"}\n"))
            )),
        BatchErrors
    )
)]
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
            .map(|id| churn_of(&st, id, st.customer(id), explain, None))
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
