//! A destination's open writer: `write(batch)` and `commit()`.

use crate::bindings::{self, destination};
use crate::error::{Call, Error, Result};
use crate::instance::Instance;
use sluice_protocol::{Batch, Operation};
use std::sync::Arc;
use wasmtime::component::ResourceAny;

/// A destination's open writer.
pub struct DestinationWriter {
    inst: Instance,
    exports: Arc<destination::DestinationConnector>,
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
    pub(super) fn new(
        inst: Instance,
        exports: Arc<destination::DestinationConnector>,
        writer: ResourceAny,
    ) -> Self {
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

    /// Apply one batch.
    pub async fn write(&mut self, batch: Batch, op: Operation) -> Result<()> {
        let writer = self.writer()?;
        let exports = self.exports.clone();
        let (batch, op) = (bindings::batch_out(batch), bindings::operation_out(op));
        self.inst
            .call_value(Call::WriteBatch, |store| {
                Box::pin(async move {
                    exports
                        .sluice_connector_destination()
                        .writer()
                        .call_write(store, writer, &batch, op)
                        .await
                })
            })
            .await
    }

    /// Make everything written so far durable.
    pub async fn commit(&mut self) -> Result<()> {
        let writer = self.writer()?;
        let exports = self.exports.clone();
        self.inst
            .call_value(Call::Commit, |store| {
                Box::pin(async move {
                    exports
                        .sluice_connector_destination()
                        .writer()
                        .call_commit(store, writer)
                        .await
                })
            })
            .await
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
