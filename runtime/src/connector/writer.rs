//! A destination's open writer: `write(batch)` and `commit()`.

use crate::bindings::{v0_1, v0_2};
use crate::error::{Call, Error, Result};
use crate::instance::Instance;
use sluice_protocol::Batch;
use sluice_schema::SchemaId;
use std::sync::Arc;
use wasmtime::component::ResourceAny;

/// `commit()` through a version's exports (the same code for each).
macro_rules! commit {
    ($self:ident, $exports:ident, $writer:ident) => {{
        let exports = $exports.clone();
        $self
            .inst
            .call_value(Call::Commit, |store| {
                Box::pin(async move {
                    let writer_ = exports.sluice_connector_destination().writer();
                    writer_.call_commit(store, $writer).await
                })
            })
            .await
    }};
}

/// A destination's exports, by contract version.
pub(super) enum WriterExports {
    V0_1(Arc<v0_1::destination::DestinationConnector>),
    V0_2(Arc<v0_2::destination::DestinationConnector>),
}

impl From<Arc<v0_1::destination::DestinationConnector>> for WriterExports {
    fn from(e: Arc<v0_1::destination::DestinationConnector>) -> Self {
        WriterExports::V0_1(e)
    }
}

impl From<Arc<v0_2::destination::DestinationConnector>> for WriterExports {
    fn from(e: Arc<v0_2::destination::DestinationConnector>) -> Self {
        WriterExports::V0_2(e)
    }
}

/// A destination's open writer.
pub struct DestinationWriter {
    inst: Instance,
    exports: WriterExports,
    writer: Option<ResourceAny>,
}

impl std::fmt::Debug for DestinationWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DestinationWriter")
            .field("connector", &self.inst.connector())
            .finish()
    }
}

impl DestinationWriter {
    pub(super) fn new(inst: Instance, exports: WriterExports, writer: ResourceAny) -> Self {
        DestinationWriter {
            inst,
            exports,
            writer: Some(writer),
        }
    }

    fn writer(&self) -> Result<ResourceAny> {
        self.writer.ok_or_else(|| Error::Poisoned {
            connector: self.inst.connector().to_string(),
        })
    }

    /// The contract version of the destination.
    pub fn contract_version(&self) -> &'static str {
        match self.exports {
            WriterExports::V0_1(_) => "0.1.0",
            WriterExports::V0_2(_) => "0.2.0",
        }
    }

    /// Tell the destination that batches of `stream` follow the registry
    /// schema `id` from now on. A 0.1.0 destination has no such call: it
    /// is not told.
    pub async fn schema(&mut self, stream: &str, id: &SchemaId) -> Result<()> {
        let writer = self.writer()?;
        let WriterExports::V0_2(exports) = &self.exports else {
            return Ok(());
        };
        let (exports, stream, id) = (exports.clone(), stream.to_string(), id.to_string());
        self.inst
            .call_value(Call::Schema, |store| {
                Box::pin(async move {
                    let writer_ = exports.sluice_connector_destination().writer();
                    writer_.call_schema(store, writer, &stream, &id).await
                })
            })
            .await
    }

    /// Apply one batch (its operation travels with it).
    pub async fn write(&mut self, batch: Batch) -> Result<()> {
        let writer = self.writer()?;
        match &self.exports {
            WriterExports::V0_1(exports) => {
                let (exports, (batch, op)) = (exports.clone(), v0_1::batch_out(batch));
                self.inst
                    .call_value(Call::WriteBatch, |store| {
                        Box::pin(async move {
                            let writer_ = exports.sluice_connector_destination().writer();
                            writer_.call_write(store, writer, &batch, op).await
                        })
                    })
                    .await
            }
            WriterExports::V0_2(exports) => {
                let (exports, batch) = (exports.clone(), v0_2::batch_out(batch));
                self.inst
                    .call_value(Call::WriteBatch, |store| {
                        Box::pin(async move {
                            let writer_ = exports.sluice_connector_destination().writer();
                            writer_.call_write(store, writer, &batch).await
                        })
                    })
                    .await
            }
        }
    }

    /// Tell the destination that the source sent the last batch of
    /// `stream` for this run. A 0.1.0 destination has no such call.
    pub async fn complete(&mut self, stream: &str) -> Result<()> {
        let writer = self.writer()?;
        let WriterExports::V0_2(exports) = &self.exports else {
            return Ok(());
        };
        let (exports, stream) = (exports.clone(), stream.to_string());
        self.inst
            .call_value(Call::Complete, |store| {
                Box::pin(async move {
                    let writer_ = exports.sluice_connector_destination().writer();
                    writer_.call_complete(store, writer, &stream).await
                })
            })
            .await
    }

    /// Make everything written so far durable.
    pub async fn commit(&mut self) -> Result<()> {
        let writer = self.writer()?;
        match &self.exports {
            WriterExports::V0_1(exports) => commit!(self, exports, writer),
            WriterExports::V0_2(exports) => commit!(self, exports, writer),
        }
    }

    /// Drop the writer resource inside the guest (without committing).
    pub async fn close(mut self) -> Result<()> {
        if let Some(writer) = self.writer.take()
            && !self.inst.is_poisoned()
        {
            self.inst
                .call(Call::Close, |store| {
                    Box::pin(writer.resource_drop_async(store))
                })
                .await?;
        }
        Ok(())
    }
}
