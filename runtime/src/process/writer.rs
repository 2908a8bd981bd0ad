//! A Singer target or Airbyte destination as a run's [`BatchSink`]:
//! batches are written to its stdin as RECORD messages, each checkpoint
//! as a STATE after them, and only the states it echoes on stdout (after
//! it has made the records before them durable) are confirmed to the run.

use super::Process;
use super::child::Child;
use crate::error::Result;
use crate::pipeline::BatchSink;
use crate::registry::Registry;
use serde_json::{Map, Value};
use sluice_interop::{Event, Protocol, StateUpdate, airbyte, catalog, singer, state};
use sluice_protocol::{Batch, ConfiguredCatalog, StreamState};
use sluice_schema::SchemaId;
use std::collections::BTreeMap;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A running target or destination.
pub struct ProcessWriter {
    process: Process,
    child: Child,
    registry: Registry,
    /// What goes to its stdin next.
    buffer: Vec<u8>,
    /// Singer: every stream's latest checkpoint of this attempt (a Singer
    /// state is one value for all streams).
    bookmarks: BTreeMap<String, Value>,
    /// The stream's key and cursor, for SCHEMA messages.
    keys: BTreeMap<String, (Vec<String>, Vec<String>)>,
    /// States it echoed, decoded.
    echoed: mpsc::UnboundedReceiver<Vec<StreamState>>,
    stdout: Option<JoinHandle<Result<()>>>,
}

impl Process {
    /// Start writing `catalog` (Singer: a SCHEMA for each stream first).
    pub fn write(&self, catalog: &ConfiguredCatalog, registry: &Registry) -> Result<ProcessWriter> {
        let mut args = vec!["--config".to_string(), self.config_file()?];
        if self.protocol() == Protocol::Airbyte {
            let configured = catalog::to_airbyte_configured(&Value::Null, catalog)
                .map_err(|e| self.error("write", e))?;
            args.insert(0, "write".into());
            args.extend(["--catalog".into(), self.file("catalog.json", &configured)?]);
        }
        let mut child = Child::start(self, "write", &args, true)?;
        let (tx, echoed) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().map(|out| {
            let process = self.clone();
            tokio::spawn(async move { read_echoes(process, out, tx).await })
        });
        let mut w = ProcessWriter {
            process: self.clone(),
            child,
            registry: registry.clone(),
            buffer: Vec::new(),
            bookmarks: BTreeMap::new(),
            keys: BTreeMap::new(),
            echoed,
            stdout,
        };
        for s in &catalog.streams {
            let cursor: Vec<String> = s.cursor_field.iter().cloned().collect();
            w.keys
                .insert(s.name.clone(), (s.primary_key.clone(), cursor));
            w.schema_message(&s.name, &s.schema);
        }
        Ok(w)
    }
}

impl ProcessWriter {
    /// Singer: a SCHEMA message for `stream` into the buffer.
    fn schema_message(&mut self, stream: &str, schema: &Value) {
        if self.process.protocol() != Protocol::Singer {
            return;
        }
        let schema = if schema.is_object() {
            schema.clone()
        } else {
            serde_json::json!({"type": "object"})
        };
        let (key, cursor) = self.keys.get(stream).cloned().unwrap_or_default();
        self.line(&singer::schema_message(stream, &schema, &key, &cursor));
    }

    fn line(&mut self, text: &str) {
        self.buffer.extend_from_slice(text.as_bytes());
        self.buffer.push(b'\n');
    }

    /// Hand the buffer to its stdin.
    async fn send(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.buffer);
        let Some(stdin) = self.child.stdin.as_mut() else {
            return Err(self.process.error("write", "its stdin is closed".into()));
        };
        if let Err(e) = stdin.write_all(&data).await {
            // It stopped reading: most likely it exited; say how.
            let exit = self.child.wait().await.err();
            return Err(exit.unwrap_or_else(|| {
                self.process
                    .error("write", format!("cannot write to its stdin: {e}"))
            }));
        }
        Ok(())
    }
}

impl BatchSink for ProcessWriter {
    async fn schema(&mut self, stream: &str, id: &SchemaId) -> Result<()> {
        let schema = self
            .registry
            .fetch(id)
            .map_err(|e| self.process.error("write", e.to_string()))?;
        if let Some(schema) = schema {
            self.schema_message(stream, &schema.to_json_schema());
        }
        Ok(())
    }

    async fn write(&mut self, batch: Batch) -> Result<()> {
        let singer = self.process.protocol() == Protocol::Singer;
        for record in batch.lines() {
            if singer {
                singer::write_record(&mut self.buffer, &batch.stream, record, batch.extracted_at);
            } else {
                airbyte::write_record(&mut self.buffer, &batch.stream, record, batch.extracted_at);
            }
        }
        if self.buffer.len() >= 1 << 20 {
            self.send().await?;
        }
        Ok(())
    }

    async fn commit(&mut self) -> Result<()> {
        self.send().await?;
        if let Some(stdin) = self.child.stdin.as_mut() {
            stdin.flush().await.map_err(|e| {
                self.process
                    .error("write", format!("cannot write to its stdin: {e}"))
            })?;
        }
        Ok(())
    }

    async fn complete(&mut self, _stream: &str) -> Result<()> {
        Ok(())
    }

    async fn close(mut self) -> Result<()> {
        self.child.kill().await;
        Ok(())
    }

    fn confirms_state(&self) -> bool {
        true
    }

    async fn checkpoint(&mut self, checkpoint: &StreamState) -> Result<()> {
        match self.process.protocol() {
            Protocol::Singer => {
                self.bookmarks
                    .insert(checkpoint.stream.clone(), checkpoint.state.clone());
                let states: Vec<StreamState> = self
                    .bookmarks
                    .iter()
                    .map(|(stream, state)| StreamState {
                        stream: stream.clone(),
                        state: state.clone(),
                    })
                    .collect();
                self.line(&singer::state_message(&state::to_singer(&states)));
            }
            Protocol::Airbyte => {
                let message = airbyte::stream_state(&checkpoint.stream, &checkpoint.state);
                self.line(&airbyte::state_message(&message));
            }
        }
        Ok(())
    }

    async fn end(&mut self) -> Result<()> {
        self.commit().await?;
        self.child.stdin = None;
        if let Some(task) = self.stdout.take() {
            task.await.map_err(|e| {
                self.process
                    .error("write", format!("its stdout reader failed: {e}"))
            })??;
        }
        self.child.wait().await
    }

    fn confirmed(&mut self) -> Vec<StreamState> {
        let mut latest: BTreeMap<String, Value> = BTreeMap::new();
        while let Ok(states) = self.echoed.try_recv() {
            latest.extend(states.into_iter().map(|s| (s.stream, s.state)));
        }
        latest
            .into_iter()
            .map(|(stream, state)| StreamState { stream, state })
            .collect()
    }
}

/// Read its stdout: each state it echoes, decoded into per-stream states,
/// goes to `tx`; its logs go to the logs.
async fn read_echoes(
    process: Process,
    mut out: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    tx: mpsc::UnboundedSender<Vec<StreamState>>,
) -> Result<()> {
    let mut line_no = 0u64;
    while let Some(line) = out
        .next_line()
        .await
        .map_err(|e| process.error("write", format!("cannot read its stdout: {e}")))?
    {
        line_no += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let states = match process.protocol() {
            Protocol::Singer => singer_echo(text),
            Protocol::Airbyte => airbyte_echo(&process, line_no, text),
        };
        match states {
            Ok(Some(states)) => {
                let _ = tx.send(states);
            }
            Ok(None) => {}
            Err(message) => {
                return Err(process.error("write", format!("stdout line {line_no}: {message}")));
            }
        }
    }
    Ok(())
}

/// A Singer target prints each state value it has made durable, one JSON
/// object a line.
fn singer_echo(text: &str) -> Result<Option<Vec<StreamState>>, String> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| format!("a Singer target prints state values as JSON lines: {e}"))?;
    let value = match value.get("type").and_then(Value::as_str) {
        Some("STATE") => value.get("value").cloned().unwrap_or(Value::Null),
        _ => value,
    };
    if value.as_object().is_some_and(Map::is_empty) {
        return Ok(None);
    }
    state::from_singer(&value).map(Some)
}

/// An Airbyte destination echoes STATE messages; it may log, too.
fn airbyte_echo(
    process: &Process,
    line: u64,
    text: &str,
) -> Result<Option<Vec<StreamState>>, String> {
    match sluice_interop::airbyte::decode(line, text).map_err(|e| e.to_string())? {
        Event::State(
            update @ (StateUpdate::Stream { .. }
            | StateUpdate::Global { .. }
            | StateUpdate::Whole(_)),
        ) => state::from_update(update, false).map(Some),
        Event::Log { message, .. } => {
            tracing::info!(target: "sluice::process", process = %process.name(), "{}", process.inner.redactor.scrub(&message));
            Ok(None)
        }
        Event::Error(e) => Err(e.message),
        _ => Ok(None),
    }
}
