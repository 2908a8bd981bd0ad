//! The schema registry, as connector code sees it: the host's `registry`
//! import in a component, an in-memory registry (one per thread) when the
//! connector runs natively.
//!
//! [`register`] asks the registry at most once per stream and schema during
//! a read: ids are cached by the schema's content id, and the cache starts
//! empty with every reader ([`native::read`](crate::native::read)).
//! [`BatchBuilder::schema`](crate::BatchBuilder::schema) calls it, so most
//! connectors never do.

use crate::protocol::schema::{Schema, SchemaId};
use crate::{ConnectorError, Result};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

/// How the SDK reaches a registry: the export glue installs the host's.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Backend {
    /// `register(stream, schema) -> result<schema-id, string>`.
    pub register: fn(&str, &Schema) -> Result<String, String>,
    /// `fetch(id) -> option<schema>`; `Err` when the host's schema is malformed.
    pub fetch: fn(&str) -> Result<Option<Schema>, String>,
}

static BACKEND: OnceLock<Backend> = OnceLock::new();

/// Use `backend` instead of the in-memory registry; called by the export glue.
#[doc(hidden)]
pub fn install(backend: Backend) {
    let _ = BACKEND.set(backend);
}

fn backend() -> Backend {
    BACKEND.get().copied().unwrap_or(Backend {
        register: memory::register,
        fetch: memory::fetch,
    })
}

thread_local! {
    /// Ids this reader registered, by stream and content id.
    static REGISTERED: RefCell<HashMap<(String, SchemaId), String>> = RefCell::default();
}

/// Forget the ids registered so far: a new reader starts.
pub(crate) fn new_reader() {
    REGISTERED.with(|r| r.borrow_mut().clear());
}

/// Register `schema` as a version of `stream`; its registry id. Each
/// distinct schema of a stream reaches the registry once per reader.
///
/// ```
/// use sluice_guest::protocol::schema::{Field, Schema, Type};
/// let schema = Schema::new(vec![Field::required("id", Type::Int64)]);
/// let id = sluice_guest::registry::register("users", &schema).unwrap();
/// assert_eq!(id, schema.id().as_str());
/// let again = sluice_guest::registry::register("users", &schema).unwrap();
/// assert_eq!(again, id);
/// assert_eq!(sluice_guest::native::registrations().len(), 1);
/// assert_eq!(sluice_guest::registry::fetch(&id).unwrap(), Some(schema));
/// ```
pub fn register(stream: &str, schema: &Schema) -> Result<String> {
    let key = (stream.to_string(), schema.id());
    if let Some(id) = REGISTERED.with(|r| r.borrow().get(&key).cloned()) {
        return Ok(id);
    }
    let id = (backend().register)(stream, schema).map_err(|e| {
        ConnectorError::internal(format!("the schema registry refused the schema: {e}"))
            .in_stream(stream)
    })?;
    REGISTERED.with(|r| r.borrow_mut().insert(key, id.clone()));
    Ok(id)
}

/// The schema registered under `id`, if the registry has it.
pub fn fetch(id: &str) -> Result<Option<Schema>> {
    (backend().fetch)(id).map_err(|e| {
        ConnectorError::data(format!(
            "the schema registry's schema `{id}` is malformed: {e}"
        ))
    })
}

/// The in-memory registry of native runs: one per thread, so parallel
/// tests do not see each other's schemas.
pub(crate) mod memory {
    use super::*;

    #[derive(Default)]
    struct Memory {
        schemas: HashMap<String, Schema>,
        log: Vec<(String, String)>,
    }

    thread_local! {
        static MEMORY: RefCell<Memory> = RefCell::default();
    }

    /// Register as the host does: the schema must survive the type
    /// table (no duplicate fields, defaults that are JSON); the id is the
    /// content id.
    pub(crate) fn register(stream: &str, schema: &Schema) -> Result<String, String> {
        Schema::from_table(&schema.to_table()).map_err(|e| e.to_string())?;
        let id = schema.id().to_string();
        MEMORY.with(|m| {
            let mut m = m.borrow_mut();
            m.schemas.insert(id.clone(), schema.clone());
            m.log.push((stream.to_string(), id.clone()));
        });
        Ok(id)
    }

    pub(crate) fn fetch(id: &str) -> Result<Option<Schema>, String> {
        Ok(MEMORY.with(|m| m.borrow().schemas.get(id).cloned()))
    }

    /// Every registration this thread made, as (stream, id), in order.
    pub(crate) fn log() -> Vec<(String, String)> {
        MEMORY.with(|m| m.borrow().log.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::{Field, Type};

    #[test]
    fn each_schema_of_a_stream_is_registered_once_per_reader() {
        let a = Schema::new(vec![Field::required("id", Type::Int64)]);
        let b = Schema::new(vec![Field::required("id", Type::Int32)]);
        for _ in 0..3 {
            register("users", &a).unwrap();
            register("users", &b).unwrap();
            register("orders", &a).unwrap();
        }
        assert_eq!(memory::log().len(), 3);
        new_reader();
        register("users", &a).unwrap();
        assert_eq!(memory::log().len(), 4);
        assert_eq!(fetch(&b.id().to_string()).unwrap(), Some(b));
        assert_eq!(fetch("nope").unwrap(), None);
    }

    #[test]
    fn a_malformed_schema_is_refused_naming_the_stream() {
        let dup = Schema::new(vec![
            Field::required("id", Type::Int64),
            Field::required("id", Type::String),
        ]);
        let e = register("users", &dup).unwrap_err();
        assert_eq!(e.stream.as_deref(), Some("users"));
        assert!(
            e.message.starts_with("the schema registry refused"),
            "{e:?}"
        );
    }
}
