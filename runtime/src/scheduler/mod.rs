//! Pipelines on their schedules in one long-running process: what `sluice
//! serve` is, as a library for the CLI and for services that embed the
//! runtime.
//!
//! [`Scheduler::serve`] watches pipeline files (given one by one, or every
//! `*.toml` of a directory), picking up added, changed and removed files
//! every [`ServeOptions::rescan`] without a restart; a file that does not
//! parse is reported ([`ServeEvent::Invalid`]) and skipped while the
//! others run. Each pipeline with a `[schedule]` runs when
//! [`sluice_schedule::Schedule::next_run`] says, never twice at once, at
//! most [`ServeOptions::concurrency`] runs together; its next run is
//! persisted in its state store. A store is held open only while runs of
//! its pipelines are going on, and a store is open in one process at a
//! time, so two services on one store never run the same pipeline at once
//! either: the one that finds the store busy tries again a second later.
//!
//! When `stop` is asked, no run starts any more; the running ones stop
//! after their current batch (they share the same [`Stop`]), commit and
//! save their state; after [`ServeOptions::grace`] `serve` returns without
//! them, and they end with the process (safe too: the state is never
//! ahead of the destination).

mod files;
mod stores;

use crate::engine::Runtime;
use crate::error::Result;
use crate::metrics::Metrics;
use crate::pipeline::{Pipeline, RunOptions, RunSummary, Stop};
use chrono::{DateTime, Utc};
use files::Watched;
use sluice_state::{NextRun, RunRecord, SavedState};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use stores::Stores;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

/// How soon a run whose state store another process holds is tried again.
const STORE_BUSY_RETRY: chrono::TimeDelta = chrono::TimeDelta::seconds(1);

/// How a [`Scheduler`] serves.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Runs at once, over all pipelines (default: the number of cores).
    pub concurrency: usize,
    /// How long running runs get to finish after a stop is asked (default
    /// 30 s); then `serve` returns without them.
    pub grace: Duration,
    /// How often the pipeline files are looked at again (default 2 s).
    pub rescan: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            grace: Duration::from_secs(30),
            rescan: Duration::from_secs(2),
        }
    }
}

/// What happens while serving, for logs and status.
#[derive(Debug)]
pub enum ServeEvent<'a> {
    /// A pipeline file was read (first seen, or changed).
    Loaded {
        /// The file.
        file: &'a Path,
        /// The pipeline.
        pipeline: &'a Pipeline,
        /// Its next run (none: no `[schedule]`, it runs only when asked).
        next: Option<DateTime<Utc>>,
    },
    /// A pipeline file that cannot be used, skipped until it changes.
    Invalid {
        /// The file.
        file: &'a Path,
        /// Why, naming the key.
        error: String,
    },
    /// A pipeline file is gone; a run of it still going on finishes.
    Removed {
        /// The file.
        file: &'a Path,
    },
    /// A run started.
    Started {
        /// The pipeline.
        pipeline: &'a str,
    },
    /// A run ended (succeeded, failed or interrupted: see its record).
    Finished {
        /// The pipeline.
        pipeline: &'a str,
        /// What it did.
        summary: &'a RunSummary,
        /// When it runs next.
        next: Option<DateTime<Utc>>,
    },
    /// A run could not happen (its store is busy, its connectors do not
    /// load, ...).
    Failed {
        /// The pipeline.
        pipeline: &'a str,
        /// Why.
        error: String,
        /// When it is tried next.
        next: Option<DateTime<Utc>>,
    },
    /// The files were read for the first time: the service is ready.
    Ready {
        /// Pipelines loaded.
        pipelines: usize,
    },
    /// A stop was asked; `running` runs are finishing.
    Stopping {
        /// Runs still going on.
        running: usize,
    },
}

/// Receives every [`ServeEvent`].
pub type ServeEventFn = Arc<dyn Fn(&ServeEvent<'_>) + Send + Sync>;

/// A pipeline as the service sees it now.
#[derive(Debug, Clone)]
pub struct PipelineView {
    /// Its file.
    pub file: PathBuf,
    /// The pipeline, as last read.
    pub pipeline: Arc<Pipeline>,
    /// When it runs next (none: no `[schedule]`).
    pub next: Option<DateTime<Utc>>,
    /// Whether a run of it is going on.
    pub running: bool,
}

/// What a serving scheduler shows others and takes from them.
#[derive(Default)]
struct Board {
    /// The pipelines, as of the loop's last turn.
    pipelines: Mutex<Vec<PipelineView>>,
    /// Pipelines asked to run now.
    asked: Mutex<Vec<String>>,
    /// Wakes the loop for what was asked.
    wake: Notify,
}

/// Runs pipelines on their schedules with one shared [`Runtime`].
#[derive(Clone)]
pub struct Scheduler {
    runtime: Runtime,
    options: ServeOptions,
    stores: Stores,
    metrics: Option<Metrics>,
    board: Arc<Board>,
}

/// What a finished run task reports.
struct Done {
    file: PathBuf,
    pipeline: Arc<Pipeline>,
    started: DateTime<Utc>,
    outcome: Result<RunSummary>,
}

impl Scheduler {
    /// A scheduler running pipelines with `runtime`.
    pub fn new(runtime: Runtime, options: ServeOptions) -> Self {
        Scheduler {
            runtime,
            options,
            stores: Stores::default(),
            metrics: None,
            board: Arc::default(),
        }
    }

    /// The pipelines being served, by file.
    pub fn pipelines(&self) -> Vec<PipelineView> {
        self.board.pipelines.lock().expect("board").clone()
    }

    /// Run the pipeline called `name` now (or as soon as its run going on
    /// ends), whatever its schedule; false when no served file defines it.
    pub fn run_now(&self, name: &str) -> bool {
        let known = self.pipelines().iter().any(|v| v.pipeline.name == name);
        if known {
            self.board
                .asked
                .lock()
                .expect("board")
                .push(name.to_string());
            self.board.wake.notify_one();
        }
        known
    }

    /// The runs of `pipeline` (newest first) and its streams' saved
    /// state, read through the store handle the runs share.
    pub fn history(
        &self,
        pipeline: &Pipeline,
    ) -> Result<(Vec<RunRecord>, BTreeMap<String, SavedState>)> {
        let store = self.stores.open(&pipeline.state_path())?;
        Ok((
            store.runs(&pipeline.name)?,
            store.saved_states(&pipeline.name)?,
        ))
    }

    /// Count every run into `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Serve the pipeline files `paths` (files, or directories of
    /// `*.toml`) until `stop` is asked and the runs have finished (or the
    /// grace period ended). Errors are reported as events; this returns
    /// once stopped.
    pub async fn serve(&self, paths: &[PathBuf], stop: Stop, on_event: ServeEventFn) {
        let mut watched = Watched::new(paths.to_vec());
        let permits = Arc::new(Semaphore::new(self.options.concurrency.max(1)));
        let mut tasks: JoinSet<Done> = JoinSet::new();
        watched.rescan(|pipeline| self.plan(pipeline, None), &on_event);
        on_event(&ServeEvent::Ready {
            pipelines: watched.len(),
        });
        let mut next_scan = Instant::now() + self.options.rescan;
        while !stop.is_requested() {
            let asked = std::mem::take(&mut *self.board.asked.lock().expect("board"));
            for name in asked {
                watched.ask(&name, now());
            }
            if Instant::now() >= next_scan {
                watched.rescan(|pipeline| self.plan(pipeline, None), &on_event);
                next_scan = Instant::now() + self.options.rescan;
            }
            for (file, pipeline) in watched.due(now()) {
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    break;
                };
                watched.set_running(&pipeline, true);
                on_event(&ServeEvent::Started {
                    pipeline: &pipeline.name,
                });
                self.spawn_run(&mut tasks, file, pipeline, stop.clone(), permit);
            }
            *self.board.pipelines.lock().expect("board") = watched.views();
            // With every slot taken, a due pipeline waits for a run to end
            // (which wakes the loop), not for its time, which has passed.
            let earliest = watched
                .earliest()
                .filter(|_| permits.available_permits() > 0);
            let wake = earliest.map_or(next_scan, |at| next_scan.min(instant_at(at)));
            tokio::select! {
                () = self.board.wake.notified() => {}
                Some(done) = tasks.join_next() => {
                    if let Ok(done) = done {
                        self.finished(&mut watched, done, &on_event);
                    }
                }
                () = tokio::time::sleep_until(wake.into()) => {}
                () = stop.requested() => {}
            }
        }
        self.drain(&mut watched, tasks, &on_event).await;
    }

    /// Let the running runs finish within the grace period, then cancel
    /// the rest.
    async fn drain(
        &self,
        watched: &mut Watched,
        mut tasks: JoinSet<Done>,
        on_event: &ServeEventFn,
    ) {
        on_event(&ServeEvent::Stopping {
            running: tasks.len(),
        });
        let deadline = tokio::time::Instant::now() + self.options.grace;
        loop {
            tokio::select! {
                done = tasks.join_next() => match done {
                    None => return,
                    Some(Ok(done)) => self.finished(watched, done, on_event),
                    Some(Err(_)) => {}
                },
                () = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(
                        "{} runs still going on after the grace period; they end with the process (as safe as a kill)",
                        tasks.len()
                    );
                    tasks.detach_all();
                    return;
                }
            }
        }
    }

    /// One run of `pipeline` on a thread of the blocking pool, driving
    /// the run's future there (its readers and connectors still run on
    /// the runtime's workers), holding `permit` until it ends.
    fn spawn_run(
        &self,
        tasks: &mut JoinSet<Done>,
        file: PathBuf,
        pipeline: Arc<Pipeline>,
        stop: Stop,
        permit: OwnedSemaphorePermit,
    ) {
        let this = self.clone();
        let handle = tokio::runtime::Handle::current();
        tasks.spawn_blocking(move || {
            let _permit = permit;
            let started = now();
            let outcome = handle.block_on(this.run(&pipeline, stop));
            Done {
                file,
                pipeline,
                started,
                outcome,
            }
        });
    }

    /// Run `pipeline` once with its store.
    async fn run(&self, pipeline: &Pipeline, stop: Stop) -> Result<RunSummary> {
        let store = self.stores.open(&pipeline.state_path())?;
        let opts = RunOptions {
            progress: None,
            stop: Some(stop),
            metrics: self.metrics.clone(),
        };
        pipeline.run(&self.runtime, &store, &opts).await
    }

    /// A run ended: plan the next one, persist it, tell.
    fn finished(&self, watched: &mut Watched, done: Done, on_event: &ServeEventFn) {
        watched.set_running(&done.pipeline, false);
        let name = &done.pipeline.name;
        match &done.outcome {
            Ok(summary) => {
                let started = DateTime::from_timestamp_millis(summary.run.started_at_ms as i64)
                    .unwrap_or(done.started);
                let next = self.plan(&done.pipeline, Some(started));
                watched.set_next(&done.file, next);
                on_event(&ServeEvent::Finished {
                    pipeline: name,
                    summary,
                    next,
                });
            }
            Err(e) => {
                // A store another process holds for a moment (a `sluice
                // runs`, another service's run) is tried again soon, not at
                // the next time on the schedule, which may be hours away.
                let busy = matches!(e, crate::Error::State(s) if s.in_use());
                let next = match busy {
                    true => Some(now() + STORE_BUSY_RETRY),
                    false => done
                        .pipeline
                        .schedule
                        .as_ref()
                        .and_then(|s| s.next_after(now())),
                };
                watched.set_next(&done.file, next);
                on_event(&ServeEvent::Failed {
                    pipeline: name,
                    error: e.to_string(),
                    next,
                });
            }
        }
    }

    /// The next run of `pipeline` after a run that started at `last`
    /// (none: look it up in its store), persisted there when the store is
    /// free.
    fn plan(&self, pipeline: &Pipeline, last: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        let schedule = pipeline.schedule.as_ref()?;
        let store = self.stores.open(&pipeline.state_path()).ok();
        let last = last.or_else(|| {
            let runs = store.as_ref()?.recent_runs(&pipeline.name, 1).ok()?;
            DateTime::from_timestamp_millis(runs.first()?.started_at_ms as i64)
        });
        let next = schedule.next_run(last, now());
        if let Some(store) = store {
            let planned = NextRun {
                schedule: schedule.to_string(),
                at_ms: next.map(|t| t.timestamp_millis().max(0) as u64),
            };
            if let Err(e) = store.set_next_run(&pipeline.name, &planned) {
                tracing::warn!(pipeline = %pipeline.name, "cannot save the next run: {e}");
            }
        }
        next
    }
}

/// The time now.
fn now() -> DateTime<Utc> {
    DateTime::from(SystemTime::now())
}

/// The monotonic instant at which wall-clock time `at` comes (now, if it
/// has passed).
fn instant_at(at: DateTime<Utc>) -> Instant {
    let ahead = (at - now()).to_std().unwrap_or_default();
    Instant::now() + ahead
}
