//! CRM lists: `GET /v1/customers` (filtered, sorted, paged; CSV export of the whole
//! filtered list) and `GET /v1/segments` (segment sizes and values, churn histogram).

use actix_web::http::header::{ACCEPT, CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::openapi::error_responses;
use super::{X_MODEL_VERSION, json_ok};
use crate::clv::rfm::Segment;
use crate::propensity::RiskBand;
use crate::serve::auth::{Auth, Score};
use crate::serve::error::ApiError;
use crate::serve::listing::{ListFilter, Listed, LiveRow, SortKey, SortOrder, Summary};
use crate::serve::state::{AppState, ServingState};
use crate::time::format_date;

/// Rows per JSON page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest JSON page; the CSV export has no limit unless one is asked for.
pub const MAX_LIMIT: usize = 1000;

/// Representation of a customer list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListFormat {
    /// `{"total", "customers", …}`.
    Json,
    /// A header row and one row per customer.
    Csv,
}

/// Query of `GET /v1/customers`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Sort key (default `value_at_risk`).
    #[param(default = "value_at_risk")]
    pub sort: Option<SortKey>,
    /// Direction (default `desc`).
    #[param(default = "desc")]
    pub order: Option<SortOrder>,
    /// Only one RFM segment (machine name, e.g. `at_risk`).
    #[param(inline)]
    pub segment: Option<Segment>,
    /// Only customers with churn probability ≥ this, in [0, 1].
    #[param(minimum = 0.0, maximum = 1.0)]
    pub min_churn: Option<f32>,
    /// Page size, 1–1000 (default 50 for JSON, everything for CSV).
    #[param(minimum = 1, maximum = 1000, default = 50)]
    pub limit: Option<usize>,
    /// Rows to skip.
    #[param(minimum = 0, default = 0)]
    pub offset: Option<usize>,
    /// `json` or `csv`; overrides `Accept`.
    #[param(inline)]
    pub format: Option<ListFormat>,
}

/// One customer of a list (JSON object or CSV row).
#[derive(Serialize, ToSchema)]
pub(crate) struct ListedCustomer<'a> {
    /// The customer.
    customer_id: &'a str,
    /// RFM segment (machine name).
    segment: Segment,
    /// Churn probability; `null` if the model could not score the customer.
    #[schema(nullable)]
    churn: f32,
    /// `high`, `medium` or `low`, from `churn`.
    risk_band: RiskBand,
    /// Expected spend over the next 365 days; `null` without a value model.
    #[schema(nullable)]
    value: f32,
    /// `churn` × `value`: what is lost if the customer goes.
    #[schema(nullable)]
    value_at_risk: f32,
    /// Days since the last purchase.
    #[schema(nullable)]
    recency_days: f32,
    /// Orders.
    orders: u32,
    /// Spend.
    spend: f64,
    /// Day of the last purchase.
    #[schema(format = Date)]
    last_purchase: String,
}

/// One page of a customer list.
#[derive(Serialize, ToSchema)]
#[schema(as = CustomerListAnswer)]
pub(crate) struct ListAnswer<'a> {
    /// Version of the model that answered.
    model_version: &'a str,
    /// Customers passing the filters, all pages.
    total: usize,
    /// Rows skipped.
    offset: usize,
    /// Page size.
    limit: usize,
    /// Sort key used.
    sort: SortKey,
    /// Direction used.
    order: SortOrder,
    /// This page.
    customers: Vec<ListedCustomer<'a>>,
}

error_responses!(
    /// Errors of `GET /v1/customers`.
    ListErrors = [BadParameter, MissingApiKey, InvalidApiKey, InsufficientScope, NotAcceptable, NoModel, Internal],
    examples = [ApiError::BadParameter {
        name: "min_churn",
        reason: "1.5 is not a probability in [0, 1]".to_string(),
    }]
);
error_responses!(
    /// Errors of `GET /v1/segments`.
    SegmentsErrors = [BadParameter, MissingApiKey, InvalidApiKey, InsufficientScope, NoModel, Internal],
    examples = [super::openapi::bad_query::<SegmentsQuery>("segment=lost")]
);

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
                risk_band: RiskBand::of(l.churn as f64),
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
        risk_band: RiskBand::of(churn as f64),
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
#[utoipa::path(
    get,
    path = "/v1/customers",
    operation_id = "customer_list",
    tag = "lists",
    summary = "Customers filtered and sorted, as JSON pages or a CSV export",
    description = "Customers passing the filters, sorted; one page as JSON, or (with `format=csv` or `Accept: text/csv`) the whole filtered list as CSV with the columns of `ListedCustomer`. Customers with events since the bundle are listed with their recomputed values.",
    params(ListQuery),
    security(("api_key" = ["score"])),
    responses(
        (status = 200, description = "The list",
            content(
                (ListAnswer = "application/json",
                    example = json!({"model_version": "20261201T020000Z-3fa9c2d1", "total": 1532, "offset": 0, "limit": 2,
                        "sort": "value_at_risk", "order": "desc", "customers": [
                            {"customer_id": "C00042", "segment": "cant_lose", "churn": 0.71, "risk_band": "high", "value": 820.5, "value_at_risk": 582.6, "recency_days": 143.0, "orders": 19, "spend": 2310.2, "last_purchase": "2026-07-11"},
                            {"customer_id": "C01777", "segment": "at_risk", "churn": 0.66, "risk_band": "high", "value": 610.0, "value_at_risk": 402.6, "recency_days": 120.5, "orders": 11, "spend": 1204.9, "last_purchase": "2026-08-03"}]})),
                (String = "text/csv; charset=utf-8",
                    example = json!("customer_id,segment,churn,risk_band,value,value_at_risk,recency_days,orders,spend,last_purchase\nC00042,cant_lose,0.71,high,820.5,582.6,143.0,19,2310.2,2026-07-11\n"))
            )),
        ListErrors
    )
)]
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

/// Segment sizes and values and the churn histogram.
#[derive(Serialize, ToSchema)]
pub(crate) struct SegmentsAnswer<'a> {
    /// Version of the model that answered.
    model_version: &'a str,
    /// Churn horizon, in days.
    horizon_days: u32,
    /// Horizon of the segment values, in days.
    value_horizon_days: u32,
    /// Counts, segments and histogram.
    #[serde(flatten)]
    summary: Summary,
}

/// Query of `GET /v1/segments` (none; unknown parameters are refused).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentsQuery {}

/// Segment sizes and values and the churn histogram over every listed customer.
#[utoipa::path(
    get,
    path = "/v1/segments",
    operation_id = "segments",
    tag = "lists",
    summary = "Segment sizes and values, churn histogram",
    security(("api_key" = ["score"])),
    responses(
        (status = 200, description = "Aggregates over every listed customer", body = SegmentsAnswer,
            example = json!({"model_version": "20261201T020000Z-3fa9c2d1", "horizon_days": 90, "value_horizon_days": 365,
                "customers": 4210,
                "segments": [{"segment": "champions", "name": "Champions", "customers": 612, "value": 401230.5, "value_at_risk": 20110.2, "mean_churn": 0.05}],
                "churn_histogram": [{"from": 0.0, "to": 0.1, "customers": 1820}, {"from": 0.1, "to": 0.2, "customers": 640}]})),
        SegmentsErrors
    )
)]
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
            value_horizon_days: crate::models::customers::VALUE_HORIZON_DAYS,
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
