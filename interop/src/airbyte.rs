//! Airbyte protocol messages, read and written as the Airbyte protocol
//! (and the airbyte-cdk's models) define them: one `AirbyteMessage` JSON
//! object a line.

use crate::DecodeError;
use crate::event::{Event, Record, StateUpdate};
use crate::singer::{parse_object, string_field};
use serde_json::{Map, Value, json};
use sluice_protocol::{ConnectorError, ErrorKind, Level, Spec, StreamStatus, SyncMode, WriteMode};

/// Parse one line of an Airbyte stream (`line` is its number, from 1).
pub fn decode(line: u64, text: &str) -> Result<Event, DecodeError> {
    let err = |m: String| DecodeError::new(line, text, m);
    let message = parse_object(line, text)?;
    let kind = message
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| err("an Airbyte message needs a string `type`".into()))?;
    let body = |key: &str| match message.get(key) {
        Some(Value::Object(m)) => Ok(m),
        _ => Err(err(format!("the {kind} message has no `{key}` object"))),
    };
    match kind {
        "RECORD" => record(body("record")?).map_err(err),
        "STATE" => state(body("state")?).map(Event::State).map_err(err),
        "TRACE" => trace(body("trace")?).map_err(err),
        "LOG" => {
            let log = body("log")?;
            Ok(Event::Log {
                level: level(log.get("level").and_then(Value::as_str).unwrap_or("INFO")),
                message: string_field(log, "message").map_err(err)?,
            })
        }
        "SPEC" => Ok(Event::Spec(Value::Object(body("spec")?.clone()))),
        "CATALOG" => Ok(Event::Catalog(Value::Object(body("catalog")?.clone()))),
        "CONNECTION_STATUS" => {
            let s = body("connectionStatus")?;
            Ok(Event::ConnectionStatus {
                succeeded: s.get("status").and_then(Value::as_str) == Some("SUCCEEDED"),
                message: s.get("message").and_then(Value::as_str).map(str::to_string),
            })
        }
        "CONTROL" | "DESTINATION_CATALOG" => Ok(Event::Ignored(kind.to_string())),
        other => Err(err(format!("`{other}` is not an Airbyte message type"))),
    }
}

fn record(r: &Map<String, Value>) -> Result<Event, String> {
    let stream = string_field(r, "stream")?;
    let Some(Value::Object(data)) = r.get("data") else {
        return Err(format!(
            "the RECORD of stream `{stream}` has no `data` object"
        ));
    };
    let extracted_at = r
        .get("emitted_at")
        .and_then(Value::as_f64)
        .map(|ms| ms as u64);
    Ok(Event::Record(Record {
        stream,
        data: data.clone(),
        extracted_at,
    }))
}

/// The state of an `AirbyteStateMessage` (STREAM, GLOBAL, or LEGACY with
/// or without its `type`).
pub(crate) fn state(s: &Map<String, Value>) -> Result<StateUpdate, String> {
    match s.get("type").and_then(Value::as_str) {
        Some("STREAM") => {
            let Some(Value::Object(st)) = s.get("stream") else {
                return Err("a STREAM state needs a `stream` object".into());
            };
            Ok(StateUpdate::Stream {
                stream: descriptor(st)?,
                state: st.get("stream_state").cloned().unwrap_or(Value::Null),
            })
        }
        Some("GLOBAL") => {
            let Some(Value::Object(g)) = s.get("global") else {
                return Err("a GLOBAL state needs a `global` object".into());
            };
            let mut streams = Vec::new();
            for st in g
                .get("stream_states")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let st = st.as_object().ok_or("`stream_states` must list objects")?;
                let state = st.get("stream_state").cloned().unwrap_or(Value::Null);
                streams.push((descriptor(st)?, state));
            }
            Ok(StateUpdate::Global {
                shared: g.get("shared_state").cloned().unwrap_or(Value::Null),
                streams,
            })
        }
        Some("LEGACY") | None => match s.get("data") {
            Some(data) => Ok(StateUpdate::Whole(data.clone())),
            None => Err("a LEGACY state needs `data`".into()),
        },
        Some(other) => Err(format!("`{other}` is not an Airbyte state type")),
    }
}

/// The stream name of a `stream_descriptor`'s holder.
fn descriptor(holder: &Map<String, Value>) -> Result<String, String> {
    holder
        .get("stream_descriptor")
        .and_then(|d| d.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| "a stream state needs `stream_descriptor.name`".into())
}

fn trace(t: &Map<String, Value>) -> Result<Event, String> {
    match t.get("type").and_then(Value::as_str) {
        Some("STREAM_STATUS") => {
            let s = t
                .get("stream_status")
                .and_then(Value::as_object)
                .ok_or("a STREAM_STATUS trace needs `stream_status`")?;
            let status = match s.get("status").and_then(Value::as_str) {
                Some("STARTED" | "RUNNING") => StreamStatus::Started,
                Some("COMPLETE") => StreamStatus::Complete,
                Some("INCOMPLETE") => StreamStatus::Incomplete,
                other => return Err(format!("{other:?} is not a stream status")),
            };
            Ok(Event::Status {
                stream: descriptor(s)?,
                status,
            })
        }
        Some("ERROR") => {
            let e = t
                .get("error")
                .and_then(Value::as_object)
                .ok_or("an ERROR trace needs `error`")?;
            let kind = match e.get("failure_type").and_then(Value::as_str) {
                Some("config_error") => ErrorKind::Config,
                Some("transient_error") => ErrorKind::Transient,
                _ => ErrorKind::Internal,
            };
            let mut error = ConnectorError::new(kind, string_field(e, "message")?);
            error.stream = descriptor(e).ok();
            Ok(Event::Error(error))
        }
        Some(other) => Ok(Event::Ignored(format!("TRACE {other}"))),
        None => Err("a TRACE needs a `type`".into()),
    }
}

fn level(text: &str) -> Level {
    match text {
        "FATAL" | "ERROR" => Level::Error,
        "WARN" => Level::Warn,
        "DEBUG" => Level::Debug,
        "TRACE" => Level::Trace,
        _ => Level::Info,
    }
}

/// Append a RECORD message for `record` (one JSON object, as a batch line
/// holds it) to `out`, ending in a newline; the record is copied as it is.
pub fn write_record(out: &mut Vec<u8>, stream: &str, record: &[u8], emitted_at_ms: u64) {
    out.extend_from_slice(br#"{"type":"RECORD","record":{"stream":"#);
    out.extend_from_slice(Value::from(stream).to_string().as_bytes());
    out.extend_from_slice(br#","data":"#);
    out.extend_from_slice(record);
    out.extend_from_slice(br#","emitted_at":"#);
    out.extend_from_slice(emitted_at_ms.to_string().as_bytes());
    out.extend_from_slice(b"}}\n");
}

/// A `stream_descriptor`.
fn stream_descriptor(stream: &str) -> Value {
    json!({"name": stream})
}

/// The `AirbyteStateMessage` of one stream's state (type STREAM).
pub fn stream_state(stream: &str, state: &Value) -> Value {
    json!({
        "type": "STREAM",
        "stream": {"stream_descriptor": stream_descriptor(stream), "stream_state": state},
    })
}

/// The `AirbyteStateMessage` of state shared by `streams` (type GLOBAL).
pub fn global_state(shared: &Value, streams: &[(String, Value)]) -> Value {
    let stream_states: Vec<Value> = streams
        .iter()
        .map(|(s, v)| json!({"stream_descriptor": stream_descriptor(s), "stream_state": v}))
        .collect();
    json!({
        "type": "GLOBAL",
        "global": {"shared_state": shared, "stream_states": stream_states},
    })
}

/// A STATE message carrying `state` (an `AirbyteStateMessage`).
pub fn state_message(state: &Value) -> String {
    json!({"type": "STATE", "state": state}).to_string()
}

/// A TRACE STREAM_STATUS message.
pub fn status_message(stream: &str, status: StreamStatus, emitted_at_ms: u64) -> String {
    let status = match status {
        StreamStatus::Started => "STARTED",
        StreamStatus::Complete => "COMPLETE",
        StreamStatus::Incomplete => "INCOMPLETE",
    };
    json!({"type": "TRACE", "trace": {
        "type": "STREAM_STATUS",
        "emitted_at": emitted_at_ms as f64,
        "stream_status": {"stream_descriptor": stream_descriptor(stream), "status": status},
    }})
    .to_string()
}

/// A TRACE ERROR message for `error`.
pub fn error_message(error: &ConnectorError, emitted_at_ms: u64) -> String {
    let failure_type = match error.kind {
        ErrorKind::Config | ErrorKind::Auth => "config_error",
        ErrorKind::Transient => "transient_error",
        ErrorKind::Data | ErrorKind::Internal => "system_error",
    };
    let mut e = json!({
        "message": error.message,
        "internal_message": error.to_string(),
        "failure_type": failure_type,
    });
    if let Some(s) = &error.stream {
        e["stream_descriptor"] = stream_descriptor(s);
    }
    json!({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": emitted_at_ms as f64, "error": e}})
        .to_string()
}

/// A LOG message.
pub fn log_message(level: Level, message: &str) -> String {
    let level = match level {
        Level::Trace => "TRACE",
        Level::Debug => "DEBUG",
        Level::Info => "INFO",
        Level::Warn => "WARN",
        Level::Error => "ERROR",
    };
    json!({"type": "LOG", "log": {"level": level, "message": message}}).to_string()
}

/// A CONNECTION_STATUS message.
pub fn connection_status_message(result: Result<(), &str>) -> String {
    let status = match result {
        Ok(()) => json!({"status": "SUCCEEDED"}),
        Err(message) => json!({"status": "FAILED", "message": message}),
    };
    json!({"type": "CONNECTION_STATUS", "connectionStatus": status}).to_string()
}

/// A CATALOG message carrying `catalog` (an `AirbyteCatalog`).
pub fn catalog_message(catalog: &Value) -> String {
    json!({"type": "CATALOG", "catalog": catalog}).to_string()
}

/// The Airbyte name of a write mode, where Airbyte has one.
pub fn destination_sync_mode(mode: WriteMode) -> Option<&'static str> {
    match mode {
        WriteMode::Append => Some("append"),
        WriteMode::Overwrite => Some("overwrite"),
        WriteMode::AppendDedup => Some("append_dedup"),
        WriteMode::History => None,
    }
}

/// The Airbyte name of a sync mode.
pub fn sync_mode(mode: SyncMode) -> &'static str {
    match mode {
        SyncMode::FullRefresh => "full_refresh",
        SyncMode::Incremental => "incremental",
    }
}

/// The SPEC message of a connector: its config schema as the
/// `connectionSpecification`, every secret field marked `airbyte_secret`.
pub fn spec_message(spec: &Spec) -> String {
    let mut schema = spec.config_schema.clone();
    mark_secrets(&mut schema);
    let mut s = json!({"connectionSpecification": schema});
    if let Some(url) = &spec.documentation {
        s["documentationUrl"] = json!(url);
    }
    if spec.roles.contains(&sluice_protocol::Role::Source) {
        s["supportsIncremental"] = json!(spec.sync_modes.contains(&SyncMode::Incremental));
    }
    if spec.roles.contains(&sluice_protocol::Role::Destination) {
        let modes: Vec<&str> = spec
            .write_modes
            .iter()
            .filter_map(|m| destination_sync_mode(*m))
            .collect();
        s["supported_destination_sync_modes"] = json!(modes);
    }
    json!({"type": "SPEC", "spec": s}).to_string()
}

/// Add `"airbyte_secret": true` beside every `"secret": true`, at any depth.
fn mark_secrets(schema: &mut Value) {
    let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for prop in props.values_mut() {
        if prop.get("secret").and_then(Value::as_bool) == Some(true) {
            prop["airbyte_secret"] = json!(true);
        }
        mark_secrets(prop);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_decode_back() {
        let mut out = Vec::new();
        write_record(&mut out, "users", br#"{"id":1}"#, 42);
        let Event::Record(r) = decode(1, std::str::from_utf8(&out).unwrap().trim_end()).unwrap()
        else {
            panic!()
        };
        assert_eq!((r.stream.as_str(), r.extracted_at), ("users", Some(42)));
        let s = state_message(&stream_state("users", &json!({"cursor": 3})));
        assert_eq!(
            decode(2, &s).unwrap(),
            Event::State(StateUpdate::Stream {
                stream: "users".into(),
                state: json!({"cursor": 3})
            })
        );
        let g = state_message(&global_state(&json!({"lsn": 9}), &[("a".into(), json!(1))]));
        assert!(matches!(
            decode(3, &g).unwrap(),
            Event::State(StateUpdate::Global { .. })
        ));
        let legacy = r#"{"type":"STATE","state":{"data":{"users":{"c":1}}}}"#;
        assert_eq!(
            decode(4, legacy).unwrap(),
            Event::State(StateUpdate::Whole(json!({"users": {"c": 1}})))
        );
        let st = status_message("users", StreamStatus::Complete, 5);
        assert_eq!(
            decode(5, &st).unwrap(),
            Event::Status {
                stream: "users".into(),
                status: StreamStatus::Complete
            }
        );
        let e = error_message(&ConnectorError::config("bad").in_stream("users"), 6);
        let Event::Error(e) = decode(6, &e).unwrap() else {
            panic!()
        };
        assert_eq!(
            (e.kind, e.stream.as_deref()),
            (ErrorKind::Config, Some("users"))
        );
    }

    #[test]
    fn secrets_are_marked_for_airbyte() {
        let spec = Spec::source(
            "s",
            "1",
            json!({"type": "object", "properties": {
                "password": {"type": "string", "secret": true},
                "tls": {"type": "object", "properties": {"key": {"type": "string", "secret": true}}}
            }}),
        );
        let m: Value = serde_json::from_str(&spec_message(&spec)).unwrap();
        let props = &m["spec"]["connectionSpecification"]["properties"];
        assert_eq!(props["password"]["airbyte_secret"], true);
        assert_eq!(props["tls"]["properties"]["key"]["airbyte_secret"], true);
        assert_eq!(m["spec"]["supportsIncremental"], true);
    }
}
