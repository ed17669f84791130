//! `GET /v1/customers/{id}`: a customer's profile — history summary, RFM segment, value.

use actix_web::HttpResponse;
use actix_web::web::{self, Bytes};
use serde::Serialize;

use super::events::LiveInfo;
use super::json_ok;
use crate::live::Lookup;
use crate::scoring::CustomerScores;
use crate::serve::auth::{Auth, Score};
use crate::serve::error::ApiError;
use crate::serve::state::AppState;
use crate::time::{DAY, format_rfc3339};

#[derive(Serialize)]
struct Rfm {
    r: u8,
    f: u8,
    m: u8,
    score: String,
    segment: &'static str,
}

#[derive(Serialize)]
struct Value {
    p_alive: f32,
    expected_orders_365d: f32,
    expected_order_value: f32,
    value_365d: f32,
}

#[derive(Serialize)]
struct Profile<'a> {
    customer_id: &'a str,
    model_version: &'a str,
    as_of: String,
    orders: u32,
    spend: f64,
    first_purchase: Option<String>,
    last_purchase: Option<String>,
    recency_days: Option<f64>,
    rfm: Rfm,
    value: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<LiveInfo>,
}

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
pub async fn profile(
    _: Auth<Score>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let s = state.current().ok_or(ApiError::NoModel)?;
    let unknown = || ApiError::UnknownCustomer { id: id.to_string() };
    let days = |secs: i64| secs as f64 / DAY as f64;
    let answer = match s.lookup(&id) {
        Lookup::Erased => return Err(unknown()),
        Lookup::Live(c) => {
            let st = &c.state;
            let p = s.live_scores(&c);
            let sm = &p.summary;
            Profile {
                customer_id: &id,
                model_version: s.model_version(),
                as_of: format_rfc3339(st.as_of),
                orders: sm.orders,
                spend: sm.spend,
                first_purchase: sm.first.map(format_rfc3339),
                last_purchase: sm.last.map(format_rfc3339),
                recency_days: sm.last.map(|l| days(st.as_of - l)),
                rfm: rfm(&p.scores),
                value: value(&p.scores),
                live: Some(LiveInfo::of(&s, &c)),
            }
        }
        Lookup::Untouched => {
            let base = &s.models.trained.base;
            let row = s
                .bundle_customer(&id)
                .and_then(|c| base.row(crate::ingest::CustomerIdx(c)))
                .ok_or_else(unknown)?;
            let sc = &base.scores[row];
            let (first, last) = base.first_last[row];
            Profile {
                customer_id: &id,
                model_version: s.model_version(),
                as_of: format_rfc3339(base.cutoff),
                orders: base.orders[row],
                spend: base.spend[row],
                first_purchase: Some(format_rfc3339(first)),
                last_purchase: Some(format_rfc3339(last)),
                recency_days: Some(days(base.cutoff - last)),
                rfm: rfm(sc),
                value: value(sc),
                live: None,
            }
        }
    };
    let body = serde_json::to_vec(&answer).map_err(|_| ApiError::Internal {
        reason: "serialising a profile",
    })?;
    Ok(json_ok(Some(&s), Bytes::from(body)))
}
