//! Every error the API answers with, and the one table mapping each to a wire code and an
//! HTTP status (meilisearch's `make_error_codes!`, qdrant's exhaustive match).

use std::borrow::Cow;

use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use super::auth::Scope;

/// Stable, machine-readable error codes sent as `error.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// A query, path or body field has a bad value.
    BadParameter,
    /// The body is not valid JSON for the endpoint.
    BadJson,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// No `Authorization: Bearer` key.
    MissingApiKey,
    /// The key matches no configured key.
    InvalidApiKey,
    /// The key lacks the endpoint's scope.
    InsufficientScope,
    /// Admin endpoints of a server without keys answer direct loopback peers only.
    AdminLoopbackOnly,
    /// No such route.
    RouteNotFound,
    /// The route exists, the method does not.
    MethodNotAllowed,
    /// The body exceeds the configured limit.
    PayloadTooLarge,
    /// The request target (path and query) is longer than the server reads.
    UriTooLong,
    /// A batch has more ids than the configured limit.
    BatchTooLarge,
    /// The `Accept` header asks for a representation the endpoint does not produce.
    NotAcceptable,
    /// The customer id is not known to the model.
    UnknownCustomer,
    /// The item id is not known to the model.
    UnknownItem,
    /// A reload is already running.
    ReloadInProgress,
    /// A bundle offered for reload was refused; the old one keeps serving.
    InvalidBundle,
    /// No model is loaded yet.
    NoModel,
    /// The served bundle holds no event history, so events cannot be applied.
    NoHistory,
    /// The event journal could not be written; nothing was acknowledged.
    JournalUnavailable,
    /// A bug or an exhausted resource on the server.
    Internal,
}

impl Code {
    /// Every code, in the order of the table in [`Code::meta`].
    pub const ALL: [Code; 21] = [
        Code::BadParameter,
        Code::BadJson,
        Code::UnsupportedMediaType,
        Code::MissingApiKey,
        Code::InvalidApiKey,
        Code::InsufficientScope,
        Code::AdminLoopbackOnly,
        Code::RouteNotFound,
        Code::MethodNotAllowed,
        Code::PayloadTooLarge,
        Code::UriTooLong,
        Code::BatchTooLarge,
        Code::NotAcceptable,
        Code::UnknownCustomer,
        Code::UnknownItem,
        Code::ReloadInProgress,
        Code::InvalidBundle,
        Code::NoModel,
        Code::NoHistory,
        Code::JournalUnavailable,
        Code::Internal,
    ];

    /// The table: wire name and HTTP status of every code. Exhaustive by design, so a new
    /// code cannot ship without choosing its status.
    pub fn meta(self) -> (&'static str, StatusCode) {
        match self {
            Code::BadParameter => ("bad_parameter", StatusCode::BAD_REQUEST),
            Code::BadJson => ("bad_json", StatusCode::BAD_REQUEST),
            Code::UnsupportedMediaType => {
                ("unsupported_media_type", StatusCode::UNSUPPORTED_MEDIA_TYPE)
            }
            Code::MissingApiKey => ("missing_api_key", StatusCode::UNAUTHORIZED),
            Code::InvalidApiKey => ("invalid_api_key", StatusCode::UNAUTHORIZED),
            Code::InsufficientScope => ("insufficient_scope", StatusCode::FORBIDDEN),
            Code::AdminLoopbackOnly => ("admin_loopback_only", StatusCode::FORBIDDEN),
            Code::RouteNotFound => ("route_not_found", StatusCode::NOT_FOUND),
            Code::MethodNotAllowed => ("method_not_allowed", StatusCode::METHOD_NOT_ALLOWED),
            Code::PayloadTooLarge => ("payload_too_large", StatusCode::PAYLOAD_TOO_LARGE),
            Code::UriTooLong => ("uri_too_long", StatusCode::URI_TOO_LONG),
            Code::BatchTooLarge => ("batch_too_large", StatusCode::PAYLOAD_TOO_LARGE),
            Code::NotAcceptable => ("not_acceptable", StatusCode::NOT_ACCEPTABLE),
            Code::UnknownCustomer => ("unknown_customer", StatusCode::NOT_FOUND),
            Code::UnknownItem => ("unknown_item", StatusCode::NOT_FOUND),
            Code::ReloadInProgress => ("reload_in_progress", StatusCode::CONFLICT),
            Code::InvalidBundle => ("invalid_bundle", StatusCode::UNPROCESSABLE_ENTITY),
            Code::NoModel => ("no_model", StatusCode::SERVICE_UNAVAILABLE),
            Code::NoHistory => ("no_history", StatusCode::CONFLICT),
            Code::JournalUnavailable => ("journal_unavailable", StatusCode::SERVICE_UNAVAILABLE),
            Code::Internal => ("internal", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    /// The wire name, e.g. `invalid_api_key`.
    pub fn name(self) -> &'static str {
        self.meta().0
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        self.meta().1
    }
}

/// In the OpenAPI description: the string enum `ErrorCode`, with each code's status.
impl PartialSchema for Code {
    fn schema() -> RefOr<Schema> {
        let mut table = String::from(
            "Stable error code, sent as `error.code`, and the HTTP status it comes with:\n\n\
             | code | status |\n|---|---|\n",
        );
        for c in Code::ALL {
            table.push_str(&format!("| `{}` | {} |\n", c.name(), c.status().as_u16()));
        }
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(table))
            .enum_values(Some(Code::ALL.map(Code::name)))
            .into()
    }
}

impl ToSchema for Code {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

/// An error answered to an API caller.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Query string does not parse.
    #[error("invalid query string: {0}")]
    BadQuery(#[source] QueryPayloadError),
    /// Path segment does not parse.
    #[error("invalid path parameter: {0}")]
    BadPath(#[source] PathError),
    /// Body is not valid JSON for this endpoint.
    #[error("invalid JSON body: {0}")]
    BadJson(#[source] serde_json::Error),
    /// Body could not be read.
    #[error("request body could not be read: {0}")]
    BadBody(#[source] PayloadError),
    /// Body is not JSON.
    #[error("expected Content-Type: application/json")]
    NotJson,
    /// An events body that is neither JSON nor NDJSON.
    #[error(
        "expected Content-Type: application/json (an array of events) or application/x-ndjson (one event per line), got {got:?}"
    )]
    NotEvents {
        /// The `Content-Type` sent (empty when none).
        got: String,
    },
    /// A query parameter the route does not take.
    #[error(
        "parameter {name:?}: not a parameter of this route; it takes {}",
        accepted_list(accepted)
    )]
    UnknownParameter {
        /// The parameter sent.
        name: String,
        /// The ones the route takes.
        accepted: &'static [&'static str],
    },
    /// An id (path parameter or event field) longer than [`crate::ingest::MAX_ID_BYTES`].
    #[error("parameter {name:?}: longer than {limit} bytes ({len} bytes)")]
    IdTooLong {
        /// The parameter.
        name: String,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The request target is longer than [`crate::serve::app::MAX_URI_BYTES`].
    #[error("the request path and query are {len} bytes, more than the {limit} this server reads")]
    UriTooLong {
        /// Length sent.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Body larger than the limit.
    #[error(
        "request body exceeds the limit of {limit_bytes} bytes; hint: split the request or raise body_limit_bytes"
    )]
    PayloadTooLarge {
        /// The configured limit.
        limit_bytes: usize,
    },
    /// Batch larger than the limit.
    #[error(
        "batch of {len} ids exceeds the limit of {limit}; hint: split the batch or raise batch_limit"
    )]
    BatchTooLarge {
        /// Ids sent.
        len: usize,
        /// The configured limit.
        limit: usize,
    },
    /// No `Authorization` header.
    #[error("missing API key; hint: send Authorization: Bearer <key>")]
    MissingApiKey,
    /// Key not recognised.
    #[error("invalid API key")]
    InvalidApiKey,
    /// Key without the scope.
    #[error("this API key lacks the {:?} scope", required.as_str())]
    InsufficientScope {
        /// The scope the endpoint needs.
        required: Scope,
    },
    /// Open server, admin call from the network.
    #[error(
        "no API keys are configured, so admin endpoints only answer clients on this machine (loopback, not through a proxy); hint: configure api_keys"
    )]
    AdminLoopbackOnly,
    /// Unknown route.
    #[error("no route for {method} {path}")]
    RouteNotFound {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
    },
    /// Known route, wrong method.
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
    },
    /// A query or path parameter has a value outside what the endpoint accepts.
    #[error("parameter {name:?}: {reason}")]
    BadParameter {
        /// The parameter.
        name: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// The client accepts no representation this endpoint produces.
    #[error("cannot answer with {accept:?}; hint: accept application/json or application/x-ndjson")]
    NotAcceptable {
        /// The `Accept` header sent.
        accept: String,
    },
    /// No customer with this id in the served model.
    #[error("unknown customer {id:?}")]
    UnknownCustomer {
        /// The id asked for.
        id: String,
    },
    /// No item with this id in the served model.
    #[error("unknown item {id:?}")]
    UnknownItem {
        /// The id asked for.
        id: String,
    },
    /// A reload is already running.
    #[error("a reload is already in progress; retry when it finishes")]
    ReloadInProgress,
    /// The bundle offered for reload was refused.
    #[error("bundle refused, still serving the previous model: {0}")]
    InvalidBundle(#[source] crate::serve::state::LoadError),
    /// No model loaded.
    #[error("no model is loaded yet; hint: POST /admin/reload once a bundle exists")]
    NoModel,
    /// Events for a bundle that cannot recompute customers.
    #[error("events cannot be applied: {0}")]
    NoHistory(#[source] crate::live::LayoutError),
    /// An event batch larger than the limit.
    #[error(
        "batch of {len} events exceeds the limit of {limit}; hint: split the batch or raise events_batch_limit"
    )]
    EventBatchTooLarge {
        /// Events sent.
        len: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The journal refused the append; the request was not acknowledged.
    #[error("the event journal failed; nothing was acknowledged, retry later: {source}")]
    Journal {
        /// The journal's error.
        #[source]
        source: crate::journal::JournalError,
    },
    /// Server-side failure.
    #[error("internal error: {reason}")]
    Internal {
        /// What went wrong.
        reason: &'static str,
    },
}

impl ApiError {
    /// The error's code; exhaustive, no catch-all.
    pub fn code(&self) -> Code {
        match self {
            ApiError::BadQuery(_) | ApiError::BadPath(_) => Code::BadParameter,
            ApiError::BadJson(_) | ApiError::BadBody(_) => Code::BadJson,
            ApiError::NotJson | ApiError::NotEvents { .. } => Code::UnsupportedMediaType,
            ApiError::UnknownParameter { .. } | ApiError::IdTooLong { .. } => Code::BadParameter,
            ApiError::UriTooLong { .. } => Code::UriTooLong,
            ApiError::PayloadTooLarge { .. } => Code::PayloadTooLarge,
            ApiError::BatchTooLarge { .. } => Code::BatchTooLarge,
            ApiError::MissingApiKey => Code::MissingApiKey,
            ApiError::InvalidApiKey => Code::InvalidApiKey,
            ApiError::InsufficientScope { .. } => Code::InsufficientScope,
            ApiError::AdminLoopbackOnly => Code::AdminLoopbackOnly,
            ApiError::RouteNotFound { .. } => Code::RouteNotFound,
            ApiError::MethodNotAllowed { .. } => Code::MethodNotAllowed,
            ApiError::BadParameter { .. } => Code::BadParameter,
            ApiError::NotAcceptable { .. } => Code::NotAcceptable,
            ApiError::UnknownCustomer { .. } => Code::UnknownCustomer,
            ApiError::UnknownItem { .. } => Code::UnknownItem,
            ApiError::ReloadInProgress => Code::ReloadInProgress,
            ApiError::InvalidBundle(_) => Code::InvalidBundle,
            ApiError::NoModel => Code::NoModel,
            ApiError::NoHistory(_) => Code::NoHistory,
            ApiError::EventBatchTooLarge { .. } => Code::BatchTooLarge,
            ApiError::Journal { .. } => Code::JournalUnavailable,
            ApiError::Internal { .. } => Code::Internal,
        }
    }

    /// The JSON body: `{"error":{"code","message"},"model_version"}`. The message holds
    /// the whole cause so a refused bundle says exactly why.
    pub fn body(&self, model_version: Option<&str>) -> Vec<u8> {
        // Every Display in this crate already includes its source, so this is the chain.
        let message = self.to_string();
        let env = ErrorEnvelope {
            error: ErrorDetail {
                code: self.code().name(),
                message,
            },
            model_version,
        };
        serde_json::to_vec(&env).unwrap_or_else(|_| {
            br#"{"error":{"code":"internal","message":"error rendering failed"}}"#.to_vec()
        })
    }
}

/// The body of every error answer: `{"error":{"code","message"},"model_version"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope<'a> {
    /// What went wrong.
    pub error: ErrorDetail,
    /// Version of the serving model; `null` while no model is loaded.
    #[schema(required = true)]
    pub model_version: Option<&'a str>,
}

/// Machine-readable code and human-readable message of an error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code to branch on (statuses in the `ErrorCode` schema).
    #[schema(value_type = Code)]
    pub code: &'static str,
    /// What happened, with its cause and often a hint; for people, not for parsing.
    pub message: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code().status()
    }

    fn error_response(&self) -> HttpResponse {
        // The observing middleware re-renders this body with the serving model version.
        HttpResponse::build(self.status_code())
            .insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")))
            .body(self.body(None))
    }
}

fn accepted_list(accepted: &[&str]) -> String {
    if accepted.is_empty() {
        "no query parameters".to_string()
    } else {
        accepted.join(", ")
    }
}

/// Turns JSON extractor failures into the envelope (installed on `JsonConfig`).
pub fn json_error(err: JsonPayloadError, req: &HttpRequest) -> actix_web::Error {
    let limit_bytes = req
        .app_data::<web::Data<super::state::AppState>>()
        .map_or(0, |s| s.config.body_limit_bytes);
    let api = match err {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => ApiError::PayloadTooLarge { limit_bytes: limit },
        JsonPayloadError::ContentType => ApiError::NotJson,
        JsonPayloadError::Deserialize(e) => ApiError::BadJson(e),
        JsonPayloadError::Payload(PayloadError::Overflow) => {
            ApiError::PayloadTooLarge { limit_bytes }
        }
        JsonPayloadError::Payload(e) => ApiError::BadBody(e),
        // JsonPayloadError is non-exhaustive; what remains (Serialize) is our own fault.
        _ => ApiError::Internal {
            reason: "JSON extractor failed",
        },
    };
    api.into()
}

/// Turns query-string failures into the envelope (installed on `QueryConfig`).
pub fn query_error(err: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::BadQuery(err).into()
}

/// Turns path-segment failures into the envelope (installed on `PathConfig`).
pub fn path_error(err: PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::BadPath(err).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_distinct_names_and_expected_statuses() {
        let all = Code::ALL;
        let mut names: Vec<&str> = all.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert_eq!(Code::MissingApiKey.status(), 401);
        assert_eq!(Code::InsufficientScope.status(), 403);
        assert_eq!(Code::PayloadTooLarge.status(), 413);
        assert_eq!(Code::NoModel.status(), 503);
    }

    #[test]
    fn body_is_the_envelope_with_the_source_chain() {
        let bundle_err = crate::bundle::Bundle::from_bytes(b"short").expect_err("too short");
        let err = ApiError::InvalidBundle(bundle_err.into());
        let v: serde_json::Value = serde_json::from_slice(&err.body(Some("v1"))).expect("json");
        assert_eq!(v["error"]["code"], "invalid_bundle");
        assert_eq!(v["model_version"], "v1");
        let msg = v["error"]["message"].as_str().expect("string");
        assert!(
            msg.contains("still serving") && msg.contains("truncated"),
            "{msg}"
        );
    }
}
