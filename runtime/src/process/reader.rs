//! A Singer tap or Airbyte source as a run's [`BatchSource`]: started
//! with its config, the pipeline's streams selected in its own catalog
//! and the saved state, its messages gathered into batches and
//! checkpoints.

use super::Process;
use super::child::Child;
use crate::error::Result;
use crate::pipeline::BatchSource;
use sluice_interop::{Batcher, Protocol, Side, StreamSchema, catalog, state};
use sluice_protocol::{ConfiguredCatalog, Message, StreamState, StreamStatus, WriteMode};
use std::collections::BTreeSet;

/// Records per batch handed to the run.
const BATCH_RECORDS: u32 = 1000;

/// A running tap or source.
pub struct ProcessReader {
    process: Process,
    child: Child,
    batcher: Batcher,
    line: u64,
    /// Message types already warned about as unused.
    ignored: BTreeSet<String>,
    /// The streams of the catalog, completed at a clean end.
    streams: Vec<String>,
    done: bool,
}

impl Process {
    /// Start reading `catalog` from `state` (saved per stream).
    pub fn read(
        &self,
        catalog: &ConfiguredCatalog,
        saved: &[StreamState],
    ) -> Result<ProcessReader> {
        let config = self.config_file()?;
        let mut args = Vec::new();
        let mut batcher = Batcher::new(self.protocol(), BATCH_RECORDS);
        match self.protocol() {
            Protocol::Singer => {
                let selected = catalog::select_in_singer(&self.inner.catalog, catalog);
                args.extend(["--config".into(), config]);
                args.extend(["--catalog".into(), self.file("catalog.json", &selected)?]);
                if !saved.is_empty() {
                    let st = state::to_singer(saved);
                    args.extend(["--state".into(), self.file("state.json", &st)?]);
                }
            }
            Protocol::Airbyte => {
                // A source has no use for the destination's mode; Airbyte
                // names only some of sluice's.
                let mut for_source = catalog.clone();
                for s in &mut for_source.streams {
                    s.write_mode = WriteMode::Append;
                    batcher.declare(StreamSchema {
                        stream: s.name.clone(),
                        schema: s.schema.clone(),
                        key_properties: s.primary_key.clone(),
                        bookmark_properties: s.cursor_field.iter().cloned().collect(),
                    });
                }
                let configured = catalog::to_airbyte_configured(&self.inner.catalog, &for_source)
                    .map_err(|e| self.error("read", e))?;
                args.extend(["read".into(), "--config".into(), config]);
                args.extend(["--catalog".into(), self.file("catalog.json", &configured)?]);
                if !saved.is_empty() {
                    let st = state::to_airbyte(saved);
                    args.extend(["--state".into(), self.file("state.json", &st)?]);
                }
            }
        }
        let child = Child::start(self, "read", &args, false)?;
        Ok(ProcessReader {
            process: self.clone(),
            child,
            batcher,
            line: 0,
            ignored: BTreeSet::new(),
            streams: catalog.streams.iter().map(|s| s.name.clone()).collect(),
            done: false,
        })
    }
}

impl ProcessReader {
    /// Take one line of its stdout into the batcher.
    fn take_line(&mut self, text: &str) -> Result<()> {
        self.line += 1;
        if text.trim().is_empty() {
            return Ok(());
        }
        let event = self
            .process
            .protocol()
            .decode(self.line, text.trim())
            .map_err(|e| self.process.error("read", e.to_string()))?;
        let side = self
            .batcher
            .push(self.line, event)
            .map_err(|e| self.process.error("read", e.to_string()))?;
        match side {
            Side::Log(level, message) => {
                let message = self.process.inner.redactor.scrub(&message);
                let name = self.process.name();
                match level {
                    sluice_protocol::Level::Error => {
                        tracing::error!(target: "sluice::process", process = %name, "{message}")
                    }
                    sluice_protocol::Level::Warn => {
                        tracing::warn!(target: "sluice::process", process = %name, "{message}")
                    }
                    _ => tracing::info!(target: "sluice::process", process = %name, "{message}"),
                }
            }
            Side::Ignored(kind) | Side::Other(sluice_interop::Event::Ignored(kind)) => {
                if self.ignored.insert(kind.clone()) {
                    tracing::debug!(process = %self.process.name(), "ignoring its {kind} messages");
                }
            }
            Side::Schema(_) | Side::None | Side::Other(_) => {}
        }
        Ok(())
    }

    /// The end of its stdout: it must exit 0; then every stream it had
    /// not completed is complete.
    async fn end(&mut self) -> Result<Vec<Message>> {
        self.done = true;
        self.child.wait().await?;
        let mut out = self.batcher.finish();
        for s in &self.streams {
            out.push(Message::Status(s.clone(), StreamStatus::Complete));
        }
        Ok(out)
    }
}

impl BatchSource for ProcessReader {
    fn name(&self) -> &str {
        self.process.name()
    }

    async fn next(&mut self) -> Result<Option<Vec<Message>>> {
        if self.done {
            return Ok(None);
        }
        loop {
            let ready = self.batcher.take();
            if !ready.is_empty() {
                return Ok(Some(ready));
            }
            match self.child.line().await? {
                Some(line) => self.take_line(&line)?,
                None => return self.end().await.map(Some),
            }
        }
    }

    async fn close(mut self) -> Result<()> {
        if !self.done {
            self.child.kill().await;
        }
        Ok(())
    }
}
