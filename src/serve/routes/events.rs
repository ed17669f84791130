//! `POST /v1/events` (scope `ingest`) and `DELETE /v1/customers/{id}` (scope `admin`):
//! journal first (fsync'd), then update the overlay, then answer.
//!
//! Statuses of `POST /v1/events`: 200 when at least one event was accepted, with the
//! refused ones listed in `rejected` (a client checks `rejected`, not the status, as with
//! any partial batch); 400 `no_valid_events` when none was; 413 over
//! `events_batch_limit`; 409 `no_history` when the bundle cannot recompute customers.

use std::sync::atomic::Ordering::Relaxed;

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use super::{X_MODEL_VERSION, json_ok};
use crate::journal::Record;
use crate::live::parse::{BodyError, Rejected, parse_events};
use crate::live::{Change, LiveCustomer, Lookup};
use crate::serve::auth::{Admin, Auth, Ingest};
use crate::serve::error::ApiError;
use crate::serve::state::{AppState, JournalOrApply, ServingState, now_secs};

/// The `live` block of answers about a customer with events since the bundle.
#[derive(Serialize)]
pub(crate) struct LiveInfo {
    events_since_bundle: u64,
    customer_events: usize,
    as_of: String,
}

impl LiveInfo {
    pub(crate) fn of(s: &ServingState, c: &LiveCustomer) -> LiveInfo {
        LiveInfo {
            events_since_bundle: s.live.events_total(),
            customer_events: c.n_events(),
            as_of: crate::time::format_rfc3339(c.state.as_of),
        }
    }
}

#[derive(Serialize)]
struct Accepted<'a> {
    model_version: &'a str,
    accepted: usize,
    rejected: &'a [Rejected],
    events_since_bundle: u64,
    journal_seq: u64,
}

#[derive(Serialize)]
struct NoneAccepted<'a> {
    error: ErrorBody,
    model_version: &'a str,
    accepted: usize,
    rejected: &'a [Rejected],
}

#[derive(Serialize)]
struct ErrorBody {
    code: &'static str,
    message: String,
}

fn journal_error(e: JournalOrApply) -> ApiError {
    match e {
        JournalOrApply::NoJournal => ApiError::Internal {
            reason: "the server runs without an event journal",
        },
        JournalOrApply::Journal(source) => ApiError::Journal { source },
        JournalOrApply::Apply(crate::live::ApplyError::Layout(l)) => ApiError::NoHistory(l),
    }
}

/// Whether the body is NDJSON (`true`) or a JSON array (`false`); any other content type
/// is refused with 415, as on every JSON route.
fn events_media_type(req: &HttpRequest) -> Result<bool, ApiError> {
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence.contains("ndjson") || essence.contains("jsonlines") || essence.contains("json-lines")
    {
        Ok(true)
    } else if essence == "application/json" || essence.ends_with("+json") {
        Ok(false)
    } else {
        Err(ApiError::NotEvents {
            got: ct.to_string(),
        })
    }
}

/// Accepts events: each is validated as the trainer would; valid ones are journaled (one
/// append, one fsync) and applied before the answer.
pub async fn post(
    _: Auth<Ingest>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let ndjson = events_media_type(&req)?;
    let s = state.current().ok_or(ApiError::NoModel)?;
    s.live.accepts_events().map_err(ApiError::NoHistory)?;
    let limit = state.config.body_limit_bytes;
    let bytes = match body.to_bytes_limited(limit).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            return Err(ApiError::BadParameter {
                name: "body",
                reason: format!("could not be read: {e}"),
            });
        }
        Err(_) => return Err(ApiError::PayloadTooLarge { limit_bytes: limit }),
    };
    let max = state.config.events_batch_limit;
    let mut parsed = match parse_events(&bytes, ndjson, now_secs(), max) {
        Ok(p) => p,
        Err(BodyError::Json(e)) => return Err(ApiError::BadJson(e)),
        Err(BodyError::NotEvents) => {
            return Err(ApiError::BadParameter {
                name: "body",
                reason: BodyError::NotEvents.to_string(),
            });
        }
        Err(BodyError::TooMany { len, limit }) => {
            return Err(ApiError::EventBatchTooLarge { len, limit });
        }
    };
    // Erased customers stay erased: their events would be dropped on replay and by the
    // next training, so they are refused here rather than acknowledged and lost.
    let mut kept = Vec::with_capacity(parsed.events.len());
    let mut kept_at = Vec::with_capacity(parsed.events.len());
    let events = std::mem::take(&mut parsed.events);
    for (e, &(index, line)) in events.into_iter().zip(&parsed.positions) {
        if matches!(s.lookup(&e.customer_id), Lookup::Erased) {
            parsed
                .rejected
                .push(erased_rejection(index, line, &e.customer_id));
        } else {
            kept.push(e);
            kept_at.push((index, line));
        }
    }
    let m = &state.metrics;
    let journaled = if kept.is_empty() {
        None
    } else {
        let (st, snap) = (state.clone(), s.clone());
        let done = web::block(move || st.journal_events(&snap, kept))
            .await
            .map_err(|_| ApiError::Internal {
                reason: "event task failed",
            })?
            .map_err(journal_error)?;
        // Erased between the check above and the journal append.
        for (k, id) in &done.refused {
            let (index, line) = kept_at[*k];
            parsed.rejected.push(erased_rejection(index, line, id));
        }
        done.last_seq
            .map(|seq| (seq, kept_at.len() - done.refused.len()))
    };
    parsed.rejected.sort_by_key(|r| r.index);
    m.events_rejected
        .fetch_add(parsed.rejected.len() as u64, Relaxed);
    let Some((seq, n)) = journaled else {
        let body = serde_json::to_vec(&NoneAccepted {
            error: ErrorBody {
                code: "no_valid_events",
                message: format!(
                    "none of the {} events is valid; see rejected",
                    parsed.rejected.len()
                ),
            },
            model_version: s.model_version(),
            accepted: 0,
            rejected: &parsed.rejected,
        })
        .map_err(|_| ApiError::Internal {
            reason: "serialising rejected events",
        })?;
        return Ok(HttpResponse::build(StatusCode::BAD_REQUEST)
            .insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")))
            .insert_header((X_MODEL_VERSION, s.version_header().clone()))
            .body(body));
    };
    m.events_accepted.fetch_add(n as u64, Relaxed);
    let now = state.current().unwrap_or(s);
    let body = serde_json::to_vec(&Accepted {
        model_version: now.model_version(),
        accepted: n,
        rejected: &parsed.rejected,
        events_since_bundle: now.live.events_total(),
        journal_seq: seq,
    })
    .map_err(|_| ApiError::Internal {
        reason: "serialising accepted events",
    })?;
    Ok(json_ok(Some(&now), Bytes::from(body)))
}

/// The refusal of an event whose customer was erased.
fn erased_rejection(index: usize, line: u64, id: &str) -> Rejected {
    Rejected {
        index,
        line,
        field: "customer_id".to_string(),
        message: format!("customer {id:?} was erased"),
    }
}

#[derive(Serialize)]
struct Erased<'a> {
    model_version: &'a str,
    customer_id: &'a str,
    erased: bool,
    journal_seq: u64,
}

/// Forgets a customer: an erasure record (the id's keyed hash) is journaled (fsync'd),
/// every answer treats them as unknown, and their journaled events are removed from the
/// journal's files before the answer. Idempotent; an id the server never saw is journaled
/// too (it may be in data the next training reads).
pub async fn erase(
    _: Auth<Admin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let s = state.current().ok_or(ApiError::NoModel)?;
    let id = id.into_inner();
    let records = vec![Record::Erase {
        customer_id: id.clone(),
        at: now_secs(),
    }];
    let changes = vec![Change::Erase(id.clone())];
    let (st, snap) = (state.clone(), s.clone());
    let seq = web::block(move || st.journal_and_apply(&snap, &records, changes, true))
        .await
        .map_err(|_| ApiError::Internal {
            reason: "erasure task failed",
        })?
        .map_err(journal_error)?;
    let (st, redact_id) = (state.clone(), id.clone());
    // Outside the gate: events of `id` are refused from now on, so none can land behind
    // the redaction, and ingestion goes on while the journal is read.
    let redacted = web::block(move || match st.journal() {
        Some(j) => j.redact_customer(&redact_id).map(Some),
        None => Ok(None),
    })
    .await
    .map_err(|_| ApiError::Internal {
        reason: "erasure task failed",
    })?
    .map_err(|source| ApiError::Journal { source })?;
    state.metrics.erasures.fetch_add(1, Relaxed);
    // Ids are personal data: only at debug level, never in the info log.
    tracing::debug!(customer_id = %id, journal_seq = seq, "customer erased");
    tracing::info!(
        journal_seq = seq,
        events_redacted = redacted.map_or(0, |r| r.events_redacted),
        "customer erased"
    );
    let now = state.current().unwrap_or(s);
    let body = serde_json::to_vec(&Erased {
        model_version: now.model_version(),
        customer_id: &id,
        erased: true,
        journal_seq: seq,
    })
    .map_err(|_| ApiError::Internal {
        reason: "serialising an erasure",
    })?;
    Ok(json_ok(Some(&now), Bytes::from(body)))
}
