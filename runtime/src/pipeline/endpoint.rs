//! The two seams of a run: where its messages come from ([`BatchSource`])
//! and where its batches go ([`BatchSink`]). The sandboxed reader and
//! writer implement them; so do the natively built connectors of the
//! benchmarks, and an embedder's own endpoints.

use crate::connector::{DestinationWriter, SourceReader};
use crate::error::Result;
use sluice_protocol::{Batch, Message};
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
