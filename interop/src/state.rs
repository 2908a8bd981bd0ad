//! State at the edges: Singer bookmarks and Airbyte STREAM, GLOBAL and
//! LEGACY state, to and from sluice's per-stream [`StreamState`].
//!
//! sluice keeps one state per stream. A Singer state's `bookmarks` map
//! onto that directly. An Airbyte GLOBAL state is kept per stream too:
//! each stream's state is `{"airbyte_global": {"shared_state": …,
//! "stream_state": …}}`, so it is committed with the stream like any
//! other and written back as one GLOBAL state. An Airbyte LEGACY state is
//! split by its top-level keys, which name streams.

use crate::StateUpdate;
use crate::airbyte;
use serde_json::{Map, Value, json};
use sluice_protocol::StreamState;

/// The key of a stream state that holds a share of an Airbyte GLOBAL state.
pub const AIRBYTE_GLOBAL: &str = "airbyte_global";

/// A Singer state value: `{"bookmarks": {stream: state, …}}`.
pub fn to_singer(states: &[StreamState]) -> Value {
    let bookmarks: Map<String, Value> = states
        .iter()
        .map(|s| (s.stream.clone(), s.state.clone()))
        .collect();
    json!({"bookmarks": bookmarks})
}

/// The per-stream states of a Singer state: a state value with
/// `bookmarks`, or that value inside a STATE message (`value`) or a
/// Meltano state (`singer_state`).
pub fn from_singer(state: &Value) -> Result<Vec<StreamState>, String> {
    let value = state
        .get("singer_state")
        .or_else(|| state.get("value").filter(|v| v.get("bookmarks").is_some()))
        .unwrap_or(state);
    match value.get("bookmarks") {
        Some(Value::Object(b)) => Ok(b
            .iter()
            .map(|(stream, state)| StreamState {
                stream: stream.clone(),
                state: state.clone(),
            })
            .collect()),
        Some(_) => Err("a Singer state's `bookmarks` must be an object".into()),
        None if value.as_object().is_some_and(|o| o.is_empty()) => Ok(Vec::new()),
        None => Err("a Singer state needs `bookmarks` (an object of stream -> bookmark)".into()),
    }
}

/// The per-stream states a decoded state message carries. `Whole` is a
/// Singer value (with `bookmarks`) for Singer, an Airbyte LEGACY `data`
/// for Airbyte.
pub fn from_update(update: StateUpdate, singer: bool) -> Result<Vec<StreamState>, String> {
    match update {
        StateUpdate::Whole(value) if singer => from_singer(&value),
        StateUpdate::Whole(Value::Object(data)) => Ok(data
            .into_iter()
            .map(|(stream, state)| StreamState { stream, state })
            .collect()),
        StateUpdate::Whole(_) => Err("an Airbyte LEGACY state's `data` must be an object".into()),
        StateUpdate::Stream { stream, state } => Ok(vec![StreamState { stream, state }]),
        StateUpdate::Global { shared, streams } => Ok(streams
            .into_iter()
            .map(|(stream, state)| StreamState {
                stream,
                state: json!({AIRBYTE_GLOBAL: {"shared_state": shared, "stream_state": state}}),
            })
            .collect()),
    }
}

/// Airbyte state (a list of `AirbyteStateMessage`) of `states`: one
/// STREAM state each, and one GLOBAL state for the streams that keep a
/// share of one (its shared state taken from the first of them).
pub fn to_airbyte(states: &[StreamState]) -> Value {
    let mut out = Vec::new();
    let mut global: Vec<(String, Value)> = Vec::new();
    let mut shared = None;
    for s in states {
        match s.state.get(AIRBYTE_GLOBAL) {
            Some(g) => {
                shared.get_or_insert_with(|| g.get("shared_state").cloned().unwrap_or(Value::Null));
                let own = g.get("stream_state").cloned().unwrap_or(Value::Null);
                global.push((s.stream.clone(), own));
            }
            None => out.push(airbyte::stream_state(&s.stream, &s.state)),
        }
    }
    if let Some(shared) = shared {
        out.push(airbyte::global_state(&shared, &global));
    }
    Value::Array(out)
}

/// The per-stream states of Airbyte state in any of its forms: a list of
/// `AirbyteStateMessage`s (or of STATE `AirbyteMessage`s), one of them,
/// or a LEGACY state object keyed by stream.
pub fn from_airbyte(state: &Value) -> Result<Vec<StreamState>, String> {
    let items: Vec<&Value> = match state {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![state],
        _ => return Err("Airbyte state must be a list of state messages or an object".into()),
    };
    let mut out: Vec<StreamState> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let item = match item.get("type").and_then(Value::as_str) {
            Some("STATE") => item.get("state").unwrap_or(item),
            _ => item,
        };
        let Some(obj) = item.as_object() else {
            return Err(format!("state item {}: not an object", i + 1));
        };
        let update = if obj.contains_key("type") || obj.contains_key("data") {
            airbyte::state(obj).map_err(|e| format!("state item {}: {e}", i + 1))?
        } else {
            StateUpdate::Whole(item.clone())
        };
        for s in from_update(update, false)? {
            out.retain(|o| o.stream != s.stream);
            out.push(s);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(stream: &str, state: Value) -> StreamState {
        StreamState {
            stream: stream.into(),
            state,
        }
    }

    #[test]
    fn singer_round_trip_and_wrappers() {
        let states = vec![st("a", json!({"c": 1})), st("b", json!({"c": 2}))];
        let v = to_singer(&states);
        assert_eq!(from_singer(&v).unwrap(), states);
        assert_eq!(from_singer(&json!({"singer_state": v})).unwrap(), states);
        assert_eq!(
            from_singer(&json!({"type": "STATE", "value": v})).unwrap(),
            states
        );
        assert_eq!(from_singer(&json!({})).unwrap(), vec![]);
        assert!(
            from_singer(&json!({"c": 1}))
                .unwrap_err()
                .contains("bookmarks")
        );
    }

    #[test]
    fn airbyte_stream_global_and_legacy() {
        let states = vec![st("a", json!({"c": 1}))];
        let v = to_airbyte(&states);
        assert_eq!(v[0]["type"], "STREAM");
        assert_eq!(from_airbyte(&v).unwrap(), states);
        let global = json!([{"type": "GLOBAL", "global": {
        "shared_state": {"lsn": 7},
        "stream_states": [
            {"stream_descriptor": {"name": "a"}, "stream_state": {"c": 1}},
            {"stream_descriptor": {"name": "b"}, "stream_state": {"c": 2}}
        ]}}]);
        let kept = from_airbyte(&global).unwrap();
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[1].state[AIRBYTE_GLOBAL]["shared_state"]["lsn"], 7);
        assert_eq!(to_airbyte(&kept), global);
        let legacy = json!({"type": "LEGACY", "data": {"a": {"c": 1}}});
        assert_eq!(from_airbyte(&legacy).unwrap(), states);
        assert_eq!(from_airbyte(&json!({"a": {"c": 1}})).unwrap(), states);
        let wrapped = json!([{"type": "STATE", "state": {"type": "STREAM", "stream": {
            "stream_descriptor": {"name": "a"}, "stream_state": {"c": 1}}}}]);
        assert_eq!(from_airbyte(&wrapped).unwrap(), states);
        assert!(from_airbyte(&json!(3)).is_err());
    }
}
