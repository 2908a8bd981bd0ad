//! Per-stream state handed to a source at the start of a read.

use crate::{ConnectorError, Result};
use serde::de::DeserializeOwned;
use sluice_protocol::StreamState;
use std::collections::HashMap;

/// The saved state of each stream, as the host last persisted it.
#[derive(Debug, Clone, Default)]
pub struct State {
    streams: HashMap<String, serde_json::Value>,
}

impl State {
    /// State from the host's list.
    pub fn new(states: Vec<StreamState>) -> Self {
        State {
            streams: states.into_iter().map(|s| (s.stream, s.state)).collect(),
        }
    }

    /// The raw state of `stream`, if any was saved.
    pub fn raw(&self, stream: &str) -> Option<&serde_json::Value> {
        self.streams.get(stream)
    }

    /// The state of `stream` as `T`; `None` if none was saved, an error
    /// naming the stream if it does not fit `T`.
    pub fn get<T: DeserializeOwned>(&self, stream: &str) -> Result<Option<T>> {
        match self.streams.get(stream) {
            None => Ok(None),
            Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| {
                ConnectorError::data(format!("saved state does not fit this connector: {e}"))
                    .in_stream(stream)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_state_and_clear_errors() {
        let s = State::new(vec![StreamState {
            stream: "users".into(),
            state: json!({"cursor": 5}),
        }]);
        #[derive(serde::Deserialize)]
        struct Cur {
            cursor: u64,
        }
        assert_eq!(s.get::<Cur>("users").unwrap().unwrap().cursor, 5);
        assert!(s.get::<Cur>("orders").unwrap().is_none());
        let err = s.get::<String>("users").unwrap_err();
        assert_eq!(err.stream.as_deref(), Some("users"));
    }
}
