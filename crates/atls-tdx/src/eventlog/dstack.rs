//! dstack's JSON event log.

use serde_json::Value;

use super::{
    DSTACK_RUNTIME_EVENT_TYPE, EventLogError, MAX_LOG_EVENTS, MEASUREMENT_LEN, Measurement,
    TdEvent, runtime_event_digest,
};

pub(super) fn parse(json: &[u8]) -> Result<Vec<TdEvent>, EventLogError> {
    let value: Value =
        serde_json::from_slice(json).map_err(|e| EventLogError::Json(e.to_string()))?;
    events_of(value, 0)
}

/// Finds the event array: the value itself, its `event_log` member, or either as a string
/// holding JSON (dstack ships the log as a string in some responses).
fn events_of(value: Value, depth: u8) -> Result<Vec<TdEvent>, EventLogError> {
    match value {
        Value::Array(items) => {
            if items.len() > MAX_LOG_EVENTS {
                return Err(EventLogError::TooManyEvents { max: MAX_LOG_EVENTS });
            }
            items
                .iter()
                .enumerate()
                .map(|(index, item)| event(index, item))
                .collect()
        }
        Value::Object(mut map) if depth < 2 => match map.remove("event_log") {
            Some(inner) => events_of(inner, depth + 1),
            None => Err(EventLogError::Json(
                "expected an array of events or an object with \"event_log\", saw an object without it"
                    .into(),
            )),
        },
        Value::String(s) if depth < 2 => {
            let inner: Value =
                serde_json::from_str(&s).map_err(|e| EventLogError::Json(e.to_string()))?;
            events_of(inner, depth + 1)
        }
        other => Err(EventLogError::Json(format!(
            "expected an array of events, saw {}",
            kind(&other)
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn event(index: usize, item: &Value) -> Result<TdEvent, EventLogError> {
    let field_err = |field, detail: String| EventLogError::Field {
        index,
        field,
        detail,
    };
    let obj = item.as_object().ok_or_else(|| {
        EventLogError::Json(format!(
            "event {index}: expected an object, saw {}",
            kind(item)
        ))
    })?;
    let int = |field: &'static str| -> Result<u64, EventLogError> {
        let v = obj
            .get(field)
            .ok_or_else(|| field_err(field, "missing".into()))?;
        v.as_u64()
            .ok_or_else(|| field_err(field, format!("expected an unsigned integer, saw {v}")))
    };
    let text = |field: &'static str| -> Result<Option<&str>, EventLogError> {
        match obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(field_err(
                field,
                format!("expected a string, saw {}", kind(v)),
            )),
        }
    };

    let imr = int("imr")?;
    let imr = u8::try_from(imr)
        .ok()
        .filter(|i| *i <= 3)
        .ok_or(EventLogError::InvalidImr {
            index,
            imr: u32::try_from(imr).unwrap_or(u32::MAX),
        })?;
    let event_type = int("event_type")?;
    let event_type = u32::try_from(event_type)
        .map_err(|_| field_err("event_type", format!("expected a u32, saw {event_type}")))?;
    let digest_hex = text("digest")?.ok_or_else(|| field_err("digest", "missing".into()))?;
    let digest_bytes =
        hex::decode(digest_hex).map_err(|e| field_err("digest", format!("not hex: {e}")))?;
    let digest: Measurement = digest_bytes.as_slice().try_into().map_err(|_| {
        field_err(
            "digest",
            format!(
                "expected {MEASUREMENT_LEN} bytes, saw {}",
                digest_bytes.len()
            ),
        )
    })?;
    let name = text("event")?.unwrap_or_default();
    let payload = text("event_payload")?
        .map(|p| hex::decode(p).map_err(|e| field_err("event_payload", format!("not hex: {e}"))))
        .transpose()?;

    let mut ev = TdEvent::new(imr, event_type, digest).map_err(|_| EventLogError::InvalidImr {
        index,
        imr: u32::from(imr),
    })?;
    if event_type == DSTACK_RUNTIME_EVENT_TYPE {
        let payload = payload.unwrap_or_default();
        let expected = runtime_event_digest(event_type, name, &payload);
        if expected != digest {
            return Err(EventLogError::RuntimeDigestMismatch {
                index,
                name: name.to_string(),
                expected: Box::new(expected),
                seen: Box::new(digest),
            });
        }
        return Ok(ev.with_name(name).with_payload(payload));
    }
    if !name.is_empty() {
        ev = ev.with_name(name);
    }
    if let Some(payload) = payload {
        ev = ev.with_payload(payload);
    }
    Ok(ev)
}
