//! What `read` prints on stdout: sluice's JSON lines of records, or the
//! Singer or Airbyte messages a tap or source of that protocol would.
//!
//! Singer: a SCHEMA for every stream up front (its configured schema), a
//! new SCHEMA before a batch whose registered schema differs from the one
//! announced, RECORDs with `time_extracted`, and after every checkpoint a
//! STATE holding every stream's latest bookmark. Airbyte: TRACE
//! STREAM_STATUS STARTED before a stream's first message, RECORDs with
//! `emitted_at`, a STREAM state per checkpoint (with the count of records
//! it covers as `sourceStats`, as the platform checks), COMPLETE or INCOMPLETE
//! when the stream ends, TRACE ERROR for failures and LOG for the host's
//! own notes. Records are spliced into the messages, never parsed again.

use crate::args::Format;
use anyhow::Result;
use serde_json::{Value, json};
use sluice_interop::{airbyte, singer};
use sluice_protocol::schema::{Schema, SchemaId};
use sluice_protocol::{
    Batch, ConfiguredCatalog, ConnectorError, Level, StreamState, StreamStatus, SyncMode, now_ms,
};
use sluice_runtime::Registry;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufWriter, StdoutLock, Write};

/// What Singer's SCHEMA message says of a stream besides its schema.
struct Keys {
    schema: Value,
    key_properties: Vec<String>,
    bookmark_properties: Vec<String>,
}

/// Prints one read in one format.
pub struct Printer {
    format: Format,
    out: BufWriter<StdoutLock<'static>>,
    keys: BTreeMap<String, Keys>,
    /// The streams in catalog order.
    order: Vec<String>,
    registry: Registry,
    /// Singer: per stream, the typed id of the schema last announced
    /// (`None` when it has no typed form).
    announced: BTreeMap<String, Option<SchemaId>>,
    /// Airbyte: the streams whose STARTED was printed, and those ended.
    started: BTreeSet<String>,
    ended: BTreeSet<String>,
    /// Every stream's latest state, from the state read resumed from on.
    states: BTreeMap<String, Value>,
    /// Airbyte: each stream's records since its last state.
    since_state: BTreeMap<String, u64>,
    records: u64,
    scratch: Vec<u8>,
}

impl Printer {
    /// A printer of `format` for a read of `catalog` resuming from
    /// `state`, whose source registers its schemas in `registry`.
    pub fn new(
        format: Format,
        catalog: &ConfiguredCatalog,
        registry: Registry,
        state: Vec<StreamState>,
    ) -> Self {
        let keys = catalog
            .streams
            .iter()
            .map(|s| {
                let bookmark = match (&s.cursor_field, s.sync_mode) {
                    (Some(c), SyncMode::Incremental) => vec![c.clone()],
                    _ => Vec::new(),
                };
                let keys = Keys {
                    schema: s.schema.clone(),
                    key_properties: s.primary_key.clone(),
                    bookmark_properties: bookmark,
                };
                (s.name.clone(), keys)
            })
            .collect();
        Printer {
            format,
            out: BufWriter::with_capacity(1 << 20, std::io::stdout().lock()),
            keys,
            order: catalog.streams.iter().map(|s| s.name.clone()).collect(),
            registry,
            announced: BTreeMap::new(),
            started: BTreeSet::new(),
            ended: BTreeSet::new(),
            states: state.into_iter().map(|s| (s.stream, s.state)).collect(),
            since_state: BTreeMap::new(),
            records: 0,
            scratch: Vec::new(),
        }
    }

    /// What comes before any message: Singer's SCHEMA of every stream
    /// that has a schema object.
    pub fn begin(&mut self) -> Result<()> {
        if self.format != Format::Singer {
            return Ok(());
        }
        let streams: Vec<(String, Value)> = self
            .order
            .iter()
            .filter_map(|name| Some((name.clone(), self.keys.get(name)?.schema.clone())))
            .filter(|(_, schema)| schema.is_object())
            .collect();
        for (stream, schema) in streams {
            self.announce(&stream, schema)?;
        }
        Ok(())
    }

    /// One checked batch of records.
    pub fn batch(&mut self, batch: &Batch) -> Result<()> {
        self.records += u64::from(batch.count);
        match self.format {
            Format::Jsonl => return Ok(self.out.write_all(&batch.data)?),
            Format::Singer => self.schema_for(batch)?,
            Format::Airbyte => {
                self.start(&batch.stream)?;
                let since = self.since_state.entry(batch.stream.clone()).or_default();
                *since += u64::from(batch.count);
            }
        }
        self.scratch.clear();
        for record in batch.lines() {
            match self.format {
                Format::Singer => singer::write_record(
                    &mut self.scratch,
                    &batch.stream,
                    record,
                    batch.extracted_at,
                ),
                _ => airbyte::write_record(
                    &mut self.scratch,
                    &batch.stream,
                    record,
                    batch.extracted_at,
                ),
            }
        }
        Ok(self.out.write_all(&self.scratch)?)
    }

    /// A checkpoint of one stream.
    pub fn state(&mut self, state: StreamState) -> Result<()> {
        self.states
            .insert(state.stream.clone(), state.state.clone());
        match self.format {
            Format::Jsonl => Ok(()),
            Format::Singer => {
                let value = sluice_interop::state::to_singer(&self.latest());
                self.line(&singer::state_message(&value))
            }
            Format::Airbyte => {
                self.start(&state.stream)?;
                let mut message = airbyte::stream_state(&state.stream, &state.state);
                let count = self.since_state.remove(&state.stream).unwrap_or(0);
                message["sourceStats"] = json!({"recordCount": count as f64});
                self.line(&airbyte::state_message(&message))
            }
        }
    }

    /// A stream started, finished or stopped.
    pub fn status(&mut self, stream: &str, status: StreamStatus) -> Result<()> {
        match (self.format, status) {
            (Format::Airbyte, StreamStatus::Started) => self.start(stream),
            (Format::Airbyte, ended) => self.end(stream, ended),
            _ => Ok(()),
        }
    }

    /// The source failed one stream (the others go on).
    pub fn stream_error(&mut self, error: &ConnectorError) -> Result<()> {
        eprintln!("stream error: {error}");
        if self.format != Format::Airbyte {
            return Ok(());
        }
        self.line(&airbyte::error_message(error, now_ms()))?;
        match &error.stream {
            Some(stream) => self.end(stream, StreamStatus::Incomplete),
            None => Ok(()),
        }
    }

    /// The read stopped with `message`: Airbyte says so in a TRACE ERROR.
    pub fn fatal(&mut self, message: &str) {
        if self.format == Format::Airbyte {
            let error = ConnectorError::internal(message);
            // Best effort: the read is failing already.
            let _ = self.line(&airbyte::error_message(&error, now_ms()));
        }
        let _ = self.out.flush();
    }

    /// The read is over: Airbyte's closing LOG. Returns the number of
    /// records and every stream's latest state.
    pub fn finish(mut self) -> Result<(u64, Vec<StreamState>)> {
        if self.format == Format::Airbyte {
            let note = format!("read finished: {} records", self.records);
            self.line(&airbyte::log_message(Level::Info, &note))?;
        }
        self.out.flush()?;
        Ok((self.records, self.latest()))
    }

    /// Every stream's latest state.
    fn latest(&self) -> Vec<StreamState> {
        self.states
            .iter()
            .map(|(stream, state)| StreamState {
                stream: stream.clone(),
                state: state.clone(),
            })
            .collect()
    }

    /// Singer: announce the schema `batch` carries when it is not the one
    /// announced last (or announce the configured one, if none was).
    fn schema_for(&mut self, batch: &Batch) -> Result<()> {
        let id = batch.schema_id.clone().map(SchemaId);
        let last = self.announced.get(&batch.stream).cloned();
        if id.is_some() && last.as_ref() == Some(&id) {
            return Ok(());
        }
        let registered = match &id {
            Some(id) => self.registry.fetch(id).ok().flatten(),
            None => None,
        };
        match registered {
            Some(schema) => self.announce(&batch.stream, schema.to_json_schema()),
            None if last.is_none() => {
                let configured = self.keys.get(&batch.stream).map(|k| k.schema.clone());
                let schema = configured
                    .filter(Value::is_object)
                    .unwrap_or_else(|| json!({"type": "object"}));
                self.announce(&batch.stream, schema)
            }
            None => Ok(()),
        }
    }

    /// Print a Singer SCHEMA of `stream` and remember its typed id.
    fn announce(&mut self, stream: &str, schema: Value) -> Result<()> {
        let typed = Schema::from_json_schema(&schema).ok().map(|s| s.id());
        self.announced.insert(stream.to_string(), typed);
        let (key, bookmark) = match self.keys.get(stream) {
            Some(k) => (k.key_properties.clone(), k.bookmark_properties.clone()),
            None => (Vec::new(), Vec::new()),
        };
        let message = singer::schema_message(stream, &schema, &key, &bookmark);
        self.line(&message)
    }

    /// Airbyte: STARTED before the first message of `stream`.
    fn start(&mut self, stream: &str) -> Result<()> {
        if self.started.insert(stream.to_string()) {
            let message = airbyte::status_message(stream, StreamStatus::Started, now_ms());
            self.line(&message)?;
        }
        Ok(())
    }

    /// Airbyte: the stream's COMPLETE or INCOMPLETE, once.
    fn end(&mut self, stream: &str, status: StreamStatus) -> Result<()> {
        self.start(stream)?;
        if self.ended.insert(stream.to_string()) {
            self.line(&airbyte::status_message(stream, status, now_ms()))?;
        }
        Ok(())
    }

    /// One message line.
    fn line(&mut self, text: &str) -> Result<()> {
        self.out.write_all(text.as_bytes())?;
        self.out.write_all(b"\n")?;
        Ok(())
    }
}
