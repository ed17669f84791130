//! `GET /v1/customers/{id}`: a customer's profile — history summary, RFM segment, value,
//! and the churn and next-purchase scores in one answer.

use actix_web::HttpResponse;
use actix_web::web::{self, Bytes};
use serde::Serialize;
use utoipa::ToSchema;

use super::events::LiveInfo;
use super::json_ok;
use super::openapi::error_responses;
use crate::models::CustomerScores;
use crate::propensity::RiskBand;
use crate::serve::auth::{Auth, Score};
use crate::serve::error::ApiError;
use crate::serve::state::AppState;
use crate::time::{DAY, format_date, format_rfc3339};

/// RFM scores and segment of a customer.
#[derive(Serialize, ToSchema)]
#[schema(as = RfmScores)]
pub(crate) struct Rfm {
    /// Recency score, 1–5 (5 = most recent).
    #[schema(minimum = 1, maximum = 5)]
    r: u8,
    /// Frequency score, 1–5.
    #[schema(minimum = 1, maximum = 5)]
    f: u8,
    /// Monetary score, 1–5.
    #[schema(minimum = 1, maximum = 5)]
    m: u8,
    /// The three scores as one string, e.g. `545`.
    #[schema(pattern = "^[1-5]{3}$")]
    score: String,
    /// Display name of the RFM segment, e.g. `Can't lose`.
    segment: &'static str,
}

/// Customer-value estimates (BG/NBD and Gamma-Gamma); `null` where the bundle has no
/// fitted model for them.
#[derive(Serialize, ToSchema)]
#[schema(as = CustomerValue)]
pub(crate) struct Value {
    /// Probability the customer is still active.
    #[schema(nullable)]
    p_alive: f32,
    /// Expected orders over the next 365 days.
    #[schema(nullable)]
    expected_orders_365d: f32,
    /// Expected spend per order.
    #[schema(nullable)]
    expected_order_value: f32,
    /// Expected spend over the next 365 days.
    #[schema(nullable)]
    value_365d: f32,
}

/// Profile of one customer: history summary, RFM segment, value.
#[derive(Serialize, ToSchema)]
#[schema(as = CustomerProfile)]
pub(crate) struct Profile<'a> {
    /// The customer.
    customer_id: &'a str,
    /// Version of the model that answered.
    model_version: &'a str,
    /// The time the numbers describe: the training cutoff, or the customer's last event.
    #[schema(format = DateTime)]
    as_of: String,
    /// Orders before `as_of`.
    orders: u32,
    /// Spend before `as_of`.
    spend: f64,
    /// First order time; `null` without orders.
    #[schema(required = true, format = DateTime)]
    first_purchase: Option<String>,
    /// Last order time; `null` without orders.
    #[schema(required = true, format = DateTime)]
    last_purchase: Option<String>,
    /// Days between the last order and `as_of`; `null` without orders.
    #[schema(required = true)]
    recency_days: Option<f64>,
    /// RFM scores and segment.
    rfm: Rfm,
    /// Customer-value estimates.
    value: Value,
    /// Churn and next-purchase scores (the churn and next-purchase answers in brief).
    scores: ProfileScores,
    /// Present when the customer has events since the bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    live: Option<LiveInfo>,
}

/// Churn and next-purchase scores of a profile.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProfileScores {
    /// Probability of no purchase within `horizon_days`.
    #[schema(minimum = 0.0, maximum = 1.0)]
    churn_probability: f64,
    /// Band of `churn_probability`.
    risk_band: RiskBand,
    /// The churn and purchase-count horizon, in days.
    horizon_days: u32,
    /// Day the next purchase is more likely than not by; `null` when unlikely within the
    /// repurchase curve's longest horizon.
    #[schema(required = true, format = Date)]
    predicted_next_purchase: Option<String>,
    /// Expected purchases within `horizon_days` (`null` when the model cannot tell).
    #[schema(nullable)]
    expected_purchases: f64,
}

error_responses!(
    /// Errors of `GET /v1/customers/{id}`.
    ProfileErrors = [MissingApiKey, InvalidApiKey, InsufficientScope, UnknownCustomer, NoModel, Internal]
);

fn rfm(sc: &CustomerScores) -> Rfm {
    Rfm {
        r: sc.r,
        f: sc.f,
        m: sc.m,
        score: format!("{}{}{}", sc.r, sc.f, sc.m),
        segment: sc.segment.name(),
    }
}

fn value(sc: &CustomerScores) -> Value {
    Value {
        p_alive: sc.p_alive,
        expected_orders_365d: sc.expected_orders,
        expected_order_value: sc.expected_order_value,
        value_365d: sc.value,
    }
}

/// Answers the profile of one customer; 404 for ids the model does not know or who
/// have no purchase before the cutoff.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}",
    operation_id = "customer_profile",
    tag = "score",
    summary = "Customer profile: history, RFM segment, value",
    params(("id" = String, Path, description = "Customer id")),
    security(("api_key" = ["score"])),
    responses(
        (status = 200, description = "The customer's profile", body = Profile,
            example = json!({
                "customer_id": "C00042", "model_version": "20261201T020000Z-3fa9c2d1",
                "as_of": "2026-12-01T00:00:00Z", "orders": 7, "spend": 312.4,
                "first_purchase": "2025-02-11T09:12:00Z", "last_purchase": "2026-10-30T17:45:00Z",
                "recency_days": 31.26,
                "rfm": {"r": 4, "f": 4, "m": 3, "score": "443", "segment": "Loyal"},
                "value": {"p_alive": 0.91, "expected_orders_365d": 3.2, "expected_order_value": 44.1, "value_365d": 141.1},
                "scores": {"churn_probability": 0.18, "risk_band": "low", "horizon_days": 90, "predicted_next_purchase": "2026-12-14", "expected_purchases": 1.7}
            })),
        ProfileErrors
    )
)]
pub async fn profile(
    _: Auth<Score>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let s = state.current().ok_or(ApiError::NoModel)?;
    let c = s
        .customer(&id)
        .ok_or_else(|| ApiError::UnknownCustomer { id: id.to_string() })?;
    let as_of = c.as_of();
    let orders = c.orders();
    // One churn walk: the forecast's curve is anchored to the same probability.
    let forecast = c.forecast();
    let churn = forecast.churn;
    let answer = Profile {
        customer_id: &id,
        model_version: s.model_version(),
        as_of: format_rfc3339(as_of),
        orders: orders.orders,
        spend: orders.spend,
        first_purchase: orders.first.map(format_rfc3339),
        last_purchase: orders.last.map(format_rfc3339),
        recency_days: orders.last.map(|l| (as_of - l) as f64 / DAY as f64),
        rfm: rfm(c.scores()),
        value: value(c.scores()),
        scores: ProfileScores {
            churn_probability: churn,
            risk_band: RiskBand::of(churn),
            horizon_days: s.models.trained.propensity.horizon_days,
            predicted_next_purchase: forecast.next_purchase.map(format_date),
            expected_purchases: forecast.expected_purchases,
        },
        live: c.live().map(|l| LiveInfo::of(&s, l)),
    };
    let body = serde_json::to_vec(&answer).map_err(|_| ApiError::Internal {
        reason: "serialising a profile",
    })?;
    Ok(json_ok(Some(&s), Bytes::from(body)))
}
