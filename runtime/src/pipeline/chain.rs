//! A stream's chain of transforms for one source schema: declarative
//! [`Plan`]s and wasm [`Transformer`]s in the order the pipeline file lists
//! them, the evolution policy's drops first and the reserved-key renames
//! last, with the schema each link hands to the next.

use crate::connector::{Connector, Transformer};
use crate::registry::Registry;
use serde_json::Value;
use sluice_manifest::Sandbox;
use sluice_protocol::Batch;
use sluice_schema::Schema;
use sluice_transform::{Plan, Segment, Step, reserved, split};
use std::collections::BTreeMap;

/// A loaded transform component of a stream, by its step number.
#[derive(Debug, Clone)]
pub struct ComponentStep {
    /// The component.
    pub connector: Connector,
    /// Its `config` table.
    pub config: Value,
    /// Its sandbox: no grants, the step's limits.
    pub sandbox: Sandbox,
}

/// What the chain needs besides the steps.
pub(super) struct ChainSpec<'a> {
    pub stream: &'a str,
    pub steps: &'a [Step],
    pub components: &'a BTreeMap<usize, ComponentStep>,
    pub reserved: &'a [String],
    pub primary_key: &'a [String],
    pub drop_fields: &'a [String],
    pub drop_rows: &'a [String],
}

/// One link of a chain.
#[derive(Debug)]
pub(super) enum Link {
    Plan(Plan),
    Wasm(Transformer),
}

/// A built chain and the schema of what it emits.
#[derive(Debug)]
pub(super) struct Chain {
    pub links: Vec<Link>,
    pub output: Option<Schema>,
}

/// Why a chain cannot be built or run: a message for the stream's failure.
pub(super) type ChainError = String;

impl ChainSpec<'_> {
    /// Build the chain for rows following `input`, opening each component.
    pub(super) async fn build(
        &self,
        input: Option<&Schema>,
        registry: &Registry,
    ) -> Result<Chain, ChainError> {
        let mut links = Vec::new();
        let mut plan = Plan::identity(self.stream, input)
            .then_drop_rows(self.drop_rows)
            .then_drop_fields(self.drop_fields);
        for segment in split(self.steps) {
            match segment {
                Segment::Steps { offset, steps } => {
                    plan = plan.then_steps(offset, steps).map_err(|e| e.to_string())?;
                }
                Segment::Component { number, path, .. } => {
                    let schema = plan.output_schema().cloned();
                    if !plan.is_identity() {
                        links.push(Link::Plan(plan));
                    }
                    let (transformer, output) =
                        self.open(number, path, schema.as_ref(), registry).await?;
                    links.push(Link::Wasm(transformer));
                    plan = Plan::identity(self.stream, output.as_ref());
                }
            }
        }
        let renames = plan
            .output_schema()
            .map(|s| reserved::renames(s, self.reserved, self.primary_key))
            .unwrap_or_default();
        plan = plan.then_renames(&renames).map_err(|e| e.to_string())?;
        let output = plan.output_schema().cloned();
        if !plan.is_identity() {
            links.push(Link::Plan(plan));
        }
        Ok(Chain { links, output })
    }

    async fn open(
        &self,
        number: usize,
        path: &str,
        input: Option<&Schema>,
        registry: &Registry,
    ) -> Result<(Transformer, Option<Schema>), ChainError> {
        let c = self
            .components
            .get(&number)
            .ok_or_else(|| format!("transform {number} (`component` {path}) was not loaded"))?;
        c.connector
            .open_transform(&c.sandbox, &c.config, self.stream, input, registry)
            .await
            .map_err(|e| format!("transform {number} (`component` {path}): {e}"))
    }
}

impl Chain {
    /// Run a batch through every link; the result may hold no batch (all
    /// dropped) or several (a component split it). Returns the records
    /// dropped by plans, too.
    pub(super) async fn run(&mut self, batch: Batch) -> Result<(Vec<Batch>, u32), ChainError> {
        let mut batches = vec![batch];
        let mut dropped = 0;
        for link in &mut self.links {
            let mut next = Vec::with_capacity(batches.len());
            for mut batch in batches {
                match link {
                    Link::Plan(plan) => {
                        let applied = plan.apply(&batch.data).map_err(|e| e.to_string())?;
                        dropped += applied.dropped;
                        batch.count = applied.count;
                        batch.data = applied.data;
                        next.push(batch);
                    }
                    Link::Wasm(t) => {
                        let template = (batch.operation, batch.extracted_at, batch.stream.clone());
                        let out = t.transform(batch).await.map_err(|e| e.to_string())?;
                        for mut b in out {
                            (b.operation, b.extracted_at, b.stream) = template.clone();
                            next.push(b);
                        }
                    }
                }
            }
            batches = next.into_iter().filter(|b| b.count > 0).collect();
        }
        Ok((batches, dropped))
    }
}
