//! `GET /openapi.json`: the OpenAPI 3.1 description of every route, generated from the
//! handlers' `#[utoipa::path]` annotations and the request and answer types' schemas.
//!
//! `docs/openapi.json` holds the same bytes (a test compares them); regenerate it with
//! `cargo run --bin propensity-serve -- --print-openapi > docs/openapi.json`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::{HttpResponse, web};
use serde::de::DeserializeOwned;
use utoipa::openapi::example::{Example, ExampleBuilder};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::serve::auth::Scope;
use crate::serve::error::{ApiError, Code, ErrorEnvelope};

/// Model version used in the examples.
pub const EXAMPLE_VERSION: &str = "20261201T020000Z-3fa9c2d1";

/// The header naming the model version, as the description spells it.
const MODEL_VERSION_HEADER: &str = "X-Model-Version";

/// Name of the security scheme every scoped operation requires.
pub const SECURITY_SCHEME: &str = "api_key";

/// Declares `$name`, a type whose `IntoResponses` are the error answers with these codes,
/// grouped by the status the error table gives each code, with one example per code
/// rendered by the real error renderer. `examples = [...]` replaces a code's default
/// example with an `ApiError` closer to what the route says.
macro_rules! error_responses {
    ($(#[$meta:meta])* $name:ident = [$($code:ident),+ $(,)?] $(, examples = [$($ex:expr),* $(,)?])?) => {
        $(#[$meta])*
        pub(crate) enum $name {}

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<
                String,
                utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
            > {
                $crate::serve::routes::openapi::error_response_map(
                    &[$($crate::serve::error::Code::$code),+],
                    vec![$($($ex),*)?],
                )
            }
        }
    };
}
pub(crate) use error_responses;

/// The OpenAPI document of the server.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "propensity",
        description = include_str!("openapi_intro.md"),
    ),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::health::metrics,
        super::model::model,
        super::admin::reload,
        super::customers::profile,
        super::events::erase,
        super::recommend::for_customer,
        super::recommend::for_cart,
        super::recommend::similar,
        super::scores::churn,
        super::scores::next_purchase,
        super::scores::churn_batch,
        super::lists::list,
        super::lists::segments,
        super::dashboard::index,
        super::dashboard::asset,
        super::events::post,
        openapi_json,
    ),
    components(schemas(ErrorEnvelope, super::events::EventsRefused)),
    modifiers(&Shared),
    tags(
        (name = "recommend", description = "Next-best products for storefronts (scope `recommend`)"),
        (name = "score", description = "Churn, next purchase and profiles for CRM (scope `score`)"),
        (name = "lists", description = "Customer lists and segment aggregates (scope `score`)"),
        (name = "ingest", description = "Real-time events and erasure (scopes `ingest`, `admin`)"),
        (name = "model", description = "The served model and its reload"),
        (name = "operations", description = "Health, readiness, metrics and this description; no key needed"),
        (name = "dashboard", description = "The built-in dashboard; no key needed (its data calls need one)"),
    )
)]
pub struct ApiDoc;

/// Adds what operations share: the bearer security scheme, one example of each error code
/// (operations refer to them), and the `X-Model-Version` header of every answer.
struct Shared;

impl Modify for Shared {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scopes = [Scope::Recommend, Scope::Score, Scope::Ingest, Scope::Admin]
            .map(|s| format!("`{}`", s.as_str()))
            .join(", ");
        let description = format!(
            "API key sent as `Authorization: Bearer <key>`. Each key has scopes ({scopes}); \
             an operation lists the scope it needs, and an empty list means any valid key. \
             401 `missing_api_key` or `invalid_api_key` without a valid key, 403 \
             `insufficient_scope` with a key lacking the scope. A server with no keys \
             configured is open, except that admin operations then answer loopback clients \
             only, not requests a proxy forwarded (403 `admin_loopback_only`)."
        );
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(description))
            .build();
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(SECURITY_SCHEME, SecurityScheme::Http(scheme));
        for c in Code::ALL {
            let example = error_example(&example_error(c));
            components
                .examples
                .insert(c.name().to_string(), RefOr::T(example));
        }

        let header = HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .description(Some(
                "Version of the model the answer was computed from; `none` while no model is loaded.",
            ))
            .build();
        components
            .headers
            .insert(MODEL_VERSION_HEADER.to_string(), RefOr::T(header));
        let header_ref = Ref::new(format!("#/components/headers/{MODEL_VERSION_HEADER}"));
        // The rules every route applies before its handler (unknown query parameters and
        // over-long ids are 400, over-long targets 414), so every operation can answer them.
        let router_errors = error_response_map(&[Code::BadParameter, Code::UriTooLong], vec![]);
        for item in openapi.paths.paths.values_mut() {
            for op in operations_mut(item) {
                for (status, response) in &router_errors {
                    op.responses
                        .responses
                        .entry(status.clone())
                        .or_insert_with(|| response.clone());
                }
                for response in op.responses.responses.values_mut() {
                    if let RefOr::T(r) = response {
                        r.headers.insert(
                            MODEL_VERSION_HEADER.to_string(),
                            RefOr::Ref(header_ref.clone()),
                        );
                    }
                }
            }
        }
    }
}

/// Every operation of a path item.
fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

/// The document as served: pretty JSON with a final newline, rendered once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut text = ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\":\"rendering the description: {e}\"}}"));
        text.push('\n');
        text
    })
}

/// This description of the API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    summary = "OpenAPI 3.1 description of every route",
    responses(
        (status = 200, description = "This document", body = Object,
            example = json!({"openapi": "3.1.0", "info": {"title": "propensity", "version": "0.1.0"}, "paths": {}}))
    )
)]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")))
        .body(document())
}

/// Error responses for `codes`, one per status (ascending), each with the envelope schema
/// and an example per code; `overrides` replace the default example of their code.
pub(crate) fn error_response_map(
    codes: &[Code],
    overrides: Vec<ApiError>,
) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status: BTreeMap<u16, Vec<Code>> = BTreeMap::new();
    for &c in codes {
        by_status.entry(c.status().as_u16()).or_default().push(c);
    }
    by_status
        .into_iter()
        .map(|(status, codes)| {
            let description = codes
                .iter()
                .map(|c| format!("`{}`: {}", c.name(), describe(*c)))
                .collect::<Vec<_>>()
                .join("; ");
            let examples = codes.iter().map(|&c| {
                let example = match overrides.iter().find(|e| e.code() == c) {
                    Some(e) => RefOr::T(error_example(e)),
                    None => RefOr::Ref(Ref::new(format!("#/components/examples/{}", c.name()))),
                };
                (c.name(), example)
            });
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                .examples_from_iter(examples)
                .build();
            let response = ResponseBuilder::new()
                .description(description)
                .content("application/json", content)
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

/// `err` as the server renders it, as an example.
fn error_example(err: &ApiError) -> Example {
    let version = (err.code() != Code::NoModel).then_some(EXAMPLE_VERSION);
    let value = serde_json::from_slice(&err.body(version)).ok();
    ExampleBuilder::new()
        .summary(format!(
            "{} {}",
            err.code().status().as_u16(),
            err.code().name()
        ))
        .value(value)
        .build()
}

/// The error the server answers for the query string `query` on a route whose query type
/// is `T`, for examples.
pub(crate) fn bad_query<T: DeserializeOwned>(query: &str) -> ApiError {
    match web::Query::<T>::from_query(query) {
        Err(e) => ApiError::BadQuery(e),
        Ok(_) => ApiError::Internal {
            reason: "example query parsed",
        },
    }
}

/// When each code is answered, for the response descriptions.
fn describe(code: Code) -> &'static str {
    match code {
        Code::BadParameter => "a query, path or body field has a bad value",
        Code::BadJson => "the body is not valid JSON for this operation",
        Code::UnsupportedMediaType => {
            "the body's `Content-Type` is not JSON (or NDJSON, where the operation takes it)"
        }
        Code::MissingApiKey => "no `Authorization: Bearer` key",
        Code::InvalidApiKey => "the key matches no configured key",
        Code::InsufficientScope => "the key lacks the operation's scope",
        Code::AdminLoopbackOnly => {
            "a server without keys answers admin operations from loopback clients only, not through a proxy"
        }
        Code::RouteNotFound => "no such path",
        Code::MethodNotAllowed => "the path exists, the method does not",
        Code::PayloadTooLarge => "the body exceeds `body_limit_bytes`",
        Code::UriTooLong => "the request target (path and query) is longer than the server reads",
        Code::BatchTooLarge => "more ids or events than the configured batch limit",
        Code::NotAcceptable => "the `Accept` header asks for a representation not produced here",
        Code::UnknownCustomer => "the customer is not known to the model (or was erased)",
        Code::UnknownItem => "the item is not known to the model",
        Code::ReloadInProgress => "a reload is already running",
        Code::InvalidBundle => "the bundle was refused; the previous model keeps serving",
        Code::NoModel => "no model is loaded yet",
        Code::NoHistory => "the served bundle holds no event history, so events cannot be applied",
        Code::JournalUnavailable => {
            "the event journal could not be written; nothing was acknowledged"
        }
        Code::Internal => "a bug or an exhausted resource on the server",
    }
}

/// A typical error with `code`, for the examples.
fn example_error(code: Code) -> ApiError {
    match code {
        Code::BadParameter => ApiError::BadParameter {
            name: "k",
            reason: "0 is outside 1..=100".to_string(),
        },
        Code::BadJson => match serde_json::from_str::<Vec<String>>("[\"C00042\", 17]") {
            Err(e) => ApiError::BadJson(e),
            Ok(_) => ApiError::Internal {
                reason: "example JSON error parsed",
            },
        },
        Code::UnsupportedMediaType => ApiError::NotJson,
        Code::MissingApiKey => ApiError::MissingApiKey,
        Code::InvalidApiKey => ApiError::InvalidApiKey,
        Code::InsufficientScope => ApiError::InsufficientScope {
            required: Scope::Score,
        },
        Code::AdminLoopbackOnly => ApiError::AdminLoopbackOnly,
        Code::RouteNotFound => ApiError::RouteNotFound {
            method: "GET".to_string(),
            path: "/v1/nowhere".to_string(),
        },
        Code::MethodNotAllowed => ApiError::MethodNotAllowed {
            method: "PUT".to_string(),
            path: "/v1/model".to_string(),
        },
        Code::PayloadTooLarge => ApiError::PayloadTooLarge {
            limit_bytes: 16 * 1024 * 1024,
        },
        Code::UriTooLong => ApiError::UriTooLong {
            len: 9_000,
            limit: crate::serve::app::MAX_URI_BYTES,
        },
        Code::BatchTooLarge => ApiError::BatchTooLarge {
            len: 100_001,
            limit: 100_000,
        },
        Code::NotAcceptable => ApiError::NotAcceptable {
            accept: "text/html".to_string(),
        },
        Code::UnknownCustomer => ApiError::UnknownCustomer {
            id: "C99999".to_string(),
        },
        Code::UnknownItem => ApiError::UnknownItem {
            id: "I9999".to_string(),
        },
        Code::ReloadInProgress => ApiError::ReloadInProgress,
        Code::InvalidBundle => ApiError::InvalidBundle(
            crate::bundle::BundleError::Corrupt {
                path: PathBuf::from("models/next.bundle"),
                what: "whole-file checksum mismatch",
            }
            .into(),
        ),
        Code::NoModel => ApiError::NoModel,
        Code::NoHistory => ApiError::NoHistory(crate::live::LayoutError::NoHistory),
        Code::JournalUnavailable => ApiError::Journal {
            source: crate::journal::JournalError::Io {
                op: "syncing",
                path: PathBuf::from("models/journal/00000000000000000001.seg"),
                source: std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "no space left on device",
                ),
            },
        },
        Code::Internal => ApiError::Internal {
            reason: "serialising an answer",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_error_has_its_code() {
        for c in Code::ALL {
            assert_eq!(example_error(c).code(), c, "{}", c.name());
        }
    }

    #[test]
    fn error_responses_group_codes_by_status_with_an_example_each() {
        let r = error_response_map(
            &[Code::MissingApiKey, Code::InvalidApiKey, Code::NoModel],
            vec![],
        );
        assert_eq!(r.keys().collect::<Vec<_>>(), ["401", "503"]);
        let RefOr::T(unauthorized) = &r["401"] else {
            panic!("inline response")
        };
        let RefOr::T(json) = &unauthorized.content["application/json"] else {
            panic!("inline content")
        };
        let examples = &json.examples;
        assert_eq!(
            examples.keys().collect::<Vec<_>>(),
            ["invalid_api_key", "missing_api_key"]
        );
    }
}
