//! What crosses the boundary at run time: batches of records and the
//! messages a reader returns.

use crate::{ConnectorError, Operation, StreamState};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How a batch's bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BatchFormat {
    /// One JSON object per line, each ending in `\n`.
    #[default]
    JsonLines,
}

/// Many records of one stream, encoded once.
#[derive(Clone, PartialEq, Eq)]
pub struct Batch {
    /// Stream name.
    pub stream: String,
    /// The registry id of the records' schema; `None` for schemaless sources.
    pub schema_id: Option<String>,
    /// What the records do to the destination's rows.
    pub operation: Operation,
    /// When the source extracted the records, in ms since the Unix epoch.
    pub extracted_at: u64,
    /// How many records `data` holds.
    pub count: u32,
    /// Encoding of `data`.
    pub format: BatchFormat,
    /// The encoded records.
    pub data: Vec<u8>,
}

impl Batch {
    /// A JSON-lines batch of inserts, extracted now, without a schema id.
    pub fn json_lines(stream: impl Into<String>, count: u32, data: Vec<u8>) -> Self {
        Batch {
            stream: stream.into(),
            schema_id: None,
            operation: Operation::Insert,
            extracted_at: now_ms(),
            count,
            format: BatchFormat::JsonLines,
            data,
        }
    }

    /// The records as lines (without the trailing `\n`).
    pub fn lines(&self) -> impl Iterator<Item = &[u8]> {
        self.data
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
    }
}

/// Milliseconds since the Unix epoch, now (0 if the clock is before it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("stream", &self.stream)
            .field("schema_id", &self.schema_id)
            .field("operation", &self.operation)
            .field("extracted_at", &self.extracted_at)
            .field("count", &self.count)
            .field("format", &self.format)
            .field("bytes", &self.data.len())
            .finish()
    }
}

/// Where a stream is in a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamStatus {
    /// The stream started.
    Started,
    /// The stream finished.
    Complete,
    /// The stream stopped before finishing.
    Incomplete,
}

/// What a reader returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Records of one stream.
    Records(Batch),
    /// State covering every record of the stream emitted before it.
    State(StreamState),
    /// A stream's status changed.
    Status(String, StreamStatus),
    /// A stream failed; the others go on.
    StreamError(ConnectorError),
}
