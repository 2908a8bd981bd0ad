//! Singer messages (SCHEMA, RECORD, STATE), read and written exactly as
//! the Singer specification and the singer-sdk define them: one JSON
//! object a line.

use crate::event::{Event, Record, StateUpdate, StreamSchema};
use crate::{DecodeError, rfc3339_from_ms};
use serde_json::{Map, Value, json};

/// Parse one line of a Singer stream (`line` is its number, from 1).
pub fn decode(line: u64, text: &str) -> Result<Event, DecodeError> {
    let err = |m: String| DecodeError::new(line, text, m);
    let message = parse_object(line, text)?;
    let kind = message
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| err("a Singer message needs a string `type`".into()))?;
    match kind {
        "RECORD" => {
            let stream = string_field(&message, "stream").map_err(err)?;
            let Some(Value::Object(data)) = message.get("record") else {
                return Err(err(format!(
                    "the RECORD of stream `{stream}` has no `record` object"
                )));
            };
            let extracted_at = match message.get("time_extracted") {
                None | Some(Value::Null) => None,
                Some(Value::String(t)) => Some(crate::ms_from_rfc3339(t).ok_or_else(|| {
                    err(format!("`time_extracted` `{t}` is not an RFC 3339 time"))
                })?),
                Some(_) => return Err(err("`time_extracted` must be a string".into())),
            };
            Ok(Event::Record(Record {
                stream,
                data: data.clone(),
                extracted_at,
            }))
        }
        "SCHEMA" => {
            let stream = string_field(&message, "stream").map_err(err)?;
            let schema = match message.get("schema") {
                Some(s @ Value::Object(_)) => s.clone(),
                _ => {
                    return Err(err(format!(
                        "the SCHEMA of stream `{stream}` has no `schema` object"
                    )));
                }
            };
            let key_properties =
                strings(message.get("key_properties"), "key_properties").map_err(err)?;
            let bookmark_properties =
                strings(message.get("bookmark_properties"), "bookmark_properties").map_err(err)?;
            Ok(Event::Schema(StreamSchema {
                stream,
                schema,
                key_properties,
                bookmark_properties,
            }))
        }
        "STATE" => match message.get("value") {
            Some(value) => Ok(Event::State(StateUpdate::Whole(value.clone()))),
            None => Err(err("a STATE message needs a `value`".into())),
        },
        "ACTIVATE_VERSION" | "BATCH" => Ok(Event::Ignored(kind.to_string())),
        other => Err(err(format!(
            "`{other}` is not a Singer message type (SCHEMA, RECORD, STATE, ACTIVATE_VERSION, BATCH)"
        ))),
    }
}

/// The JSON object on `text`, or an error naming the line.
pub(crate) fn parse_object(line: u64, text: &str) -> Result<Map<String, Value>, DecodeError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(DecodeError::new(line, text, "not a JSON object")),
        Err(e) => Err(DecodeError::new(line, text, format!("not valid JSON: {e}"))),
    }
}

/// The string `key` of `message`.
pub(crate) fn string_field(message: &Map<String, Value>, key: &str) -> Result<String, String> {
    match message.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(format!("the message needs a string `{key}`")),
    }
}

/// A list of strings (or one string) at `key`; absent or null is empty.
fn strings(value: Option<&Value>, key: &str) -> Result<Vec<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("`{key}` must list strings"))
            })
            .collect(),
        Some(_) => Err(format!("`{key}` must be a list of strings")),
    }
}

/// A SCHEMA message (one line, no newline).
pub fn schema_message(
    stream: &str,
    schema: &Value,
    key_properties: &[String],
    bookmark_properties: &[String],
) -> String {
    let mut m = json!({
        "type": "SCHEMA",
        "stream": stream,
        "schema": schema,
        "key_properties": key_properties,
    });
    if !bookmark_properties.is_empty() {
        m["bookmark_properties"] = json!(bookmark_properties);
    }
    m.to_string()
}

/// Append a RECORD message for `record` (one JSON object, as a batch line
/// holds it) to `out`, ending in a newline. The record's bytes are copied
/// as they are, not parsed again.
pub fn write_record(out: &mut Vec<u8>, stream: &str, record: &[u8], extracted_at_ms: u64) {
    out.extend_from_slice(br#"{"type":"RECORD","stream":"#);
    out.extend_from_slice(Value::from(stream).to_string().as_bytes());
    out.extend_from_slice(br#","record":"#);
    out.extend_from_slice(record);
    out.extend_from_slice(br#","time_extracted":""#);
    out.extend_from_slice(rfc3339_from_ms(extracted_at_ms).as_bytes());
    out.extend_from_slice(b"\"}\n");
}

/// A STATE message with `value` (one line, no newline).
pub fn state_message(value: &Value) -> String {
    json!({"type": "STATE", "value": value}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_spliced_and_decode_back() {
        let mut out = Vec::new();
        write_record(&mut out, "us\"ers", br#"{"id":1}"#, 1_000);
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with('\n'));
        let Event::Record(r) = decode(1, text.trim_end()).unwrap() else {
            panic!("not a record: {text}");
        };
        assert_eq!(r.stream, "us\"ers");
        assert_eq!(r.data["id"], 1);
        assert_eq!(r.extracted_at, Some(1_000));
    }

    #[test]
    fn schema_and_state_decode() {
        let line = schema_message("u", &json!({"type": "object"}), &["id".into()], &[]);
        let Event::Schema(s) = decode(3, &line).unwrap() else {
            panic!()
        };
        assert_eq!(s.key_properties, vec!["id"]);
        let line = r#"{"type":"SCHEMA","stream":"u","schema":{},"key_properties":[],"bookmark_properties":"updated_at"}"#;
        let Event::Schema(s) = decode(1, line).unwrap() else {
            panic!()
        };
        assert_eq!(s.bookmark_properties, vec!["updated_at"]);
        let state = state_message(&json!({"bookmarks": {}}));
        assert_eq!(
            decode(1, &state).unwrap(),
            Event::State(StateUpdate::Whole(json!({"bookmarks": {}})))
        );
    }

    #[test]
    fn bad_lines_name_the_line_and_its_start() {
        let e = decode(7, "{\"type\": \"RECORD\", \"stream\": ").unwrap_err();
        assert_eq!(e.line, 7);
        assert!(e.to_string().contains("line 7: not valid JSON"), "{e}");
        let e = decode(2, r#"{"type":"RECORD","stream":"u"}"#).unwrap_err();
        assert!(e.to_string().contains("no `record` object"), "{e}");
        let e = decode(2, r#"{"type":"NOPE"}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("`NOPE` is not a Singer message type"),
            "{e}"
        );
        let long = format!("{{\"type\":\"RECORD\",\"stream\":\"{}\"", "x".repeat(200));
        let e = decode(1, &long).unwrap_err();
        assert!(e.start.chars().count() <= 61, "{}", e.start);
    }
}
