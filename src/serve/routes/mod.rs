//! Route table: every resource with its metrics name, and the small helpers handlers
//! share. Handlers stay thin: extract, call library code, serialize.

mod admin;
mod customers;
mod dashboard;
mod events;
mod health;
mod lists;
mod model;
mod recommend;
pub(crate) mod scores;

use std::future::Future;
use std::pin::Pin;

use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{
    CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue, TRANSFER_ENCODING,
};
use actix_web::middleware::{Next, from_fn};
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, Resource};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::state::ServingState;
use crate::ingest::MAX_ID_BYTES;

/// Header carrying the model version on every response.
pub const X_MODEL_VERSION: HeaderName = HeaderName::from_static("x-model-version");

/// Names of all routes, as used in metrics labels and `HttpRequest::match_name`.
pub const ROUTE_NAMES: &[&str] = &[
    "healthz",
    "readyz",
    "metrics",
    "model",
    "admin_reload",
    "customer",
    "recommendations",
    "cart_recommendations",
    "similar",
    "churn",
    "next_purchase",
    "churn_batch",
    "customer_list",
    "segments",
    "dashboard",
    "dashboard_asset",
    "events",
];

/// Query parameters each route takes; any other is refused with 400 `bad_parameter`
/// naming it, on every route alike (routes missing here take none). Keep in step with the
/// routes' `Query` types.
const QUERY_PARAMS: &[(&str, &[&str])] = &[
    (
        "recommendations",
        &[
            "k",
            "exclude_purchased",
            "exclude",
            "category",
            "max_per_category",
        ],
    ),
    ("similar", &["k"]),
    ("churn", &["explain"]),
    (
        "customer_list",
        &[
            "sort",
            "order",
            "segment",
            "min_churn",
            "limit",
            "offset",
            "format",
        ],
    ),
];

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("healthz", "/healthz").route(web::get().to(health::healthz)))
        .service(resource("readyz", "/readyz").route(web::get().to(health::readyz)))
        .service(resource("metrics", "/metrics").route(web::get().to(health::metrics)))
        .service(resource("model", "/v1/model").route(web::get().to(model::model)))
        .service(resource("admin_reload", "/admin/reload").route(web::post().to(admin::reload)))
        .service(
            resource("customer", "/v1/customers/{id}")
                .route(web::get().to(customers::profile))
                .route(web::delete().to(events::erase)),
        )
        .service(
            resource("recommendations", "/v1/customers/{id}/recommendations")
                .route(web::get().to(recommend::for_customer)),
        )
        .service(
            resource("cart_recommendations", "/v1/recommendations")
                .route(web::post().to(recommend::for_cart)),
        )
        .service(
            resource("similar", "/v1/items/{id}/similar").route(web::get().to(recommend::similar)),
        )
        .service(resource("churn", "/v1/customers/{id}/churn").route(web::get().to(scores::churn)))
        .service(
            resource("next_purchase", "/v1/customers/{id}/next-purchase")
                .route(web::get().to(scores::next_purchase)),
        )
        .service(resource("churn_batch", "/v1/churn").route(web::post().to(scores::churn_batch)))
        .service(resource("customer_list", "/v1/customers").route(web::get().to(lists::list)))
        .service(resource("segments", "/v1/segments").route(web::get().to(lists::segments)))
        .service(resource("dashboard", "/").route(web::get().to(dashboard::index)))
        .service(
            resource("dashboard_asset", "/assets/{file}").route(web::get().to(dashboard::asset)),
        )
        .service(resource("events", "/v1/events").route(web::post().to(events::post)));
}

/// A named resource whose wrong-method answer uses the error envelope, and which refuses
/// unknown query parameters and over-long path parameters before any handler runs.
fn resource(
    name: &'static str,
    path: &str,
) -> Resource<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    debug_assert!(
        ROUTE_NAMES.contains(&name),
        "route {name} missing from ROUTE_NAMES"
    );
    let accepted = QUERY_PARAMS
        .iter()
        .find(|(route, _)| *route == name)
        .map_or(&[][..], |(_, params)| *params);
    web::resource(path)
        .name(name)
        .default_service(web::to(method_not_allowed))
        .wrap(from_fn(move |req, next| check_request(accepted, req, next)))
}

/// The route-independent request rules: every query parameter is one the route takes,
/// every path parameter (ids) at most [`MAX_ID_BYTES`] long.
async fn check_request(
    accepted: &'static [&'static str],
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Some(err) = request_error(accepted, &req) {
        return Ok(req.error_response(err));
    }
    next.call(req).await
}

fn request_error(accepted: &'static [&'static str], req: &ServiceRequest) -> Option<ApiError> {
    for (name, value) in req.match_info().iter() {
        if value.len() > MAX_ID_BYTES {
            return Some(ApiError::IdTooLong {
                name: name.to_string(),
                len: value.len(),
                limit: MAX_ID_BYTES,
            });
        }
    }
    let qs = req.query_string();
    if qs.is_empty() {
        return None;
    }
    // A query that does not parse is left to the route's own extractor to report.
    let pairs = web::Query::<Vec<(String, String)>>::from_query(qs).ok()?;
    let unknown = pairs
        .into_inner()
        .into_iter()
        .find(|(k, _)| !accepted.contains(&k.as_str()))?;
    Some(ApiError::UnknownParameter {
        name: unknown.0,
        accepted,
    })
}

/// Refuses a body id longer than [`MAX_ID_BYTES`], naming it (`cart[2]`, or `field` for
/// a single one) like an over-long path parameter.
pub(crate) fn check_body_ids<'a>(
    field: &str,
    ids: impl IntoIterator<Item = &'a str>,
    list: bool,
) -> Result<(), ApiError> {
    for (k, id) in ids.into_iter().enumerate() {
        if id.len() > MAX_ID_BYTES {
            return Err(ApiError::IdTooLong {
                name: if list {
                    format!("{field}[{k}]")
                } else {
                    field.to_string()
                },
                len: id.len(),
                limit: MAX_ID_BYTES,
            });
        }
    }
    Ok(())
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    // A HEAD is answered as its GET; say HEAD where no GET exists.
    let method = if req.extensions().contains::<super::app::HeadRequest>() {
        "HEAD".to_string()
    } else {
        req.method().to_string()
    };
    Err(ApiError::MethodNotAllowed {
        method,
        path: req.path().to_string(),
    })
}

/// Answer for paths no route matches.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound {
        method: req.method().to_string(),
        path: req.path().to_string(),
    })
}

/// A 200 JSON answer tagged with the version of the snapshot it was computed from.
pub(crate) fn json_ok(snapshot: Option<&ServingState>, body: Bytes) -> HttpResponse {
    let mut b = HttpResponse::Ok();
    b.insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")));
    if let Some(s) = snapshot {
        b.insert_header((X_MODEL_VERSION, s.version_header().clone()));
    }
    b.body(body)
}

/// A JSON body that may be absent: an empty body gives `None`, anything else goes through
/// the regular `Json` extractor (and its limit and error handler).
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let h = req.headers();
        let empty = match h.get(CONTENT_LENGTH) {
            Some(len) => len.as_bytes() == b"0",
            None => !h.contains_key(TRANSFER_ENCODING),
        };
        if empty {
            return Box::pin(std::future::ready(Ok(OptionalJson(None))));
        }
        let json = web::Json::<T>::from_request(req, payload);
        Box::pin(async move { Ok(OptionalJson(Some(json.await?.into_inner()))) })
    }
}
