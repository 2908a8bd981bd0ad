//! Pipelines: a source, a destination, the streams between them.
//!
//! A run reads batches from the source on one task and writes them to the
//! destination on another, through a bounded channel. State checkpoints
//! from the source are held back until the destination's `commit()` has
//! returned for every record before them; then they are persisted in one
//! state-store transaction. So the persisted state is never ahead of the
//! destination: kill the process at any point and the next run resumes from
//! the last persisted checkpoint (at-least-once).

use crate::connector::{Connector, DestinationWriter, SourceReader};
use crate::engine::Runtime;
use crate::error::{Error, Result};
use crate::state::{RunRecord, StateStore, StreamRun, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::Value;
pub use sluice_manifest::{Endpoint, Manifest, Options, PipelineFile, StreamSelection};
use sluice_protocol::{
    Batch, Catalog, ConfiguredCatalog, ConfiguredStream, Message, Operation, Role, Spec,
    StreamState, StreamStatus, SyncMode, WriteMode,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A pipeline ready to run: paths resolved, `${ENV}` substituted.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// Its name (the key of its state).
    pub name: String,
    /// The file it came from, for messages.
    pub file: String,
    /// The source.
    pub source: Endpoint,
    /// The destination.
    pub destination: Endpoint,
    /// The selected streams (empty: all).
    pub streams: Vec<StreamSelection>,
    /// Run options.
    pub options: Options,
    state: PathBuf,
}

/// Progress of one stream, reported after every batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Stream name.
    pub stream: String,
    /// Records written so far in this run.
    pub records: u64,
    /// Bytes written so far in this run.
    pub bytes: u64,
    /// Whether the stream is finished.
    pub done: bool,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Hooks of a run.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Called after every batch and when a stream finishes.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The pipeline.
    pub pipeline: String,
    /// The run as recorded in the state store.
    pub run: RunRecord,
    /// Wall-clock duration.
    pub duration_ms: u64,
    /// The state store.
    pub state_store: String,
}

impl RunSummary {
    /// Whether every stream succeeded.
    pub fn succeeded(&self) -> bool {
        self.run.status == "succeeded"
    }

    /// Records written, over all streams.
    pub fn records(&self) -> u64 {
        self.run.streams.iter().map(|s| s.records).sum()
    }

    /// Bytes written, over all streams.
    pub fn bytes(&self) -> u64 {
        self.run.streams.iter().map(|s| s.bytes).sum()
    }
}

impl Pipeline {
    /// Read and resolve a pipeline file.
    pub fn from_file(path: &Path) -> Result<Self> {
        Ok(Self::from_manifest(sluice_manifest::from_file(path)?))
    }

    /// Parse pipeline TOML; relative paths resolve against `dir`.
    pub fn from_toml(text: &str, dir: &Path, file: &str, default_name: &str) -> Result<Self> {
        Ok(Self::from_manifest(sluice_manifest::parse(
            text,
            dir,
            file,
            default_name,
        )?))
    }

    /// A pipeline from a resolved manifest.
    pub fn from_manifest(m: Manifest) -> Self {
        Pipeline {
            name: m.name,
            file: m.file,
            source: m.source,
            destination: m.destination,
            streams: m.streams,
            options: m.options,
            state: m.state,
        }
    }

    /// Where the pipeline's state store lives.
    pub fn state_path(&self) -> PathBuf {
        self.state.clone()
    }

    fn error(&self, message: String) -> Error {
        Error::Pipeline {
            file: self.file.clone(),
            message,
        }
    }

    /// The configured catalog: the selected streams checked against what
    /// the source offers and the destination accepts.
    pub fn configure(&self, catalog: &Catalog, destination: &Spec) -> Result<ConfiguredCatalog> {
        let selections: Vec<StreamSelection> = if self.streams.is_empty() {
            catalog
                .streams
                .iter()
                .map(|s| StreamSelection {
                    name: s.name.clone(),
                    sync_mode: None,
                    cursor_field: None,
                    write_mode: None,
                    fields: Vec::new(),
                    primary_key: Vec::new(),
                })
                .collect()
        } else {
            self.streams.clone()
        };
        let mut streams = Vec::with_capacity(selections.len());
        for (i, sel) in selections.iter().enumerate() {
            let at = format!("streams[{i}] (`{}`)", sel.name);
            if selections[..i].iter().any(|s| s.name == sel.name) {
                return Err(self.error(format!("{at}: the stream is listed twice")));
            }
            let Some(info) = catalog.stream(&sel.name) else {
                let offered: Vec<&str> = catalog.streams.iter().map(|s| s.name.as_str()).collect();
                return Err(self.error(format!(
                    "{at}: the source offers no such stream; it offers: {}",
                    offered.join(", ")
                )));
            };
            let properties = info.schema.get("properties").and_then(Value::as_object);
            if let Some(props) = properties {
                for f in sel.fields.iter().chain(sel.primary_key.iter()) {
                    if !props.contains_key(f) {
                        return Err(self.error(format!(
                            "{at}: field `{f}` is not in the stream's schema (fields: {})",
                            props.keys().cloned().collect::<Vec<_>>().join(", ")
                        )));
                    }
                }
            }
            let default_incremental =
                info.sync_modes.contains(&SyncMode::Incremental) && info.default_cursor.is_some();
            let sync_mode = sel.sync_mode.unwrap_or(if default_incremental {
                SyncMode::Incremental
            } else {
                SyncMode::FullRefresh
            });
            if !info.sync_modes.is_empty() && !info.sync_modes.contains(&sync_mode) {
                return Err(self.error(format!(
                    "{at}: the stream does not support sync_mode {sync_mode:?}"
                )));
            }
            let cursor_field = match sync_mode {
                SyncMode::FullRefresh => sel.cursor_field.clone().or(info.default_cursor.clone()),
                SyncMode::Incremental => {
                    let Some(cursor) = sel.cursor_field.clone().or(info.default_cursor.clone())
                    else {
                        return Err(self.error(format!(
                            "{at}: incremental sync needs `cursor_field` (candidates: {})",
                            info.cursor_candidates.join(", ")
                        )));
                    };
                    if !info.cursor_candidates.is_empty()
                        && !info.cursor_candidates.contains(&cursor)
                    {
                        return Err(self.error(format!(
                            "{at}: `{cursor}` cannot be a cursor; candidates: {}",
                            info.cursor_candidates.join(", ")
                        )));
                    }
                    Some(cursor)
                }
            };
            let write_mode = sel.write_mode.unwrap_or(match sync_mode {
                SyncMode::Incremental => WriteMode::Append,
                SyncMode::FullRefresh => WriteMode::Overwrite,
            });
            if !destination.write_modes.is_empty() && !destination.write_modes.contains(&write_mode)
            {
                return Err(self.error(format!(
                    "{at}: destination `{}` does not support write_mode {write_mode:?} (it supports {:?})",
                    destination.name, destination.write_modes
                )));
            }
            let primary_key = if sel.primary_key.is_empty() {
                info.primary_key.clone()
            } else {
                sel.primary_key.clone()
            };
            if write_mode == WriteMode::AppendDedup && primary_key.is_empty() {
                return Err(self.error(format!("{at}: append_dedup needs a `primary_key`")));
            }
            let mut schema = info.schema.clone();
            if !sel.fields.is_empty()
                && let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut)
            {
                props.retain(|k, _| sel.fields.contains(k));
            }
            streams.push(ConfiguredStream {
                name: sel.name.clone(),
                fields: sel.fields.clone(),
                sync_mode,
                cursor_field,
                primary_key,
                write_mode,
                schema,
            });
        }
        if streams.is_empty() {
            return Err(self.error("no stream to sync: the source offers none".into()));
        }
        Ok(ConfiguredCatalog { streams })
    }

    /// Load both connectors, check their configs and roles, and resolve the
    /// catalog; nothing is read or written.
    pub async fn prepare(&self, runtime: &Runtime) -> Result<Prepared> {
        let (source, destination) = tokio::try_join!(
            runtime.load(&self.source.component),
            runtime.load(&self.destination.component)
        )?;
        if !source.roles().contains(&Role::Source) {
            return Err(Error::WrongRole {
                connector: source.name().into(),
                expected: "source",
            });
        }
        if !destination.roles().contains(&Role::Destination) {
            return Err(Error::WrongRole {
                connector: destination.name().into(),
                expected: "destination",
            });
        }
        let src_box = self.source.sandbox();
        let dst_box = self.destination.sandbox();
        let dst_spec = destination.spec(&dst_box).await?;
        destination
            .validate_config(&dst_box, &self.destination.config)
            .await?;
        let catalog = source.discover(&src_box, &self.source.config).await?;
        let configured = self.configure(&catalog, &dst_spec)?;
        Ok(Prepared {
            source,
            destination,
            catalog: configured,
        })
    }

    /// Run the pipeline once, with state in `store`.
    pub async fn run(
        &self,
        runtime: &Runtime,
        store: &StateStore,
        opts: &RunOptions,
    ) -> Result<RunSummary> {
        let prepared = self.prepare(runtime).await?;
        self.run_prepared(prepared, store, opts).await
    }

    /// Run with connectors and catalog from [`Self::prepare`].
    pub async fn run_prepared(
        &self,
        prepared: Prepared,
        store: &StateStore,
        opts: &RunOptions,
    ) -> Result<RunSummary> {
        let Prepared {
            source,
            destination,
            catalog,
        } = prepared;
        let (src, dst) = (&self.source, &self.destination);
        self.run_with(&catalog, store, opts, async |state: Vec<StreamState>| {
            // The reader first: a source that cannot start must not cost the
            // destination anything (an overwrite stream is cleared when its
            // writer opens).
            let reader = source
                .read(&src.sandbox(), &src.config, &catalog, &state)
                .await?;
            let writer = destination
                .write(&dst.sandbox(), &dst.config, &catalog)
                .await?;
            Ok((reader, writer))
        })
        .await
    }

    /// Run `catalog` between any [`BatchSource`] and [`BatchSink`] that
    /// `open` returns for the saved state, with this pipeline's state,
    /// history and commit rule. Embedders use it for endpoints of their own;
    /// the benchmarks use it to run connectors built natively through the
    /// very same code as the sandboxed ones.
    pub async fn run_with<R, W>(
        &self,
        catalog: &ConfiguredCatalog,
        store: &StateStore,
        opts: &RunOptions,
        open: impl AsyncFnOnce(Vec<StreamState>) -> Result<(R, W)>,
    ) -> Result<RunSummary>
    where
        R: BatchSource,
        W: BatchSink,
    {
        let started = Instant::now();
        let selected: Vec<&str> = catalog.streams.iter().map(|s| s.name.as_str()).collect();
        let state: Vec<_> = store
            .stream_states(&self.name)?
            .into_iter()
            .filter(|s| {
                catalog
                    .stream(&s.stream)
                    .is_some_and(|c| c.sync_mode == SyncMode::Incremental)
            })
            .collect();
        let run_id = store.start_run(&self.name)?;
        let mut record = RunRecord {
            id: run_id,
            started_at_ms: now_ms(),
            ended_at_ms: None,
            status: "running".into(),
            streams: selected
                .iter()
                .map(|s| StreamRun {
                    stream: s.to_string(),
                    status: "incomplete".into(),
                    ..StreamRun::default()
                })
                .collect(),
            error: None,
        };
        let outcome = match open(state).await {
            Ok((reader, writer)) => {
                self.transfer(reader, writer, catalog, store, run_id, &mut record, opts)
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = &outcome {
            record.error = Some(e.to_string());
            for s in record
                .streams
                .iter_mut()
                .filter(|s| s.status != "succeeded")
            {
                s.status = "failed".into();
            }
        }
        let failed_streams = record.streams.iter().any(|s| s.status != "succeeded");
        record.status = if outcome.is_ok() && !failed_streams {
            "succeeded".into()
        } else {
            if record.error.is_none() {
                let failed: Vec<&str> = record
                    .streams
                    .iter()
                    .filter(|s| s.status != "succeeded")
                    .map(|s| s.stream.as_str())
                    .collect();
                record.error = Some(format!("streams did not finish: {}", failed.join(", ")));
            }
            "failed".into()
        };
        record.ended_at_ms = Some(now_ms());
        store.finish_run(&self.name, &record)?;
        Ok(RunSummary {
            pipeline: self.name.clone(),
            run: record,
            duration_ms: started.elapsed().as_millis() as u64,
            state_store: store.path().to_string(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn transfer<R: BatchSource, W: BatchSink>(
        &self,
        mut reader: R,
        mut writer: W,
        catalog: &ConfiguredCatalog,
        store: &StateStore,
        run_id: u64,
        record: &mut RunRecord,
        opts: &RunOptions,
    ) -> Result<()> {
        let source_name = reader.name().to_string();
        let (tx, mut rx) = tokio::sync::mpsc::channel(self.options.buffer_batches.clamp(1, 4096));
        let producer = tokio::spawn(async move {
            loop {
                match reader.next().await {
                    Ok(Some(messages)) => {
                        if tx.send(Ok(messages)).await.is_err() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
            if let Err(e) = reader.close().await {
                let _ = tx.send(Err(e)).await;
            }
        });

        let ops: BTreeMap<&str, Operation> = catalog
            .streams
            .iter()
            .map(|s| {
                let op = match s.write_mode {
                    WriteMode::Overwrite | WriteMode::Append => Operation::Insert,
                    WriteMode::AppendDedup | WriteMode::History => Operation::Upsert,
                };
                (s.name.as_str(), op)
            })
            .collect();
        let index: BTreeMap<String, usize> = record
            .streams
            .iter()
            .enumerate()
            .map(|(i, s)| (s.stream.clone(), i))
            .collect();
        let interval = Duration::from_millis(self.options.commit_interval_ms);
        let mut pending: BTreeMap<String, Value> = BTreeMap::new();
        let mut last_commit = Instant::now();
        let report = |s: &StreamRun, done: bool| {
            if let Some(cb) = &opts.progress {
                cb(&Progress {
                    stream: s.stream.clone(),
                    records: s.records,
                    bytes: s.bytes,
                    done,
                });
            }
        };
        let mut failure: Option<Error> = None;
        let mut destination_failed = false;
        'receive: while let Some(item) = rx.recv().await {
            let messages = match item {
                Ok(m) => m,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            for message in messages {
                let stream_of = |name: &str| {
                    index.get(name).copied().ok_or_else(|| Error::Protocol {
                        connector: source_name.clone(),
                        call: crate::Call::Next,
                        message: format!(
                            "it sent data for stream `{name}`, which is not in the catalog"
                        ),
                    })
                };
                match message {
                    Message::Records(batch) => {
                        let i = match stream_of(&batch.stream) {
                            Ok(i) => i,
                            Err(e) => {
                                failure = Some(e);
                                break 'receive;
                            }
                        };
                        let s = &mut record.streams[i];
                        s.records += u64::from(batch.count);
                        s.bytes += batch.data.len() as u64;
                        let op = ops[batch.stream.as_str()];
                        if let Err(e) = writer.write(batch, op).await {
                            destination_failed = true;
                            failure = Some(e);
                            break 'receive;
                        }
                        report(&record.streams[i], false);
                    }
                    Message::State(s) => {
                        if let Err(e) = stream_of(&s.stream) {
                            failure = Some(e);
                            break 'receive;
                        }
                        pending.insert(s.stream, s.state);
                    }
                    Message::Status(name, status) => {
                        if let Ok(i) = stream_of(&name) {
                            let s = &mut record.streams[i];
                            match status {
                                StreamStatus::Complete if s.error.is_none() => {
                                    s.status = "succeeded".into();
                                    report(s, true);
                                }
                                StreamStatus::Incomplete if s.error.is_none() => {
                                    s.status = "incomplete".into()
                                }
                                _ => {}
                            }
                        }
                    }
                    Message::StreamError(e) => {
                        let name = e.stream.clone().unwrap_or_default();
                        tracing::error!(connector = %source_name, stream = %name, "stream failed: {e}");
                        match stream_of(&name) {
                            Ok(i) => {
                                record.streams[i].status = "failed".into();
                                record.streams[i].error = Some(e.to_string());
                            }
                            Err(_) => {
                                failure = Some(Error::Connector {
                                    connector: source_name.clone(),
                                    call: crate::Call::Next,
                                    error: e,
                                });
                                break 'receive;
                            }
                        }
                    }
                }
            }
            if !pending.is_empty() && last_commit.elapsed() >= interval {
                if let Err(e) = commit(&mut writer, store, &self.name, run_id, &mut pending).await {
                    destination_failed = true;
                    failure = Some(e);
                    break;
                }
                last_commit = Instant::now();
            }
        }
        drop(rx);
        let _ = producer.await;
        // Everything the destination accepted so far is covered by `pending`:
        // commit it even when the run failed, so that progress is kept.
        if !destination_failed {
            match commit(&mut writer, store, &self.name, run_id, &mut pending).await {
                Ok(()) => {
                    let _ = writer.close().await;
                }
                Err(e) => {
                    // Nothing of this run past the last checkpoint is durable.
                    for s in record
                        .streams
                        .iter_mut()
                        .filter(|s| s.status == "succeeded")
                    {
                        s.status = "incomplete".into();
                    }
                    if let Some(first) = &failure {
                        tracing::error!("run failed: {first}");
                    }
                    failure = Some(e);
                }
            }
        }
        if let Some(e) = failure {
            for s in record
                .streams
                .iter_mut()
                .filter(|s| s.status == "incomplete")
            {
                s.status = "failed".into();
            }
            return Err(e);
        }
        Ok(())
    }
}

/// Commit the destination, then persist the checkpoints it covers.
async fn commit<W: BatchSink>(
    writer: &mut W,
    store: &StateStore,
    pipeline: &str,
    run_id: u64,
    pending: &mut BTreeMap<String, Value>,
) -> Result<()> {
    writer.commit().await?;
    store.commit_checkpoint_for_run(pipeline, run_id, pending)?;
    tracing::debug!(
        pipeline,
        streams = pending.len(),
        "checkpoint persisted after destination commit"
    );
    pending.clear();
    Ok(())
}

/// Where a run's messages come from: a sandboxed [`SourceReader`], or
/// anything else that yields batches and state checkpoints.
pub trait BatchSource: Send + 'static {
    /// Who this is, for errors.
    fn name(&self) -> &str;
    /// The next messages, `None` at the end.
    fn next(&mut self) -> impl Future<Output = Result<Option<Vec<Message>>>> + Send;
    /// Release the reader.
    fn close(self) -> impl Future<Output = Result<()>> + Send;
}

/// Where a run's batches go: a sandboxed [`DestinationWriter`], or
/// anything else that can write and commit durably.
pub trait BatchSink {
    /// Apply one batch.
    fn write(&mut self, batch: Batch, op: Operation) -> impl Future<Output = Result<()>>;
    /// Make everything written so far durable.
    fn commit(&mut self) -> impl Future<Output = Result<()>>;
    /// Release the writer (without committing).
    fn close(self) -> impl Future<Output = Result<()>>;
}

impl BatchSource for SourceReader {
    fn name(&self) -> &str {
        self.connector()
    }
    async fn next(&mut self) -> Result<Option<Vec<Message>>> {
        SourceReader::next(self).await
    }
    async fn close(self) -> Result<()> {
        SourceReader::close(self).await
    }
}

impl BatchSink for DestinationWriter {
    async fn write(&mut self, batch: Batch, op: Operation) -> Result<()> {
        DestinationWriter::write(self, batch, op).await
    }
    async fn commit(&mut self) -> Result<()> {
        DestinationWriter::commit(self).await
    }
    async fn close(self) -> Result<()> {
        DestinationWriter::close(self).await
    }
}

/// Connectors and catalog of a pipeline, ready to run.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The source.
    pub source: Connector,
    /// The destination.
    pub destination: Connector,
    /// The streams to sync.
    pub catalog: ConfiguredCatalog,
}
