//! `create_app`: the actix `App` used by `main` and tests alike, with the error envelope
//! on every 4xx, the `X-Model-Version` header and per-request metrics and tracing, `HEAD`
//! on every `GET` route, and a limit on the request target's length.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderValue;
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, Error, HttpMessage, web};
use tracing::Instrument;
use tracing::field::Empty;

use super::error::{ApiError, json_error, path_error, query_error};
use super::metrics::UNMATCHED_ROUTE;
use super::routes::{self, X_MODEL_VERSION};
use super::state::AppState;

/// Builds the application: routes, extractor limits and error handlers, observation.
pub fn create_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    let limit = state.config.body_limit_bytes;
    App::new()
        .app_data(state)
        .configure(|cfg| configure_extractors(cfg, limit))
        .configure(routes::configure)
        .default_service(web::to(routes::not_found))
        .wrap(from_fn(http_rules))
        .wrap(from_fn(observe))
}

/// Longest request target (path and query) answered; longer ones get 414 in the envelope.
/// Ids are at most [`crate::ingest::MAX_ID_BYTES`], so no route needs more. (Targets over
/// 64 KiB never reach the app: actix-http refuses them with a bare 400, and request heads
/// over 128 KiB with a bare 431.)
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Marks a `HEAD` request answered as its `GET`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadRequest;

/// Before routing: refuses over-long targets, and answers `HEAD` as `GET` (actix-http
/// remembers the request was `HEAD` and sends the headers, `Content-Length` included,
/// without the body).
async fn http_rules(
    mut req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if len > MAX_URI_BYTES {
        let err = ApiError::UriTooLong {
            len,
            limit: MAX_URI_BYTES,
        };
        return Ok(req.error_response(err));
    }
    if req.method() == actix_web::http::Method::HEAD {
        req.extensions_mut().insert(HeadRequest);
        req.head_mut().method = actix_web::http::Method::GET;
    }
    next.call(req).await
}

/// Body limit and the envelope for JSON, query and path extraction errors.
pub fn configure_extractors(cfg: &mut web::ServiceConfig, body_limit_bytes: usize) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(body_limit_bytes)
            .error_handler(json_error),
    )
    .app_data(web::PayloadConfig::new(body_limit_bytes))
    .app_data(web::QueryConfig::default().error_handler(query_error))
    .app_data(web::PathConfig::default().error_handler(path_error));
}

const NO_MODEL: HeaderValue = HeaderValue::from_static("none");

/// Per request: a debug-level span, the `X-Model-Version` header when the handler did not
/// set one, the error envelope re-rendered with the model version, and metrics.
async fn observe(req: ServiceRequest, next: Next<BoxBody>) -> Result<ServiceResponse, Error> {
    let started = Instant::now();
    // Debug level: at the default info level this costs one callsite check, which keeps
    // cheap endpoints cheap under load.
    let span = tracing::debug_span!(
        "request",
        method = %req.method(),
        path = %req.path(),
        route = Empty,
        status = Empty,
        micros = Empty
    );
    // Routing and handlers turn their errors into responses, so `Err` here only comes
    // from actix itself; the request must not be cloned before routing (the router needs
    // it uniquely), so such an error is passed on unobserved.
    let mut res = next.call(req).instrument(span.clone()).await?;
    let Some(state) = res.request().app_data::<web::Data<AppState>>().cloned() else {
        return Ok(res);
    };
    let version = if res.headers().contains_key(X_MODEL_VERSION) {
        None
    } else {
        let v = state.current_version_header().unwrap_or(NO_MODEL);
        res.headers_mut().insert(X_MODEL_VERSION, v.clone());
        Some(v)
    };
    let envelope = res.response().error().and_then(|e| {
        let api = e.as_error::<ApiError>()?;
        let v = version
            .as_ref()
            .filter(|v| *v != NO_MODEL)
            .and_then(|v| v.to_str().ok());
        Some(api.body(v))
    });
    if let Some(body) = envelope {
        res = res.map_body(|_, _| BoxBody::new(body));
    }

    let status = res.status();
    let micros = started.elapsed().as_micros() as u64;
    let route = res.request().match_name();
    state.metrics.observe(route, status.as_u16(), micros);
    span.record("route", route.unwrap_or(UNMATCHED_ROUTE));
    span.record("status", status.as_u16());
    span.record("micros", micros);
    if status.is_server_error() {
        let err = res
            .response()
            .error()
            .map(|e| e.to_string())
            .unwrap_or_default();
        tracing::error!(parent: &span, status = status.as_u16(), error = %err, "request failed");
    } else {
        tracing::debug!(parent: &span, "request done");
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use actix_web::{HttpResponse, test};
    use serde::Deserialize;

    use super::*;
    use crate::serve::config::ServeConfig;

    #[derive(Deserialize)]
    struct Q {
        #[allow(dead_code)]
        k: u32,
    }

    async fn with_query(_: web::Query<Q>) -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    #[actix_web::test]
    async fn query_errors_use_the_envelope() {
        let state = web::Data::new(AppState::new(ServeConfig::default(), routes::ROUTE_NAMES));
        let app = test::init_service(
            App::new()
                .app_data(state)
                .configure(|cfg| configure_extractors(cfg, 4096))
                .route("/q", web::get().to(with_query))
                .wrap(from_fn(observe)),
        )
        .await;
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/q?k=ten").to_request()).await;
        assert_eq!(res.status(), 400);
        assert_eq!(res.headers().get(X_MODEL_VERSION), Some(&NO_MODEL));
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["error"]["code"], "bad_parameter");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("query"))
        );
        assert!(body["model_version"].is_null());
    }
}
