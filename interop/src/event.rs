//! One message of a Singer or Airbyte stream, as sluice reads it.

use serde_json::{Map, Value};
use sluice_protocol::{ConnectorError, Level, StreamStatus};

/// What one line of a Singer or Airbyte stream says.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A stream's schema (Singer SCHEMA).
    Schema(StreamSchema),
    /// One record (Singer or Airbyte RECORD).
    Record(Record),
    /// A checkpoint covering every record before it.
    State(StateUpdate),
    /// A stream started, finished or stopped (Airbyte TRACE STREAM_STATUS).
    Status {
        /// The stream.
        stream: String,
        /// Where it is.
        status: StreamStatus,
    },
    /// A log line (Airbyte LOG).
    Log {
        /// Its level.
        level: Level,
        /// Its text.
        message: String,
    },
    /// The connector reports a failure (Airbyte TRACE ERROR).
    Error(ConnectorError),
    /// An Airbyte SPEC: the `spec` object.
    Spec(Value),
    /// An Airbyte CATALOG: the `catalog` object.
    Catalog(Value),
    /// An Airbyte CONNECTION_STATUS.
    ConnectionStatus {
        /// Whether the check succeeded.
        succeeded: bool,
        /// Why not, or what it found.
        message: Option<String>,
    },
    /// A message sluice has no use for (Singer ACTIVATE_VERSION and BATCH,
    /// Airbyte CONTROL and estimates): its type.
    Ignored(String),
}

/// A stream's schema, as a Singer SCHEMA message gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSchema {
    /// The stream.
    pub stream: String,
    /// Its JSON Schema.
    pub schema: Value,
    /// Its primary key.
    pub key_properties: Vec<String>,
    /// Its replication (cursor) fields.
    pub bookmark_properties: Vec<String>,
}

/// One record of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The stream.
    pub stream: String,
    /// Its fields.
    pub data: Map<String, Value>,
    /// When it was extracted, in ms since the Unix epoch, if the message says.
    pub extracted_at: Option<u64>,
}

/// The state a message carries.
#[derive(Debug, Clone, PartialEq)]
pub enum StateUpdate {
    /// The whole state at once: a Singer STATE's `value`, an Airbyte
    /// LEGACY state's `data`.
    Whole(Value),
    /// One stream's state (Airbyte STREAM).
    Stream {
        /// The stream.
        stream: String,
        /// Its state.
        state: Value,
    },
    /// State shared by the streams, and each stream's own (Airbyte GLOBAL).
    Global {
        /// The shared state.
        shared: Value,
        /// Each stream's state.
        streams: Vec<(String, Value)>,
    },
}
