//! `GET /v1/model`: the served bundle's metadata and metrics.

use actix_web::{HttpResponse, web};

use super::json_ok;
use crate::serve::auth::{AnyKey, Auth};
use crate::serve::error::ApiError;
use crate::serve::state::AppState;

/// Answers the description pre-rendered when the bundle was loaded.
pub async fn model(_: Auth<AnyKey>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let s = state.current().ok_or(ApiError::NoModel)?;
    Ok(json_ok(Some(&s), s.model_json()))
}
