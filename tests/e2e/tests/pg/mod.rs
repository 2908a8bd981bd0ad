//! What the PostgreSQL end-to-end tests share: the server (one per test
//! process), dest-postgres configs, SQL read back as lines, and a model of
//! what source-faker sends, read natively with the same configs.
#![allow(dead_code)]

use serde_json::{Value, json};
use sluice_guest::{Reader, native};
use sluice_protocol::{
    ConfiguredCatalog, ConfiguredStream, Message, Operation, StreamState, SyncMode,
};
use sluice_source_faker::Faker;
use sluice_test_support::pg_server::{self, Server};
use std::collections::BTreeMap;

/// The server of this test process.
pub fn pg() -> &'static Server {
    pg_server::shared()
}

/// `host:port` of the server, as a pipeline grants it.
pub fn addr() -> String {
    format!("{}:{}", pg().host(), pg().port())
}

/// dest-postgres (or source-postgres) connection config, into `schema`.
pub fn dest_config(schema: &str) -> Value {
    let s = pg();
    json!({"host": s.host(), "port": s.port(), "user": s.user(), "password": s.password(),
           "database": s.database(), "schema": schema})
}

/// The rows of `sql` (psql's unaligned output: one line per row, `|`
/// between columns).
pub fn sql_lines(sql: &str) -> Vec<String> {
    pg().sql(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .lines()
        .map(str::to_string)
        .collect()
}

/// A timestamptz column as faker writes times: `2024-01-01T00:00:00Z`.
pub fn ts(column: &str) -> String {
    format!("to_char({column} at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
}

/// faker's users columns as lines, by id.
pub fn users_select(schema: &str) -> String {
    format!(
        "select id, name, email, age, city, version, {}, {} from {schema}.users order by id",
        ts("created_at"),
        ts("updated_at")
    )
}

/// A faker user as a line of [`users_select`].
pub fn users_rows(u: &Value) -> String {
    let text = |k: &str| match &u[k] {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    [
        "id",
        "name",
        "email",
        "age",
        "city",
        "version",
        "created_at",
        "updated_at",
    ]
    .map(text)
    .join("|")
}

/// The primary key columns of `schema.table`, in order.
pub fn primary_key(schema: &str, table: &str) -> String {
    format!(
        "select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid \
         and a.attnum = any(i.indkey) where i.indrelid = '{schema}.{table}'::regclass \
         and i.indisprimary order by array_position(i.indkey, a.attnum)"
    )
}

/// `name|type` of every column of `schema.table`, in order.
pub fn columns(schema: &str, table: &str) -> String {
    format!(
        "select column_name || '|' || data_type from information_schema.columns \
         where table_schema = '{schema}' and table_name = '{table}' order by ordinal_position"
    )
}

/// The tables of `schema`.
pub fn tables(schema: &str) -> String {
    format!(
        "select table_name from information_schema.tables where table_schema = '{schema}' order by 1"
    )
}

/// One version of a key in a history table, as the model expects it.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// faker's `version` field.
    pub version: i64,
    /// The record's cursor (`updated_at`), which opens the version.
    pub valid_from: String,
    /// A delete closed it.
    pub deleted: bool,
}

/// What source-faker sent, run by run and stream by stream: each read is
/// incremental on `updated_at`, from the state the previous read of the
/// stream ended with, as a pipeline's syncs are.
#[derive(Debug, Default)]
pub struct FakerModel {
    sent: BTreeMap<String, Vec<(Operation, Value)>>,
    state: BTreeMap<String, Value>,
}

impl FakerModel {
    /// Read `stream` once with `config`.
    pub fn read(&mut self, stream: &str, config: &Value) {
        let catalog = ConfiguredCatalog {
            streams: vec![ConfiguredStream {
                sync_mode: SyncMode::Incremental,
                cursor_field: Some("updated_at".into()),
                ..ConfiguredStream::new(stream)
            }],
        };
        let state: Vec<StreamState> = self
            .state
            .get(stream)
            .map(|s| StreamState {
                stream: stream.into(),
                state: s.clone(),
            })
            .into_iter()
            .collect();
        let mut reader = native::read::<Faker>(&config.to_string(), catalog, state).unwrap();
        let sent = self.sent.entry(stream.to_string()).or_default();
        while let Some(messages) = reader.next().unwrap() {
            for m in messages {
                match m {
                    Message::Records(b) => sent.extend(
                        b.lines()
                            .map(|l| (b.operation, serde_json::from_slice(l).unwrap())),
                    ),
                    Message::State(s) => {
                        self.state.insert(s.stream, s.state);
                    }
                    _ => {}
                }
            }
        }
    }

    fn sent(&self, stream: &str) -> &[(Operation, Value)] {
        self.sent.get(stream).map_or(&[], Vec::as_slice)
    }

    /// Every record sent that is not a delete, in order.
    pub fn inserted(&self, stream: &str) -> Vec<Value> {
        self.sent(stream)
            .iter()
            .filter(|(op, _)| *op != Operation::Delete)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The latest record of every key that was not deleted after it.
    pub fn latest(&self, stream: &str) -> BTreeMap<u64, Value> {
        let mut rows = BTreeMap::new();
        for (op, v) in self.sent(stream) {
            let id = v["id"].as_u64().unwrap();
            if *op == Operation::Delete {
                rows.remove(&id);
            } else {
                rows.insert(id, v.clone());
            }
        }
        rows
    }

    /// Every version of every key: a record that differs from the current
    /// version opens one; a delete closes the current one.
    pub fn versions(&self, stream: &str) -> BTreeMap<u64, Vec<Version>> {
        let mut chains: BTreeMap<u64, Vec<(Version, Value)>> = BTreeMap::new();
        for (op, v) in self.sent(stream) {
            let chain = chains.entry(v["id"].as_u64().unwrap()).or_default();
            let open = chain.last_mut().filter(|(version, _)| !version.deleted);
            match (op, open) {
                (Operation::Delete, Some((version, _))) => version.deleted = true,
                (Operation::Delete, None) => {}
                (_, Some((_, current))) if current == v => {}
                _ => chain.push((
                    Version {
                        version: v["version"].as_i64().unwrap(),
                        valid_from: v["updated_at"].as_str().unwrap().to_string(),
                        deleted: false,
                    },
                    v.clone(),
                )),
            }
        }
        chains
            .into_iter()
            .map(|(id, chain)| (id, chain.into_iter().map(|(v, _)| v).collect()))
            .filter(|(_, chain): &(u64, Vec<Version>)| !chain.is_empty())
            .collect()
    }
}
