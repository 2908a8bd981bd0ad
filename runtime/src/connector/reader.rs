//! A source's open reader: `next()` until the source is done.

use crate::bindings::{InvalidJson, v0_1, v0_2};
use crate::error::{Call, Error, Result};
use crate::instance::Instance;
use sluice_protocol::Message;
use std::sync::Arc;
use wasmtime::component::ResourceAny;

/// `reader.next()` through a version's exports (the same code for each).
macro_rules! next {
    ($self:ident, $exports:ident, $reader:ident) => {{
        let exports = $exports.clone();
        $self
            .inst
            .call_value(Call::Next, |store| {
                Box::pin(async move {
                    let reader_ = exports.sluice_connector_source().reader();
                    reader_.call_next(store, $reader).await
                })
            })
            .await?
    }};
}

/// A source's exports, by contract version.
pub(super) enum ReaderExports {
    V0_1(Arc<v0_1::source::SourceConnector>),
    V0_2(Arc<v0_2::source::SourceConnector>),
}

impl From<Arc<v0_1::source::SourceConnector>> for ReaderExports {
    fn from(e: Arc<v0_1::source::SourceConnector>) -> Self {
        ReaderExports::V0_1(e)
    }
}

impl From<Arc<v0_2::source::SourceConnector>> for ReaderExports {
    fn from(e: Arc<v0_2::source::SourceConnector>) -> Self {
        ReaderExports::V0_2(e)
    }
}

/// A source's open reader.
pub struct SourceReader {
    inst: Instance,
    exports: ReaderExports,
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
    pub(super) fn new(inst: Instance, exports: ReaderExports, reader: ResourceAny) -> Self {
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
        match &self.exports {
            ReaderExports::V0_1(exports) => {
                let messages = next!(self, exports, reader);
                self.messages_in(messages, v0_1::state_text, v0_1::message_in)
            }
            ReaderExports::V0_2(exports) => {
                let messages = next!(self, exports, reader);
                self.messages_in(messages, v0_2::state_text, v0_2::message_in)
            }
        }
    }

    /// The guest's messages, checked and converted: a checkpoint holding a
    /// secret config value is refused before it is parsed.
    fn messages_in<M>(
        &mut self,
        messages: Option<Vec<M>>,
        state_text: impl Fn(&M) -> Option<(&str, &str)>,
        convert: impl Fn(M) -> std::result::Result<Message, InvalidJson>,
    ) -> Result<Option<Vec<Message>>> {
        let Some(messages) = messages else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            if let Some((stream, state)) = state_text(&m)
                && self.inst.redactor().contains_secret(state)
            {
                let message = format!(
                    "the checkpoint of stream `{stream}` contains the value of a secret config field; it is not persisted"
                );
                self.inst.poison();
                return Err(self.inst.protocol(Call::Next, message));
            }
            let mut m = convert(m).map_err(|e| self.inst.invalid_json(Call::Next, e))?;
            if let Message::StreamError(e) = &mut m {
                e.message = self.inst.redactor().scrub(&e.message);
            }
            out.push(m);
        }
        Ok(Some(out))
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
