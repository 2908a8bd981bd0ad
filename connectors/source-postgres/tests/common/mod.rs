//! Helpers of the native tests: a database of its own per test on the
//! shared throwaway server, SQL against it, and whole reads.

#![allow(dead_code)]

use serde_json::{Value, json};
use sluice_guest::{
    Batch, ConfiguredCatalog, ConfiguredStream, Message, Partition, Reader, StreamState, SyncMode,
    native,
};
use sluice_pg_client::{Client, Config};
use sluice_source_postgres::{PgReader, Postgres};

/// A fresh database `name` on the shared server.
pub struct Db {
    pub name: String,
}

impl Db {
    /// Create database `name` (dropped first if a previous run left it).
    pub fn new(name: &str) -> Db {
        let pg = sluice_pg_server::shared();
        pg.sql(&format!("drop database if exists {name} with (force)"))
            .unwrap();
        pg.create_database(name).unwrap();
        Db { name: name.into() }
    }

    /// A connection of its own.
    pub fn client(&self) -> Client {
        let pg = sluice_pg_server::shared();
        let config =
            Config::new(pg.host(), pg.port(), pg.user(), &self.name).password(pg.password());
        Client::connect(&config).unwrap()
    }

    /// Run `sql` (any number of statements).
    pub fn sql(&self, sql: &str) {
        let mut db = self.client();
        db.batch_execute(sql).unwrap();
        let _ = db.close();
    }

    /// The first column of `sql`'s rows, as text.
    pub fn column(&self, sql: &str) -> Vec<String> {
        let mut db = self.client();
        let rows = db.query(sql, &[]).unwrap();
        (0..rows.rows.len())
            .map(|i| rows.get(i, 0).unwrap_or("NULL").to_string())
            .collect()
    }

    /// The source's config for this database, with `extra` merged in.
    pub fn config(&self, extra: Value) -> String {
        let pg = sluice_pg_server::shared();
        let mut config = json!({
            "host": pg.host(), "port": pg.port(), "user": pg.user(),
            "password": pg.password(), "database": self.name,
        });
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            config[k] = v;
        }
        config.to_string()
    }
}

/// A full-refresh stream.
pub fn full(name: &str) -> ConfiguredStream {
    ConfiguredStream::new(name)
}

/// An incremental stream on `cursor`.
pub fn incremental(name: &str, cursor: &str) -> ConfiguredStream {
    ConfiguredStream {
        sync_mode: SyncMode::Incremental,
        cursor_field: Some(cursor.into()),
        ..ConfiguredStream::new(name)
    }
}

/// Share `index` of `count` of `stream`.
pub fn part(stream: ConfiguredStream, index: u32, count: u32) -> ConfiguredStream {
    ConfiguredStream {
        partition: Some(Partition { index, count }),
        ..stream
    }
}

/// Everything one read emitted.
#[derive(Debug, Default)]
pub struct Read {
    pub rows: Vec<Value>,
    pub batches: Vec<Batch>,
    pub states: Vec<StreamState>,
}

impl Read {
    /// The last checkpoint of the read, if any.
    pub fn last_state(&self) -> Option<StreamState> {
        self.states.last().cloned()
    }

    /// The integer field `field` of every row, in order.
    pub fn ints(&self, field: &str) -> Vec<i64> {
        self.rows
            .iter()
            .map(|r| r[field].as_i64().unwrap())
            .collect()
    }
}

/// Open a reader.
pub fn open(config: &str, streams: Vec<ConfiguredStream>, state: Vec<StreamState>) -> PgReader {
    native::read::<Postgres>(config, ConfiguredCatalog { streams }, state).unwrap()
}

/// Take one `next()` call's messages into `read`; false at the end.
pub fn step(reader: &mut PgReader, read: &mut Read) -> bool {
    let Some(messages) = reader.next().unwrap() else {
        return false;
    };
    for m in messages {
        match m {
            Message::Records(b) => {
                for line in b.lines() {
                    read.rows.push(serde_json::from_slice(line).unwrap());
                }
                read.batches.push(b);
            }
            Message::State(s) => read.states.push(s),
            Message::StreamError(e) => panic!("stream error: {e:?}"),
            _ => {}
        }
    }
    true
}

/// Read to the end.
pub fn read_all(config: &str, streams: Vec<ConfiguredStream>, state: Vec<StreamState>) -> Read {
    let mut reader = open(config, streams, state);
    let mut read = Read::default();
    while step(&mut reader, &mut read) {}
    read
}
