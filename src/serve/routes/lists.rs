//! CRM lists: `GET /v1/customers` (filtered, sorted, paged; CSV export of the whole
//! filtered list) and `GET /v1/segments` (segment sizes and values, churn histogram).

use actix_web::http::header::{ACCEPT, CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::{X_MODEL_VERSION, json_ok};
use crate::clv::rfm::Segment;
use crate::serve::auth::{Auth, Score};
use crate::serve::error::ApiError;
use crate::serve::listing::{ListFilter, Listed, LiveRow, SortKey, SortOrder, Summary};
use crate::serve::routes::scores::risk_band;
use crate::serve::state::{AppState, ServingState};
use crate::time::format_date;

/// Rows per JSON page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest JSON page; the CSV export has no limit unless one is asked for.
pub const MAX_LIMIT: usize = 1000;

/// Representation of a customer list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListFormat {
    /// `{"total", "customers", …}`.
    Json,
    /// A header row and one row per customer.
    Csv,
}

/// Query of `GET /v1/customers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Sort key (default `value_at_risk`).
    pub sort: Option<SortKey>,
    /// Direction (default `desc`).
    pub order: Option<SortOrder>,
    /// Only one RFM segment (machine name, e.g. `at_risk`).
    pub segment: Option<Segment>,
    /// Only customers with churn probability ≥ this, in [0, 1].
    pub min_churn: Option<f32>,
    /// Page size, 1–1000 (default 50 for JSON, everything for CSV).
    pub limit: Option<usize>,
    /// Rows to skip.
    pub offset: Option<usize>,
    /// `json` or `csv`; overrides `Accept`.
    pub format: Option<ListFormat>,
}

/// One customer of a list (JSON object or CSV row).
#[derive(Serialize)]
struct ListedCustomer<'a> {
    customer_id: &'a str,
    segment: Segment,
    churn: f32,
    risk_band: &'static str,
    value: f32,
    value_at_risk: f32,
    recency_days: f32,
    orders: u32,
    spend: f64,
    last_purchase: String,
}

#[derive(Serialize)]
struct ListAnswer<'a> {
    model_version: &'a str,
    total: usize,
    offset: usize,
    limit: usize,
    sort: SortKey,
    order: SortOrder,
    customers: Vec<ListedCustomer<'a>>,
}

fn format_of(req: &HttpRequest, q: &ListQuery) -> Result<ListFormat, ApiError> {
    if let Some(f) = q.format {
        return Ok(f);
    }
    match req.headers().get(ACCEPT).map(|v| v.to_str().unwrap_or("")) {
        None => Ok(ListFormat::Json),
        Some(a) if a.contains("text/csv") => Ok(ListFormat::Csv),
        Some(a) if a.is_empty() || a.contains("application/json") || a.contains("*/*") => {
            Ok(ListFormat::Json)
        }
        Some(a) => Err(ApiError::NotAcceptable {
            accept: a.to_string(),
        }),
    }
}

/// Validated filter from the query, naming the parameter on a bad value.
fn filter_of(q: &ListQuery) -> Result<ListFilter, ApiError> {
    if let Some(m) = q.min_churn
        && !(0.0..=1.0).contains(&m)
    {
        return Err(ApiError::BadParameter {
            name: "min_churn",
            reason: format!("{m} is not a probability in [0, 1]"),
        });
    }
    Ok(ListFilter {
        segment: q.segment,
        min_churn: q.min_churn,
    })
}

fn limit_of(q: &ListQuery, format: ListFormat) -> Result<usize, ApiError> {
    match (q.limit, format) {
        (Some(l), ListFormat::Json) if !(1..=MAX_LIMIT).contains(&l) => {
            Err(ApiError::BadParameter {
                name: "limit",
                reason: format!(
                    "{l} is outside 1–{MAX_LIMIT}; hint: page with offset, or export with format=csv"
                ),
            })
        }
        (Some(0), ListFormat::Csv) => Err(ApiError::BadParameter {
            name: "limit",
            reason: "must be at least 1".to_string(),
        }),
        (Some(l), _) => Ok(l),
        (None, ListFormat::Json) => Ok(DEFAULT_LIMIT),
        (None, ListFormat::Csv) => Ok(usize::MAX),
    }
}

fn customer_of<'a>(
    s: &'a ServingState,
    live: &'a [LiveRow],
    e: Listed,
) -> Option<ListedCustomer<'a>> {
    let r = match e {
        Listed::Bundle(r) => r,
        Listed::Live(i) => {
            let l = live.get(i)?;
            return Some(ListedCustomer {
                customer_id: &l.id,
                segment: l.segment,
                churn: l.churn,
                risk_band: risk_band(l.churn as f64),
                value: l.value,
                value_at_risk: l.value_at_risk(),
                recency_days: l.recency_days,
                orders: l.orders,
                spend: l.spend,
                last_purchase: format_date(l.last_purchase),
            });
        }
    };
    let base = &s.models.trained.base;
    let sc = base.scores.get(r)?;
    let c = *base.modelled.get(r)? as usize;
    let churn = s.listing().churn(r);
    Some(ListedCustomer {
        customer_id: base.customer_ids.get(c)?,
        segment: sc.segment,
        churn,
        risk_band: risk_band(churn as f64),
        value: sc.value,
        value_at_risk: s.listing().value_at_risk(r),
        recency_days: s.listing().recency_days(r),
        orders: *base.orders.get(r)?,
        spend: *base.spend.get(r)?,
        last_purchase: format_date(base.first_last.get(r)?.1),
    })
}

/// Customers passing the filters, sorted, one page as JSON or the whole list as CSV; customers
/// with events since the bundle are listed with their recomputed values.
pub async fn list(
    _: Auth<Score>,
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let s = state.current().ok_or(ApiError::NoModel)?;
    let format = format_of(&req, &q)?;
    let filter = filter_of(&q)?;
    let limit = limit_of(&q, format)?;
    let offset = q.offset.unwrap_or(0);
    let sort = (
        q.sort.unwrap_or(SortKey::ValueAtRisk),
        q.order.unwrap_or(SortOrder::Desc),
    );
    let st = s.clone();
    // A CSV export walks and renders every customer: keep it off the async workers.
    let body = web::block(move || -> Result<Vec<u8>, ApiError> {
        let base = &st.models.trained.base;
        let live = st.live_rows();
        let (total, rows) = st.listing().page(
            base,
            sort,
            &filter,
            |r| st.is_listed(r),
            &live,
            (offset, limit),
        );
        let customers: Vec<ListedCustomer<'_>> = rows
            .iter()
            .filter_map(|&e| customer_of(&st, &live, e))
            .collect();
        match format {
            ListFormat::Json => serde_json::to_vec(&ListAnswer {
                model_version: st.model_version(),
                total,
                offset,
                limit,
                sort: sort.0,
                order: sort.1,
                customers,
            })
            .map_err(|_| ApiError::Internal {
                reason: "serialising a customer list",
            }),
            ListFormat::Csv => {
                let mut w = csv::Writer::from_writer(Vec::with_capacity(customers.len() * 96));
                for c in &customers {
                    w.serialize(c).map_err(|_| ApiError::Internal {
                        reason: "writing CSV",
                    })?;
                }
                w.into_inner().map_err(|_| ApiError::Internal {
                    reason: "writing CSV",
                })
            }
        }
    })
    .await
    .map_err(|_| ApiError::Internal {
        reason: "customer list task failed",
    })??;
    match format {
        ListFormat::Json => Ok(json_ok(Some(&s), Bytes::from(body))),
        ListFormat::Csv => Ok(HttpResponse::Ok()
            .insert_header((
                CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ))
            .insert_header((
                CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"customers.csv\""),
            ))
            .insert_header((X_MODEL_VERSION, s.version_header().clone()))
            .body(body)),
    }
}

#[derive(Serialize)]
struct SegmentsAnswer<'a> {
    model_version: &'a str,
    horizon_days: u32,
    value_horizon_days: u32,
    #[serde(flatten)]
    summary: Summary,
}

/// Query of `GET /v1/segments` (none; unknown parameters are refused).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentsQuery {}

/// Segment sizes and values and the churn histogram over every listed customer.
pub async fn segments(
    _: Auth<Score>,
    state: web::Data<AppState>,
    _q: web::Query<SegmentsQuery>,
) -> Result<HttpResponse, ApiError> {
    let s = state.current().ok_or(ApiError::NoModel)?;
    let st = s.clone();
    // Walks every customer (and may build the listing): keep it off the async workers.
    let body = web::block(move || {
        let base = &st.models.trained.base;
        let summary = st
            .listing()
            .summary(base, |r| st.is_listed(r), &st.live_rows());
        serde_json::to_vec(&SegmentsAnswer {
            model_version: st.model_version(),
            horizon_days: st.models.trained.propensity.horizon_days,
            value_horizon_days: crate::scoring::customers::VALUE_HORIZON_DAYS,
            summary,
        })
    })
    .await
    .map_err(|_| ApiError::Internal {
        reason: "segments task failed",
    })?
    .map_err(|_| ApiError::Internal {
        reason: "serialising segments",
    })?;
    Ok(json_ok(Some(&s), Bytes::from(body)))
}
