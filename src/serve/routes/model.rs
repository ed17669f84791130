//! `GET /v1/model`: the served bundle's metadata and metrics.

use actix_web::{HttpResponse, web};

use super::json_ok;
use super::openapi::error_responses;
use crate::serve::auth::{AnyKey, Auth};
use crate::serve::error::ApiError;
use crate::serve::state::{AppState, ModelAnswer};

error_responses!(
    /// Errors of `GET /v1/model`.
    ModelErrors = [MissingApiKey, InvalidApiKey, NoModel]
);

/// Answers the description pre-rendered when the bundle was loaded.
#[utoipa::path(
    get,
    path = "/v1/model",
    operation_id = "model",
    tag = "model",
    summary = "The served model: bundle metadata, metrics, calibration",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The served bundle", body = ModelAnswer,
            example = json!({
                "model_version": "20261201T020000Z-3fa9c2d1",
                "generation": 1,
                "loaded_at": "2026-12-01T06:00:00Z",
                "path": "models/default.bundle",
                "churn_calibration": [
                    {"predicted": 0.12, "observed": 0.1, "rows": 5120},
                    {"predicted": 0.71, "observed": 0.74, "rows": 2048}
                ],
                "bundle": {
                    "model_version": "20261201T020000Z-3fa9c2d1",
                    "format_version": 3,
                    "trainer_version": "0.1.0",
                    "created_at": "2026-12-01T02:00:00Z",
                    "data_range": {"first_event_at": "2024-01-01T00:00:00Z", "last_event_at": "2026-11-30T23:59:59Z"},
                    "events": 1200000,
                    "customers": 45000,
                    "items": 3100,
                    "config": "[churn]\nhorizon_days = 90\n",
                    "metrics": {"churn.auc": 0.83, "recommend.ndcg@10": 0.21},
                    "feature_importance": [{"name": "recency_days", "importance": 1520.5}],
                    "len_bytes": 73400320,
                    "sections": [{"name": "metadata", "kind": "struct", "offset": 64, "len_bytes": 2048, "shape": [2048], "crc32": "9f3a0c1b"}]
                }
            })),
        ModelErrors
    )
)]
pub async fn model(_: Auth<AnyKey>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let s = state.current().ok_or(ApiError::NoModel)?;
    Ok(json_ok(Some(&s), s.model_json()))
}
