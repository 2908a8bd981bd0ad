//! The stage between the batch check and the write: each stream's schema
//! evolution policy, its transforms and the destination's reserved-key
//! renames, and telling the destination of a schema before the first
//! batch under it.
//!
//! A batch names the registry id of its source schema. The first batch
//! under an id this run has not seen fetches that schema, judges it against
//! the schema the stream accepted last ([`evolve`]), and builds the
//! stream's [`Plan`] for it: the policy's drops, the pipeline's transforms,
//! then reserved-key renames. The schema the plan produces is registered
//! and told to the destination when it differs from the one told last.
//! Batches of a stream whose plan is the identity are forwarded without
//! being parsed.

use super::chain::{Chain, ChainSpec, ComponentStep};
use crate::registry::Registry;
use sluice_protocol::Batch;
use sluice_schema::evolve::{Policy, evolve};
use sluice_schema::{Schema, SchemaId};
use sluice_transform::Step;
use std::collections::{BTreeMap, HashMap};

/// What a stream's batches go through on their way to the destination.
#[derive(Debug, Clone, Default)]
pub struct StreamShape {
    /// The stream.
    pub stream: String,
    /// Its evolution policy.
    pub policy: Policy,
    /// Its transforms, in order.
    pub steps: Vec<Step>,
    /// The loaded components of its `component` steps, by step number.
    pub components: BTreeMap<usize, ComponentStep>,
    /// The destination's reserved keys (first: its own primary key or "").
    pub reserved: Vec<String>,
    /// The stream's primary key.
    pub primary_key: Vec<String>,
    /// The schema discovered for the stream (typed), for schemaless batches.
    pub discovered: Option<Schema>,
    /// The schema the stream accepted last, if any run did.
    pub known: Option<Schema>,
}

impl StreamShape {
    /// The chain for rows following `input`, with the policy's drops.
    fn spec<'a>(&'a self, drop_fields: &'a [String], drop_rows: &'a [String]) -> ChainSpec<'a> {
        ChainSpec {
            stream: &self.stream,
            steps: &self.steps,
            components: &self.components,
            reserved: &self.reserved,
            primary_key: &self.primary_key,
            drop_fields,
            drop_rows,
        }
    }

    /// Build the chain for the discovered schema, to check every step
    /// (and open every component) before anything runs; returns the schema
    /// the destination would be told.
    pub async fn check(&self, registry: &Registry) -> Result<Option<Schema>, ShapeError> {
        let chain = self
            .spec(&[], &[])
            .build(self.discovered.as_ref(), registry)
            .await;
        chain.map(|c| c.output).map_err(ShapeError)
    }
}

/// One source schema's way through the stage.
#[derive(Debug)]
struct Route {
    /// `None` when batches pass unchanged.
    chain: Option<Chain>,
    /// The id batches carry to the destination.
    told: Option<SchemaId>,
}

/// Why a batch cannot go on: the stream fails with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError(pub String);

/// What the stage made of a batch.
#[derive(Debug)]
pub(crate) struct Shaped {
    /// The batches to write (none when every record was dropped).
    pub batches: Vec<Batch>,
    /// Records dropped by a filter or the `discard_row` policy.
    pub dropped: u32,
    /// A schema to tell the destination before the batches.
    pub tell: Option<SchemaId>,
}

/// What a run's streams go through between the check and the write, and
/// the registry their schemas live in. The default forwards every batch
/// unchanged, in memory.
#[derive(Debug, Clone, Default)]
pub struct Stages {
    /// One shape per stream that has one.
    pub shapes: Vec<StreamShape>,
    /// The registry of the run.
    pub registry: Registry,
}

/// The stage's state for one stream during a run.
#[derive(Debug)]
pub(crate) struct Reshaper {
    shape: StreamShape,
    routes: HashMap<Option<SchemaId>, Route>,
    told: Option<SchemaId>,
    accepted: Option<SchemaId>,
}

impl Reshaper {
    /// The stage for one stream.
    pub fn new(shape: StreamShape) -> Reshaper {
        Reshaper {
            shape,
            routes: HashMap::new(),
            told: None,
            accepted: None,
        }
    }

    /// The id of the source-side schema the stream accepted in this run.
    pub fn accepted(&self) -> Option<&SchemaId> {
        self.accepted.as_ref()
    }

    /// Take one checked batch.
    pub async fn shape(
        &mut self,
        mut batch: Batch,
        registry: &Registry,
    ) -> Result<Shaped, ShapeError> {
        let id = batch.schema_id.take().map(SchemaId);
        if !self.routes.contains_key(&id) {
            let route = self.plan_route(id.as_ref(), registry).await?;
            self.routes.insert(id.clone(), route);
        }
        let route = self.routes.get_mut(&id).expect("just inserted");
        let tell = match &route.told {
            Some(told) if self.told.as_ref() != Some(told) => Some(told.clone()),
            _ => None,
        };
        if tell.is_some() {
            self.told = tell.clone();
        }
        let told = route.told.as_ref().map(|id| id.0.clone());
        batch.schema_id = told.clone();
        let Some(chain) = &mut route.chain else {
            return Ok(Shaped {
                batches: vec![batch],
                dropped: 0,
                tell,
            });
        };
        let (mut batches, dropped) = chain.run(batch).await.map_err(ShapeError)?;
        for b in &mut batches {
            b.schema_id = told.clone();
        }
        Ok(Shaped {
            batches,
            dropped,
            tell,
        })
    }

    /// Judge the source schema `id` and build its route.
    async fn plan_route(
        &mut self,
        id: Option<&SchemaId>,
        registry: &Registry,
    ) -> Result<Route, ShapeError> {
        let (input, evolution) = match id {
            Some(id) => {
                let incoming = registry
                    .fetch(id)
                    .map_err(|e| ShapeError(e.to_string()))?
                    .ok_or_else(|| {
                        ShapeError(format!(
                            "a batch names schema {id}, which the registry does not have"
                        ))
                    })?;
                let evolution = evolve(self.shape.known.as_ref(), &incoming, &self.shape.policy)
                    .map_err(|v| ShapeError(format!("schema change refused: {v}")))?;
                (Some(evolution.schema.clone()), Some((incoming, evolution)))
            }
            None => (self.shape.discovered.clone(), None),
        };
        let (drop_fields, drop_rows) = evolution
            .as_ref()
            .map(|(_, e)| (e.drop_fields.clone(), e.drop_rows_with.clone()))
            .unwrap_or_default();
        let chain = self
            .shape
            .spec(&drop_fields, &drop_rows)
            .build(input.as_ref(), registry)
            .await
            .map_err(ShapeError)?;
        let unchanged = chain.links.is_empty()
            && evolution
                .as_ref()
                .is_some_and(|(incoming, _)| chain.output.as_ref() == Some(incoming));
        if let Some((_, evolution)) = evolution {
            self.accepted = Some(self.keep(registry, &evolution.schema)?);
            self.shape.known = Some(evolution.schema);
        }
        let told = match (&chain.output, id) {
            (Some(_), Some(id)) if unchanged => Some(id.clone()),
            (Some(out), _) => Some(self.keep(registry, out)?),
            (None, _) => None,
        };
        let chain = (!chain.links.is_empty()).then_some(chain);
        Ok(Route { chain, told })
    }

    /// Register a schema the host derived, so the destination can fetch it.
    fn keep(&self, registry: &Registry, schema: &Schema) -> Result<SchemaId, ShapeError> {
        registry
            .keep(&self.shape.stream, schema)
            .map_err(|e| ShapeError(e.to_string()))
    }
}
