//! `sluice-state`: sync state in redb: per-stream checkpoints, run history
//! and schema versions per pipeline, and the schema registry shared by the
//! pipelines of a store ([`SchemaVersion`], `schema_registry`). No engine
//! here, so the store can be opened, inspected and tested (and fuzzed)
//! without wasm.
//!
//! Every table is a `const TableDefinition` here. A checkpoint is written in
//! one transaction, and the pipeline writes it only after the destination's
//! `commit()` covered every record before it. A stored value that does not
//! parse is an [`ErrorKind::Corrupt`] naming its table and key.
//!
//! ```
//! use sluice_state::StateStore;
//! use std::collections::BTreeMap;
//! let store = StateStore::in_memory().unwrap();
//! let mut checkpoint = BTreeMap::new();
//! checkpoint.insert("users".to_string(), serde_json::json!({"cursor": 5}));
//! store.commit_checkpoint("demo", &checkpoint).unwrap();
//! assert_eq!(store.stream_states("demo").unwrap()[0].state["cursor"], 5);
//! ```

#![warn(missing_docs)]

mod error;
mod history;
mod records;
mod schedules;
mod schema_registry;
mod unwind;

pub use error::{Error, ErrorKind, Result};
pub use history::RUNS_KEPT;

pub use records::{RunRecord, RunStatus, SavedState, StreamOutcome, StreamRun};
use redb::{
    Database, Key, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable, Table,
    TableDefinition, Value as RedbValue, WriteTransaction,
};
pub use schedules::NextRun;
pub use schema_registry::SchemaVersion;
use serde_json::Value;
use sluice_protocol::StreamState;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};
use unwind::CatchOnUnwind;

/// `"format"` -> the store format, to recognise a sluice store.
const META: TableDefinition<&str, &str> = TableDefinition::new("sluice_meta");
/// `(pipeline, stream)` -> [`SavedState`] as JSON.
const STREAM_STATE: TableDefinition<(&str, &str), &str> = TableDefinition::new("stream_state");
/// `(pipeline, run id)` -> [`RunRecord`] as JSON.
const RUNS: TableDefinition<(&str, u64), &str> = TableDefinition::new("runs");

/// Schema id (hex SHA-256) -> `sluice_schema::Schema` as JSON bytes. Shared
/// by every pipeline of the store: the same schema is one row.
const SCHEMAS: TableDefinition<&str, &[u8]> = TableDefinition::new("schemas");
/// `(pipeline, stream)` -> the stream's [`SchemaVersion`]s in first-seen
/// order, as a JSON array.
const SCHEMA_VERSIONS: TableDefinition<(&str, &str), &str> =
    TableDefinition::new("schema_versions");
/// `pipeline` -> its next planned run ([`NextRun`]) as JSON.
const SCHEDULES: TableDefinition<&str, &str> = TableDefinition::new("schedules");

/// `(pipeline, stream)` as an error shows a key.
fn pair_key(pipeline: &str, stream: &str) -> String {
    format!("({pipeline:?}, {stream:?})")
}

/// The most memory redb keeps for pages it read or wrote. Its default is
/// 1 GiB, and a page once touched stays until that is full, so a store
/// open in a long-running service held every page it ever read (the run
/// history, read at every run, grew the service's memory with it). A
/// store's hot pages (checkpoints, the B-tree's inner pages) fit in a
/// fraction of this; the rest is read again from the OS's page cache.
const CACHE_BYTES: usize = 4 << 20;

/// The value of `META["format"]` in stores this version writes.
pub const FORMAT: &str = "sluice-state/1";

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Run `f`, catching a panic (redb panics on some damaged files instead of
/// returning an error); `Err` holds the panic's message.
fn catch_panic<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".to_string())
    })
}

/// The error of the store at `path` after redb panicked with `why`.
fn damaged(path: &str, why: &str) -> Error {
    Error::store(
        path,
        format!(
            "the store is damaged (redb: {why}); move it aside to start over, or restore a copy"
        ),
    )
}

/// Run `f`, turning a panic inside redb into an error naming the store:
/// for opening it, before there is a [`StateStore`] (whose
/// `StateStore::guarded` also poisons it).
fn guarded_open<T>(path: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_panic(f).unwrap_or_else(|why| Err(damaged(path, &why)))
}

/// Look at an existing file without writing to it: a file that is not a
/// sluice store is refused before anything could change it.
fn refuse_foreign(path: &Path, shown: &str) -> Result<()> {
    let foreign = |why: String| Error::store(shown, format!("not a sluice state store: {why}"));
    // Held so that their destructors cannot abort while a redb panic below
    // unwinds (`unwind`).
    let db = match redb::ReadOnlyDatabase::open(path) {
        Ok(db) => CatchOnUnwind::new(db),
        // A store left by a killed run needs a repair, which the writable
        // open below does.
        Err(redb::DatabaseError::RepairAborted) => return Ok(()),
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
            return Err(Error::in_use_at(shown));
        }
        Err(e) => return Err(foreign(format!("cannot read it as a redb database: {e}"))),
    };
    let txn = db
        .begin_read()
        .map(CatchOnUnwind::new)
        .map_err(|e| foreign(format!("cannot read it: {e}")))?;
    match txn.open_table(META).map(CatchOnUnwind::new) {
        Ok(meta) => {
            let format = meta
                .get("format")
                .map_err(|e| foreign(format!("cannot read it: {e}")))?
                .map(|v| v.value().to_string());
            match format.as_deref() {
                None | Some(FORMAT) => Ok(()),
                Some(other) => Err(foreign(format!(
                    "its format is `{other}`, this sluice reads `{FORMAT}`"
                ))),
            }
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {
            let tables = txn
                .list_tables()
                .map_err(|e| foreign(format!("cannot read it: {e}")))?
                .count();
            if tables > 0 {
                Err(foreign("it holds tables of another program".into()))
            } else {
                Ok(())
            }
        }
        Err(e) => Err(foreign(format!("cannot read it: {e}"))),
    }
}

/// The state store of one or more pipelines. Clones share one open
/// database (the schema registry of a run holds one).
#[derive(Clone)]
pub struct StateStore {
    /// Always `Some`; an `Option` only so that `Drop` can take it.
    db: Option<Arc<Database>>,
    /// What redb panicked with, once a panic was caught: the store is then
    /// poisoned, for every clone (see [`StateStore::guarded`]).
    damage: Arc<OnceLock<String>>,
    path: String,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore")
            .field("path", &self.path)
            .finish()
    }
}

impl Drop for StateStore {
    fn drop(&mut self) {
        // redb may panic while closing a damaged file, too. It is closed
        // even when poisoned: leaking it would keep its file open.
        if let Some(db) = self.db.take() {
            let _ = catch_panic(|| drop(db));
        }
    }
}

impl StateStore {
    /// Open (or create) the store at `path`, creating its directory.
    pub fn open(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::store(&shown, format!("cannot create its directory: {e}")))?;
        }
        guarded_open(&shown.clone(), || {
            let existed = path.metadata().is_ok_and(|m| m.len() > 0);
            if existed {
                refuse_foreign(path, &shown)?;
            }
            let mut db = Database::builder()
                .set_cache_size(CACHE_BYTES)
                .create(path)
                .map_err(|e| match e {
                    redb::DatabaseError::DatabaseAlreadyOpen => Error::in_use_at(&shown),
                    e => Error::store(&shown, format!("cannot open it as a redb database: {e}")),
                })?;
            if existed {
                // Some damage makes redb panic twice inside a commit, where
                // nothing outside redb can catch the second panic (see
                // docs/fuzzing.md): verify every page before the first write.
                db.check_integrity().map_err(|e| {
                    Error::store(
                        &shown,
                        format!("the store is damaged ({e}); move it aside to start over, or restore a copy"),
                    )
                })?;
            }
            Self::init(db, shown)
        })
    }

    /// [`StateStore::open`], waiting up to `wait` while another process
    /// has the store open: for commands that use it between runs
    /// (`sluice runs`, `status`, `state`), since `sluice serve` holds a
    /// store only while it runs or books a pipeline of it.
    pub fn open_waiting(path: &Path, wait: std::time::Duration) -> Result<Self> {
        let until = std::time::Instant::now() + wait;
        loop {
            match Self::open(path) {
                Err(e) if e.in_use() && std::time::Instant::now() < until => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => return other,
            }
        }
    }

    /// A store that lives in memory (for tests and dry runs).
    pub fn in_memory() -> Result<Self> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| Error::store(":memory:", e.to_string()))?;
        Self::init(db, ":memory:".into())
    }

    fn init(db: Database, path: String) -> Result<Self> {
        let store = StateStore {
            db: Some(Arc::new(db)),
            damage: Arc::default(),
            path,
        };
        store.guarded(|| store.create_tables())?;
        Ok(store)
    }

    /// Check the format (writing it into an empty store) and create the
    /// tables that are not there yet.
    fn create_tables(&self) -> Result<()> {
        let txn = self.write_txn()?;
        {
            let mut meta = self.open_write(&txn, META)?;
            let existing = meta
                .get("format")
                .map_err(|e| self.err(e))?
                .map(|v| v.value().to_string());
            match existing.as_deref() {
                None => {
                    let empty = txn.list_tables().map_err(|e| self.err(e))?.count() <= 1;
                    if !empty {
                        return Err(self.foreign("it holds tables of another program"));
                    }
                    meta.insert("format", FORMAT).map_err(|e| self.err(e))?;
                }
                Some(FORMAT) => {}
                Some(other) => {
                    return Err(self.foreign(&format!(
                        "its format is `{other}`, this sluice reads `{FORMAT}`"
                    )));
                }
            }
            self.open_write(&txn, STREAM_STATE)?;
            self.open_write(&txn, RUNS)?;
            self.open_write(&txn, SCHEMAS)?;
            self.open_write(&txn, SCHEMA_VERSIONS)?;
            self.open_write(&txn, SCHEDULES)?;
        }
        self.commit(txn)
    }

    /// Run `f`, turning a panic inside redb (it panics on some damaged
    /// files instead of returning an error) into an error naming the store.
    ///
    /// A caught panic poisons the store: this call and every later one (of
    /// any clone) fail with the same "the store is damaged" error, without
    /// touching redb again. redb's state after the panic is unknown: a
    /// transaction whose destructor panicked while unwinding (`unwind`) may
    /// still hold the write slot, and the next `begin_write` would wait for
    /// it forever.
    fn guarded<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        if let Some(why) = self.damage.get() {
            return Err(damaged(&self.path, why));
        }
        catch_panic(f)
            .unwrap_or_else(|why| Err(damaged(&self.path, self.damage.get_or_init(|| why))))
    }

    /// A write transaction (see `unwind`).
    fn write_txn(&self) -> Result<CatchOnUnwind<WriteTransaction>> {
        let txn = self.db().begin_write().map_err(|e| self.err(e))?;
        Ok(CatchOnUnwind::new(txn))
    }

    /// A read transaction (see `unwind`).
    fn read_txn(&self) -> Result<CatchOnUnwind<ReadTransaction>> {
        let txn = self.db().begin_read().map_err(|e| self.err(e))?;
        Ok(CatchOnUnwind::new(txn))
    }

    /// `table` of `txn` for writing (see `unwind`).
    fn open_write<'txn, K: Key + 'static, V: RedbValue + 'static>(
        &self,
        txn: &'txn WriteTransaction,
        table: TableDefinition<K, V>,
    ) -> Result<CatchOnUnwind<Table<'txn, K, V>>> {
        let table = txn.open_table(table).map_err(|e| self.err(e))?;
        Ok(CatchOnUnwind::new(table))
    }

    /// `table` of `txn` for reading (see `unwind`).
    fn open_read<K: Key + 'static, V: RedbValue + 'static>(
        &self,
        txn: &ReadTransaction,
        table: TableDefinition<K, V>,
    ) -> Result<CatchOnUnwind<ReadOnlyTable<K, V>>> {
        let table = txn.open_table(table).map_err(|e| self.err(e))?;
        Ok(CatchOnUnwind::new(table))
    }

    /// Commit `txn`.
    fn commit(&self, txn: CatchOnUnwind<WriteTransaction>) -> Result<()> {
        txn.into_inner().commit().map_err(|e| self.err(e))
    }

    fn err(&self, e: impl Into<redb::Error>) -> Error {
        Error::store(&self.path, e.into().to_string())
    }

    fn foreign(&self, why: &str) -> Error {
        Error::store(&self.path, format!("not a sluice state store: {why}"))
    }

    /// Parse the JSON stored in `table` under `key` (shown as text).
    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        table: &'static str,
        key: impl FnOnce() -> String,
        bytes: &[u8],
    ) -> Result<T> {
        serde_json::from_slice(bytes).map_err(|source| Error {
            path: self.path.clone(),
            kind: ErrorKind::Corrupt {
                table,
                key: key(),
                source,
            },
        })
    }

    fn db(&self) -> &Database {
        self.db.as_ref().expect("the database is open until drop")
    }

    /// Where the store lives (`:memory:` for an in-memory store).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The saved state of every stream of `pipeline`.
    pub fn saved_states(&self, pipeline: &str) -> Result<BTreeMap<String, SavedState>> {
        self.guarded(|| {
            let txn = self.read_txn()?;
            let table = self.open_read(&txn, STREAM_STATE)?;
            let mut out = BTreeMap::new();
            for entry in table.range((pipeline, "")..).map_err(|e| self.err(e))? {
                let (key, value) = entry.map_err(|e| self.err(e))?;
                let (p, stream) = key.value();
                if p != pipeline {
                    break;
                }
                let key = || pair_key(pipeline, stream);
                let saved = self.decode("stream_state", key, value.value().as_bytes())?;
                out.insert(stream.to_string(), saved);
            }
            Ok(out)
        })
    }

    /// The state to hand a source: one entry per stream with saved state.
    pub fn stream_states(&self, pipeline: &str) -> Result<Vec<StreamState>> {
        Ok(self
            .saved_states(pipeline)?
            .into_iter()
            .map(|(stream, saved)| StreamState {
                stream,
                state: saved.state,
            })
            .collect())
    }

    /// Persist `checkpoint` (stream -> state) in one transaction.
    pub fn commit_checkpoint(
        &self,
        pipeline: &str,
        checkpoint: &BTreeMap<String, Value>,
    ) -> Result<()> {
        self.commit_checkpoint_for_run(pipeline, 0, checkpoint)
    }

    /// [`Self::commit_checkpoint`], recording which run committed it.
    pub fn commit_checkpoint_for_run(
        &self,
        pipeline: &str,
        run_id: u64,
        checkpoint: &BTreeMap<String, Value>,
    ) -> Result<()> {
        self.guarded(|| {
            if checkpoint.is_empty() {
                return Ok(());
            }
            let now = now_ms();
            let txn = self.write_txn()?;
            {
                let mut table = self.open_write(&txn, STREAM_STATE)?;
                for (stream, state) in checkpoint {
                    let saved = SavedState {
                        state: state.clone(),
                        committed_at_ms: now,
                        run_id,
                    };
                    let text = serde_json::to_string(&saved).expect("state serialises");
                    table
                        .insert((pipeline, stream.as_str()), text.as_str())
                        .map_err(|e| self.err(e))?;
                }
            }
            self.commit(txn)
        })
    }

    /// Forget the state of `stream` (or of every stream) of `pipeline`.
    /// Returns how many streams were reset.
    ///
    /// Run history, schemas and the streams' schema versions are kept:
    /// they are history, and schemas are shared by every pipeline of the
    /// store, so a re-synced stream goes on from its last schema version.
    pub fn reset(&self, pipeline: &str, stream: Option<&str>) -> Result<usize> {
        self.guarded(|| {
            let streams: Vec<String> = match stream {
                Some(s) => vec![s.to_string()],
                None => self.saved_states(pipeline)?.into_keys().collect(),
            };
            let txn = self.write_txn()?;
            let mut removed = 0;
            {
                let mut table = self.open_write(&txn, STREAM_STATE)?;
                for s in &streams {
                    if table
                        .remove((pipeline, s.as_str()))
                        .map_err(|e| self.err(e))?
                        .is_some()
                    {
                        removed += 1;
                    }
                }
            }
            self.commit(txn)?;
            Ok(removed)
        })
    }
}

#[cfg(test)]
mod tests;
