//! What a run tells the world while it runs. Every notification of a run
//! goes through [`Events`], to the subscribers of [`RunOptions`]: the
//! progress callback and the Prometheus [`Metrics`].

use crate::error::Error;
use crate::metrics::Metrics;
use sluice_protocol::Batch;
use sluice_state::{RunRecord, StreamRun};
use std::sync::Arc;

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
    /// Asks the run to stop early (see [`Stop`]); none: it runs to its end.
    pub stop: Option<Stop>,
    /// Counts what the run reads, writes and how it ends.
    pub metrics: Option<Metrics>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("progress", &self.progress.is_some())
            .field("stop", &self.stop)
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}

/// A request to stop a run early, shared by whoever may ask (a signal
/// handler, a service shutting down) and the run. Once asked, the run
/// takes no more batches from the source, commits what the destination
/// accepted, persists the checkpoints that cover it, and ends
/// [`sluice_state::RunStatus::Interrupted`] (streams the source had
/// already finished still succeed). It never retries after that.
#[derive(Clone, Debug, Default)]
pub struct Stop(tokio_util::sync::CancellationToken);

impl Stop {
    /// A request not yet made.
    pub fn new() -> Self {
        Stop::default()
    }

    /// Ask the run to stop; asking again does nothing more.
    pub fn request(&self) {
        self.0.cancel();
    }

    /// Whether a stop was asked for.
    pub fn is_requested(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Resolves once a stop is asked for.
    pub async fn requested(&self) {
        self.0.cancelled().await;
    }
}

/// Something that happened in a run.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RunEvent<'a> {
    /// The destination accepted a batch of the stream.
    Written(&'a StreamRun),
    /// The stream succeeded (its last records are committed).
    Succeeded(&'a StreamRun),
}

/// The subscribers of one run of a pipeline.
#[derive(Debug, Clone)]
pub(crate) struct Events {
    options: RunOptions,
    pipeline: Arc<str>,
}

impl Events {
    /// The subscribers in `options`, for runs of `pipeline`.
    pub(crate) fn new(options: &RunOptions, pipeline: &str) -> Self {
        Events {
            options: options.clone(),
            pipeline: pipeline.into(),
        }
    }

    /// The source handed over `batch`.
    pub(crate) fn read(&self, batch: &Batch) {
        if let Some(m) = &self.options.metrics {
            let bytes = batch.data.len() as u64;
            m.read(
                &self.pipeline,
                &batch.stream,
                batch.count.into(),
                bytes,
                batch.extracted_at,
            );
        }
    }

    /// The destination accepted `records` records (`bytes`) of `stream`
    /// extracted at `extracted_at_ms`.
    pub(crate) fn wrote(&self, stream: &str, records: u64, bytes: u64, extracted_at_ms: u64) {
        if let Some(m) = &self.options.metrics {
            m.written(&self.pipeline, stream, records, bytes, extracted_at_ms);
        }
    }

    /// `stream` failed, on the source's side (`ingest`) or the destination's.
    pub(crate) fn stream_failed(&self, stream: &str, ingest: bool) {
        if let Some(m) = &self.options.metrics {
            m.stream_failed(&self.pipeline, stream, ingest);
        }
    }

    /// An attempt is retried.
    pub(crate) fn retried(&self) {
        if let Some(m) = &self.options.metrics {
            m.retried(&self.pipeline);
        }
    }

    /// The run ended as `record` (stopped by `error`, if any), its state
    /// in the store at `store`.
    pub(crate) fn ended(&self, record: &RunRecord, store: &str, error: Option<&Error>) {
        if let Some(m) = &self.options.metrics {
            if let Some(limit) = error.and_then(Error::limit) {
                m.limit_hit(&self.pipeline, limit.name());
            }
            m.run_ended(&self.pipeline, record, store);
        }
    }

    /// Tell every subscriber.
    pub(crate) fn emit(&self, event: RunEvent<'_>) {
        let Some(progress) = &self.options.progress else {
            return;
        };
        let (s, done) = match event {
            RunEvent::Written(s) => (s, false),
            RunEvent::Succeeded(s) => (s, true),
        };
        progress(&Progress {
            stream: s.stream.clone(),
            records: s.records,
            bytes: s.bytes,
            done,
        });
    }
}
