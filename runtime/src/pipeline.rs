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
use crate::sandbox::{DirGrant, Grants, Limits, Sandbox};
use crate::state::{RunRecord, StateStore, StreamRun, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_protocol::{
    Batch, Catalog, ConfiguredCatalog, ConfiguredStream, Message, Operation, Role, Spec,
    StreamState, StreamStatus, SyncMode, WriteMode,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One end of a pipeline, as written in the pipeline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// The component file (relative to the pipeline file).
    pub component: PathBuf,
    /// The connector's config; strings may use `${ENV_VAR}`.
    #[serde(default = "empty_object")]
    pub config: Value,
    /// Directories granted (host paths relative to the pipeline file).
    #[serde(default)]
    pub dirs: Vec<DirGrant>,
    /// `host:port` endpoints granted.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Environment variables granted, with values (`${VAR}` allowed).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Resource limits.
    #[serde(default)]
    pub limits: Limits,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

impl Endpoint {
    /// The sandbox this endpoint asks for.
    pub fn sandbox(&self) -> Sandbox {
        Sandbox {
            grants: Grants {
                dirs: self.dirs.clone(),
                hosts: self.hosts.clone(),
                env: self.env.clone(),
            },
            limits: self.limits,
        }
    }
}

/// A stream as the pipeline file selects it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSelection {
    /// Stream name, as the source discovers it.
    pub name: String,
    /// `full_refresh` or `incremental` (default: incremental where the
    /// stream has a default cursor, else full refresh).
    #[serde(default)]
    pub sync_mode: Option<SyncMode>,
    /// Cursor for incremental syncs (default: the stream's default cursor).
    #[serde(default)]
    pub cursor_field: Option<String>,
    /// `overwrite`, `append`, `append_dedup` or `history` (default: append
    /// for incremental, overwrite for full refresh).
    #[serde(default)]
    pub write_mode: Option<WriteMode>,
    /// Fields to keep (default: all).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Primary key (default: the stream's).
    #[serde(default)]
    pub primary_key: Vec<String>,
}

/// Run options of a pipeline file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// Commit the destination and persist state at most this often (ms);
    /// a run always commits at its end.
    pub commit_interval_ms: u64,
    /// Batches in flight between source and destination.
    pub buffer_batches: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            commit_interval_ms: 5_000,
            buffer_batches: 16,
        }
    }
}

/// The pipeline file, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    /// Name of the pipeline: the key of its state (default: the file stem).
    #[serde(default)]
    pub name: Option<String>,
    /// The state store (default: `.sluice/state.redb` beside the file).
    #[serde(default)]
    pub state: Option<PathBuf>,
    /// Where records come from.
    pub source: Endpoint,
    /// Where records go.
    pub destination: Endpoint,
    /// The streams to sync (default: every stream the source offers).
    #[serde(default)]
    pub streams: Vec<StreamSelection>,
    /// Run options.
    #[serde(default)]
    pub options: Options,
}

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

/// Replace `${NAME}` in `text` with the environment variable `NAME`.
fn substitute(text: &str, key: &str, file: &str) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(Error::Pipeline {
                file: file.into(),
                message: format!("`{key}`: `${{` without a closing `}}`"),
            });
        };
        let var = &after[..end];
        let value = std::env::var(var).map_err(|_| Error::Pipeline {
            file: file.into(),
            message: format!(
                "`{key}` uses ${{{var}}}, but the environment variable {var} is not set"
            ),
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn substitute_json(value: &mut Value, key: &str, file: &str) -> Result<()> {
    match value {
        Value::String(s) => *s = substitute(s, key, file)?,
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                substitute_json(v, &format!("{key}[{i}]"), file)?;
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                substitute_json(v, &format!("{key}.{k}"), file)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn resolve_endpoint(mut e: Endpoint, which: &str, dir: &Path, file: &str) -> Result<Endpoint> {
    e.component = dir.join(&e.component);
    substitute_json(&mut e.config, &format!("{which}.config"), file)?;
    for (i, d) in e.dirs.iter_mut().enumerate() {
        let host = substitute(
            &d.host.to_string_lossy(),
            &format!("{which}.dirs[{i}].host"),
            file,
        )?;
        d.host = dir.join(host);
        if !d.guest.starts_with('/') {
            return Err(Error::Pipeline {
                file: file.into(),
                message: format!(
                    "`{which}.dirs[{i}].guest` must be an absolute path like \"/data\", not `{}`",
                    d.guest
                ),
            });
        }
    }
    for (i, h) in e.hosts.iter_mut().enumerate() {
        *h = substitute(h, &format!("{which}.hosts[{i}]"), file)?;
    }
    for (k, v) in e.env.iter_mut() {
        *v = substitute(v, &format!("{which}.env.{k}"), file)?;
    }
    Ok(e)
}

impl Pipeline {
    /// Read and resolve a pipeline file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Pipeline {
            file: file.clone(),
            message: format!("cannot read it: {e}"),
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::from_toml(&text, dir, &file, &stem)
    }

    /// Parse pipeline TOML; relative paths resolve against `dir`.
    pub fn from_toml(text: &str, dir: &Path, file: &str, default_name: &str) -> Result<Self> {
        let parsed: PipelineFile = toml::from_str(text).map_err(|e| Error::Pipeline {
            file: file.into(),
            message: e.to_string().trim_end().to_string(),
        })?;
        if !parsed.source.config.is_object() || !parsed.destination.config.is_object() {
            return Err(Error::Pipeline {
                file: file.into(),
                message: "`source.config` and `destination.config` must be tables".into(),
            });
        }
        let name = parsed.name.unwrap_or_else(|| default_name.to_string());
        if name.is_empty() {
            return Err(Error::Pipeline {
                file: file.into(),
                message: "`name` must not be empty".into(),
            });
        }
        let state = dir.join(
            parsed
                .state
                .unwrap_or_else(|| PathBuf::from(".sluice/state.redb")),
        );
        Ok(Pipeline {
            name,
            file: file.into(),
            source: resolve_endpoint(parsed.source, "source", dir, file)?,
            destination: resolve_endpoint(parsed.destination, "destination", dir, file)?,
            streams: parsed.streams,
            options: parsed.options,
            state,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[source]
component = "a.wasm"
config = { count = 5, token = "${SLUICE_TEST_TOKEN}" }

[destination]
component = "b.wasm"
dirs = [{ host = "out", guest = "/out", write = true }]
"#;

    #[test]
    fn paths_resolve_and_env_substitutes() {
        // SAFETY: tests in this module are the only readers of this variable.
        unsafe { std::env::set_var("SLUICE_TEST_TOKEN", "abc") };
        let p = Pipeline::from_toml(MINIMAL, Path::new("/p"), "x.toml", "x").unwrap();
        assert_eq!(p.name, "x");
        assert_eq!(p.source.component, PathBuf::from("/p/a.wasm"));
        assert_eq!(p.source.config["token"], "abc");
        assert_eq!(p.destination.dirs[0].host, PathBuf::from("/p/out"));
        assert_eq!(p.state_path(), PathBuf::from("/p/.sluice/state.redb"));
    }

    #[test]
    fn unknown_keys_and_missing_env_are_named() {
        let bad = MINIMAL.replace("[destination]", "[destination]\ncomponnt = \"x\"");
        let e = Pipeline::from_toml(&bad, Path::new("/p"), "x.toml", "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.toml") && e.contains("componnt"), "{e}");
        let e = Pipeline::from_toml(
            &MINIMAL.replace("SLUICE_TEST_TOKEN", "SLUICE_NOT_SET_ANYWHERE"),
            Path::new("/p"),
            "x.toml",
            "x",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("source.config.token") && e.contains("SLUICE_NOT_SET_ANYWHERE"),
            "{e}"
        );
    }
}
