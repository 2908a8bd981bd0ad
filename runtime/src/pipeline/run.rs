//! A whole run: attempts until every stream is done, retrying transient
//! failures with exponential backoff and jitter, then the run record.

use super::endpoint::{BatchSink, BatchSource};
use super::events::{Events, RunOptions, Stop};
use super::ledger::StreamLedger;
use super::reshape::Stages;
use super::shares::{Parallel, Plan, Share, plan};
use super::transfer::{RunContext, attempt};
use super::{Pipeline, RunSummary};
use crate::error::{Error, Result};
use backon::BackoffBuilder;
use sluice_protocol::{ConfiguredCatalog, ErrorKind, StreamState, SyncMode};
use sluice_state::{RunRecord, RunStatus, StateStore, now_ms};
use std::time::{Duration, Instant};

impl Pipeline {
    /// Run `catalog` between any [`BatchSource`]s and [`BatchSink`] that
    /// `open` returns (for the streams of an attempt and the shares
    /// [`plan`](super::plan) deals them out in, after `parallel`: one
    /// source per share, in order, each reading its own streams and
    /// partitions), with this pipeline's state, history, commit rule and
    /// retries. Embedders use it for endpoints of their own; the
    /// benchmarks use it to run connectors built natively through the very
    /// same code as the sandboxed ones.
    ///
    /// Every stream runs even when another fails; the run then ends
    /// `failed` with a per-stream summary. A `transient` error (of the whole
    /// attempt or of a stream) starts another attempt for the streams not
    /// yet done, from their last persisted checkpoint, after an exponential
    /// backoff with jitter, at most `options.retries` times.
    pub async fn run_with<R, W>(
        &self,
        catalog: &ConfiguredCatalog,
        stages: &Stages,
        store: &StateStore,
        opts: &RunOptions,
        parallel: &Parallel,
        mut open: impl AsyncFnMut(&ConfiguredCatalog, &[Share]) -> Result<(Vec<R>, W)>,
    ) -> Result<RunSummary>
    where
        R: BatchSource,
        W: BatchSink,
    {
        let started = Instant::now();
        let names: Vec<&str> = catalog.streams.iter().map(|s| s.name.as_str()).collect();
        let run_id = store.start_run(&self.name, &names)?;
        stages.registry.set_run(run_id);
        let started_at_ms = now_ms();
        let ctx = RunContext {
            pipeline: self,
            store,
            run_id,
            events: Events::new(opts, &self.name),
            stages,
            stop: opts.stop.clone().unwrap_or_default(),
        };
        let mut ledger = StreamLedger::new(catalog);
        let mut delays = self.backoff();
        let mut attempts = 0;
        let outcome = loop {
            attempts += 1;
            let remaining = ledger.begin_attempt(catalog);
            let error = match self.plan(store, &remaining, parallel, &mut ledger) {
                Ok(plan) => {
                    tracing::debug!(
                        pipeline = %self.name,
                        attempt = attempts,
                        streams = remaining.streams.len(),
                        readers = plan.shares.len(),
                        "attempt begins: reading from the source"
                    );
                    match open(&remaining, &plan.shares).await {
                        Ok(ends) => attempt(&ctx, &mut ledger, ends, &remaining, &plan).await,
                        Err(e) => Some(e),
                    }
                }
                Err(e) => Some(e),
            };
            if ctx.stop.is_requested() {
                ledger.interrupt_running();
                break error;
            }
            if let Some(e) = &error {
                ledger.fail_running(is_transient(e), &e.to_string());
            }
            let retry = match retry_reason(&error, &ledger) {
                Some(why) => {
                    self.wait_to_retry(&mut delays, attempts, &why, &ctx.stop)
                        .await
                }
                None => false,
            };
            if !retry {
                break error;
            }
            ctx.events.retried();
        };
        self.conclude(&ctx, ledger, outcome, attempts, (started, started_at_ms))
    }

    /// Record how the run ended (`began` at that instant and Unix time)
    /// and tell subscribers.
    fn conclude(
        &self,
        ctx: &RunContext<'_>,
        ledger: StreamLedger,
        outcome: Option<Error>,
        attempts: u32,
        began: (Instant, u64),
    ) -> Result<RunSummary> {
        let (status, error) = verdict(outcome.as_ref(), &ledger, ctx.stop.is_requested());
        let record = RunRecord {
            id: ctx.run_id,
            started_at_ms: began.1,
            ended_at_ms: Some(now_ms()),
            status,
            streams: ledger.into_runs(),
            attempts,
            error,
        };
        let store = ctx.store;
        store.finish_run(&self.name, &record)?;
        ctx.events.ended(&record, store.path(), outcome.as_ref());
        Ok(RunSummary {
            pipeline: self.name.clone(),
            run: record,
            duration_ms: began.0.elapsed().as_millis() as u64,
            state_store: store.path().to_string(),
        })
    }

    /// Sleep before another attempt, if the schedule allows one more and
    /// no stop is asked for meanwhile.
    async fn wait_to_retry(
        &self,
        delays: &mut backon::ExponentialBackoff,
        attempts: u32,
        why: &str,
        stop: &Stop,
    ) -> bool {
        let Some(delay) = delays.next() else {
            tracing::warn!(
                pipeline = %self.name,
                "giving up after {attempts} attempts (options.retries = {})",
                self.options.retries
            );
            return false;
        };
        tracing::warn!(
            pipeline = %self.name,
            attempt = attempts,
            "retrying in {} ms from the last checkpoint: {why}",
            delay.as_millis()
        );
        tokio::select! {
            () = tokio::time::sleep(delay) => true,
            () = stop.requested() => false,
        }
    }

    /// The retry schedule of `options`: exponential, with jitter.
    fn backoff(&self) -> backon::ExponentialBackoff {
        let o = &self.options;
        backon::ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(o.retry_initial_ms))
            .with_max_delay(Duration::from_millis(
                o.retry_max_ms.max(o.retry_initial_ms),
            ))
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(o.retries as usize)
            .build()
    }

    /// An attempt's shares, from the persisted state; the ledger learns
    /// which streams are read in partitions.
    fn plan(
        &self,
        store: &StateStore,
        catalog: &ConfiguredCatalog,
        parallel: &Parallel,
        ledger: &mut StreamLedger,
    ) -> Result<Plan> {
        let state = self.saved_state(store, catalog)?;
        let plan = plan(catalog, &state, parallel).map_err(|message| Error::Pipeline {
            file: self.file.clone(),
            message,
        })?;
        for (stream, parts) in &plan.split {
            if let Some(i) = ledger.find(stream) {
                ledger.split(i, parts.clone());
            }
        }
        Ok(plan)
    }

    /// The persisted state of the incremental streams of `catalog`.
    fn saved_state(
        &self,
        store: &StateStore,
        catalog: &ConfiguredCatalog,
    ) -> Result<Vec<StreamState>> {
        Ok(store
            .stream_states(&self.name)?
            .into_iter()
            .filter(|s| {
                catalog
                    .stream(&s.stream)
                    .is_some_and(|c| c.sync_mode == SyncMode::Incremental)
            })
            .collect())
    }
}

/// Whether `e` is worth another attempt.
fn is_transient(e: &Error) -> bool {
    e.connector_error()
        .is_some_and(|ce| ce.kind == ErrorKind::Transient)
}

/// Why another attempt is worth making, if it is: a transient error of
/// the attempt, or (without one) transient failures of streams.
fn retry_reason(error: &Option<Error>, ledger: &StreamLedger) -> Option<String> {
    match error {
        Some(e) => is_transient(e).then(|| e.to_string()),
        None => {
            let transient = ledger.transient_failures();
            (!transient.is_empty()).then(|| format!("transient errors in {}", transient.join(", ")))
        }
    }
}

/// How the run ended, and its error; `stopped`: a stop was asked for.
fn verdict(
    outcome: Option<&Error>,
    ledger: &StreamLedger,
    stopped: bool,
) -> (RunStatus, Option<String>) {
    let failed = ledger.unsucceeded();
    if stopped && !failed.is_empty() {
        let why = outcome.map_or(String::new(), |e| format!("; then: {e}"));
        return (
            RunStatus::Interrupted,
            Some(format!(
                "stopped before {} of {} streams finished ({}); the saved state covers everything written{why}",
                failed.len(),
                ledger.len(),
                failed.join(", ")
            )),
        );
    }
    match outcome {
        Some(e) => (RunStatus::Failed, Some(e.to_string())),
        None if failed.is_empty() => (RunStatus::Succeeded, None),
        None => (
            RunStatus::Failed,
            Some(format!(
                "{} of {} streams failed: {}",
                failed.len(),
                ledger.len(),
                failed.join(", ")
            )),
        ),
    }
}
