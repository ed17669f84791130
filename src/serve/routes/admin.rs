//! `POST /admin/reload`: load a new bundle off the request path and swap it in.

use std::path::PathBuf;

use actix_web::HttpResponse;
use actix_web::web::{self, Bytes};
use serde::{Deserialize, Serialize};

use super::{OptionalJson, json_ok};
use crate::serve::auth::{Admin, Auth};
use crate::serve::error::ApiError;
use crate::serve::state::AppState;

/// Optional body of a reload; without it the configured bundle path is re-read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReloadRequest {
    /// Bundle to load instead of the configured one.
    pub path: Option<PathBuf>,
}

#[derive(Serialize)]
struct ReloadAnswer<'a> {
    model_version: &'a str,
    previous_model_version: Option<&'a str>,
    generation: u64,
    path: String,
}

/// Loads, verifies and decodes the bundle on the blocking pool, then swaps it in;
/// requests already running finish on the old model.
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
