//! Pipelines: a source, a destination, the streams between them.
//!
//! A run reads batches from the source on one task and writes them to the
//! destination on another, through a bounded channel. State checkpoints
//! from the source are held back until the destination's `commit()` has
//! returned for every record before them; then they are persisted in one
//! state-store transaction. So the persisted state is never ahead of the
//! destination: kill the process at any point and the next run resumes from
//! the last persisted checkpoint (at-least-once).
//!
//! The run is built of stages, each in its own module:
//! - [`configure`](configure()) turns stream selections into the configured catalog;
//! - `prepare` loads and checks both connectors ([`Pipeline::prepare`]);
//! - `run` makes attempts and retries them ([`Pipeline::run_with`]);
//! - `shares` deals an attempt's streams, and the partitions of the
//!   streams the source can split, out to the readers that read at once
//!   (`options.parallelism`, by default one per core but one);
//! - `transfer` is one attempt: readers -> channel -> check
//!   ([`check_batch`]) -> write -> commit, with every stream's counts,
//!   outcome and pending checkpoint in one ledger;
//! - `events` tells subscribers (the progress callback) what happened.

mod chain;
mod check;
mod configure;
mod endpoint;
mod events;
mod ledger;
mod prepare;
mod reshape;
mod run;
mod shares;
mod transfer;

use crate::engine::Runtime;
use crate::error::{Error, Result};
use crate::state::{RunRecord, RunStatus, StateStore};
pub use chain::ComponentStep;
pub use check::{BatchFault, check_batch};
pub use configure::{SelectionError, configure};
pub use endpoint::{BatchSink, BatchSource, Reader, Writer};
pub use events::{Progress, ProgressFn, RunOptions, Stop};
pub use prepare::{Prepared, Side};
pub use reshape::{ShapeError, Stages, StreamShape};
use serde::{Deserialize, Serialize};
pub use shares::{
    PARTITIONS_KEY, Parallel, Plan, Share, partition_states, partitioned_state, plan,
};
pub use sluice_manifest::{
    Action, CatchUp, Endpoint, Manifest, Options, PipelineFile, Policy, PolicyOverride, Schedule,
    ScheduleSpec, StreamSelection,
};
use sluice_protocol::{Catalog, ConfiguredCatalog, Spec};
use std::path::{Path, PathBuf};

/// The schema each stream accepted last: the newest run that recorded one
/// (the history is read newest first, only as far as that run).
fn store_known(
    store: &StateStore,
    pipeline: &str,
    mut shapes: Vec<StreamShape>,
    registry: &crate::Registry,
) -> Result<Vec<StreamShape>> {
    let mut last: Vec<Option<String>> = vec![None; shapes.len()];
    store.runs_while(pipeline, |run| {
        for (shape, last) in shapes.iter().zip(&mut last) {
            if last.is_none() {
                *last = run
                    .streams
                    .iter()
                    .find(|s| s.stream == shape.stream)
                    .and_then(|s| s.schema.clone());
            }
        }
        last.iter().any(Option::is_none)
    })?;
    for (shape, last) in shapes.iter_mut().zip(last) {
        if let Some(id) = last {
            shape.known =
                registry
                    .fetch(&sluice_schema::SchemaId(id))
                    .map_err(|e| Error::Pipeline {
                        file: pipeline.to_string(),
                        message: e.to_string(),
                    })?;
        }
    }
    Ok(shapes)
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
    /// The schema evolution policy of every stream (`[schema]`).
    pub schema: Policy,
    /// When `sluice serve` runs it (`[schedule]`); none: on demand only.
    pub schedule: Option<Schedule>,
    state: PathBuf,
    /// Where process endpoints run: the pipeline file's directory.
    dir: PathBuf,
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
        self.run.status == RunStatus::Succeeded
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
            schema: m.schema,
            schedule: m.schedule,
            state: m.state,
            dir: m.dir,
        }
    }

    /// Where the pipeline's state store lives.
    pub fn state_path(&self) -> PathBuf {
        self.state.clone()
    }

    /// The configured catalog: the selected streams checked against what
    /// the source offers and the destination accepts.
    pub fn configure(&self, catalog: &Catalog, destination: &Spec) -> Result<ConfiguredCatalog> {
        configure(&self.streams, catalog, Some(destination)).map_err(|e| Error::Pipeline {
            file: self.file.clone(),
            message: e.to_string(),
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

    /// Run the pipeline once in the background, on a thread of the
    /// current tokio runtime's blocking pool (its connectors still run on
    /// the runtime's workers): for services that start runs from request
    /// handlers. Must be called within a tokio runtime.
    pub fn spawn(
        self: &std::sync::Arc<Self>,
        runtime: &Runtime,
        store: StateStore,
        opts: RunOptions,
    ) -> tokio::task::JoinHandle<Result<RunSummary>> {
        let (pipeline, runtime) = (self.clone(), runtime.clone());
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || handle.block_on(pipeline.run(&runtime, &store, &opts)))
    }

    /// Run with connectors and catalog from [`Self::prepare`].
    pub async fn run_prepared(
        &self,
        prepared: Prepared,
        store: &StateStore,
        opts: &RunOptions,
    ) -> Result<RunSummary> {
        let parallel = self.parallel(&prepared).await?;
        let Prepared {
            source,
            destination,
            catalog,
            shapes,
            ..
        } = prepared;
        let (src, dst) = (&self.source, &self.destination);
        let registry = crate::registry::StoreRegistry::registry(store, &self.name);
        let stages = Stages {
            shapes: store_known(store, &self.name, shapes, &registry)?,
            registry: registry.clone(),
        };
        self.run_with(
            &catalog,
            &stages,
            store,
            opts,
            &parallel,
            async |catalog: &ConfiguredCatalog, shares: &[Share]| {
                // The readers first: a source that cannot start must not cost the
                // destination anything (an overwrite stream is cleared when its
                // writer opens).
                let readers = match &source {
                    Side::Component(c) => {
                        let sandbox = reader_sandbox(src, shares.len());
                        let mut readers = Vec::with_capacity(shares.len());
                        for share in shares {
                            let reader = c
                                .read(
                                    &sandbox,
                                    &src.config,
                                    &share.catalog,
                                    &share.state,
                                    &registry,
                                )
                                .await?;
                            readers.push(Reader::Component(reader));
                        }
                        readers
                    }
                    Side::Process(p) => {
                        let state = shares.first().map_or(&[][..], |s| &s.state[..]);
                        vec![Reader::Process(Box::new(p.read(catalog, state)?))]
                    }
                };
                let writer = match &destination {
                    Side::Component(c) => Writer::Component(
                        c.write(&dst.sandbox(), &dst.config, catalog, &registry)
                            .await?,
                    ),
                    Side::Process(p) => Writer::Process(Box::new(p.write(catalog, &registry)?)),
                };
                Ok((readers, writer))
            },
        )
        .await
    }
}

impl Pipeline {
    /// How many readers of the source may read at once, and which streams
    /// they may split: a component that says it reads in parallel gets
    /// `options.parallelism` readers and splits the streams its catalog
    /// calls `partitioned` (a stream saved in partitions stays split with
    /// one reader); anything else reads alone.
    async fn parallel(&self, prepared: &Prepared) -> Result<Parallel> {
        let Side::Component(c) = &prepared.source else {
            return Ok(Parallel::one());
        };
        if !c.spec(&self.source.sandbox()).await?.reads_in_parallel() {
            return Ok(Parallel::one());
        }
        Ok(Parallel {
            readers: self.options.readers(),
            partitioned: (prepared.discovered.streams.iter())
                .filter(|s| s.partitioned)
                .map(|s| s.name.clone())
                .collect(),
        })
    }
}

/// The sandbox of each of `readers` readers of `source`: its own, plus
/// [`READERS_ENV`](sluice_protocol::READERS_ENV) saying how many read at
/// once (not a secret).
fn reader_sandbox(source: &Endpoint, readers: usize) -> sluice_manifest::Sandbox {
    let mut sandbox = source.sandbox();
    let name = sluice_protocol::READERS_ENV.to_string();
    sandbox.grants.env.insert(name.clone(), readers.to_string());
    sandbox.grants.plain_env.insert(name);
    sandbox
}
