//! The writer: one connection, one transaction between two commits, the
//! streams applied parents first, and the foreign keys between them.

use crate::config::Config;
use crate::error::pg_error;
use crate::stream::Stream;
use sluice_guest::{
    Batch, ConfiguredCatalog, ConfiguredStream, ConnectorError, Relationship, Result, Schema,
    WriteMode, Writer,
};
use sluice_pg_client::Client;
use sluice_pg_client::sql::{ident, ident_list};
use std::collections::HashSet;

/// Writes the streams of a configured catalog into PostgreSQL.
pub struct PgWriter {
    config: Config,
    db: Option<Client>,
    /// The streams, parents before children.
    streams: Vec<Stream>,
    in_transaction: bool,
    /// Arrival order of staged records, across the writer's life.
    seq: u64,
    /// Foreign keys known to exist, as `child.name`.
    foreign_keys: HashSet<String>,
    /// The stream whose COPY is still open: consecutive batches of one
    /// stream go into one COPY, so the server parses while the next batch
    /// is encoded.
    copying: Option<usize>,
}

impl std::fmt::Debug for PgWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgWriter")
            .field("config", &self.config)
            .field("streams", &self.streams.len())
            .finish_non_exhaustive()
    }
}

/// `streams` with every stream after the streams its relationships point
/// to (a cycle keeps the catalog's order for the streams in it).
fn parents_first(mut streams: Vec<ConfiguredStream>) -> Vec<ConfiguredStream> {
    let mut ordered: Vec<ConfiguredStream> = Vec::with_capacity(streams.len());
    while !streams.is_empty() {
        let ready = streams.iter().position(|s| {
            s.relationships.iter().all(|r| {
                r.target_stream == s.name
                    || ordered.iter().any(|o| o.name == r.target_stream)
                    || !streams.iter().any(|o| o.name == r.target_stream)
            })
        });
        ordered.push(streams.remove(ready.unwrap_or(0)));
    }
    ordered
}

impl PgWriter {
    /// Connect, make sure the schema exists, and prepare the streams.
    pub fn open(config: Config, catalog: ConfiguredCatalog) -> Result<PgWriter> {
        let mut streams = Vec::with_capacity(catalog.streams.len());
        for (i, s) in parents_first(catalog.streams).into_iter().enumerate() {
            streams.push(Stream::new(&config, s, i)?);
        }
        let mut db = connect(&config)?;
        ensure_schema(&mut db, &config.schema)?;
        Ok(PgWriter {
            config,
            db: Some(db),
            streams,
            in_transaction: false,
            seq: 0,
            foreign_keys: HashSet::new(),
            copying: None,
        })
    }

    fn index(&self, stream: &str) -> Result<usize> {
        self.streams
            .iter()
            .position(|s| s.config.name == stream)
            .ok_or_else(|| {
                ConnectorError::data(format!(
                    "stream `{stream}` is not in the configured catalog"
                ))
                .in_stream(stream)
            })
    }

    /// The connection, in a transaction (BEGIN at the first write after a
    /// commit; a lost connection is made again first).
    fn begin(&mut self) -> Result<&mut Client> {
        if self.db.is_none() {
            self.db = Some(connect(&self.config)?);
        }
        let db = self.db.as_mut().expect("connected above");
        if !self.in_transaction {
            db.batch_execute("BEGIN")
                .map_err(|e| pg_error(&e, None, "cannot begin a transaction"))?;
            self.in_transaction = true;
        }
        Ok(db)
    }

    /// Run `f` on stream `i` in the transaction; on failure the
    /// transaction is rolled back (everything since the last commit is
    /// lost, as the host expects: it resends from the last checkpoint).
    fn in_stream<T>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut Stream, &mut Client, &mut u64) -> Result<T>,
    ) -> Result<T> {
        self.begin()?;
        let db = self.db.as_mut().expect("begun");
        let result = f(&mut self.streams[i], db, &mut self.seq);
        if result.is_err() {
            self.abort();
        }
        result
    }

    /// End the open COPY unless it is stream `keep`'s.
    fn settle(&mut self, keep: Option<usize>) -> Result<()> {
        let Some(i) = self.copying.filter(|i| Some(*i) != keep) else {
            return Ok(());
        };
        self.copying = None;
        let db = self.db.as_mut().expect("a COPY is open");
        let result = self.streams[i].end_copy(db);
        if result.is_err() {
            self.abort();
        }
        result
    }

    /// Roll the transaction back; drop the connection if even that fails.
    fn abort(&mut self) {
        self.copying = None;
        if let Some(db) = self.db.as_mut()
            && db.copy_abort().is_err()
        {
            self.db = None;
        }
        if let Some(db) = self.db.as_mut()
            && self.in_transaction
            && db.batch_execute("ROLLBACK").is_err()
        {
            self.db = None;
        }
        self.in_transaction = false;
        for s in &mut self.streams {
            s.rolled_back();
        }
    }

    fn commit_all(&mut self) -> Result<()> {
        let pending = self.streams.iter().any(|s| s.complete);
        if !self.in_transaction && !pending {
            return Ok(());
        }
        self.settle(None)?;
        for i in 0..self.streams.len() {
            self.in_stream(i, |s, db, _| s.finish(db))?;
        }
        if self.config.foreign_keys {
            self.create_foreign_keys()?;
        }
        let db = self.db.as_mut().expect("in a transaction");
        if let Err(e) = db.batch_execute("COMMIT") {
            // A deferred foreign key fails here: name the table's stream.
            let stream = match &e {
                sluice_pg_client::Error::Server(s) => s.table.as_deref().and_then(|t| {
                    self.streams
                        .iter()
                        .find(|x| x.config.name == t)
                        .map(|x| x.config.name.clone())
                }),
                _ => None,
            };
            let error = pg_error(&e, stream.as_deref(), "cannot commit");
            self.abort();
            return Err(error);
        }
        self.in_transaction = false;
        for s in &mut self.streams {
            s.committed();
        }
        Ok(())
    }

    /// Add the foreign keys of the configured relationships whose tables
    /// both exist, DEFERRABLE INITIALLY DEFERRED (checked at COMMIT, so the
    /// order of rows within a transaction cannot violate them). A key to a
    /// stream without a matching primary key (history tables are keyed by
    /// version) or from or to an overwritten stream (its table is replaced)
    /// is skipped with a warning.
    fn create_foreign_keys(&mut self) -> Result<()> {
        let mut wanted = Vec::new();
        for child in &self.streams {
            for r in &child.config.relationships {
                let key = format!("{}.{}", child.config.name, r.name);
                if self.foreign_keys.contains(&key) {
                    continue;
                }
                let Some(parent) = self
                    .streams
                    .iter()
                    .find(|p| p.config.name == r.target_stream)
                else {
                    continue;
                };
                let overwritten = [child, parent]
                    .iter()
                    .any(|s| s.config.write_mode == WriteMode::Overwrite);
                if overwritten || !parent.keyed_on(&r.target_fields) {
                    warn_skipped(&key, &r.target_stream);
                    self.foreign_keys.insert(key);
                    continue;
                }
                wanted.push((key, child.table.clone(), parent.table.clone(), r.clone()));
            }
        }
        for (key, child, parent, r) in wanted {
            let db = self.db.as_mut().expect("in a transaction");
            match add_foreign_key(db, &child, &parent, &r) {
                Ok(true) => {
                    self.foreign_keys.insert(key);
                }
                Ok(false) => {}
                Err(e) => {
                    self.abort();
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

fn warn_skipped(key: &str, target: &str) {
    sluice_guest::log(
        sluice_guest::Level::Warn,
        &format!(
            "foreign key {key} is not created: stream `{target}` has no primary key on its \
             target fields, or one of the streams is overwritten (its table is replaced)"
        ),
    );
}

fn exists(db: &mut Client, table: &str) -> Result<bool> {
    let rows = db
        .query("SELECT to_regclass($1) IS NOT NULL", &[Some(table)])
        .map_err(|e| pg_error(&e, None, "cannot read the catalog"))?;
    Ok(rows.get(0, 0) == Some("t"))
}

/// `ALTER TABLE child ADD CONSTRAINT` of relationship `r`, when both
/// tables exist and the constraint does not; whether it exists now.
fn add_foreign_key(db: &mut Client, child: &str, parent: &str, r: &Relationship) -> Result<bool> {
    if !exists(db, child)? || !exists(db, parent)? {
        return Ok(false);
    }
    let sql = "SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2";
    let found = db
        .query(sql, &[Some(child), Some(&r.name)])
        .map_err(|e| pg_error(&e, None, "cannot read the catalog"))?;
    if !found.rows.is_empty() {
        return Ok(true);
    }
    let sql = format!(
        "ALTER TABLE {child} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {parent} ({}) \
         DEFERRABLE INITIALLY DEFERRED",
        ident(&r.name),
        ident_list(r.fields.iter().map(String::as_str)),
        ident_list(r.target_fields.iter().map(String::as_str)),
    );
    db.batch_execute(&sql).map_err(|e| {
        pg_error(
            &e,
            None,
            &format!(
                "cannot create foreign key `{}` from {child} to {parent}",
                r.name
            ),
        )
    })?;
    Ok(true)
}

/// Connect, with errors that name the address or the user.
pub(crate) fn connect(config: &Config) -> Result<Client> {
    config.connect().map_err(|e| {
        let what = format!(
            "cannot connect to PostgreSQL at {} (database `{}`)",
            config.addr(),
            config.database
        );
        pg_error(&e, None, &what)
    })
}

/// Create `schema` unless it exists (checked first: creating needs a
/// privilege that writing into an existing schema does not).
fn ensure_schema(db: &mut Client, schema: &str) -> Result<()> {
    let found = db
        .query(
            "SELECT 1 FROM pg_namespace WHERE nspname = $1",
            &[Some(schema)],
        )
        .map_err(|e| pg_error(&e, None, "cannot read the catalog"))?;
    if found.rows.is_empty() {
        db.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {}", ident(schema)))
            .map_err(|e| pg_error(&e, None, &format!("cannot create schema `{schema}`")))?;
    }
    Ok(())
}

impl Writer for PgWriter {
    fn schema(&mut self, stream: &str, schema: &Schema) -> Result<()> {
        let i = self.index(stream)?;
        if self.streams[i].follows(schema) {
            return Ok(());
        }
        self.settle(None)?;
        self.in_stream(i, |s, db, _| s.set_schema(db, schema))
    }

    fn write(&mut self, batch: Batch) -> Result<()> {
        let i = self.index(&batch.stream)?;
        self.settle(Some(i))?;
        let open = self.copying == Some(i);
        let open = self.in_stream(i, |s, db, seq| s.write(db, &batch, seq, open))?;
        self.copying = open.then_some(i);
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.commit_all()
    }

    /// The overwrite load of `stream` is complete: it replaces the table
    /// in the transaction of the next commit.
    fn complete(&mut self, stream: &str) -> Result<()> {
        let i = self.index(stream)?;
        self.streams[i].complete = true;
        Ok(())
    }
}
