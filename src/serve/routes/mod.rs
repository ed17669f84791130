//! Route table: every resource with its metrics name, and the small helpers handlers
//! share. Handlers stay thin: extract, call library code, serialize.

mod admin;
mod customers;
mod dashboard;
mod events;
mod health;
mod lists;
mod model;
pub mod openapi;
mod recommend;
pub(crate) mod scores;

use std::future::Future;
use std::pin::Pin;

use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{
    CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue, TRANSFER_ENCODING,
};
use actix_web::middleware::{Next, from_fn};
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, Resource, Route};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::state::ServingState;
use crate::ingest::MAX_ID_BYTES;

/// Header carrying the model version on every response.
pub const X_MODEL_VERSION: HeaderName = HeaderName::from_static("x-model-version");

/// One resource of the API: its name, path pattern, and the handler of each method it
/// answers. The router registers exactly this table, and the OpenAPI test compares it with
/// the served description, so a route cannot ship undocumented.
pub struct RouteDef {
    /// Name in metrics labels and `HttpRequest::match_name`.
    pub name: &'static str,
    /// Path pattern as actix matches it; `{name}` segments are path parameters.
    pub path: &'static str,
    /// Each method the resource answers, with the function that attaches its handler.
    pub methods: &'static [(Method, AttachHandler)],
    /// Query parameters the route takes; any other is refused with 400 `bad_parameter`
    /// naming it, on every route alike. Keep in step with the route's `Query` type.
    pub query: &'static [&'static str],
}

/// Attaches a handler to a route that already has its method guard.
pub type AttachHandler = fn(Route) -> Route;

/// Every route, in registration order.
pub const ROUTES: &[RouteDef] = &[
    RouteDef {
        name: "healthz",
        path: "/healthz",
        methods: &[(Method::GET, |r| r.to(health::healthz))],
        query: &[],
    },
    RouteDef {
        name: "readyz",
        path: "/readyz",
        methods: &[(Method::GET, |r| r.to(health::readyz))],
        query: &[],
    },
    RouteDef {
        name: "metrics",
        path: "/metrics",
        methods: &[(Method::GET, |r| r.to(health::metrics))],
        query: &[],
    },
    RouteDef {
        name: "model",
        path: "/v1/model",
        methods: &[(Method::GET, |r| r.to(model::model))],
        query: &[],
    },
    RouteDef {
        name: "admin_reload",
        path: "/admin/reload",
        methods: &[(Method::POST, |r| r.to(admin::reload))],
        query: &[],
    },
    RouteDef {
        name: "customer",
        path: "/v1/customers/{id}",
        methods: &[
            (Method::GET, |r| r.to(customers::profile)),
            (Method::DELETE, |r| r.to(events::erase)),
        ],
        query: &[],
    },
    RouteDef {
        name: "recommendations",
        path: "/v1/customers/{id}/recommendations",
        methods: &[(Method::GET, |r| r.to(recommend::for_customer))],
        query: &[
            "k",
            "exclude_purchased",
            "exclude",
            "category",
            "max_per_category",
        ],
    },
    RouteDef {
        name: "cart_recommendations",
        path: "/v1/recommendations",
        methods: &[(Method::POST, |r| r.to(recommend::for_cart))],
        query: &[],
    },
    RouteDef {
        name: "similar",
        path: "/v1/items/{id}/similar",
        methods: &[(Method::GET, |r| r.to(recommend::similar))],
        query: &["k"],
    },
    RouteDef {
        name: "churn",
        path: "/v1/customers/{id}/churn",
        methods: &[(Method::GET, |r| r.to(scores::churn))],
        query: &["explain"],
    },
    RouteDef {
        name: "next_purchase",
        path: "/v1/customers/{id}/next-purchase",
        methods: &[(Method::GET, |r| r.to(scores::next_purchase))],
        query: &[],
    },
    RouteDef {
        name: "churn_batch",
        path: "/v1/churn",
        methods: &[(Method::POST, |r| r.to(scores::churn_batch))],
        query: &[],
    },
    RouteDef {
        name: "customer_list",
        path: "/v1/customers",
        methods: &[(Method::GET, |r| r.to(lists::list))],
        query: &[
            "sort",
            "order",
            "segment",
            "min_churn",
            "limit",
            "offset",
            "format",
        ],
    },
    RouteDef {
        name: "segments",
        path: "/v1/segments",
        methods: &[(Method::GET, |r| r.to(lists::segments))],
        query: &[],
    },
    RouteDef {
        name: "dashboard",
        path: "/",
        methods: &[(Method::GET, |r| r.to(dashboard::index))],
        query: &[],
    },
    RouteDef {
        name: "dashboard_asset",
        path: "/assets/{file}",
        methods: &[(Method::GET, |r| r.to(dashboard::asset))],
        query: &[],
    },
    RouteDef {
        name: "events",
        path: "/v1/events",
        methods: &[(Method::POST, |r| r.to(events::post))],
        query: &[],
    },
    RouteDef {
        name: "openapi",
        path: "/openapi.json",
        methods: &[(Method::GET, |r| r.to(openapi::openapi_json))],
        query: &[],
    },
];

/// Names of all routes, as used in metrics labels and `HttpRequest::match_name`.
pub const ROUTE_NAMES: &[&str] = &route_names();

const fn route_names() -> [&'static str; ROUTES.len()] {
    let mut names = [""; ROUTES.len()];
    let mut i = 0;
    while i < ROUTES.len() {
        names[i] = ROUTES[i].name;
        i += 1;
    }
    names
}

/// Registers every route of [`ROUTES`].
pub fn configure(cfg: &mut web::ServiceConfig) {
    for def in ROUTES {
        let mut res = resource(def);
        for (method, attach) in def.methods {
            res = res.route(attach(web::method(method.clone())));
        }
        cfg.service(res);
    }
}

/// A named resource whose wrong-method answer uses the error envelope, and which refuses
/// unknown query parameters and over-long path parameters before any handler runs.
fn resource(
    def: &'static RouteDef,
) -> Resource<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let accepted = def.query;
    web::resource(def.path)
        .name(def.name)
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
