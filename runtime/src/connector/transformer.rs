//! A transform component's open transformer: `transform(batch)` returns
//! the batches that go on, under the output schema it declared when opened.

use super::Connector;
use crate::bindings::{schema, v0_2};
use crate::error::{Call, Error, Result};
use crate::instance::Instance;
use crate::redact::Redactor;
use crate::registry::Registry;
use serde_json::Value;
use sluice_manifest::Sandbox;
use sluice_protocol::Batch;
use sluice_schema::Schema;
use std::sync::Arc;
use wasmtime::component::ResourceAny;

/// An open transformer of one stream.
pub struct Transformer {
    inst: Instance,
    exports: Arc<v0_2::transform::TransformConnector>,
    transformer: Option<ResourceAny>,
}

impl std::fmt::Debug for Transformer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transformer")
            .field("component", &self.inst.connector())
            .finish()
    }
}

impl Connector {
    /// Whether the component exports `transform` (contract 0.2.0).
    pub fn is_transform(&self) -> bool {
        self.inner.linked.contract.is_transform()
    }

    /// Open a transformer for `stream`, whose rows follow `input`; returns
    /// it with the schema of the rows it emits.
    pub async fn open_transform(
        &self,
        sandbox: &Sandbox,
        config: &Value,
        stream: &str,
        input: Option<&Schema>,
        registry: &Registry,
    ) -> Result<(Transformer, Option<Schema>)> {
        let (mut inst, contract) = self
            .instance(sandbox, Redactor::default(), registry)
            .await?;
        let Some(indices) = contract.transform() else {
            return Err(Error::NotAConnector {
                path: self.inner.path.clone(),
                message: "it does not export `sluice:connector/transform@0.2.0`".into(),
            });
        };
        let exports = Arc::new(inst.exports(Call::Transform, |s, i| indices.load(s, i))?);
        let (config, stream, input) = (
            config.to_string(),
            stream.to_string(),
            input.map(schema::schema_out),
        );
        let open = exports.clone();
        let (transformer, output) = inst
            .call_value(Call::Transform, |store| {
                Box::pin(async move {
                    let t = open.sluice_connector_transform();
                    t.call_open(store, &config, &stream, input.as_ref()).await
                })
            })
            .await?;
        let output = match output {
            Some(table) => Some(schema::schema_in(table).map_err(|e| {
                inst.protocol(
                    Call::Transform,
                    format!("its output schema is malformed: {e}"),
                )
            })?),
            None => None,
        };
        let transformer = Transformer {
            inst,
            exports,
            transformer: Some(transformer),
        };
        Ok((transformer, output))
    }
}

impl Transformer {
    /// The component's name.
    pub fn component(&self) -> &str {
        self.inst.connector()
    }

    /// Rewrite one batch; the component may drop, split or rewrite records.
    pub async fn transform(&mut self, batch: Batch) -> Result<Vec<Batch>> {
        let transformer = self.transformer.ok_or_else(|| Error::Poisoned {
            connector: self.inst.connector().to_string(),
        })?;
        let (exports, batch) = (self.exports.clone(), v0_2::batch_out(batch));
        let out = self
            .inst
            .call_value(Call::Transform, |store| {
                Box::pin(async move {
                    let t = exports.sluice_connector_transform().transformer();
                    t.call_transform(store, transformer, &batch).await
                })
            })
            .await?;
        Ok(out.into_iter().map(v0_2::batch_in).collect())
    }
}
