//! The data contract as JSON Lines: one object per line, same field names as the CSV.
//!
//! Ids may be JSON strings or numbers (many systems export numeric ids); unknown keys are
//! ignored so richer event payloads can be ingested as they are.

use super::error::{IngestError, Problem, RowError};
use super::event::{
    Event, EventKind, id_value, non_empty, parse_number, price_value, quantity_value,
};
use super::lines::{LineReader, TextLine};
use super::read::Sink;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::io::BufRead;
use std::path::Path;

/// Reads JSON Lines into `sink`; blank lines are skipped.
pub fn read_jsonl<R: BufRead, F: FnMut(u64, &Event<'_>)>(
    reader: R,
    sink: &mut Sink<'_, F>,
) -> Result<(), IngestError> {
    let path = sink.path;
    let mut lines = LineReader::new(reader);
    let mut buf = Vec::with_capacity(512);
    let mut saw_line = false;
    loop {
        let (line, text) = match lines.next_text(&mut buf, sink)? {
            TextLine::Eof => break,
            TextLine::Bad => {
                saw_line = true;
                continue;
            }
            TextLine::Text(line, text) => (line, text),
        };
        if text.bytes().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        saw_line = true;
        let result = match serde_json::from_str::<Map<String, Value>>(text) {
            Ok(obj) => json_event(&obj, path, line, |e| sink.emit(line, e)),
            Err(e) => Err(RowError::new(
                path,
                line,
                "<line>",
                &[],
                Problem::BadJson(e.to_string()),
            )),
        };
        if let Err(e) = result {
            sink.bad(e)?;
        }
    }
    if !saw_line {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Validates one JSON object as an event and passes it to `emit`; the error names the key.
/// The server's `POST /v1/events` uses this for each object of its body.
pub fn json_event(
    obj: &Map<String, Value>,
    path: &Path,
    line: u64,
    emit: impl FnOnce(&Event<'_>),
) -> Result<(), RowError> {
    let bad = |field: &str, v: &Value, p: Problem| {
        RowError::new(path, line, field, v.to_string().as_bytes(), p)
    };
    // Strings borrow from the object; numbers are rendered once.
    let text = |field: &str| -> Result<Option<Cow<'_, str>>, RowError> {
        match obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(non_empty(s).map(Cow::Borrowed)),
            Some(Value::Number(n)) => Ok(Some(Cow::Owned(n.to_string()))),
            Some(v) => Err(bad(field, v, Problem::WrongType)),
        }
    };
    let required = |field: &str| {
        text(field)?.ok_or_else(|| RowError::new(path, line, field, &[], Problem::MissingValue))
    };
    let check_id = |field: &str, s: &str| {
        id_value(s)
            .map(|_| ())
            .map_err(|p| RowError::new(path, line, field, s.as_bytes(), p))
    };
    let customer_id = required("customer_id")?;
    check_id("customer_id", &customer_id)?;
    let item_id = required("item_id")?;
    check_id("item_id", &item_id)?;
    let ts_text = required("timestamp")?;
    let timestamp = crate::time::parse_timestamp(&ts_text).ok_or_else(|| {
        let e = RowError::new(
            path,
            line,
            "timestamp",
            ts_text.as_bytes(),
            Problem::BadTimestamp,
        );
        match super::csv::timestamp_hint(&ts_text) {
            Some(h) => e.with_hint(h),
            None => e,
        }
    })?;
    let kind = match text("event")? {
        Some(s) => {
            EventKind::parse(&s).map_err(|p| RowError::new(path, line, "event", s.as_bytes(), p))?
        }
        None => EventKind::Purchase,
    };
    let number = |field: &str,
                  default: f32,
                  stored: fn(f64) -> Result<f32, Problem>|
     -> Result<f32, RowError> {
        match obj.get(field) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) => n
                .as_f64()
                .ok_or(Problem::NotANumber)
                .and_then(stored)
                .map_err(|p| bad(field, &obj[field], p)),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(default),
            Some(Value::String(s)) => parse_number(s)
                .and_then(stored)
                .map_err(|p| RowError::new(path, line, field, s.as_bytes(), p)),
            Some(v) => Err(bad(field, v, Problem::NotANumber)),
        }
    };
    let quantity = number("quantity", 1.0, quantity_value)?;
    if kind == EventKind::Purchase && quantity <= 0.0 {
        return Err(bad("quantity", &obj["quantity"], Problem::PurchaseQuantity));
    }
    let price = number("price", f32::NAN, price_value)?;
    let order_id = text("order_id")?;
    if let Some(o) = &order_id {
        check_id("order_id", o)?;
    }
    let category = text("category")?;
    emit(&Event {
        customer_id: &customer_id,
        item_id: &item_id,
        timestamp,
        kind,
        quantity,
        price,
        order_id: order_id.as_deref(),
        category: category.as_deref(),
        customer_attrs: &[],
    });
    Ok(())
}
