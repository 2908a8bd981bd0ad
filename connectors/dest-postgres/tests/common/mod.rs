//! What the native tests share: a database of their own on the shared
//! test server, configs, catalogs, batches, and reading tables back.

#![allow(dead_code)]

use serde_json::{Value, json};
use sluice_dest_postgres::{PgWriter, PostgresDestination};
use sluice_guest::native::{self, HostWriter};
use sluice_guest::{
    Batch, ConfiguredCatalog, ConfiguredStream, Operation, Schema, SyncMode, WriteMode, registry,
};
use sluice_pg_client::{Client, Config};
use sluice_pg_server::{Server, shared};

/// A database of one test, created afresh.
pub struct Db {
    /// Its name.
    pub name: String,
}

/// The shared server.
pub fn server() -> &'static Server {
    shared()
}

impl Db {
    /// Database `name`, dropped first if a previous run left it.
    pub fn new(name: &str) -> Db {
        let pg = server();
        pg.sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .unwrap();
        pg.create_database(name).unwrap();
        Db { name: name.into() }
    }

    /// The destination's config for this database, with `extra` keys.
    pub fn config(&self, extra: Value) -> String {
        let pg = server();
        let mut config = json!({
            "host": pg.host(), "port": pg.port(), "user": pg.user(),
            "password": pg.password(), "database": self.name,
        });
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            config[k] = v;
        }
        config.to_string()
    }

    /// A client of this database.
    pub fn client(&self) -> Client {
        let pg = server();
        Client::connect(
            &Config::new(pg.host(), pg.port(), pg.user(), &self.name).password(pg.password()),
        )
        .unwrap()
    }

    /// The rows of `sql`, each as its columns joined by `|` (NULL as `-`).
    pub fn rows(&self, sql: &str) -> Vec<String> {
        let rows = self.client().query(sql, &[]).unwrap();
        rows.rows
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("-").to_string())
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    }

    /// One value.
    pub fn one(&self, sql: &str) -> String {
        self.rows(sql).remove(0)
    }
}

/// A configured stream.
pub fn stream(name: &str, mode: WriteMode, key: &[&str], cursor: Option<&str>) -> ConfiguredStream {
    ConfiguredStream {
        sync_mode: SyncMode::Incremental,
        cursor_field: cursor.map(String::from),
        primary_key: key.iter().map(|k| k.to_string()).collect(),
        write_mode: mode,
        ..ConfiguredStream::new(name)
    }
}

/// A catalog of `streams`.
pub fn catalog(streams: Vec<ConfiguredStream>) -> ConfiguredCatalog {
    ConfiguredCatalog { streams }
}

/// A writer as the host drives it.
pub fn open(config: &str, catalog: ConfiguredCatalog) -> HostWriter<PgWriter> {
    native::open_writer::<PostgresDestination>(config, catalog).unwrap()
}

/// Register `schema` for `stream` and tell the writer.
pub fn tell(w: &mut HostWriter<PgWriter>, stream: &str, schema: &Schema) {
    let id = registry::register(stream, schema).unwrap();
    w.schema(stream, &id).unwrap();
}

/// A batch of `records` doing `op`, extracted at `at` (ms).
pub fn batch(stream: &str, op: Operation, at: u64, records: &[Value]) -> Batch {
    let mut data = Vec::new();
    for r in records {
        data.extend_from_slice(r.to_string().as_bytes());
        data.push(b'\n');
    }
    Batch {
        operation: op,
        extracted_at: at,
        ..Batch::json_lines(stream, records.len() as u32, data)
    }
}

/// 2024-01-01T00:00:00Z plus `s` seconds, in ms.
pub fn at(s: u64) -> u64 {
    1_704_067_200_000 + s * 1000
}
