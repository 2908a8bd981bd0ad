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

use crate::registry::Registry;
use sluice_protocol::Batch;
use sluice_schema::evolve::{Policy, evolve};
use sluice_schema::{Schema, SchemaId};
use sluice_transform::{Plan, Step, reserved};
use std::collections::HashMap;

/// What a stream's batches go through on their way to the destination.
#[derive(Debug, Clone, Default)]
pub struct StreamShape {
    /// The stream.
    pub stream: String,
    /// Its evolution policy.
    pub policy: Policy,
    /// Its transforms (declarative steps).
    pub steps: Vec<Step>,
    /// The destination's reserved keys (first: its own primary key or "").
    pub reserved: Vec<String>,
    /// The stream's primary key.
    pub primary_key: Vec<String>,
    /// The schema discovered for the stream (typed), for schemaless batches.
    pub discovered: Option<Schema>,
    /// The schema the stream accepted last, if any run did.
    pub known: Option<Schema>,
}

/// One source schema's way through the stage.
#[derive(Debug)]
struct Route {
    /// `None` when batches pass unchanged.
    plan: Option<Plan>,
    /// The id batches carry to the destination.
    told: Option<SchemaId>,
}

/// Why a batch cannot go on: the stream fails with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError(pub String);

/// What the stage made of a batch.
#[derive(Debug)]
pub struct Shaped {
    /// The batch to write (`None` when every record was dropped).
    pub batch: Option<Batch>,
    /// Records dropped by a filter or the `discard_row` policy.
    pub dropped: u32,
    /// A schema to tell the destination before the batch.
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
pub struct Reshaper {
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
    pub fn shape(&mut self, mut batch: Batch, registry: &Registry) -> Result<Shaped, ShapeError> {
        let id = batch.schema_id.take().map(SchemaId);
        if !self.routes.contains_key(&id) {
            let route = self.plan_route(id.as_ref(), registry)?;
            self.routes.insert(id.clone(), route);
        }
        let route = &self.routes[&id];
        let tell = match &route.told {
            Some(told) if self.told.as_ref() != Some(told) => Some(told.clone()),
            _ => None,
        };
        if tell.is_some() {
            self.told = tell.clone();
        }
        batch.schema_id = route.told.as_ref().map(|id| id.0.clone());
        let Some(plan) = &route.plan else {
            return Ok(Shaped {
                batch: Some(batch),
                dropped: 0,
                tell,
            });
        };
        let applied = plan
            .apply(&batch.data)
            .map_err(|e| ShapeError(e.to_string()))?;
        batch.count = applied.count;
        batch.data = applied.data;
        let batch = (batch.count > 0).then_some(batch);
        Ok(Shaped {
            batch,
            dropped: applied.dropped,
            tell,
        })
    }

    /// Judge the source schema `id` and build its route.
    fn plan_route(
        &mut self,
        id: Option<&SchemaId>,
        registry: &Registry,
    ) -> Result<Route, ShapeError> {
        let stream = self.shape.stream.clone();
        let fail = |m: String| ShapeError(m);
        let (incoming, accepted) = match id {
            Some(id) => {
                let incoming = registry
                    .fetch(id)
                    .map_err(|e| fail(e.to_string()))?
                    .ok_or_else(|| {
                        fail(format!(
                            "a batch names schema {id}, which the registry does not have"
                        ))
                    })?;
                let evolution = evolve(self.shape.known.as_ref(), &incoming, &self.shape.policy)
                    .map_err(|v| fail(format!("schema change refused: {v}")))?;
                (Some(incoming), Some(evolution))
            }
            None => (self.shape.discovered.clone(), None),
        };
        let steps = &self.shape.steps;
        let told_source = accepted
            .as_ref()
            .map(|e| e.schema.clone())
            .or(incoming.clone());
        let schema_plan =
            Plan::new(&stream, steps, told_source.as_ref()).map_err(|e| fail(e.to_string()))?;
        let renames = schema_plan
            .output_schema()
            .map(|s| reserved::renames(s, &self.shape.reserved, &self.shape.primary_key))
            .unwrap_or_default();
        let schema_plan = schema_plan
            .then_renames(&renames)
            .map_err(|e| fail(e.to_string()))?;
        let (drop_fields, drop_rows) = accepted
            .as_ref()
            .map(|e| (e.drop_fields.clone(), e.drop_rows_with.clone()))
            .unwrap_or_default();
        let plan = Plan::identity(&stream, incoming.as_ref())
            .then_drop_rows(&drop_rows)
            .then_drop_fields(&drop_fields)
            .then_steps(0, steps)
            .and_then(|p| p.then_renames(&renames))
            .map_err(|e| fail(e.to_string()))?;
        if let Some(evolution) = accepted {
            let kept = self.keep(registry, &evolution.schema)?;
            self.accepted = Some(kept);
            self.shape.known = Some(evolution.schema);
        }
        let told = match (schema_plan.output_schema(), id) {
            (Some(out), Some(id)) if plan.is_identity() && incoming.as_ref() == Some(out) => {
                Some(id.clone())
            }
            (Some(out), _) => Some(self.keep(registry, out)?),
            (None, _) => None,
        };
        Ok(Route {
            plan: (!plan.is_identity()).then_some(plan),
            told,
        })
    }

    /// Register a schema the host derived, so the destination can fetch it.
    fn keep(&self, registry: &Registry, schema: &Schema) -> Result<SchemaId, ShapeError> {
        registry
            .keep(&self.shape.stream, schema)
            .map_err(|e| ShapeError(e.to_string()))
    }
}
