//! A source's open reader: `next()` until the source is done.

use crate::bindings::{self, source};
use crate::error::{Call, Error, Result};
use crate::instance::Instance;
use sluice_protocol::Message;
use std::sync::Arc;
use wasmtime::component::ResourceAny;

/// A source's open reader.
pub struct SourceReader {
    inst: Instance,
    exports: Arc<source::SourceConnector>,
    reader: Option<ResourceAny>,
}

impl std::fmt::Debug for SourceReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceReader")
            .field("connector", &self.inst.connector())
            .finish()
    }
}

impl SourceReader {
    pub(super) fn new(
        inst: Instance,
        exports: Arc<source::SourceConnector>,
        reader: ResourceAny,
    ) -> Self {
        SourceReader {
            inst,
            exports,
            reader: Some(reader),
        }
    }

    /// The connector's name.
    pub fn connector(&self) -> &str {
        self.inst.connector()
    }

    /// The largest batch this source may hand over, in bytes
    /// (`limits.batch_mib`).
    pub fn max_batch_bytes(&self) -> usize {
        self.inst.limits().batch_bytes()
    }

    /// The next messages, or `None` once every stream is done. Checkpoints
    /// are checked here (JSON, no secret config value in them); batches
    /// are checked by whoever consumes them
    /// ([`check_batch`](crate::pipeline::check_batch)).
    pub async fn next(&mut self) -> Result<Option<Vec<Message>>> {
        let reader = self.reader.ok_or_else(|| Error::Poisoned {
            connector: self.inst.connector().to_string(),
        })?;
        let exports = self.exports.clone();
        let messages = self
            .inst
            .call_value(Call::Next, |store| {
                Box::pin(async move {
                    exports
                        .sluice_connector_source()
                        .reader()
                        .call_next(store, reader)
                        .await
                })
            })
            .await?;
        let Some(messages) = messages else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            out.push(self.message_in(m)?);
        }
        Ok(Some(out))
    }

    /// One message from the guest, checked and converted.
    fn message_in(&mut self, m: bindings::t::Message) -> Result<Message> {
        if let bindings::t::Message::State(st) = &m
            && self.inst.redactor().contains_secret(&st.state)
        {
            self.inst.poison();
            return Err(self.inst.protocol(
                Call::Next,
                format!(
                    "the checkpoint of stream `{}` contains the value of a secret config field; it is not persisted",
                    st.stream
                ),
            ));
        }
        let mut m = bindings::message_in(m).map_err(|e| self.inst.invalid_json(Call::Next, e))?;
        if let Message::StreamError(e) = &mut m {
            e.message = self.inst.redactor().scrub(&e.message);
        }
        Ok(m)
    }

    /// Drop the reader resource inside the guest.
    pub async fn close(mut self) -> Result<()> {
        if let Some(reader) = self.reader.take()
            && !self.inst.is_poisoned()
        {
            self.inst
                .call(Call::Close, |store| {
                    Box::pin(reader.resource_drop_async(store))
                })
                .await?;
        }
        Ok(())
    }
}
