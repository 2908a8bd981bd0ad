//! `source-postgres`: the tables (and, when asked, views) of PostgreSQL
//! schemas as streams.
//!
//! - `discover` reads the system catalog: columns typed into sluice types
//!   ([`types`](crate::types) has the mapping), primary keys, foreign keys
//!   as relationships, integer and timestamp columns as cursor candidates
//!   (`updated_at` / `modified_at` as the default cursor), per-operation
//!   schemas, and `partitioned` for tables with a single integer primary key.
//!   A stream is named after its table, or `schema.table` when two
//!   configured schemas have a table of that name.
//! - `read` runs in ONE `REPEATABLE READ, READ ONLY` transaction: every
//!   stream of the run sees the same snapshot. Each stream is read through
//!   a server-side cursor, `batch_rows` rows per batch. Full refresh reads
//!   every row; incremental reads rows after the saved `(cursor, key)`
//!   bookmark up to the snapshot's largest cursor value, in `(cursor, key)`
//!   order, and checkpoints the last row's `(cursor, key)` after every
//!   batch, so a run stopped inside a tie of cursor values resumes exactly
//!   after the last row it emitted. A partition `i` of `n` reads the `i`-th
//!   of `n` equal ranges of the primary key between its minimum and maximum
//!   in the snapshot (the first and last ranges are open-ended).
//!
//! Values are exact: integers and floats as PostgreSQL prints them,
//! `numeric` as strings keeping every digit, timestamps as RFC 3339 UTC,
//! `bytea` as base64, `json`/`jsonb` and arrays as nested JSON. TLS is not
//! supported.

mod catalog;
mod discover;
mod encode;
mod stream;
mod types;

use serde::Deserialize;
use serde_json::{Value, json};
use sluice_guest::{
    Capabilities, Catalog, ConfiguredCatalog, Connector, ConnectorError, ErrorKind, Message,
    Reader, Result, Source, Spec, State, Streams,
};
use sluice_pg_client::{Client, Error as PgError};
use std::cell::RefCell;
use std::rc::Rc;
pub use stream::{Bookmark, PgStream};

/// The source-postgres connector.
pub struct Postgres;

/// Config of source-postgres.
#[derive(Clone, Deserialize)]
pub struct Config {
    /// Server host name or address.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// The user to log in as.
    pub user: String,
    /// Its password, if the server asks for one.
    pub password: Option<String>,
    /// The database.
    pub database: String,
    /// The schemas whose tables are streams.
    pub schemas: Vec<String>,
    /// Only these tables (`name` or `schema.name`), when set.
    pub tables: Option<Vec<String>>,
    /// Whether views and materialized views are streams too.
    pub include_views: bool,
    /// Rows per batch (and per `FETCH`).
    pub batch_rows: u32,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("database", &self.database)
            .field("schemas", &self.schemas)
            .field("tables", &self.tables)
            .field("include_views", &self.include_views)
            .field("batch_rows", &self.batch_rows)
            .finish_non_exhaustive()
    }
}

fn config_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "source-postgres",
        "type": "object",
        "required": ["host", "user", "database"],
        "additionalProperties": false,
        "properties": {
            "host": {"type": "string", "minLength": 1, "description": "Server host name or address (granted to the connector as host:port)."},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 5432},
            "user": {"type": "string", "minLength": 1},
            "password": {"type": "string", "secret": true},
            "database": {"type": "string", "minLength": 1},
            "schemas": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "default": ["public"],
                        "description": "Schemas whose tables are streams."},
            "tables": {"type": "array", "items": {"type": "string", "minLength": 1},
                       "description": "Only these tables, as `name` or `schema.name` (default: every table of `schemas`)."},
            "include_views": {"type": "boolean", "default": false,
                              "description": "Views and materialized views are streams too (full refresh only, unless the pipeline names a primary key)."},
            "batch_rows": {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 10_000,
                           "description": "Rows per batch; at most this many rows are held in memory per stream."}
        }
    })
}

/// A connector error for a client error: `auth` for rejected credentials
/// (SQLSTATE class 28), `transient` for what may pass, `internal` for a
/// protocol surprise, `config` otherwise. The message never holds the password.
pub(crate) fn pg_error(e: &PgError) -> ConnectorError {
    let kind = match e {
        PgError::Auth { .. } => ErrorKind::Auth,
        PgError::Server(s) if s.code.starts_with("28") => ErrorKind::Auth,
        PgError::Connect { source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            ErrorKind::Config
        }
        _ if e.is_transient() => ErrorKind::Transient,
        PgError::Protocol(_) => ErrorKind::Internal,
        _ => ErrorKind::Config,
    };
    ConnectorError::new(kind, e.to_string())
}

/// Connect and log in.
pub(crate) fn connect(config: &Config) -> Result<Client> {
    let mut pg =
        sluice_pg_client::Config::new(&config.host, config.port, &config.user, &config.database)
            .param("bytea_output", "hex")
            .param("application_name", "sluice-source-postgres");
    if let Some(password) = &config.password {
        pg = pg.password(password);
    }
    Client::connect(&pg).map_err(|e| pg_error(&e))
}

impl Connector for Postgres {
    type Config = Config;

    fn spec() -> Spec {
        let mut spec = Spec::source(
            "source-postgres",
            env!("CARGO_PKG_VERSION"),
            config_schema(),
        );
        spec.capabilities = Capabilities {
            hosts: vec!["host:port from the config".into()],
            ..Capabilities::default()
        };
        spec.documentation = Some(
            "PostgreSQL tables (and views) as streams. One REPEATABLE READ snapshot per run; \
             incremental reads order by (cursor, primary key) and resume exactly inside ties; \
             partitions split an integer primary key into ranges. TLS is not supported."
                .into(),
        );
        spec
    }

    fn check(config: &Config) -> Result<()> {
        let mut db = connect(config)?;
        db.query("select 1", &[]).map_err(|e| pg_error(&e))?;
        let _ = db.close();
        Ok(())
    }

    fn discover(config: &Config) -> Result<Catalog> {
        let mut db = connect(config)?;
        let tables = catalog::load(&mut db, config)?;
        let _ = db.close();
        let streams = tables
            .iter()
            .map(|t| discover::stream_info(t, &tables))
            .collect();
        Ok(Catalog { streams })
    }
}

/// Reads the configured streams one after another in one snapshot, and
/// ends the transaction after the last.
pub struct PgReader {
    streams: Streams<PgStream>,
    db: Option<Rc<RefCell<Client>>>,
}

impl Source for Postgres {
    type Reader = PgReader;

    fn read(config: Config, catalog: ConfiguredCatalog, state: State) -> Result<PgReader> {
        let mut db = connect(&config)?;
        db.batch_execute("begin isolation level repeatable read, read only")
            .map_err(|e| pg_error(&e))?;
        // The snapshot is taken by the transaction's first query: this one.
        let tables = catalog::load(&mut db, &config)?;
        let db = Rc::new(RefCell::new(db));
        let mut index = 0;
        let streams = Streams::open(catalog, |stream| {
            index += 1;
            let how = stream::Open {
                db: db.clone(),
                tables: &tables,
                state: &state,
                batch_rows: config.batch_rows,
                index,
            };
            PgStream::open(how, stream)
        })?;
        Ok(PgReader {
            streams,
            db: Some(db),
        })
    }
}

impl Reader for PgReader {
    fn next(&mut self) -> Result<Option<Vec<Message>>> {
        let next = self.streams.next()?;
        if next.is_none()
            && let Some(db) = self.db.take()
        {
            let mut db = db.borrow_mut();
            db.batch_execute("commit").map_err(|e| pg_error(&e))?;
        }
        Ok(next)
    }
}

sluice_guest::export_source!(Postgres);
