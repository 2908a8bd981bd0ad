//! The schema registry: every schema a stream was seen with, stored once
//! per store under its content id, and per `(pipeline, stream)` the list
//! of versions in the order they were first seen.
//!
//! Schemas are shared: two pipelines of one store that see the same
//! schema get the same [`SchemaId`] and one row of `schemas`, and each
//! its own version. Versions are history, like runs:
//! [`StateStore::reset`] keeps them, so a re-synced stream goes on
//! numbering from its last version.
//!
//! ```
//! use sluice_state::StateStore;
//! let store = StateStore::in_memory().unwrap();
//! let schema = sluice_schema::Schema::default();
//! let id = store.register_schema("demo", "users", &schema, Some(1)).unwrap();
//! assert_eq!(store.fetch_schema(&id).unwrap(), Some(schema));
//! assert_eq!(store.schema_versions("demo", "users").unwrap()[0].version, 1);
//! ```

use crate::{Error, ErrorKind, Result, SCHEMA_VERSIONS, SCHEMAS, StateStore, pair_key};
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use sluice_schema::{Schema, SchemaId};

/// One version of a stream's schema: which schema, and when the stream
/// was first seen with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaVersion {
    /// 1, 2, ... per `(pipeline, stream)`, in first-seen order.
    pub version: u32,
    /// The schema, in the store's `schemas`.
    pub id: SchemaId,
    /// The run that first saw it (a [`crate::RunRecord::id`]), if it was
    /// registered during a run.
    pub first_seen_run: Option<u64>,
    /// When it was first seen (Unix milliseconds).
    pub first_seen_at_ms: u64,
}

/// The number after the highest of `versions` (1 for none), unless the
/// numbers ran out.
fn next_version(versions: &[SchemaVersion]) -> Option<u32> {
    let last = versions.iter().map(|v| v.version).max().unwrap_or(0);
    last.checked_add(1)
}

impl StateStore {
    /// Record that `stream` of `pipeline` was seen with `schema` (during
    /// `run`, if any), in one transaction; returns the schema's id.
    ///
    /// The schema is stored under its id unless it already is. A version is
    /// added only if the id is not among the stream's versions yet: seeing
    /// the same schema again, or an older one again, changes nothing.
    pub fn register_schema(
        &self,
        pipeline: &str,
        stream: &str,
        schema: &Schema,
        run: Option<u64>,
    ) -> Result<SchemaId> {
        self.guarded(|| {
            let id = schema.id();
            let txn = self.write_txn()?;
            self.store_schema(&txn, &id, schema)?;
            self.add_version(&txn, pipeline, stream, &id, run)?;
            self.commit(txn)?;
            Ok(id)
        })
    }

    /// Insert `schema` under `id` in `schemas` unless it is there.
    fn store_schema(&self, txn: &WriteTransaction, id: &SchemaId, schema: &Schema) -> Result<()> {
        let mut table = self.open_write(txn, SCHEMAS)?;
        if table.get(id.as_str()).map_err(|e| self.err(e))?.is_none() {
            let bytes = serde_json::to_vec(schema).expect("a schema serialises");
            table
                .insert(id.as_str(), bytes.as_slice())
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Store a schema without making it a version of any stream (a schema
    /// the host derived from a source's, after policy and transforms).
    pub fn keep_schema(&self, schema: &Schema) -> Result<SchemaId> {
        self.guarded(|| {
            let id = schema.id();
            let txn = self.write_txn()?;
            self.store_schema(&txn, &id, schema)?;
            self.commit(txn)?;
            Ok(id)
        })
    }

    /// Append a version with `id` to the stream's versions unless one has it.
    fn add_version(
        &self,
        txn: &WriteTransaction,
        pipeline: &str,
        stream: &str,
        id: &SchemaId,
        run: Option<u64>,
    ) -> Result<()> {
        let mut table = self.open_write(txn, SCHEMA_VERSIONS)?;
        let mut versions: Vec<SchemaVersion> =
            match table.get((pipeline, stream)).map_err(|e| self.err(e))? {
                Some(text) => self.decode_versions(pipeline, stream, text.value())?,
                None => Vec::new(),
            };
        if versions.iter().any(|v| v.id == *id) {
            return Ok(());
        }
        let version = next_version(&versions).ok_or_else(|| Error {
            path: self.path.clone(),
            kind: ErrorKind::VersionsExhausted {
                pipeline: pipeline.to_string(),
                stream: stream.to_string(),
            },
        })?;
        versions.push(SchemaVersion {
            version,
            id: id.clone(),
            first_seen_run: run,
            first_seen_at_ms: crate::now_ms(),
        });
        let text = serde_json::to_string(&versions).expect("versions serialise");
        table
            .insert((pipeline, stream), text.as_str())
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The schema stored under `id`, or `None` if the store has none.
    pub fn fetch_schema(&self, id: &SchemaId) -> Result<Option<Schema>> {
        self.guarded(|| {
            let txn = self.read_txn()?;
            let table = self.open_read(&txn, SCHEMAS)?;
            let Some(bytes) = table.get(id.as_str()).map_err(|e| self.err(e))? else {
                return Ok(None);
            };
            let key = || format!("{:?}", id.as_str());
            self.decode("schemas", key, bytes.value()).map(Some)
        })
    }

    /// The schema versions of `stream` of `pipeline`, oldest first (none if
    /// no schema was registered for it).
    pub fn schema_versions(&self, pipeline: &str, stream: &str) -> Result<Vec<SchemaVersion>> {
        self.guarded(|| {
            let txn = self.read_txn()?;
            let table = self.open_read(&txn, SCHEMA_VERSIONS)?;
            match table.get((pipeline, stream)).map_err(|e| self.err(e))? {
                Some(text) => self.decode_versions(pipeline, stream, text.value()),
                None => Ok(Vec::new()),
            }
        })
    }

    /// Every stream of `pipeline` with schema versions, by stream name, with
    /// its versions oldest first.
    pub fn schema_streams(&self, pipeline: &str) -> Result<Vec<(String, Vec<SchemaVersion>)>> {
        self.guarded(|| {
            let txn = self.read_txn()?;
            let table = self.open_read(&txn, SCHEMA_VERSIONS)?;
            let mut out = Vec::new();
            for entry in table.range((pipeline, "")..).map_err(|e| self.err(e))? {
                let (key, value) = entry.map_err(|e| self.err(e))?;
                let (p, stream) = key.value();
                if p != pipeline {
                    break;
                }
                let versions = self.decode_versions(pipeline, stream, value.value())?;
                out.push((stream.to_string(), versions));
            }
            Ok(out)
        })
    }

    /// Parse the versions stored under `(pipeline, stream)`.
    fn decode_versions(
        &self,
        pipeline: &str,
        stream: &str,
        text: &str,
    ) -> Result<Vec<SchemaVersion>> {
        let key = || pair_key(pipeline, stream);
        self.decode("schema_versions", key, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::ReadableDatabase;
    use serde_json::json;

    /// A schema of string fields with these names (built from its serde
    /// form, so that only `Schema` itself is used here).
    fn schema(names: &[&str]) -> Schema {
        let fields: Vec<_> = names
            .iter()
            .map(|n| json!({"name": n, "type": "string", "required": true}))
            .collect();
        serde_json::from_value(json!({ "fields": fields })).unwrap()
    }

    fn schema_rows(store: &StateStore) -> usize {
        let txn = store.db().begin_read().unwrap();
        let table = txn.open_table(SCHEMAS).unwrap();
        table.iter().unwrap().count()
    }

    #[test]
    fn the_same_schema_in_two_pipelines_is_one_row_and_a_version_each() {
        let s = StateStore::in_memory().unwrap();
        let users = schema(&["id", "name"]);
        let a = s.register_schema("a", "users", &users, Some(1)).unwrap();
        let b = s.register_schema("b", "people", &users, None).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, users.id());
        assert_eq!(schema_rows(&s), 1);
        assert_eq!(s.schema_versions("a", "users").unwrap()[0].id, a);
        assert_eq!(s.schema_versions("b", "people").unwrap()[0].id, a);
        assert!(s.schema_versions("a", "people").unwrap().is_empty());
    }

    #[test]
    fn versions_count_up_per_stream_with_the_run_and_time_first_seen() {
        let s = StateStore::in_memory().unwrap();
        let (v1, v2) = (schema(&["id"]), schema(&["id", "email"]));
        let before = crate::now_ms();
        let id1 = s.register_schema("p", "users", &v1, Some(3)).unwrap();
        let id2 = s.register_schema("p", "users", &v2, Some(4)).unwrap();
        let after = crate::now_ms();
        // Back to the first schema: an old version, not a new one.
        assert_eq!(s.register_schema("p", "users", &v1, Some(5)).unwrap(), id1);
        s.register_schema("p", "orders", &v2, None).unwrap();

        let users = s.schema_versions("p", "users").unwrap();
        let numbers: Vec<_> = users
            .iter()
            .map(|v| (v.version, &v.id, v.first_seen_run))
            .collect();
        assert_eq!(numbers, [(1, &id1, Some(3)), (2, &id2, Some(4))]);
        for v in &users {
            assert!((before..=after).contains(&v.first_seen_at_ms), "{v:?}");
        }
        let orders = s.schema_versions("p", "orders").unwrap();
        assert_eq!((orders[0].version, orders[0].first_seen_run), (1, None));
        let streams: Vec<_> = s.schema_streams("p").unwrap();
        let names: Vec<_> = streams.iter().map(|(n, v)| (n.as_str(), v.len())).collect();
        assert_eq!(names, [("orders", 1), ("users", 2)]);
        assert!(s.schema_streams("q").unwrap().is_empty());
    }

    #[test]
    fn registering_again_changes_nothing() {
        let s = StateStore::in_memory().unwrap();
        let users = schema(&["id"]);
        let id = s.register_schema("p", "users", &users, Some(1)).unwrap();
        let first = s.schema_versions("p", "users").unwrap();
        assert_eq!(
            s.register_schema("p", "users", &users, Some(2)).unwrap(),
            id
        );
        assert_eq!(s.schema_versions("p", "users").unwrap(), first);
        assert_eq!(schema_rows(&s), 1);
    }

    #[test]
    fn an_unknown_id_fetches_nothing() {
        let s = StateStore::in_memory().unwrap();
        assert_eq!(s.fetch_schema(&schema(&["id"]).id()).unwrap(), None);
        assert_eq!(s.fetch_schema(&SchemaId("not hex".into())).unwrap(), None);
    }

    #[test]
    fn schemas_and_versions_are_read_back_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let (v1, v2) = (schema(&["id"]), schema(&["id", "email"]));
        let (id1, id2, before) = {
            let s = StateStore::open(&path).unwrap();
            let id1 = s.register_schema("p", "users", &v1, Some(1)).unwrap();
            let id2 = s.register_schema("p", "users", &v2, Some(2)).unwrap();
            s.register_schema("q", "users", &v2, None).unwrap();
            (id1, id2, s.schema_streams("p").unwrap())
        };
        let s = StateStore::open(&path).unwrap();
        assert_eq!(s.fetch_schema(&id1).unwrap(), Some(v1));
        assert_eq!(s.fetch_schema(&id2).unwrap(), Some(v2));
        assert_eq!(s.schema_streams("p").unwrap(), before);
        assert_eq!(s.schema_versions("q", "users").unwrap()[0].id, id2);
    }

    #[test]
    fn a_reset_keeps_schemas_and_versions() {
        let s = StateStore::in_memory().unwrap();
        let id = s
            .register_schema("p", "users", &schema(&["id"]), None)
            .unwrap();
        s.commit_checkpoint("p", &[("users".to_string(), json!(1))].into())
            .unwrap();
        assert_eq!(s.reset("p", None).unwrap(), 1);
        assert_eq!(s.schema_versions("p", "users").unwrap()[0].id, id);
        assert!(s.fetch_schema(&id).unwrap().is_some());
    }

    /// Overwrite the value of `key` in `schemas` and `(p, users)` in
    /// `schema_versions` with bytes that are not JSON.
    fn corrupt(s: &StateStore, key: &str) {
        let txn = s.db().begin_write().unwrap();
        {
            let mut schemas = txn.open_table(SCHEMAS).unwrap();
            schemas.insert(key, &b"\xff{not json"[..]).unwrap();
            let mut versions = txn.open_table(SCHEMA_VERSIONS).unwrap();
            versions
                .insert(("p", "users"), "[{\"version\": \"one\"}]")
                .unwrap();
        }
        txn.commit().unwrap();
    }

    #[test]
    fn corrupt_values_are_errors_naming_table_and_key() {
        let s = StateStore::in_memory().unwrap();
        let users = schema(&["id"]);
        let id = s.register_schema("p", "users", &users, None).unwrap();
        corrupt(&s, id.as_str());

        let e = s.fetch_schema(&id).unwrap_err();
        let key = format!("{:?}", id.as_str());
        assert_eq!(e.corrupt(), Some(("schemas", key.as_str())));
        assert!(e.to_string().contains(id.as_str()), "{e}");

        let key = r#"("p", "users")"#;
        for e in [
            s.schema_versions("p", "users").unwrap_err(),
            s.schema_streams("p").unwrap_err(),
            s.register_schema("p", "users", &schema(&["x"]), None)
                .unwrap_err(),
        ] {
            assert_eq!(e.corrupt(), Some(("schema_versions", key)), "{e}");
            assert!(e.to_string().contains("schema_versions"), "{e}");
        }
        // Other pipelines and streams are unaffected.
        assert!(s.schema_streams("q").unwrap().is_empty());
        assert!(s.schema_versions("p", "orders").unwrap().is_empty());
    }

    #[test]
    fn version_numbers_that_ran_out_are_an_error() {
        let s = StateStore::in_memory().unwrap();
        let last = SchemaVersion {
            version: u32::MAX,
            id: schema(&["id"]).id(),
            first_seen_run: None,
            first_seen_at_ms: 0,
        };
        let txn = s.db().begin_write().unwrap();
        {
            let mut versions = txn.open_table(SCHEMA_VERSIONS).unwrap();
            let text = serde_json::to_string(&[last]).unwrap();
            versions.insert(("p", "users"), text.as_str()).unwrap();
        }
        txn.commit().unwrap();
        let e = s
            .register_schema("p", "users", &schema(&["x"]), None)
            .unwrap_err();
        assert!(matches!(e.kind, ErrorKind::VersionsExhausted { .. }), "{e}");
    }
}
