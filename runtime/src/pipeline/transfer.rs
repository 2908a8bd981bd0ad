//! One attempt of a run: the source's readers send their messages into a
//! bounded channel; the [`Transfer`] takes them off it, checks each batch,
//! writes it, holds the checkpoints, and commits on the interval and at
//! the end — persisting checkpoints only after the destination's commit.

use super::Pipeline;
use super::check::{BatchFault, check_batch};
use super::endpoint::{BatchSink, BatchSource};
use super::events::{Events, RunEvent, Stop};
use super::ledger::{StreamId, StreamLedger};
use super::reshape::{Reshaper, ShapeError, Stages};
use super::shares::Plan;
use crate::error::{Call, Error, Result};
use sluice_protocol::{
    Batch, ConfiguredCatalog, ConnectorError, ErrorKind, Message, Operation, StreamState,
    StreamStatus, WriteMode,
};
use sluice_state::StateStore;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// What every attempt of a run shares.
pub(super) struct RunContext<'a> {
    /// The pipeline (its name, options and source limits).
    pub(super) pipeline: &'a Pipeline,
    /// Where checkpoints are persisted.
    pub(super) store: &'a StateStore,
    /// The run's id in the store.
    pub(super) run_id: u64,
    /// Who is told what happens.
    pub(super) events: Events,
    /// The schema and transform stage of each stream, and the registry.
    pub(super) stages: &'a Stages,
    /// Asked when the run must stop early.
    pub(super) stop: Stop,
}

/// What the readers of an attempt send: which reader, and its messages.
type Item = (usize, Result<Vec<Message>>);

/// Run one attempt over `catalog` with `readers` (each reading its share
/// of `plan`); returns what stopped it, if anything.
pub(super) async fn attempt<R: BatchSource, W: BatchSink>(
    ctx: &RunContext<'_>,
    ledger: &mut StreamLedger,
    (readers, writer): (Vec<R>, W),
    catalog: &ConfiguredCatalog,
    plan: &Plan,
) -> Option<Error> {
    let source = readers
        .first()
        .map_or_else(|| "source".to_string(), |r| r.name().to_string());
    let buffer = ctx.pipeline.options.buffer_batches.clamp(1, 4096);
    let (tx, mut rx) = mpsc::channel(buffer);
    // Every reader sends into the one bounded channel, which closes when
    // the last has ended: memory is bounded by it, not by the readers.
    let producers: Vec<JoinHandle<()>> = readers
        .into_iter()
        .enumerate()
        .map(|(i, reader)| spawn_reader(i, reader, tx.clone()))
        .collect();
    drop(tx);
    let mut transfer = Transfer::new(ctx, ledger, writer, catalog, (source, plan));
    let ended = transfer.receive(&mut rx).await;
    drop(rx);
    if ended {
        transfer.ledger.source_ended();
    }
    if ctx.stop.is_requested() {
        // Stopping: a reader may be deep in a call; nothing any of them
        // sends from here on would be written. (After an error, each
        // ends at its next send, into the closed channel.)
        producers.iter().for_each(JoinHandle::abort);
    }
    for producer in producers {
        let _ = producer.await;
    }
    transfer.finish().await
}

/// Read `reader` (the `index`-th) to its end on a task of its own,
/// sending into `tx`.
fn spawn_reader<R: BatchSource>(
    index: usize,
    mut reader: R,
    tx: mpsc::Sender<Item>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match reader.next().await {
                Ok(Some(messages)) => {
                    if tx.send((index, Ok(messages))).await.is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send((index, Err(e))).await;
                    return;
                }
            }
        }
        if let Err(e) = reader.close().await {
            let _ = tx.send((index, Err(e))).await;
        }
    })
}

/// The receiving side of one attempt.
struct Transfer<'a, W> {
    ctx: &'a RunContext<'a>,
    ledger: &'a mut StreamLedger,
    writer: W,
    /// Each stream's write mode.
    modes: BTreeMap<String, WriteMode>,
    /// The schema and transform stage of each stream that has one.
    reshapers: BTreeMap<String, Reshaper>,
    /// The source's name, for errors.
    source: String,
    /// Which reader reads which partition of a split stream.
    plan: &'a Plan,
    max_batch_bytes: usize,
    last_commit: Instant,
    /// What stopped the attempt, if anything did.
    error: Option<Error>,
    /// The destination failed: nothing more is written or committed.
    destination_failed: bool,
}

impl<'a, W: BatchSink> Transfer<'a, W> {
    fn new(
        ctx: &'a RunContext<'a>,
        ledger: &'a mut StreamLedger,
        writer: W,
        catalog: &ConfiguredCatalog,
        (source, plan): (String, &'a Plan),
    ) -> Self {
        let modes = catalog
            .streams
            .iter()
            .map(|s| (s.name.clone(), s.write_mode))
            .collect();
        Transfer {
            ctx,
            ledger,
            writer,
            modes,
            reshapers: ctx
                .stages
                .shapes
                .iter()
                .map(|s| (s.stream.clone(), Reshaper::new(s.clone())))
                .collect(),
            source,
            plan,
            max_batch_bytes: ctx.pipeline.source.limits.batch_bytes(),
            last_commit: Instant::now(),
            error: None,
            destination_failed: false,
        }
    }

    /// Take messages until the readers end (true) or the attempt stops
    /// (an error, or a stop asked for between two messages).
    async fn receive(&mut self, rx: &mut mpsc::Receiver<Item>) -> bool {
        loop {
            let item = tokio::select! {
                biased;
                () = self.ctx.stop.requested() => {
                    tracing::info!(pipeline = %self.ctx.pipeline.name, "stop asked for: committing what was written");
                    return false;
                }
                item = rx.recv() => item,
            };
            let Some((reader, item)) = item else {
                return true;
            };
            let messages = match item {
                Ok(messages) => messages,
                Err(e) => {
                    self.error = Some(e);
                    return false;
                }
            };
            for message in messages {
                if self.on_message(reader, message).await.is_break() {
                    return false;
                }
            }
            if self.maybe_commit().await.is_break() {
                return false;
            }
        }
    }

    async fn on_message(&mut self, reader: usize, message: Message) -> ControlFlow<()> {
        match message {
            Message::Records(batch) => self.on_records(batch).await,
            Message::State(state) => self.on_state(reader, state).await,
            Message::Status(stream, status) => {
                self.on_status(reader, &stream, status);
                self.tell_complete().await
            }
            Message::StreamError(e) => self.on_stream_error(e),
        }
    }

    /// Check a batch, then write it.
    async fn on_records(&mut self, batch: Batch) -> ControlFlow<()> {
        let i = self.stream(&batch.stream)?;
        self.ctx.events.read(&batch);
        match check_batch(&batch, self.max_batch_bytes) {
            Ok(()) => {}
            Err(fault @ BatchFault::TooLarge(_)) => {
                return self.stop(fault.into_error(&self.source, &batch.stream));
            }
            Err(fault) if !self.ledger.is_failed(i) => {
                let e = fault.into_error(&self.source, &batch.stream);
                self.fail(i, true, false, e.to_string());
                return ControlFlow::Continue(());
            }
            Err(_) => {}
        }
        if self.ledger.is_failed(i) {
            return ControlFlow::Continue(());
        }
        for mut batch in self.reshape(i, batch).await? {
            let (count, bytes) = (u64::from(batch.count), batch.data.len() as u64);
            let extracted_at = batch.extracted_at;
            batch.operation = operation(batch.operation, self.modes[&batch.stream]);
            if let Err(e) = self.writer.write(batch).await {
                return self.on_write_error(i, e);
            }
            self.ctx
                .events
                .wrote(self.ledger.name(i), count, bytes, extracted_at);
            let run = self.ledger.add(i, count, bytes, extracted_at);
            self.ctx.events.emit(RunEvent::Written(run));
        }
        ControlFlow::Continue(())
    }

    /// The schema policy and transforms of the batch's stream; the
    /// destination is told of a new schema first. Returns what to write.
    async fn reshape(&mut self, i: StreamId, batch: Batch) -> ControlFlow<(), Vec<Batch>> {
        let Some(reshaper) = self.reshapers.get_mut(&batch.stream) else {
            return ControlFlow::Continue(vec![batch]);
        };
        let stream = batch.stream.clone();
        let shaped = match reshaper.shape(batch, &self.ctx.stages.registry).await {
            Ok(shaped) => shaped,
            Err(ShapeError(message)) => {
                self.fail(i, true, false, format!("stream `{stream}`: {message}"));
                return ControlFlow::Continue(Vec::new());
            }
        };
        let accepted = reshaper.accepted().cloned();
        if let Some(id) = &shaped.tell {
            if let Err(e) = self.writer.schema(&stream, id).await {
                self.on_write_error(i, e)?;
                return ControlFlow::Continue(Vec::new());
            }
            self.ledger.schema(i, accepted);
        }
        self.ledger.dropped(i, shaped.dropped);
        ControlFlow::Continue(shaped.batches)
    }

    /// A destination that refused one batch but is alive fails that
    /// stream only; any other error stops the attempt.
    fn on_write_error(&mut self, i: StreamId, e: Error) -> ControlFlow<()> {
        match e.connector_error().map(|ce| ce.kind) {
            Some(kind @ (ErrorKind::Data | ErrorKind::Transient)) => {
                self.fail(i, false, kind == ErrorKind::Transient, e.to_string());
                ControlFlow::Continue(())
            }
            _ => {
                self.destination_failed = true;
                self.stop(e)
            }
        }
    }

    /// Hold a checkpoint for the next commit, or, when the destination
    /// confirms states itself, hand it over after the batches it covers.
    /// A stream read in partitions is checkpointed whole: every
    /// partition's latest state.
    async fn on_state(&mut self, reader: usize, mut state: StreamState) -> ControlFlow<()> {
        let i = self.stream(&state.stream)?;
        let part = self.partition(reader, &state.stream);
        state.state = self.ledger.part_state(i, part, state.state);
        if !self.writer.confirms_state() {
            self.ledger.checkpoint(i, state.state);
        } else if !self.ledger.is_failed(i)
            && let Err(e) = self.writer.checkpoint(&state).await
        {
            return self.on_write_error(i, e);
        }
        ControlFlow::Continue(())
    }

    /// A stream read in partitions is finished when every partition is.
    fn on_status(&mut self, reader: usize, stream: &str, status: StreamStatus) {
        if let Some(i) = self.ledger.find(stream)
            && status == StreamStatus::Complete
        {
            let part = self.partition(reader, stream);
            self.ledger.part_finished(i, part);
        }
    }

    /// The partition of `stream` that `reader` reads, if it is split.
    fn partition(&self, reader: usize, stream: &str) -> Option<u32> {
        self.plan.partition(reader, stream)
    }

    /// Tell the destination of every stream the source finished since the
    /// last time (before the commit that ends them).
    async fn tell_complete(&mut self) -> ControlFlow<()> {
        for (i, stream) in self.ledger.take_finished() {
            if let Err(e) = self.writer.complete(&stream).await {
                self.on_write_error(i, e)?;
            }
        }
        ControlFlow::Continue(())
    }

    /// The source failed one stream; without a stream it failed itself.
    fn on_stream_error(&mut self, error: ConnectorError) -> ControlFlow<()> {
        let stream = error.stream.as_deref().and_then(|s| self.ledger.find(s));
        let transient = error.kind == ErrorKind::Transient;
        let e = Error::Connector {
            connector: self.source.clone(),
            call: Call::Next,
            error,
        };
        match stream {
            Some(i) => {
                self.fail(i, true, transient, e.to_string());
                ControlFlow::Continue(())
            }
            None => self.stop(e),
        }
    }

    /// Commit when the interval has passed and there is something to commit.
    async fn maybe_commit(&mut self) -> ControlFlow<()> {
        let interval = Duration::from_millis(self.ctx.pipeline.options.commit_interval_ms);
        let due = self.ledger.has_uncommitted() || self.writer.confirms_state();
        if !due || self.last_commit.elapsed() < interval {
            return ControlFlow::Continue(());
        }
        if let Err(e) = self.commit(false).await {
            self.destination_failed = true;
            return self.stop(e);
        }
        self.last_commit = Instant::now();
        ControlFlow::Continue(())
    }

    /// Commit the destination, then persist the checkpoints it covers
    /// (those it confirmed, when it confirms them itself); the streams the
    /// source finished succeed, unless the destination confirms states and
    /// this is not its `last` commit (it has not yet made them durable).
    async fn commit(&mut self, last: bool) -> Result<()> {
        let pipeline = self.ctx.pipeline.name.as_str();
        tracing::debug!(pipeline, "destination commit begins");
        self.writer.commit().await?;
        self.take_confirmed();
        self.persist(last || !self.writer.confirms_state())
    }

    /// The checkpoints a destination that confirms states has confirmed,
    /// held for persisting.
    fn take_confirmed(&mut self) {
        for state in self.writer.confirmed() {
            if let Some(i) = self.ledger.find(&state.stream) {
                self.ledger.checkpoint(i, state.state);
            }
        }
    }

    /// Persist the held checkpoints; with `finished`, the streams the
    /// source finished succeed.
    fn persist(&mut self, finished: bool) -> Result<()> {
        let pipeline = self.ctx.pipeline.name.as_str();
        let pending = self.ledger.pending();
        tracing::debug!(
            pipeline,
            streams = pending.len(),
            "destination committed; persisting checkpoints"
        );
        self.ctx
            .store
            .commit_checkpoint_for_run(pipeline, self.ctx.run_id, &pending)?;
        tracing::debug!(
            pipeline,
            streams = pending.len(),
            "checkpoint persisted after destination commit"
        );
        if !finished {
            self.ledger.clear_pending();
            return Ok(());
        }
        for run in self.ledger.committed() {
            self.ctx.events.emit(RunEvent::Succeeded(run));
        }
        Ok(())
    }

    /// End the attempt: everything the destination accepted so far is
    /// covered by the pending checkpoints, so commit it even when the
    /// attempt failed, and keep that progress.
    async fn finish(mut self) -> Option<Error> {
        if self.destination_failed {
            return self.error;
        }
        if self.tell_complete().await.is_break() && self.destination_failed {
            return self.error;
        }
        if let Err(e) = self.writer.end().await {
            // What it confirmed before it failed is durable all the same.
            self.take_confirmed();
            if let Err(persist) = self.persist(false) {
                tracing::error!("cannot persist the confirmed checkpoints: {persist}");
            }
            if let Some(first) = &self.error {
                tracing::error!("run failed: {first}");
            }
            self.error = Some(e);
            return self.error;
        }
        match self.commit(true).await {
            Ok(()) => {
                let _ = self.writer.close().await;
            }
            Err(e) => {
                if let Some(first) = &self.error {
                    tracing::error!("run failed: {first}");
                }
                self.error = Some(e);
            }
        }
        self.error
    }

    /// The stream `name` of this attempt; data for any other stops it.
    fn stream(&mut self, name: &str) -> ControlFlow<(), StreamId> {
        match self.ledger.find(name) {
            Some(i) => ControlFlow::Continue(i),
            None => {
                let e = self.protocol(format!(
                    "it sent data for stream `{name}`, which is not in the catalog"
                ));
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    /// Fail one stream, on the source's side (`ingest`) or the
    /// destination's; the others go on.
    fn fail(&mut self, i: StreamId, ingest: bool, transient: bool, error: String) {
        self.ctx.events.stream_failed(self.ledger.name(i), ingest);
        tracing::error!(
            pipeline = %self.ctx.pipeline.name,
            stream = %self.ledger.name(i),
            "stream failed: {error}"
        );
        self.ledger.fail(i, transient, error);
    }

    /// Stop the attempt with `e`.
    fn stop(&mut self, e: Error) -> ControlFlow<()> {
        self.error = Some(e);
        ControlFlow::Break(())
    }

    /// The source broke the contract in `next`.
    fn protocol(&self, message: String) -> Error {
        Error::Protocol {
            connector: self.source.clone(),
            call: Call::Next,
            message,
        }
    }
}

/// The operation a batch is written with: the source's, except that
/// inserts into a stream kept by primary key (dedup, history) are upserts.
fn operation(op: Operation, mode: WriteMode) -> Operation {
    match (op, mode) {
        (Operation::Insert, WriteMode::AppendDedup | WriteMode::History) => Operation::Upsert,
        (op, _) => op,
    }
}
