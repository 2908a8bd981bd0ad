//! Decoded Singer or Airbyte messages gathered into sluice's messages:
//! records into JSON-lines batches per stream, each state after the
//! batches it covers.

use crate::event::{Event, StreamSchema};
use crate::{Protocol, state};
use sluice_protocol::{Batch, Level, Message, StreamStatus, now_ms};
use std::collections::BTreeMap;

/// A message stream broke the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatcherError {
    /// A RECORD came before any SCHEMA of its stream (Singer).
    #[error("line {line}: a RECORD of stream `{stream}` came before any SCHEMA of it")]
    RecordBeforeSchema {
        /// The stream.
        stream: String,
        /// The line of the RECORD.
        line: u64,
    },
    /// A STATE that is not one sluice can keep.
    #[error("line {line}: {message}")]
    BadState {
        /// The line of the STATE.
        line: u64,
        /// What is wrong with it.
        message: String,
    },
}

/// The records of one stream not yet handed over.
#[derive(Default)]
struct Pending {
    data: Vec<u8>,
    count: u32,
    extracted_at: Option<u64>,
}

/// What a pushed event asks of the caller beyond the batches.
#[derive(Debug, Clone, PartialEq)]
pub enum Side {
    /// Nothing.
    None,
    /// A stream's schema is new or changed: register it and
    /// [`Batcher::set_schema_id`] before more of its records.
    Schema(StreamSchema),
    /// A log line of the connector.
    Log(Level, String),
    /// A message sluice does not use (its type), worth a warning once.
    Ignored(String),
    /// A message that belongs to another command (SPEC, CATALOG, status).
    Other(Event),
}

/// Gathers records of decoded messages into batches of up to
/// `batch_records` per stream and hands them over in order: every batch
/// before the state or status that follows it.
pub struct Batcher {
    protocol: Protocol,
    batch_records: u32,
    pending: BTreeMap<String, Pending>,
    /// The streams with a schema (Singer: a SCHEMA came).
    schemas: BTreeMap<String, StreamSchema>,
    schema_ids: BTreeMap<String, String>,
    ready: Vec<Message>,
    records: u64,
}

impl Batcher {
    /// A batcher for messages of `protocol`.
    pub fn new(protocol: Protocol, batch_records: u32) -> Self {
        Batcher {
            protocol,
            batch_records: batch_records.max(1),
            pending: BTreeMap::new(),
            schemas: BTreeMap::new(),
            schema_ids: BTreeMap::new(),
            ready: Vec::new(),
            records: 0,
        }
    }

    /// A stream's schema known before any message (an Airbyte catalog):
    /// its records need no SCHEMA message.
    pub fn declare(&mut self, schema: StreamSchema) {
        self.schemas.insert(schema.stream.clone(), schema);
    }

    /// The registry id the batches of `stream` carry from now on.
    pub fn set_schema_id(&mut self, stream: &str, id: String) {
        self.schema_ids.insert(stream.to_string(), id);
    }

    /// The schema of `stream`, if one came.
    pub fn schema(&self, stream: &str) -> Option<&StreamSchema> {
        self.schemas.get(stream)
    }

    /// Records taken so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Take one event (from line `line`).
    pub fn push(&mut self, line: u64, event: Event) -> Result<Side, BatcherError> {
        match event {
            Event::Record(r) => {
                if self.protocol == Protocol::Singer && !self.schemas.contains_key(&r.stream) {
                    return Err(BatcherError::RecordBeforeSchema {
                        stream: r.stream,
                        line,
                    });
                }
                let p = self.pending.entry(r.stream.clone()).or_default();
                // A map of JSON values always serializes.
                serde_json::to_writer(&mut p.data, &r.data).unwrap_or_default();
                p.data.push(b'\n');
                p.count += 1;
                p.extracted_at = p.extracted_at.or(r.extracted_at);
                self.records += 1;
                if p.count >= self.batch_records {
                    self.flush(&r.stream);
                }
                Ok(Side::None)
            }
            Event::Schema(s) => {
                if self.schemas.get(&s.stream) == Some(&s) {
                    return Ok(Side::None);
                }
                self.flush(&s.stream);
                self.schemas.insert(s.stream.clone(), s.clone());
                Ok(Side::Schema(s))
            }
            Event::State(update) => {
                let singer = self.protocol == Protocol::Singer;
                let states = state::from_update(update, singer)
                    .map_err(|message| BatcherError::BadState { line, message })?;
                self.flush_all();
                self.ready.extend(states.into_iter().map(Message::State));
                Ok(Side::None)
            }
            Event::Status { stream, status } => {
                if status != StreamStatus::Started {
                    self.flush(&stream);
                    self.ready.push(Message::Status(stream, status));
                }
                Ok(Side::None)
            }
            Event::Error(e) => {
                self.flush_all();
                self.ready.push(Message::StreamError(e));
                Ok(Side::None)
            }
            Event::Log { level, message } => Ok(Side::Log(level, message)),
            Event::Ignored(kind) => Ok(Side::Ignored(kind)),
            other => Ok(Side::Other(other)),
        }
    }

    /// The messages ready to hand over (full batches, states, statuses).
    pub fn take(&mut self) -> Vec<Message> {
        std::mem::take(&mut self.ready)
    }

    /// Everything left: every stream's partial batch.
    pub fn finish(&mut self) -> Vec<Message> {
        self.flush_all();
        self.take()
    }

    /// Whether records wait that no batch holds yet.
    pub fn has_partial(&self) -> bool {
        self.pending.values().any(|p| p.count > 0)
    }

    /// Hand over every partial batch (at the end of input, or before a
    /// state).
    pub fn flush_all(&mut self) {
        let streams: Vec<String> = self.pending.keys().cloned().collect();
        for s in streams {
            self.flush(&s);
        }
    }

    fn flush(&mut self, stream: &str) {
        let Some(p) = self.pending.get_mut(stream) else {
            return;
        };
        if p.count == 0 {
            return;
        }
        let p = std::mem::take(p);
        let mut batch = Batch::json_lines(stream, p.count, p.data);
        batch.extracted_at = p.extracted_at.unwrap_or_else(now_ms);
        batch.schema_id = self.schema_ids.get(stream).cloned();
        self.ready.push(Message::Records(batch));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Record, StateUpdate};
    use serde_json::json;

    fn record(stream: &str, id: i64) -> Event {
        let Value::Object(data) = json!({"id": id}) else {
            unreachable!()
        };
        Event::Record(Record {
            stream: stream.into(),
            data,
            extracted_at: Some(5),
        })
    }
    use serde_json::Value;

    #[test]
    fn batches_come_before_the_state_that_covers_them() {
        let mut b = Batcher::new(Protocol::Singer, 2);
        let schema = StreamSchema {
            stream: "a".into(),
            schema: json!({}),
            key_properties: vec![],
            bookmark_properties: vec![],
        };
        assert!(matches!(
            b.push(1, Event::Schema(schema.clone())).unwrap(),
            Side::Schema(_)
        ));
        assert_eq!(b.push(2, Event::Schema(schema)).unwrap(), Side::None);
        for i in 0..3 {
            b.push(3 + i, record("a", i as i64)).unwrap();
        }
        let full = b.take();
        assert_eq!(full.len(), 1, "one full batch of 2");
        let state = StateUpdate::Whole(json!({"bookmarks": {"a": {"n": 3}}}));
        b.push(6, Event::State(state)).unwrap();
        let rest = b.take();
        assert!(
            matches!(&rest[0], Message::Records(batch) if batch.count == 1 && batch.extracted_at == 5)
        );
        assert!(matches!(&rest[1], Message::State(s) if s.stream == "a" && s.state["n"] == 3));
        assert_eq!(b.records(), 3);
    }

    #[test]
    fn singer_records_need_a_schema_first() {
        let mut b = Batcher::new(Protocol::Singer, 10);
        let e = b.push(4, record("users", 1)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 4: a RECORD of stream `users` came before any SCHEMA of it"
        );
        let mut b = Batcher::new(Protocol::Airbyte, 10);
        b.push(1, record("users", 1)).unwrap();
        assert!(b.has_partial());
        assert_eq!(b.finish().len(), 1);
    }
}
