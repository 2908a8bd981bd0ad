//! The schema registry as the host offers it to guests (the 0.2.0
//! `registry` import): sources register the schemas of their streams,
//! destinations fetch them by id. A [`Registry`] is a cheap handle over a
//! [`SchemaStore`]: the state store for pipelines, memory for single
//! operations. It counts the fetches guests make, per id.

use sluice_schema::{Schema, SchemaId};
use sluice_state::StateStore;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Where registered schemas live.
pub trait SchemaStore: Send + Sync + 'static {
    /// Record `schema` as a version of `stream`; the id depends only on
    /// the schema.
    fn register(&self, stream: &str, schema: &Schema) -> Result<SchemaId, RegistryError>;
    /// The schema with this id, if known.
    fn fetch(&self, id: &SchemaId) -> Result<Option<Schema>, RegistryError>;
    /// Store a schema the host derived for `stream` (after its policy and
    /// transforms), without making it a version of the source's stream.
    fn keep(&self, stream: &str, schema: &Schema) -> Result<SchemaId, RegistryError>;
}

/// A registry operation that failed in its store.
#[derive(Debug, thiserror::Error)]
#[error("schema registry: {0}")]
pub struct RegistryError(pub String);

/// A handle on a schema registry, shared by the instances of a run.
#[derive(Clone)]
pub struct Registry {
    store: Arc<dyn SchemaStore>,
    fetches: Arc<Mutex<HashMap<SchemaId, u64>>>,
    /// The run registrations belong to, when the store records runs.
    run: Option<Arc<AtomicU64>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::memory()
    }
}

impl Registry {
    /// A registry over `store`.
    pub fn new(store: impl SchemaStore) -> Registry {
        Registry {
            store: Arc::new(store),
            fetches: Arc::default(),
            run: None,
        }
    }

    /// A registry that lives as long as the handle (single operations such
    /// as `sluice read`).
    pub fn memory() -> Registry {
        Registry::new(Memory::default())
    }

    /// Record registrations from now on as made during run `run`.
    pub fn set_run(&self, run: u64) {
        if let Some(r) = &self.run {
            r.store(run, Ordering::Relaxed);
        }
    }

    /// Register `schema` for `stream`.
    pub fn register(&self, stream: &str, schema: &Schema) -> Result<SchemaId, RegistryError> {
        self.store.register(stream, schema)
    }

    /// Store a schema the host derived for `stream`.
    pub fn keep(&self, stream: &str, schema: &Schema) -> Result<SchemaId, RegistryError> {
        self.store.keep(stream, schema)
    }

    /// The schema with id `id`.
    pub fn fetch(&self, id: &SchemaId) -> Result<Option<Schema>, RegistryError> {
        self.store.fetch(id)
    }

    /// A fetch made by a guest, counted.
    pub(crate) fn guest_fetch(&self, id: &SchemaId) -> Result<Option<Schema>, RegistryError> {
        *self
            .fetches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.clone())
            .or_default() += 1;
        self.fetch(id)
    }

    /// How many times guests fetched `id` through this registry.
    pub fn guest_fetches(&self, id: &SchemaId) -> u64 {
        let fetches = self.fetches.lock().unwrap_or_else(|p| p.into_inner());
        fetches.get(id).copied().unwrap_or(0)
    }
}

/// The registry of a pipeline's state store: schemas shared by every
/// pipeline of the store, versions per (pipeline, stream), the run that
/// first saw each version.
pub struct StoreRegistry {
    store: StateStore,
    pipeline: String,
    run: Arc<AtomicU64>,
}

impl StoreRegistry {
    /// A registry over `store` for `pipeline`; versions are recorded under
    /// the run set with [`Registry::set_run`].
    pub fn registry(store: &StateStore, pipeline: &str) -> Registry {
        let run = Arc::new(AtomicU64::new(0));
        let mut registry = Registry::new(StoreRegistry {
            store: store.clone(),
            pipeline: pipeline.to_string(),
            run: run.clone(),
        });
        registry.run = Some(run);
        registry
    }

    fn run(&self) -> Option<u64> {
        Some(self.run.load(Ordering::Relaxed)).filter(|r| *r != 0)
    }
}

impl SchemaStore for StoreRegistry {
    fn register(&self, stream: &str, schema: &Schema) -> Result<SchemaId, RegistryError> {
        self.store
            .register_schema(&self.pipeline, stream, schema, self.run())
            .map_err(|e| RegistryError(e.to_string()))
    }

    fn fetch(&self, id: &SchemaId) -> Result<Option<Schema>, RegistryError> {
        self.store
            .fetch_schema(id)
            .map_err(|e| RegistryError(e.to_string()))
    }

    fn keep(&self, _stream: &str, schema: &Schema) -> Result<SchemaId, RegistryError> {
        self.store
            .keep_schema(schema)
            .map_err(|e| RegistryError(e.to_string()))
    }
}

/// Schemas in memory.
#[derive(Default)]
struct Memory {
    schemas: Mutex<HashMap<SchemaId, Schema>>,
}

impl SchemaStore for Memory {
    fn register(&self, _stream: &str, schema: &Schema) -> Result<SchemaId, RegistryError> {
        let id = schema.id();
        let mut schemas = self.schemas.lock().unwrap_or_else(|p| p.into_inner());
        schemas.entry(id.clone()).or_insert_with(|| schema.clone());
        Ok(id)
    }

    fn fetch(&self, id: &SchemaId) -> Result<Option<Schema>, RegistryError> {
        let schemas = self.schemas.lock().unwrap_or_else(|p| p.into_inner());
        Ok(schemas.get(id).cloned())
    }

    fn keep(&self, stream: &str, schema: &Schema) -> Result<SchemaId, RegistryError> {
        self.register(stream, schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_schema::{Field, Type};

    #[test]
    fn memory_registry_gives_content_ids_and_counts_guest_fetches() {
        let registry = Registry::memory();
        let schema = Schema::new(vec![Field::required("id", Type::Int64)]);
        let id = registry.register("users", &schema).unwrap();
        assert_eq!(id, schema.id());
        assert_eq!(registry.register("admins", &schema).unwrap(), id);
        assert_eq!(registry.fetch(&id).unwrap(), Some(schema.clone()));
        assert_eq!(registry.guest_fetches(&id), 0);
        registry.guest_fetch(&id).unwrap();
        assert_eq!(registry.guest_fetches(&id), 1);
        assert_eq!(registry.fetch(&SchemaId("nope".into())).unwrap(), None);
    }
}
