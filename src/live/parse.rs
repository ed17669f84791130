//! The body of `POST /v1/events`: one JSON object, a JSON array of objects, or NDJSON,
//! each object validated by the trainer's own JSON reader (`ingest::jsonl::json_event`),
//! so the server accepts exactly what training would.

use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::ingest::jsonl::json_event;
use crate::ingest::{RawEvent, RowError};
use crate::time::DAY;

/// Events may be stamped at most this far ahead of the server's clock (clock skew between
/// a storefront and the server is expected; a year-2099 typo is not).
pub const MAX_FUTURE_SECS: i64 = DAY;

/// One refused event.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = RejectedEvent)]
pub struct Rejected {
    /// Position in the batch, 0-based.
    pub index: usize,
    /// Line of the body (NDJSON), or the element's 1-based position (JSON array).
    pub line: u64,
    /// The field at fault (`<line>` for the whole event).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// A body split into valid events and refusals.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Valid events, in body order.
    pub events: Vec<RawEvent>,
    /// `(index, line)` of each valid event, as in [`Rejected`].
    pub positions: Vec<(usize, u64)>,
    /// Refused events.
    pub rejected: Vec<Rejected>,
}

/// Why a whole body was refused.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The JSON body does not parse.
    #[error("invalid JSON body: {0}")]
    Json(#[source] serde_json::Error),
    /// The JSON body is neither an object nor an array.
    #[error("expected an event object or an array of event objects")]
    NotEvents,
    /// More events than the limit.
    #[error("batch of {len} events exceeds the limit of {limit}")]
    TooMany {
        /// Events sent.
        len: usize,
        /// The limit.
        limit: usize,
    },
}

const SOURCE: &str = "request body";

fn reject(index: usize, line: u64, e: &RowError) -> Rejected {
    let mut message = format!("{:?} {}", e.value, e.problem);
    if e.value.is_empty() {
        message = e.problem.to_string();
    }
    if let Some(h) = e.hint {
        message.push_str("; hint: ");
        message.push_str(h);
    }
    Rejected {
        index,
        line,
        field: e.field.clone(),
        message,
    }
}

fn one(obj: &Map<String, Value>, index: usize, line: u64, now: i64, out: &mut Parsed) {
    let mut event = None;
    let r = json_event(obj, Path::new(SOURCE), line, |e| {
        event = Some(RawEvent {
            customer_id: e.customer_id.to_string(),
            item_id: e.item_id.to_string(),
            timestamp: e.timestamp,
            kind: e.kind,
            quantity: e.quantity,
            price: e.price,
            order_id: e.order_id.map(str::to_string),
            category: e.category.map(str::to_string),
        })
    });
    match (r, event) {
        (Err(e), _) => out.rejected.push(reject(index, line, &e)),
        (Ok(()), Some(e)) if e.timestamp > now.saturating_add(MAX_FUTURE_SECS) => {
            out.rejected.push(Rejected {
                index,
                line,
                field: "timestamp".to_string(),
                message: format!(
                    "{} is more than one day after the server's clock ({})",
                    crate::time::format_rfc3339(e.timestamp),
                    crate::time::format_rfc3339(now)
                ),
            })
        }
        (Ok(()), Some(e)) => {
            out.events.push(e);
            out.positions.push((index, line));
        }
        (Ok(()), None) => out.rejected.push(Rejected {
            index,
            line,
            field: "<line>".to_string(),
            message: "not an event".to_string(),
        }),
    }
}

fn not_object(index: usize, line: u64, what: &str) -> Rejected {
    Rejected {
        index,
        line,
        field: "<line>".to_string(),
        message: format!("is not a JSON object: {what}"),
    }
}

/// Splits a body into valid events and refusals; `now` is the server's clock (seconds),
/// `limit` the most events one body may hold (checked before any validation).
pub fn parse_events(
    body: &[u8],
    ndjson: bool,
    now: i64,
    limit: usize,
) -> Result<Parsed, BodyError> {
    let mut out = Parsed::default();
    if ndjson {
        let lines: Vec<(u64, &[u8])> = body
            .split(|&b| b == b'\n')
            .enumerate()
            .map(|(i, l)| (i as u64 + 1, l))
            .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
            .collect();
        if lines.len() > limit {
            return Err(BodyError::TooMany {
                len: lines.len(),
                limit,
            });
        }
        for (index, (line, text)) in lines.into_iter().enumerate() {
            match serde_json::from_slice::<Map<String, Value>>(text) {
                Ok(obj) => one(&obj, index, line, now, &mut out),
                Err(e) => out.rejected.push(not_object(index, line, &e.to_string())),
            }
        }
        return Ok(out);
    }
    let items = match serde_json::from_slice::<Value>(body).map_err(BodyError::Json)? {
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        _ => return Err(BodyError::NotEvents),
    };
    if items.len() > limit {
        return Err(BodyError::TooMany {
            len: items.len(),
            limit,
        });
    }
    for (index, v) in items.iter().enumerate() {
        let line = index as u64 + 1;
        match v {
            Value::Object(obj) => one(obj, index, line, now, &mut out),
            other => out
                .rejected
                .push(not_object(index, line, &other.to_string())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::EventKind;

    const NOW: i64 = 1_000_000_000;

    #[test]
    fn object_array_and_ndjson_give_the_same_events() {
        let one_obj = br#"{"customer_id":"c1","item_id":7,"timestamp":"2001-09-09","event":"cart","quantity":"2","price":1.5,"order_id":"o1"}"#;
        let a = parse_events(one_obj, false, NOW, 10).unwrap();
        assert_eq!(a.events.len(), 1);
        let e = &a.events[0];
        assert_eq!(
            (e.item_id.as_str(), e.kind, e.quantity),
            ("7", EventKind::Cart, 2.0)
        );
        assert_eq!(e.order_id.as_deref(), Some("o1"));
        let arr = [b"[".as_slice(), one_obj, b",", one_obj, b"]"].concat();
        assert_eq!(parse_events(&arr, false, NOW, 10).unwrap().events.len(), 2);
        let nd = [one_obj.as_slice(), b"\n\n", one_obj, b"\n"].concat();
        let p = parse_events(&nd, true, NOW, 10).unwrap();
        assert_eq!(p.events, vec![e.clone(), e.clone()]);
    }

    #[test]
    fn bad_events_are_refused_one_by_one_with_line_and_field() {
        let nd = b"{\"customer_id\":\"a\",\"item_id\":\"x\",\"timestamp\":\"2001-01-01\"}\n\
            {\"customer_id\":\"a\",\"item_id\":\"x\",\"timestamp\":\"11/5/2000\"}\n\
            not json\n\
            {\"customer_id\":\"\",\"item_id\":\"x\",\"timestamp\":\"2001-01-01\"}\n\
            {\"customer_id\":\"a\",\"item_id\":\"x\",\"timestamp\":\"2001-01-01\",\"quantity\":\"many\"}\n\
            {\"customer_id\":\"a\",\"item_id\":\"x\",\"timestamp\":\"2099-01-01\"}\n";
        let p = parse_events(nd, true, NOW, 100).unwrap();
        assert_eq!(p.events.len(), 1);
        let got: Vec<(usize, u64, &str)> = p
            .rejected
            .iter()
            .map(|r| (r.index, r.line, r.field.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 2, "timestamp"),
                (2, 3, "<line>"),
                (3, 4, "customer_id"),
                (4, 5, "quantity"),
                (5, 6, "timestamp"),
            ]
        );
        assert!(
            p.rejected[4].message.contains("one day"),
            "{:?}",
            p.rejected[4]
        );
        let arr = br#"[{"customer_id":"a","item_id":"x","timestamp":"2001-01-01"}, 5]"#;
        let p = parse_events(arr, false, NOW, 100).unwrap();
        assert_eq!(
            (p.events.len(), p.rejected[0].index, p.rejected[0].line),
            (1, 1, 2)
        );
    }

    #[test]
    fn one_day_ahead_is_accepted_a_second_more_is_not() {
        let at = |t: i64| {
            format!(
                r#"{{"customer_id":"a","item_id":"x","timestamp":"{}"}}"#,
                crate::time::format_rfc3339(t)
            )
        };
        let ok = parse_events(at(NOW + DAY).as_bytes(), false, NOW, 1).unwrap();
        assert_eq!(ok.events.len(), 1);
        let late = parse_events(at(NOW + DAY + 1).as_bytes(), false, NOW, 1).unwrap();
        assert_eq!(late.rejected.len(), 1);
    }

    #[test]
    fn whole_body_errors() {
        assert!(matches!(
            parse_events(b"[1,", false, NOW, 5),
            Err(BodyError::Json(_))
        ));
        assert!(matches!(
            parse_events(b"\"x\"", false, NOW, 5),
            Err(BodyError::NotEvents)
        ));
        assert!(matches!(
            parse_events(b"[{},{},{}]", false, NOW, 2),
            Err(BodyError::TooMany { len: 3, limit: 2 })
        ));
        assert!(matches!(
            parse_events(b"{}\n{}\n{}\n", true, NOW, 2),
            Err(BodyError::TooMany { len: 3, .. })
        ));
    }
}
