//! `sluice-interop`: the Singer and Airbyte protocols at sluice's edges.
//!
//! People arrive with Singer taps and targets, Airbyte sources and
//! destinations, and their catalogs and state files. This crate speaks
//! both protocols exactly, and converts between them and sluice's own
//! types; it does no I/O of its own.
//!
//! - [`Event`]: one message of either protocol as sluice reads it;
//!   [`singer::decode`] and [`airbyte::decode`] parse a line into one.
//! - [`singer`] and [`airbyte`]: their messages written from sluice's
//!   batches, checkpoints, specs and catalogs.
//! - [`catalog`]: Singer catalogs and Airbyte (configured) catalogs to and
//!   from sluice's [`Catalog`](sluice_protocol::Catalog) and
//!   [`ConfiguredCatalog`](sluice_protocol::ConfiguredCatalog).
//! - [`state`]: Singer bookmarks and Airbyte STREAM, GLOBAL and LEGACY
//!   state to and from sluice's per-stream state.
//! - [`Batcher`]: the records of decoded messages gathered into sluice
//!   batches, with the checks a well-behaved target makes (a SCHEMA before
//!   the first RECORD of a stream).

#![warn(missing_docs)]

pub mod airbyte;
mod batcher;
pub mod catalog;
mod event;
pub mod singer;
pub mod state;
mod time;

pub use batcher::{Batcher, BatcherError, Side};
pub use event::{Event, Record, StateUpdate, StreamSchema};
pub use time::{ms_from_rfc3339, rfc3339_from_ms};

use std::fmt;

/// The message formats sluice reads and writes at its edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Singer: SCHEMA, RECORD and STATE messages.
    Singer,
    /// Airbyte: RECORD, STATE, TRACE, LOG, SPEC, CATALOG and
    /// CONNECTION_STATUS messages.
    Airbyte,
}

impl Protocol {
    /// `singer` or `airbyte`, as pipeline files and flags spell it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Singer => "singer",
            Protocol::Airbyte => "airbyte",
        }
    }

    /// Parse one line of this protocol; `line` is its number (from 1).
    pub fn decode(self, line: u64, text: &str) -> Result<Event, DecodeError> {
        match self {
            Protocol::Singer => singer::decode(line, text),
            Protocol::Airbyte => airbyte::decode(line, text),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A line that is not a message of the protocol: its number, what is
/// wrong, and the start of the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message} (the line starts `{start}`)")]
pub struct DecodeError {
    /// The line's number, from 1.
    pub line: u64,
    /// What is wrong with it.
    pub message: String,
    /// Its first characters.
    pub start: String,
}

impl DecodeError {
    /// An error about line `line` whose text is `text`.
    pub fn new(line: u64, text: &str, message: impl Into<String>) -> Self {
        const START: usize = 60;
        let mut start: String = text.chars().take(START).collect();
        if text.chars().nth(START).is_some() {
            start.push('…');
        }
        DecodeError {
            line,
            message: message.into(),
            start,
        }
    }
}
