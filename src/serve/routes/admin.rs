//! `POST /admin/reload`: load a new bundle off the request path and swap it in.

use std::path::PathBuf;

use actix_web::HttpResponse;
use actix_web::web::{self, Bytes};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::openapi::error_responses;
use super::{OptionalJson, json_ok};
use crate::serve::auth::{Admin, Auth};
use crate::serve::error::ApiError;
use crate::serve::state::AppState;

/// Optional body of a reload; without it the configured bundle path is re-read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"path": "models/2026-12-01.bundle"}))]
pub struct ReloadRequest {
    /// Bundle to load instead of the configured one (a path on the server).
    #[schema(value_type = Option<String>)]
    pub path: Option<PathBuf>,
}

/// Answer of a reload.
#[derive(Serialize, ToSchema)]
pub(crate) struct ReloadAnswer<'a> {
    /// Version of the model now serving.
    model_version: &'a str,
    /// Version that served before; `null` when none was loaded.
    #[schema(required = true)]
    previous_model_version: Option<&'a str>,
    /// Loads since start that installed a model.
    generation: u64,
    /// The bundle file now serving.
    path: String,
}

error_responses!(
    /// Errors of `POST /admin/reload`.
    ReloadErrors = [
        BadJson,
        MissingApiKey,
        InvalidApiKey,
        InsufficientScope,
        AdminLoopbackOnly,
        ReloadInProgress,
        PayloadTooLarge,
        UnsupportedMediaType,
        InvalidBundle,
        Internal,
    ],
    examples = [ApiError::InsufficientScope {
        required: crate::serve::auth::Scope::Admin,
    }]
);

/// Loads, verifies and decodes the bundle on the blocking pool, then swaps it in;
/// requests already running finish on the old model.
#[utoipa::path(
    post,
    path = "/admin/reload",
    operation_id = "admin_reload",
    tag = "model",
    summary = "Load a new bundle atomically",
    description = "Loads, verifies and decodes the bundle (the configured path, or `path` of the body), then swaps it in; requests already running finish on the old model. A refused bundle leaves the previous one serving. The body may be empty.",
    request_body(content = Option<ReloadRequest>, content_type = "application/json", description = "Optional; without it the configured bundle is re-read"),
    security(("api_key" = ["admin"])),
    responses(
        (status = 200, description = "The new model is serving", body = ReloadAnswer,
            example = json!({"model_version": "20261201T020000Z-3fa9c2d1", "previous_model_version": "20261124T020000Z-77b01e4a", "generation": 2, "path": "models/default.bundle"})),
        ReloadErrors
    )
)]
pub async fn reload(
    _: Auth<Admin>,
    state: web::Data<AppState>,
    body: OptionalJson<ReloadRequest>,
) -> Result<HttpResponse, ApiError> {
    let path = body.0.and_then(|r| r.path);
    let st = state.clone();
    let reloaded = web::block(move || st.reload(path.as_deref()))
        .await
        .map_err(|_| ApiError::Internal {
            reason: "reload task was cancelled",
        })??;
    let answer = ReloadAnswer {
        model_version: reloaded.current.model_version(),
        previous_model_version: reloaded.previous.as_deref(),
        generation: reloaded.current.generation,
        path: reloaded.current.bundle.path().display().to_string(),
    };
    let body = serde_json::to_vec(&answer).map_err(|_| ApiError::Internal {
        reason: "rendering the reload answer failed",
    })?;
    Ok(json_ok(Some(&reloaded.current), Bytes::from(body)))
}
