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
use utoipa::ToSchema;

use super::openapi::error_responses;
use super::{X_MODEL_VERSION, json_ok};
use crate::journal::Record;
use crate::live::parse::{BodyError, Rejected, parse_events};
use crate::live::{Change, LiveCustomer, Lookup};
use crate::serve::auth::{Admin, Auth, Ingest};
use crate::serve::error::{ApiError, Code};
use crate::serve::state::{AppState, JournalOrApply, ServingState};
use crate::time::now_secs;

/// The `live` block of answers about a customer with events since the bundle.
#[derive(Serialize, ToSchema)]
pub(crate) struct LiveInfo {
    /// Events the server has applied since the bundle, all customers.
    events_since_bundle: u64,
    /// This customer's events since the bundle.
    customer_events: usize,
    /// The customer's latest event time: the answer describes them as of then.
    #[schema(format = DateTime)]
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

/// Answer of `POST /v1/events` when at least one event was accepted.
#[derive(Serialize, ToSchema)]
#[schema(as = EventsAccepted)]
pub(crate) struct Accepted<'a> {
    /// Version of the model now serving.
    model_version: &'a str,
    /// Events journaled and applied.
    accepted: usize,
    /// Events refused one by one, in body order (check this, not the status).
    rejected: &'a [Rejected],
    /// Events the server has applied since the bundle, all customers.
    events_since_bundle: u64,
    /// Journal sequence number of this batch.
    journal_seq: u64,
}

/// Answer of `POST /v1/events` (status 400) when no event of the body was valid.
#[derive(Serialize, ToSchema)]
pub(crate) struct EventsRefused<'a> {
    /// Always `no_valid_events`.
    error: ErrorBody,
    /// Version of the model serving.
    model_version: &'a str,
    /// Always 0.
    #[schema(minimum = 0, maximum = 0)]
    accepted: usize,
    /// Why each event was refused, in body order.
    rejected: &'a [Rejected],
}

impl<'a> EventsRefused<'a> {
    /// The answer for a body whose events were all refused.
    fn new(model_version: &'a str, rejected: &'a [Rejected]) -> EventsRefused<'a> {
        EventsRefused {
            error: ErrorBody {
                code: "no_valid_events",
                message: format!(
                    "none of the {} events is valid; see rejected",
                    rejected.len()
                ),
            },
            model_version,
            accepted: 0,
            rejected,
        }
    }
}

/// Code and message of an [`EventsRefused`] answer.
#[derive(Serialize, ToSchema)]
#[schema(as = EventsRefusedError)]
pub(crate) struct ErrorBody {
    /// `no_valid_events`.
    #[schema(value_type = String, pattern = "^no_valid_events$")]
    code: &'static str,
    /// How many events were refused; details are in `rejected`.
    message: String,
}

/// One event of a `POST /v1/events` body, read as the trainer reads event files. Each
/// event is validated on its own; one that is not valid is listed in `rejected`.
// `parse_events` reads the body with the trainer's JSON reader, so this type only
// describes it.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes what parse_events accepts")]
#[schema(example = json!({"customer_id": "C00042", "item_id": "I0007", "timestamp": "2026-12-01T10:15:00Z", "event": "purchase", "quantity": 2, "price": 4.5, "order_id": "O-1001"}))]
pub(crate) struct EventInput {
    /// Customer id (a number is read as its decimal text).
    customer_id: String,
    /// Item id (a number is read as its decimal text).
    item_id: String,
    /// `YYYY-MM-DD` (midnight UTC) or RFC 3339; at most one day after the server's clock.
    timestamp: String,
    /// `purchase` (default), `view`, `cart` or `return`, any case.
    event: Option<String>,
    /// Units (default 1); must be positive for a purchase. A numeric string is accepted.
    quantity: Option<f64>,
    /// Unit price. A numeric string is accepted.
    price: Option<f64>,
    /// Order id: lines with the same order id are one order.
    order_id: Option<String>,
    /// Item category.
    category: Option<String>,
}

/// Errors of `POST /v1/events`; its 400 is either the error envelope or, when no event
/// was valid, an [`EventsRefused`] answer.
pub(crate) enum PostErrors {}

impl utoipa::IntoResponses for PostErrors {
    fn responses() -> std::collections::BTreeMap<
        String,
        utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
    > {
        use utoipa::openapi::schema::OneOfBuilder;
        use utoipa::openapi::{Ref, RefOr};
        let mut responses = super::openapi::error_response_map(
            &[
                Code::BadJson,
                Code::BadParameter,
                Code::UnsupportedMediaType,
                Code::MissingApiKey,
                Code::InvalidApiKey,
                Code::InsufficientScope,
                Code::NoHistory,
                Code::PayloadTooLarge,
                Code::BatchTooLarge,
                Code::NoModel,
                Code::JournalUnavailable,
                Code::Internal,
            ],
            vec![
                ApiError::BadParameter {
                    name: "body",
                    reason: BodyError::NotEvents.to_string(),
                },
                ApiError::InsufficientScope {
                    required: crate::serve::auth::Scope::Ingest,
                },
                ApiError::EventBatchTooLarge {
                    len: 10_001,
                    limit: 10_000,
                },
                ApiError::NotEvents {
                    got: "text/plain".to_string(),
                },
            ],
        );
        if let Some(RefOr::T(bad)) = responses.get_mut("400") {
            bad.description.push_str(
                "; `no_valid_events`: no event of the body was valid (body `EventsRefused`)",
            );
            if let Some(RefOr::T(content)) = bad.content.get_mut("application/json") {
                content.schema = Some(
                    OneOfBuilder::new()
                        .item(Ref::from_schema_name("ErrorEnvelope"))
                        .item(Ref::from_schema_name("EventsRefused"))
                        .into(),
                );
                // The real parser and answer type, on a body whose only event is refused.
                let body =
                    br#"[{"customer_id": "C00042", "item_id": "I0007", "timestamp": "yesterday"}]"#;
                let rejected = parse_events(body, false, 0, 1)
                    .map(|p| p.rejected)
                    .unwrap_or_default();
                let refused = serde_json::to_value(EventsRefused::new(
                    super::openapi::EXAMPLE_VERSION,
                    &rejected,
                ))
                .ok();
                content.examples.insert(
                    "no_valid_events".to_string(),
                    RefOr::T(
                        utoipa::openapi::example::ExampleBuilder::new()
                            .summary("400 no_valid_events")
                            .value(refused)
                            .build(),
                    ),
                );
            }
        }
        responses
    }
}

error_responses!(
    /// Errors of `DELETE /v1/customers/{id}`.
    EraseErrors = [
        MissingApiKey,
        InvalidApiKey,
        InsufficientScope,
        AdminLoopbackOnly,
        NoHistory,
        NoModel,
        JournalUnavailable,
        Internal,
    ],
    examples = [ApiError::InsufficientScope {
        required: crate::serve::auth::Scope::Admin,
    }]
);

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
#[utoipa::path(
    post,
    path = "/v1/events",
    operation_id = "events",
    tag = "ingest",
    summary = "Real-time events, journaled before the answer",
    description = "Each event is validated as the trainer would read it; valid ones are journaled (fsync'd) and applied before the answer, so the next request already sees them. 200 when at least one event was accepted, with refused ones listed in `rejected` (check `rejected`, not the status, as with any partial batch); 400 `no_valid_events` when none was.",
    request_body(
        description = "One event object, a JSON array of them, or NDJSON (one object per line; `Content-Type: application/x-ndjson`)",
        content(
            (Vec<EventInput> = "application/json"),
            (EventInput = "application/x-ndjson",
                example = json!("{\"customer_id\":\"C00042\",\"item_id\":\"I0007\",\"timestamp\":\"2026-12-01T10:15:00Z\"}\n{\"customer_id\":\"C00043\",\"item_id\":\"I0019\",\"timestamp\":\"2026-12-01T10:16:00Z\",\"event\":\"view\"}\n"))
        )
    ),
    security(("api_key" = ["ingest"])),
    responses(
        (status = 200, description = "At least one event was accepted", body = Accepted,
            example = json!({"model_version": "20261201T020000Z-3fa9c2d1", "accepted": 2,
                "rejected": [{"index": 2, "line": 3, "field": "quantity", "message": "\"0\" must be positive for a purchase; hint: send event = return"}],
                "events_since_bundle": 1187, "journal_seq": 1187})),
        PostErrors
    )
)]
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
        let body = serde_json::to_vec(&EventsRefused::new(s.model_version(), &parsed.rejected))
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

/// Answer of an erasure.
#[derive(Serialize, ToSchema)]
#[schema(as = ErasureAnswer)]
pub(crate) struct Erased<'a> {
    /// Version of the model serving.
    model_version: &'a str,
    /// The customer erased.
    customer_id: &'a str,
    /// Always true.
    erased: bool,
    /// Journal sequence number of the erasure record.
    journal_seq: u64,
}

/// Forgets a customer: an erasure record (the id's keyed hash) is journaled (fsync'd),
/// every answer treats them as unknown, and their journaled events are removed from the
/// journal's files before the answer. Idempotent; an id the server never saw is journaled
/// too (it may be in data the next training reads).
#[utoipa::path(
    delete,
    path = "/v1/customers/{id}",
    operation_id = "erase_customer",
    tag = "ingest",
    summary = "Erase a customer from every answer",
    description = "An erasure record (the id's keyed hash, not the id) is journaled (fsync'd), every answer treats the customer as unknown, and their journaled events are removed from the journal's files before the answer; replay and retraining exclude them. Idempotent; an id the server never saw is journaled too.",
    params(("id" = String, Path, description = "Customer id")),
    security(("api_key" = ["admin"])),
    responses(
        (status = 200, description = "The customer is erased", body = Erased,
            example = json!({"model_version": "20261201T020000Z-3fa9c2d1", "customer_id": "C00042", "erased": true, "journal_seq": 1188})),
        EraseErrors
    )
)]
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
