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

use actix_web::dev::Payload;
use actix_web::http::header::{
    CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue, TRANSFER_ENCODING,
};
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest, HttpResponse, Resource};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::state::ServingState;

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

/// A named resource whose wrong-method answer uses the error envelope.
fn resource(name: &'static str, path: &str) -> Resource {
    debug_assert!(
        ROUTE_NAMES.contains(&name),
        "route {name} missing from ROUTE_NAMES"
    );
    web::resource(path)
        .name(name)
        .default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed {
        method: req.method().to_string(),
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
