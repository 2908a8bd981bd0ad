//! `write --format singer|airbyte`: Singer or Airbyte messages from stdin
//! into a destination, as a well-behaved Singer target or Airbyte
//! destination takes them. Records are gathered into batches; a state is
//! printed on stdout only once the destination has committed every record
//! before it (committing at most every `--commit-interval-ms` while a
//! state waits); at the end every stream is completed and committed and
//! the last state printed. A line that is not a message stops the run
//! without committing anything after the last printed state.

use super::WriteArgs;
use super::commits::{Commits, Held};
use super::opening::{self, Input, Line};
use crate::commands::require_role;
use anyhow::{Result, anyhow};
use sluice_interop::{Batcher, Event, Protocol, Side, StateUpdate, StreamSchema};
use sluice_protocol::schema::Schema;
use sluice_protocol::{ConfiguredCatalog, Level, Message, Operation, Role};
use sluice_runtime::{DestinationWriter, Registry, Runtime};
use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;
use tokio::time::{Duration, sleep_until};

/// Why a SPEC, CATALOG or CONNECTION_STATUS message is ignored.
const NOT_HERE: &str = "it answers another command, not a destination";

/// `sluice write --format singer|airbyte`.
pub async fn write(rt: &Runtime, a: &WriteArgs, protocol: Protocol) -> Result<ExitCode> {
    let connector = rt.load(&a.component.component).await?;
    require_role(&connector, Role::Destination)?;
    let sandbox = a.sandbox.sandbox()?;
    let config = a.component.config()?;
    let mut input = Input::stdin(protocol);
    let opening = opening::read_ahead(&mut input, a, protocol).await?;
    let registry = Registry::memory();
    let writer = connector
        .write(&sandbox, &config, &opening.catalog, &registry)
        .await?;
    let mut session = Session {
        writer,
        registry,
        batcher: Batcher::new(protocol, a.batch_size),
        protocol,
        catalog: opening.catalog,
        fields: a.fields.clone(),
        operation: a.operation.into(),
        commits: Commits::new(Duration::from_millis(a.commit_interval_ms)),
        completed: BTreeSet::new(),
        warned: BTreeSet::new(),
        records: 0,
    };
    if let Err(e) = session.run(opening.held, &mut input).await {
        // Nothing after the last printed state is committed.
        let _ = session.writer.close().await;
        return Err(e);
    }
    let streams = session.catalog.streams.len();
    let records = session.finish().await?;
    eprintln!(
        "wrote {records} records to {streams} stream(s) of {} (committed)",
        connector.name()
    );
    Ok(ExitCode::SUCCESS)
}

/// An open destination and what is on its way into it.
struct Session {
    writer: DestinationWriter,
    registry: Registry,
    batcher: Batcher,
    protocol: Protocol,
    catalog: ConfiguredCatalog,
    fields: Vec<String>,
    operation: Operation,
    commits: Commits,
    /// The streams the destination was told are complete.
    completed: BTreeSet<String>,
    /// The kinds of message warned about (once each).
    warned: BTreeSet<String>,
    /// Records written.
    records: u64,
}

impl Session {
    /// Handle the lines read ahead, then the rest of stdin; commit when a
    /// state is due even while stdin is quiet.
    async fn run(&mut self, held: Vec<Line>, input: &mut Input) -> Result<()> {
        for line in held {
            self.handle(line).await?;
        }
        loop {
            let due = self.commits.due();
            let line = tokio::select! {
                line = input.next() => line?,
                _ = sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if due.is_some() => {
                    self.commit().await?;
                    continue;
                }
            };
            let Some(line) = line else {
                return Ok(());
            };
            self.handle(line).await?;
        }
    }

    /// One message.
    async fn handle(&mut self, line: Line) -> Result<()> {
        let no = line.no;
        match line.event {
            Event::Schema(s) => self.schema(no, &line.text, s).await?,
            Event::Record(mut r) => {
                if self.protocol == Protocol::Airbyte && self.catalog.stream(&r.stream).is_none() {
                    let stream = r.stream.clone();
                    let line = Line {
                        event: Event::Record(r),
                        ..line
                    };
                    return Err(self.unknown(&line, &stream));
                }
                if !self.fields.is_empty() {
                    r.data.retain(|k, _| self.fields.contains(k));
                }
                self.push(no, Event::Record(r))?;
            }
            Event::State(update) => {
                self.batcher.flush_all();
                self.take();
                self.commits.state(scope(&update), line.text);
            }
            Event::Status { stream, status } => self.push(no, Event::Status { stream, status })?,
            Event::Error(e) => eprintln!("stdin line {no}: the source reports an error: {e}"),
            Event::Log { level, message } => log(level, &message),
            Event::Ignored(kind) => self.warn_once(&kind, no, "sluice has no use for it"),
            Event::Spec(_) => self.warn_once("SPEC", no, NOT_HERE),
            Event::Catalog(_) => self.warn_once("CATALOG", no, NOT_HERE),
            Event::ConnectionStatus { .. } => self.warn_once("CONNECTION_STATUS", no, NOT_HERE),
        }
        if self.commits.over_limit() {
            self.write_ahead().await?;
        }
        if self.commits.is_due() {
            self.commit().await?;
        }
        Ok(())
    }

    /// A SCHEMA: of a stream the writer knows; a new or changed one is
    /// registered and the destination told, in order with the batches.
    async fn schema(&mut self, no: u64, text: &str, s: StreamSchema) -> Result<()> {
        let Some(configured) = self.catalog.stream(&s.stream) else {
            let stream = s.stream.clone();
            let line = Line {
                no,
                text: text.to_string(),
                event: Event::Schema(s),
            };
            return Err(self.unknown(&line, &stream));
        };
        let schema = match configured.fields.is_empty() {
            true => s.schema.clone(),
            false => opening::only_fields(&s.stream, s.schema.clone(), &self.fields)
                .map_err(|e| anyhow!("stdin line {no}: {e}"))?,
        };
        let side = self
            .batcher
            .push(no, Event::Schema(StreamSchema { schema, ..s }))
            .map_err(|e| anyhow!("stdin {e}"))?;
        self.take();
        let Side::Schema(s) = side else {
            return Ok(());
        };
        match Schema::from_json_schema(&s.schema) {
            Ok(typed) => {
                let id = self.registry.register(&s.stream, &typed)?;
                self.batcher.set_schema_id(&s.stream, id.0.clone());
                self.commits.hold(Held::Schema(s.stream, id));
            }
            Err(e) => tracing::warn!(
                "stdin line {no}: the schema of stream `{}` has no typed form ({e}); \
                 its records are written without a registered schema",
                s.stream
            ),
        }
        Ok(())
    }

    /// Give the batcher a record or status; hold what it hands over.
    fn push(&mut self, no: u64, event: Event) -> Result<()> {
        self.batcher
            .push(no, event)
            .map_err(|e| anyhow!("stdin {e}"))?;
        self.take();
        Ok(())
    }

    /// Hold the batches and stream ends the batcher has ready.
    fn take(&mut self) {
        for m in self.batcher.take() {
            match m {
                Message::Records(mut batch) => {
                    batch.operation = self.operation;
                    self.commits.hold(Held::Batch(batch));
                }
                Message::Status(stream, sluice_protocol::StreamStatus::Complete) => {
                    self.commits.hold(Held::Complete(stream));
                }
                _ => {}
            }
        }
    }

    /// Hand `items` to the destination, in order.
    async fn apply(&mut self, items: Vec<Held>) -> Result<()> {
        for item in items {
            match item {
                Held::Batch(batch) => {
                    let count = u64::from(batch.count);
                    self.writer.write(batch).await?;
                    self.records += count;
                }
                Held::Schema(stream, id) => self.writer.schema(&stream, &id).await?,
                Held::Complete(stream) => {
                    if self.completed.insert(stream.clone()) {
                        self.writer.complete(&stream).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Write what the pending states cover, commit, print the states.
    async fn commit(&mut self) -> Result<()> {
        let covered = self.commits.take_covered();
        self.apply(covered).await?;
        self.writer.commit().await?;
        let mut out = std::io::stdout().lock();
        for line in self.commits.committed() {
            writeln!(out, "{line}")?;
        }
        out.flush()?;
        Ok(())
    }

    /// Too much is held: commit what states cover, write the rest ahead.
    async fn write_ahead(&mut self) -> Result<()> {
        if self.commits.due().is_some() {
            self.commit().await?;
        }
        let all = self.commits.take_all();
        self.apply(all).await
    }

    /// The end of input: the last batches, every stream complete, the
    /// last commit and the last states. Returns the records written.
    async fn finish(mut self) -> Result<u64> {
        self.batcher.flush_all();
        self.take();
        let open: Vec<String> = self
            .catalog
            .streams
            .iter()
            .map(|s| s.name.clone())
            .filter(|s| !self.completed.contains(s))
            .collect();
        for stream in open {
            self.commits.hold(Held::Complete(stream));
        }
        self.commits.cover_all();
        self.commit().await?;
        self.writer.close().await?;
        Ok(self.records)
    }

    /// The error for `line`, a message of a stream not opened.
    fn unknown(&self, line: &Line, stream: &str) -> anyhow::Error {
        opening::unknown_stream(self.protocol, line, stream, &self.catalog.streams)
    }

    /// Warn of a message of `kind` ignored, the first time one comes.
    fn warn_once(&mut self, kind: &str, no: u64, why: &str) {
        if self.warned.insert(kind.to_string()) {
            tracing::warn!("stdin line {no}: ignoring the {kind} message(s): {why}");
        }
    }
}

/// Which state a new state replaces: Singer's one state; Airbyte's per
/// stream, global or legacy state.
fn scope(update: &StateUpdate) -> String {
    match update {
        StateUpdate::Whole(_) => "whole".into(),
        StateUpdate::Stream { stream, .. } => format!("stream {stream}"),
        StateUpdate::Global { .. } => "global".into(),
    }
}

/// A source's log line, at its level.
fn log(level: Level, message: &str) {
    match level {
        Level::Error => tracing::error!("source: {message}"),
        Level::Warn => tracing::warn!("source: {message}"),
        Level::Info => tracing::info!("source: {message}"),
        Level::Debug => tracing::debug!("source: {message}"),
        Level::Trace => tracing::trace!("source: {message}"),
    }
}
