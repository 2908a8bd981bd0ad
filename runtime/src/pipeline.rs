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
use backon::BackoffBuilder;
use serde::{Deserialize, Serialize};
use serde_json::Value;
pub use sluice_manifest::{Endpoint, Manifest, Options, PipelineFile, StreamSelection};
use sluice_protocol::{
    Batch, Catalog, ConfiguredCatalog, ConfiguredStream, ErrorKind, Message, Operation, Role, Spec,
    StreamState, StreamStatus, SyncMode, WriteMode,
};
use std::collections::{BTreeMap, BTreeSet};
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

    /// Load both connectors, check their roles and configs, and resolve the
    /// catalog; nothing is read or written. Errors name the pipeline file
    /// and the key they are about (`source.component`, `destination.config`).
    pub async fn prepare(&self, runtime: &Runtime) -> Result<Prepared> {
        let at = |key: &str| {
            let file = self.file.clone();
            let key = key.to_string();
            move |e: Error| Error::InPipeline {
                file,
                key,
                source: Box::new(e),
            }
        };
        let load = async |key: &str, endpoint: &Endpoint, role: Role| {
            let c = runtime.load(&endpoint.component).await.map_err(at(key))?;
            if !c.roles().contains(&role) {
                let expected = match role {
                    Role::Source => "source",
                    Role::Destination => "destination",
                };
                return Err(at(key)(Error::WrongRole {
                    connector: c.name().into(),
                    path: c.path().to_path_buf(),
                    expected,
                }));
            }
            Ok(c)
        };
        let (source, destination) = tokio::try_join!(
            load("source.component", &self.source, Role::Source),
            load(
                "destination.component",
                &self.destination,
                Role::Destination
            ),
        )?;
        let src_box = self.source.sandbox();
        let dst_box = self.destination.sandbox();
        let dst_spec = destination
            .spec(&dst_box)
            .await
            .map_err(at("destination.component"))?;
        destination
            .validate_config(&dst_box, &self.destination.config)
            .await
            .map_err(at("destination.config"))?;
        source
            .validate_config(&src_box, &self.source.config)
            .await
            .map_err(at("source.config"))?;
        let catalog = source
            .discover(&src_box, &self.source.config)
            .await
            .map_err(at("source"))?;
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
        self.run_with(
            &catalog,
            store,
            opts,
            async |catalog: &ConfiguredCatalog, state: Vec<StreamState>| {
                // The reader first: a source that cannot start must not cost the
                // destination anything (an overwrite stream is cleared when its
                // writer opens).
                let reader = source
                    .read(&src.sandbox(), &src.config, catalog, &state)
                    .await?;
                let writer = destination
                    .write(&dst.sandbox(), &dst.config, catalog)
                    .await?;
                Ok((reader, writer))
            },
        )
        .await
    }

    /// Run `catalog` between any [`BatchSource`] and [`BatchSink`] that
    /// `open` returns (for the streams of an attempt and their saved
    /// state), with this pipeline's state, history, commit rule and
    /// retries. Embedders use it for endpoints of their own; the benchmarks
    /// use it to run connectors built natively through the very same code
    /// as the sandboxed ones.
    ///
    /// Every stream runs even when another fails; the run then ends
    /// `failed` with a per-stream summary. A `transient` error (of the whole
    /// attempt or of a stream) starts another attempt for the streams not
    /// yet done, from their last persisted checkpoint, after an exponential
    /// backoff with jitter, at most `options.retries` times.
    pub async fn run_with<R, W>(
        &self,
        catalog: &ConfiguredCatalog,
        store: &StateStore,
        opts: &RunOptions,
        mut open: impl AsyncFnMut(&ConfiguredCatalog, Vec<StreamState>) -> Result<(R, W)>,
    ) -> Result<RunSummary>
    where
        R: BatchSource,
        W: BatchSink,
    {
        let started = Instant::now();
        let run_id = store.start_run(&self.name)?;
        let mut record = RunRecord {
            id: run_id,
            started_at_ms: now_ms(),
            ended_at_ms: None,
            status: "running".into(),
            streams: catalog
                .streams
                .iter()
                .map(|s| StreamRun {
                    stream: s.name.clone(),
                    status: "incomplete".into(),
                    ..StreamRun::default()
                })
                .collect(),
            attempts: 0,
            error: None,
        };
        let mut delays = backon::ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(self.options.retry_initial_ms))
            .with_max_delay(Duration::from_millis(
                self.options.retry_max_ms.max(self.options.retry_initial_ms),
            ))
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(self.options.retries as usize)
            .build();
        // Streams that failed for good (not retried).
        let mut settled: BTreeSet<String> = BTreeSet::new();
        let mut outcome: Option<Error>;
        loop {
            record.attempts += 1;
            let remaining = ConfiguredCatalog {
                streams: catalog
                    .streams
                    .iter()
                    .filter(|s| {
                        !settled.contains(&s.name)
                            && record
                                .streams
                                .iter()
                                .any(|r| r.stream == s.name && r.status != "succeeded")
                    })
                    .cloned()
                    .collect(),
            };
            for r in record.streams.iter_mut() {
                if remaining.stream(&r.stream).is_some() {
                    r.status = "incomplete".into();
                    r.error = None;
                }
            }
            let state: Vec<_> = store
                .stream_states(&self.name)?
                .into_iter()
                .filter(|s| {
                    remaining
                        .stream(&s.stream)
                        .is_some_and(|c| c.sync_mode == SyncMode::Incremental)
                })
                .collect();
            tracing::debug!(
                pipeline = %self.name,
                attempt = record.attempts,
                streams = remaining.streams.len(),
                "attempt begins: reading from the source"
            );
            let attempt = match open(&remaining, state).await {
                Ok((reader, writer)) => {
                    self.transfer(reader, writer, &remaining, store, run_id, &mut record, opts)
                        .await
                }
                Err(e) => Attempt {
                    error: Some(e),
                    ..Attempt::default()
                },
            };
            settled.extend(attempt.permanent);
            outcome = attempt.error;
            if let Some(e) = &outcome {
                for s in record
                    .streams
                    .iter_mut()
                    .filter(|s| s.status == "incomplete")
                {
                    s.status = "failed".into();
                    s.error.get_or_insert_with(|| e.to_string());
                }
            }
            let retry = match &outcome {
                Some(e) => is_transient(e),
                None => !attempt.transient.is_empty(),
            };
            if !retry {
                break;
            }
            let Some(delay) = delays.next() else {
                tracing::warn!(
                    pipeline = %self.name,
                    "giving up after {} attempts (options.retries = {})",
                    record.attempts,
                    self.options.retries
                );
                break;
            };
            let why = match &outcome {
                Some(e) => e.to_string(),
                None => format!(
                    "transient errors in {}",
                    attempt.transient.into_iter().collect::<Vec<_>>().join(", ")
                ),
            };
            tracing::warn!(
                pipeline = %self.name,
                attempt = record.attempts,
                "retrying in {} ms from the last checkpoint: {why}",
                delay.as_millis()
            );
            tokio::time::sleep(delay).await;
        }
        let failed: Vec<&StreamRun> = record
            .streams
            .iter()
            .filter(|s| s.status != "succeeded")
            .collect();
        if outcome.is_none() && failed.is_empty() {
            record.status = "succeeded".into();
        } else {
            record.status = "failed".into();
            record.error = Some(match &outcome {
                Some(e) => e.to_string(),
                None => format!(
                    "{} of {} streams failed: {}",
                    failed.len(),
                    record.streams.len(),
                    failed
                        .iter()
                        .map(|s| s.stream.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        record.ended_at_ms = Some(now_ms());
        store.finish_run(&self.name, &record)?;
        Ok(RunSummary {
            pipeline: self.name.clone(),
            run: record,
            duration_ms: started.elapsed().as_millis() as u64,
            state_store: store.path().to_string(),
        })
    }

    /// One attempt: move every batch of `catalog` from `reader` to `writer`,
    /// committing on the interval and at the end.
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
    ) -> Attempt {
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
            .filter(|(_, s)| catalog.stream(&s.stream).is_some())
            .map(|(i, s)| (s.stream.clone(), i))
            .collect();
        let interval = Duration::from_millis(self.options.commit_interval_ms);
        let mut pending: BTreeMap<String, Value> = BTreeMap::new();
        // Streams the source finished whose records are not yet committed.
        let mut finished: BTreeSet<usize> = BTreeSet::new();
        let mut attempt = Attempt::default();
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
        // Fail one stream: later data and checkpoints of it are ignored, the
        // others go on.
        let fail_stream = |record: &mut RunRecord,
                           attempt: &mut Attempt,
                           finished: &mut BTreeSet<usize>,
                           i: usize,
                           transient: bool,
                           why: String| {
            let s = &mut record.streams[i];
            tracing::error!(pipeline = %self.name, stream = %s.stream, "stream failed: {why}");
            s.status = "failed".into();
            s.error = Some(why);
            finished.remove(&i);
            if transient {
                attempt.transient.insert(s.stream.clone());
            } else {
                attempt.permanent.insert(s.stream.clone());
            }
        };
        let mut destination_failed = false;
        'receive: while let Some(item) = rx.recv().await {
            let messages = match item {
                Ok(m) => m,
                Err(e) => {
                    attempt.error = Some(e);
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
                                attempt.error = Some(e);
                                break 'receive;
                            }
                        };
                        if record.streams[i].status == "failed" {
                            continue;
                        }
                        if let Err(e) = sluice_protocol::batch::check(&batch) {
                            let e = Error::Protocol {
                                connector: source_name.clone(),
                                call: crate::Call::Next,
                                message: format!(
                                    "a batch of stream `{}` is invalid: {e}",
                                    batch.stream
                                ),
                            };
                            fail_stream(
                                record,
                                &mut attempt,
                                &mut finished,
                                i,
                                false,
                                e.to_string(),
                            );
                            continue;
                        }
                        let (count, bytes) = (u64::from(batch.count), batch.data.len() as u64);
                        let op = ops[batch.stream.as_str()];
                        if let Err(e) = writer.write(batch, op).await {
                            match e.connector_error() {
                                // The destination refused this batch but is
                                // alive: fail the stream, keep the others.
                                Some(ce)
                                    if matches!(
                                        ce.kind,
                                        ErrorKind::Data | ErrorKind::Transient
                                    ) =>
                                {
                                    let transient = ce.kind == ErrorKind::Transient;
                                    fail_stream(
                                        record,
                                        &mut attempt,
                                        &mut finished,
                                        i,
                                        transient,
                                        e.to_string(),
                                    );
                                    continue;
                                }
                                _ => {
                                    destination_failed = true;
                                    attempt.error = Some(e);
                                    break 'receive;
                                }
                            }
                        }
                        let s = &mut record.streams[i];
                        s.records += count;
                        s.bytes += bytes;
                        report(s, false);
                    }
                    Message::State(st) => {
                        let i = match stream_of(&st.stream) {
                            Ok(i) => i,
                            Err(e) => {
                                attempt.error = Some(e);
                                break 'receive;
                            }
                        };
                        if record.streams[i].status != "failed" {
                            pending.insert(st.stream, st.state);
                        }
                    }
                    Message::Status(name, status) => {
                        if let Ok(i) = stream_of(&name)
                            && record.streams[i].status != "failed"
                            && status == StreamStatus::Complete
                        {
                            finished.insert(i);
                        }
                    }
                    Message::StreamError(e) => {
                        let name = e.stream.clone().unwrap_or_default();
                        match stream_of(&name) {
                            Ok(i) => {
                                let transient = e.kind == ErrorKind::Transient;
                                let why = Error::Connector {
                                    connector: source_name.clone(),
                                    call: crate::Call::Next,
                                    error: e,
                                };
                                fail_stream(
                                    record,
                                    &mut attempt,
                                    &mut finished,
                                    i,
                                    transient,
                                    why.to_string(),
                                );
                            }
                            Err(_) => {
                                attempt.error = Some(Error::Connector {
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
            if (!pending.is_empty() || !finished.is_empty()) && last_commit.elapsed() >= interval {
                if let Err(e) = commit(&mut writer, store, &self.name, run_id, &mut pending).await {
                    destination_failed = true;
                    attempt.error = Some(e);
                    break;
                }
                succeed(record, &mut finished, &report);
                last_commit = Instant::now();
            }
        }
        // The reader said it is done (its channel closed with no error):
        // every stream that did not fail is complete, said so or not.
        if rx.is_closed() && rx.is_empty() && attempt.error.is_none() && !destination_failed {
            for (i, s) in record.streams.iter().enumerate() {
                if index.values().any(|&x| x == i) && s.status == "incomplete" {
                    finished.insert(i);
                }
            }
        }
        drop(rx);
        let _ = producer.await;
        // Everything the destination accepted so far is covered by `pending`:
        // commit it even when the attempt failed, so that progress is kept.
        if !destination_failed {
            match commit(&mut writer, store, &self.name, run_id, &mut pending).await {
                Ok(()) => {
                    succeed(record, &mut finished, &report);
                    let _ = writer.close().await;
                }
                Err(e) => {
                    if let Some(first) = &attempt.error {
                        tracing::error!("run failed: {first}");
                    }
                    attempt.error = Some(e);
                }
            }
        }
        attempt
    }
}

/// What one attempt of a run left behind.
#[derive(Default)]
struct Attempt {
    /// What stopped the whole attempt, if anything did.
    error: Option<Error>,
    /// Streams that failed with a transient error (retried).
    transient: BTreeSet<String>,
    /// Streams that failed for good.
    permanent: BTreeSet<String>,
}

/// Whether `e` is worth another attempt.
fn is_transient(e: &Error) -> bool {
    e.connector_error()
        .is_some_and(|ce| ce.kind == ErrorKind::Transient)
}

/// Streams whose records are all committed now succeed.
fn succeed(
    record: &mut RunRecord,
    finished: &mut BTreeSet<usize>,
    report: &impl Fn(&StreamRun, bool),
) {
    for i in std::mem::take(finished) {
        let s = &mut record.streams[i];
        s.status = "succeeded".into();
        report(s, true);
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
    tracing::debug!(pipeline, "destination commit begins");
    writer.commit().await?;
    tracing::debug!(
        pipeline,
        streams = pending.len(),
        "destination committed; persisting checkpoints"
    );
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
