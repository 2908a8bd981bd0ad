//! What a run tells the world while it runs. Every notification of a run
//! goes through [`Events`]; today its one subscriber is the progress
//! callback of [`RunOptions`], and metrics subscribe at the same place.

use sluice_state::StreamRun;
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
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("progress", &self.progress.is_some())
            .field("stop", &self.stop)
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

/// The subscribers of one run.
#[derive(Debug, Clone)]
pub(crate) struct Events {
    options: RunOptions,
}

impl Events {
    /// The subscribers in `options`.
    pub(crate) fn new(options: &RunOptions) -> Self {
        Events {
            options: options.clone(),
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
