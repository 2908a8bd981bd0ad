//! The two seams of a run: where its messages come from ([`BatchSource`])
//! and where its batches go ([`BatchSink`]). The sandboxed reader and
//! writer implement them; so do process endpoints (Singer and Airbyte
//! programs), the natively built connectors of the benchmarks, and an
//! embedder's own endpoints. [`Reader`] and [`Writer`] are either kind of
//! a pipeline's ends.

use crate::connector::{DestinationWriter, SourceReader};
use crate::error::Result;
use crate::process::{ProcessReader, ProcessWriter};
use sluice_protocol::{Batch, Message, StreamState};
use sluice_schema::SchemaId;

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
    /// Batches of `stream` follow the registry schema `id` from now on
    /// (told before the first batch under an id the sink has not seen).
    fn schema(&mut self, stream: &str, id: &SchemaId) -> impl Future<Output = Result<()>>;
    /// Apply one batch (its operation travels with it).
    fn write(&mut self, batch: Batch) -> impl Future<Output = Result<()>>;
    /// Make everything written so far durable.
    fn commit(&mut self) -> impl Future<Output = Result<()>>;
    /// The source sent the last batch of `stream` for this run.
    fn complete(&mut self, stream: &str) -> impl Future<Output = Result<()>>;
    /// Release the writer (without committing).
    fn close(self) -> impl Future<Output = Result<()>>;

    /// Whether the sink itself says which checkpoints are durable, as a
    /// Singer target or Airbyte destination does by echoing the states it
    /// has made durable. Then the run hands it every checkpoint
    /// ([`Self::checkpoint`]) and persists only what it
    /// [`confirmed`](Self::confirmed); otherwise a checkpoint is durable
    /// once [`Self::commit`] returns for every record before it.
    fn confirms_state(&self) -> bool {
        false
    }

    /// A source checkpoint, after the batches it covers (only when
    /// [`Self::confirms_state`]).
    fn checkpoint(&mut self, state: &StreamState) -> impl Future<Output = Result<()>> {
        let _ = state;
        async { Ok(()) }
    }

    /// No more batches this attempt: a process's input ends, and it exits.
    fn end(&mut self) -> impl Future<Output = Result<()>> {
        async { Ok(()) }
    }

    /// The checkpoints it confirmed since the last call, latest per stream.
    fn confirmed(&mut self) -> Vec<StreamState> {
        Vec::new()
    }
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
    async fn schema(&mut self, stream: &str, id: &SchemaId) -> Result<()> {
        DestinationWriter::schema(self, stream, id).await
    }
    async fn write(&mut self, batch: Batch) -> Result<()> {
        DestinationWriter::write(self, batch).await
    }
    async fn commit(&mut self) -> Result<()> {
        DestinationWriter::commit(self).await
    }
    async fn complete(&mut self, stream: &str) -> Result<()> {
        DestinationWriter::complete(self, stream).await
    }
    async fn close(self) -> Result<()> {
        DestinationWriter::close(self).await
    }
}

/// A pipeline's source end: a sandboxed component or a process.
pub enum Reader {
    /// A component's reader.
    Component(SourceReader),
    /// A Singer tap or Airbyte source.
    Process(Box<ProcessReader>),
}

impl BatchSource for Reader {
    fn name(&self) -> &str {
        match self {
            Reader::Component(r) => r.connector(),
            Reader::Process(r) => BatchSource::name(r.as_ref()),
        }
    }
    async fn next(&mut self) -> Result<Option<Vec<Message>>> {
        match self {
            Reader::Component(r) => SourceReader::next(r).await,
            Reader::Process(r) => BatchSource::next(r.as_mut()).await,
        }
    }
    async fn close(self) -> Result<()> {
        match self {
            Reader::Component(r) => SourceReader::close(r).await,
            Reader::Process(r) => BatchSource::close(*r).await,
        }
    }
}

/// A pipeline's destination end: a sandboxed component or a process.
pub enum Writer {
    /// A component's writer.
    Component(DestinationWriter),
    /// A Singer target or Airbyte destination.
    Process(Box<ProcessWriter>),
}

/// `$call` on whichever writer it is.
macro_rules! each {
    ($self:ident, $w:ident => $call:expr) => {
        match $self {
            Writer::Component($w) => $call,
            Writer::Process($w) => {
                let $w = &mut **$w;
                $call
            }
        }
    };
}

impl BatchSink for Writer {
    async fn schema(&mut self, stream: &str, id: &SchemaId) -> Result<()> {
        each!(self, w => BatchSink::schema(w, stream, id).await)
    }
    async fn write(&mut self, batch: Batch) -> Result<()> {
        each!(self, w => BatchSink::write(w, batch).await)
    }
    async fn commit(&mut self) -> Result<()> {
        each!(self, w => BatchSink::commit(w).await)
    }
    async fn complete(&mut self, stream: &str) -> Result<()> {
        each!(self, w => BatchSink::complete(w, stream).await)
    }
    async fn close(self) -> Result<()> {
        match self {
            Writer::Component(w) => BatchSink::close(w).await,
            Writer::Process(w) => BatchSink::close(*w).await,
        }
    }
    fn confirms_state(&self) -> bool {
        match self {
            Writer::Component(w) => w.confirms_state(),
            Writer::Process(w) => w.confirms_state(),
        }
    }
    async fn checkpoint(&mut self, state: &StreamState) -> Result<()> {
        each!(self, w => BatchSink::checkpoint(w, state).await)
    }
    async fn end(&mut self) -> Result<()> {
        each!(self, w => BatchSink::end(w).await)
    }
    fn confirmed(&mut self) -> Vec<StreamState> {
        each!(self, w => w.confirmed())
    }
}
