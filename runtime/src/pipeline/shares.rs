//! Dealing the streams of an attempt out to several readers of one
//! source, so that independent streams are read at once
//! (`options.parallelism`; by default one reader per core but one).
//!
//! Each stream is read by exactly one reader, so its batches, checkpoints
//! and statuses arrive in the order the source sent them, and its state is
//! kept under the same commit rule as with one reader.

use sluice_protocol::{ConfiguredCatalog, StreamState};

/// One reader's part of an attempt: its streams and their saved state.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// The streams this reader reads, in catalog order.
    pub catalog: ConfiguredCatalog,
    /// The saved state of those streams.
    pub state: Vec<StreamState>,
}

/// `catalog`'s streams dealt out in turn to at most `readers` shares
/// (never an empty one), each with the saved `state` of its own streams.
pub fn shares(catalog: &ConfiguredCatalog, state: &[StreamState], readers: usize) -> Vec<Share> {
    let n = readers.clamp(1, catalog.streams.len().max(1));
    let mut out: Vec<Share> = (0..n)
        .map(|_| Share {
            catalog: ConfiguredCatalog::default(),
            state: Vec::new(),
        })
        .collect();
    for (i, stream) in catalog.streams.iter().enumerate() {
        let share = &mut out[i % n];
        share.catalog.streams.push(stream.clone());
        share
            .state
            .extend(state.iter().filter(|s| s.stream == stream.name).cloned());
    }
    out.retain(|s| !s.catalog.streams.is_empty() || n == 1);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sluice_protocol::ConfiguredStream;

    fn catalog(names: &[&str]) -> ConfiguredCatalog {
        ConfiguredCatalog {
            streams: names.iter().map(|n| ConfiguredStream::new(*n)).collect(),
        }
    }

    fn state(stream: &str, state: serde_json::Value) -> StreamState {
        StreamState {
            stream: stream.into(),
            state,
        }
    }

    fn names(share: &Share) -> Vec<&str> {
        share
            .catalog
            .streams
            .iter()
            .map(|s| s.name.as_str())
            .collect()
    }

    #[test]
    fn streams_are_dealt_in_turn_with_their_own_state() {
        let state = vec![
            state("orders", json!({"cursor": 5})),
            state("users", json!({"cursor": 9})),
        ];
        let got = shares(&catalog(&["users", "orders", "events"]), &state, 2);
        assert_eq!(got.len(), 2);
        assert_eq!(names(&got[0]), ["users", "events"]);
        assert_eq!(names(&got[1]), ["orders"]);
        assert_eq!(got[0].state, vec![state[1].clone()]);
        assert_eq!(got[1].state, vec![state[0].clone()]);
    }

    #[test]
    fn never_more_shares_than_streams_nor_fewer_than_one() {
        assert_eq!(shares(&catalog(&["a"]), &[], 8).len(), 1);
        assert_eq!(shares(&catalog(&["a", "b"]), &[], 0).len(), 1);
        let empty = shares(&catalog(&[]), &[], 4);
        assert_eq!(empty.len(), 1);
        assert!(empty[0].catalog.streams.is_empty());
        let all = shares(&catalog(&["a", "b", "c"]), &[], 3);
        assert!(all.iter().all(|s| s.catalog.streams.len() == 1));
    }
}
