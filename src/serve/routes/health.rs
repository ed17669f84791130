//! Liveness, readiness and Prometheus metrics.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use actix_web::HttpResponse;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::web::{self, Bytes};

use super::json_ok;
use super::openapi::error_responses;
use crate::serve::error::ApiError;
use crate::serve::metrics::escape_label;
use crate::serve::state::{AppState, HealthAnswer};
use crate::time::now_secs;

const UNLOADED: &[u8] = br#"{"status":"ok","model_version":null}"#;

/// `GET /healthz`: the process answers (whether or not a model is loaded).
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    summary = "Liveness: the process answers, with or without a model",
    responses(
        (status = 200, description = "The process is alive", body = HealthAnswer,
            examples(
                ("loaded" = (value = json!({"status": "ok", "model_version": "20261201T020000Z-3fa9c2d1"}))),
                ("no model yet" = (value = json!({"status": "ok", "model_version": null})))
            ))
    )
)]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match state.current() {
        Some(s) => json_ok(Some(&s), s.health_json()),
        None => json_ok(None, Bytes::from_static(UNLOADED)),
    }
}

error_responses!(
    /// Errors of `GET /readyz`.
    ReadyzErrors = [NoModel]
);

/// `GET /readyz`: 200 once a model is loaded, 503 `no_model` before.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    summary = "Readiness: 200 once a model is loaded",
    responses(
        (status = 200, description = "A model is loaded and answering", body = HealthAnswer,
            example = json!({"status": "ok", "model_version": "20261201T020000Z-3fa9c2d1"})),
        ReadyzErrors
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let s = state.current().ok_or(ApiError::NoModel)?;
    Ok(json_ok(Some(&s), s.health_json()))
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    summary = "Prometheus metrics",
    responses(
        (status = 200, description = "Metrics in the Prometheus text exposition format 0.0.4",
            content((String = "text/plain; version=0.0.4; charset=utf-8",
                example = json!("# HELP propensity_model_loaded 1 when a model is loaded.\n# TYPE propensity_model_loaded gauge\npropensity_model_loaded 1\n"))))
    )
)]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let snapshot = state.current();
    let mut out = String::with_capacity(8 * 1024);
    let m = &state.metrics;
    gauge(
        &mut out,
        "propensity_model_loaded",
        "1 when a model is loaded.",
        u8::from(snapshot.is_some()),
    );
    if let Some(s) = &snapshot {
        let meta = s.bundle.metadata();
        let _ = writeln!(
            out,
            "# HELP propensity_model_info The served model (value is always 1)."
        );
        let _ = writeln!(out, "# TYPE propensity_model_info gauge");
        let _ = writeln!(
            out,
            "propensity_model_info{{model_version=\"{}\",format_version=\"{}\"}} 1",
            escape_label(s.model_version()),
            s.bundle.format_version()
        );
        gauge(
            &mut out,
            "propensity_model_generation",
            "Reloads since start that installed a model.",
            s.generation,
        );
        gauge(
            &mut out,
            "propensity_model_created_timestamp_seconds",
            "When the served bundle was built.",
            meta.created_at,
        );
        gauge(
            &mut out,
            "propensity_model_age_seconds",
            "Seconds since the served bundle was built.",
            now_secs() - meta.created_at,
        );
        gauge(
            &mut out,
            "propensity_model_loaded_timestamp_seconds",
            "When the served bundle was loaded.",
            s.loaded_at,
        );
    }
    counter(
        &mut out,
        "propensity_reloads_total",
        "Bundles loaded (start-up included).",
        m.reloads.load(Relaxed),
    );
    counter(
        &mut out,
        "propensity_reload_failures_total",
        "Bundles refused on load or reload.",
        m.reload_failures.load(Relaxed),
    );
    counter(
        &mut out,
        "propensity_events_accepted_total",
        "Events accepted by POST /v1/events (journaled and applied).",
        m.events_accepted.load(Relaxed),
    );
    counter(
        &mut out,
        "propensity_events_rejected_total",
        "Events refused one by one by POST /v1/events.",
        m.events_rejected.load(Relaxed),
    );
    counter(
        &mut out,
        "propensity_erasures_total",
        "Customers erased by DELETE /v1/customers/{id} since start.",
        m.erasures.load(Relaxed),
    );
    if let Some(s) = &snapshot {
        gauge(
            &mut out,
            "propensity_live_customers",
            "Customers with state recomputed from events since the bundle.",
            s.live.live_customers(),
        );
        gauge(
            &mut out,
            "propensity_live_events",
            "Events since the bundle held by the serving state.",
            s.live.events_total(),
        );
        gauge(
            &mut out,
            "propensity_erased_customers",
            "Erasures applied to the serving state (journal replay included).",
            s.live.erasures(),
        );
    }
    m.journal_append.render(
        "propensity_journal_append_seconds",
        "Time of one journal append, fdatasync included.",
        &mut out,
    );
    m.render_requests(&mut out);
    let mut b = HttpResponse::Ok();
    b.insert_header((
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    ));
    if let Some(s) = &snapshot {
        b.insert_header((super::X_MODEL_VERSION, s.version_header().clone()));
    }
    b.body(out)
}

fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = write!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
    );
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = write!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
    );
}
