//! `source-faker`: deterministic fake `users`, `orders` and `events`.
//!
//! The same `seed` and `count` always give the same records. Each run may
//! also name a `generation`: in generation `g >= 1`, every user and order
//! whose id ends (mod 100) in `g % 100` is changed again, with a newer
//! `updated_at`, so incremental syncs see new *and* changed records.
//! Records are emitted in ascending cursor order and every batch is followed
//! by a state checkpoint holding the cursor of its last record.

use chrono::{DateTime, SecondsFormat};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sluice_guest::{
    BatchBuilder, Catalog, ConfiguredCatalog, ConfiguredStream, Connector, ConnectorError,
    Operation, OperationSchema, Relationship, Result, Source, Spec, State, Step, StreamInfo,
    StreamOutput, StreamRead, Streams, SyncMode,
};

/// 2024-01-01T00:00:00Z: the first record's timestamp.
const T0: i64 = 1_704_067_200;
/// Seconds between generations: changed records sort after every original one.
const GENERATION_SPAN: i64 = 1_000_000_000;

/// The source-faker connector.
pub struct Faker;

/// Config of source-faker.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Number of users.
    pub count: u64,
    /// Orders per user (orders = count * orders_per_user).
    pub orders_per_user: u64,
    /// Events per user.
    pub events_per_user: u64,
    /// Seed of every generated value.
    pub seed: u64,
    /// Which generation of changes to show (0: none).
    pub generation: u64,
    /// Records per batch.
    pub batch_size: u32,
}

const STREAMS: [&str; 3] = ["users", "orders", "events"];

fn config_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "source-faker",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "count": {"type": "integer", "minimum": 0, "maximum": 100_000_000, "default": 1000,
                      "description": "Number of users; orders and events scale with it."},
            "orders_per_user": {"type": "integer", "minimum": 0, "maximum": 10, "default": 1},
            "events_per_user": {"type": "integer", "minimum": 0, "maximum": 10, "default": 1},
            "seed": {"type": "integer", "minimum": 0, "default": 42},
            "generation": {"type": "integer", "minimum": 0, "maximum": 250, "default": 0,
                           "description": "Generation g >= 1 changes users and orders whose id % 100 == g % 100. Raise count only together with generation: records added while the generation stays the same sort before its changes."},
            "batch_size": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1000}
        }
    })
}

fn timestamp(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn parse_timestamp(stream: &str, text: &str) -> Result<i64> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .map_err(|e| {
            ConnectorError::data(format!(
                "saved cursor `{text}` is not an RFC 3339 time: {e}"
            ))
            .in_stream(stream)
        })
}

/// A 64-bit mix of `seed` and `n` (splitmix64's finaliser).
fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const FIRST: [&str; 16] = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Margaret",
    "Dennis",
    "Radia",
    "John",
    "Hedy",
    "Niklaus",
    "Katherine",
    "Tony",
];
const LAST: [&str; 16] = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton",
    "Ritchie", "Perlman", "Backus", "Lamarr", "Wirth", "Johnson", "Hoare",
];
const STATUS: [&str; 4] = ["pending", "paid", "shipped", "delivered"];
const KINDS: [&str; 5] = ["login", "view", "search", "add_to_cart", "logout"];

#[derive(Serialize)]
struct User<'a> {
    id: u64,
    name: &'a str,
    email: &'a str,
    age: u64,
    city: &'a str,
    version: u64,
    created_at: &'a str,
    updated_at: &'a str,
}

#[derive(Serialize)]
struct Order<'a> {
    id: u64,
    user_id: u64,
    amount_cents: u64,
    currency: &'a str,
    status: &'a str,
    version: u64,
    created_at: &'a str,
    updated_at: &'a str,
}

#[derive(Serialize)]
struct Event<'a> {
    id: u64,
    user_id: u64,
    kind: &'a str,
    occurred_at: &'a str,
}

const CITIES: [&str; 8] = [
    "Lisbon", "Nairobi", "Osaka", "Lima", "Oslo", "Austin", "Pune", "Perth",
];

impl Config {
    fn total(&self, stream: &str) -> u64 {
        match stream {
            "users" => self.count,
            "orders" => self.count * self.orders_per_user,
            _ => self.count * self.events_per_user,
        }
    }

    /// The latest generation (>= 1) that changed record `id` of a mutable stream, if any.
    fn changed_in(&self, id: u64) -> Option<u64> {
        if self.generation == 0 {
            return None;
        }
        // The largest g in 1..=generation with g % 100 == id % 100.
        let back = (self.generation % 100 + 100 - id % 100) % 100;
        (back < self.generation).then(|| self.generation - back)
    }

    fn cursor_of(&self, stream: &str, id: u64) -> i64 {
        match (stream, self.changed_in(id)) {
            ("events", _) | (_, None) => T0 + id as i64,
            (_, Some(g)) => T0 + GENERATION_SPAN * g as i64 + id as i64,
        }
    }
}

/// Ids of one stream in ascending cursor order, starting after a bookmark.
struct Cursor {
    /// 0: never-changed records; g >= 1: records last changed in generation g.
    band: u64,
    next_id: u64,
}

/// One configured stream of source-faker, read in ascending cursor order.
pub struct FakerStream {
    config: Config,
    stream: ConfiguredStream,
    cursor: Cursor,
    after: i64,
    batch: BatchBuilder,
    scratch: Scratch,
}

/// RFC 3339 timestamps (`2024-01-01T00:00:01Z`) written into reused
/// buffers: chrono computes the date once per day, the time of day is three
/// two-digit numbers.
#[derive(Default)]
struct Clock {
    day: Option<i64>,
    date: String,
}

impl Clock {
    fn write(&mut self, secs: i64, out: &mut String) {
        let day = secs.div_euclid(86_400);
        if self.day != Some(day) {
            self.date = timestamp(day * 86_400);
            self.date.truncate(11); // "YYYY-MM-DDT"
            self.day = Some(day);
        }
        let in_day = secs.rem_euclid(86_400);
        out.clear();
        out.push_str(&self.date);
        for (i, part) in [in_day / 3600, in_day / 60 % 60, in_day % 60]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                out.push(':');
            }
            out.push(char::from(b'0' + (part / 10) as u8));
            out.push(char::from(b'0' + (part % 10) as u8));
        }
        out.push('Z');
    }
}

/// Buffers reused for every record, so generating one allocates nothing.
#[derive(Default)]
struct Scratch {
    clock: Clock,
    name: String,
    email: String,
    created: String,
    updated: String,
}

/// Reads the configured streams one after another.
pub type FakerReader = Streams<FakerStream>;

impl Connector for Faker {
    type Config = Config;

    fn spec() -> Spec {
        let mut spec = Spec::source("source-faker", env!("CARGO_PKG_VERSION"), config_schema());
        spec.documentation = Some("Deterministic fake users, orders and events.".into());
        spec
    }

    fn discover(_config: &Config) -> Result<Catalog> {
        let user = json!({
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "email": {"type": "string"},
                "age": {"type": "integer"},
                "city": {"type": "string"},
                "version": {"type": "integer"},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"}
            },
            "required": ["id", "name", "email", "age", "city", "version", "created_at", "updated_at"]
        });
        let order = json!({
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "user_id": {"type": "integer"},
                "amount_cents": {"type": "integer"},
                "currency": {"type": "string"},
                "status": {"type": "string", "enum": STATUS},
                "version": {"type": "integer"},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"}
            },
            "required": ["id", "user_id", "amount_cents", "currency", "status", "version", "created_at", "updated_at"]
        });
        let event = json!({
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "user_id": {"type": "integer"},
                "kind": {"type": "string", "enum": KINDS},
                "occurred_at": {"type": "string", "format": "date-time"}
            },
            "required": ["id", "user_id", "kind", "occurred_at"]
        });
        let fk = |stream: &str| Relationship {
            name: format!("{stream}_user"),
            fields: vec!["user_id".into()],
            target_stream: "users".into(),
            target_fields: vec!["id".into()],
        };
        Ok(Catalog {
            streams: vec![
                stream_info("users", user, "updated_at", vec![]),
                stream_info("orders", order, "updated_at", vec![fk("orders")]),
                stream_info("events", event, "occurred_at", vec![fk("events")]),
            ],
        })
    }
}

/// Per-operation schemas: insert and upsert need the whole row, update needs
/// the key plus any field, delete only the key.
fn operation_schemas(row: &Value) -> Vec<OperationSchema> {
    let properties = row["properties"].clone();
    let key_only = json!({
        "type": "object",
        "properties": {"id": properties["id"].clone()},
        "required": ["id"],
        "additionalProperties": false
    });
    let partial = json!({
        "type": "object",
        "properties": properties,
        "required": ["id"],
        "minProperties": 2
    });
    vec![
        OperationSchema {
            operation: Operation::Insert,
            schema: row.clone(),
        },
        OperationSchema {
            operation: Operation::Update,
            schema: partial,
        },
        OperationSchema {
            operation: Operation::Upsert,
            schema: row.clone(),
        },
        OperationSchema {
            operation: Operation::Delete,
            schema: key_only,
        },
    ]
}

fn stream_info(
    name: &str,
    schema: Value,
    cursor: &str,
    relationships: Vec<Relationship>,
) -> StreamInfo {
    StreamInfo {
        name: name.into(),
        operation_schemas: operation_schemas(&schema),
        schema,
        primary_key: vec!["id".into()],
        cursor_candidates: vec![cursor.into()],
        default_cursor: Some(cursor.into()),
        sync_modes: vec![SyncMode::FullRefresh, SyncMode::Incremental],
        relationships,
        partitioned: false,
    }
}

#[derive(Serialize, Deserialize)]
struct Bookmark {
    cursor: String,
}

impl Source for Faker {
    type Reader = FakerReader;

    fn read(config: Config, catalog: ConfiguredCatalog, state: State) -> Result<FakerReader> {
        Streams::open(catalog, |stream| {
            if !STREAMS.contains(&stream.name.as_str()) {
                return Err(ConnectorError::config(format!(
                    "source-faker has no stream `{}` (it has users, orders, events)",
                    stream.name
                ))
                .in_stream(&stream.name));
            }
            let after = match (stream.sync_mode, state.get::<Bookmark>(&stream.name)?) {
                (SyncMode::Incremental, Some(b)) => parse_timestamp(&stream.name, &b.cursor)?,
                _ => i64::MIN,
            };
            Ok(FakerStream {
                config: config.clone(),
                batch: BatchBuilder::for_stream(&stream, config.batch_size),
                stream,
                cursor: Cursor {
                    band: 0,
                    next_id: 1,
                },
                after,
                scratch: Scratch::default(),
            })
        })
    }
}

impl FakerStream {
    /// The next id in cursor order whose cursor is after the bookmark.
    fn advance(&mut self) -> Option<u64> {
        let config = &self.config;
        let name = self.stream.name.as_str();
        let total = config.total(name);
        let last_band = if name == "events" {
            0
        } else {
            config.generation
        };
        loop {
            let c = &mut self.cursor;
            if c.band > last_band {
                return None;
            }
            if c.band == 0 {
                // Skip straight past the bookmark within the never-changed band.
                if self.after >= T0 && self.after < T0 + GENERATION_SPAN {
                    c.next_id = c.next_id.max((self.after - T0 + 1) as u64);
                }
                while c.next_id <= total {
                    let id = c.next_id;
                    c.next_id += 1;
                    if name == "events" || config.changed_in(id).is_none() {
                        let cur = config.cursor_of(name, id);
                        if cur > self.after {
                            return Some(id);
                        }
                    }
                }
            } else {
                // Band g holds ids with id % 100 == g % 100 not changed later.
                let digits = c.band % 100;
                if c.next_id == 1 {
                    c.next_id = if digits == 0 { 100 } else { digits };
                }
                while c.next_id <= total {
                    let id = c.next_id;
                    c.next_id += 100;
                    if config.changed_in(id) == Some(c.band)
                        && config.cursor_of(name, id) > self.after
                    {
                        return Some(id);
                    }
                }
            }
            c.band += 1;
            if c.band == 1 {
                // Bands below generation - 99 are empty: every id they held
                // was changed again in a later generation.
                c.band = config.generation.saturating_sub(99).max(1);
            }
            c.next_id = 1;
        }
    }

    /// Add record `id` to the batch; its cursor.
    fn push(&mut self, id: u64) -> Result<i64> {
        let (config, batch, sc) = (&self.config, &mut self.batch, &mut self.scratch);
        let seed = config.seed;
        let name = self.stream.name.as_str();
        let cursor = config.cursor_of(name, id);
        let version = match name {
            "events" => 0,
            _ => config.changed_in(id).unwrap_or(0),
        };
        let r = mix(seed ^ mix(name.len() as u64, version), id);
        match name {
            "users" => {
                let first = FIRST[(r % 16) as usize];
                let last = LAST[((r >> 8) % 16) as usize];
                let mut digits = itoa::Buffer::new();
                sc.name.clear();
                sc.name.push_str(first);
                sc.name.push(' ');
                sc.name.push_str(last);
                if version > 0 {
                    sc.name.push_str(" (v");
                    sc.name.push_str(digits.format(version));
                    sc.name.push(')');
                }
                sc.email.clear();
                sc.email
                    .extend(first.chars().map(|c| c.to_ascii_lowercase()));
                sc.email.push('.');
                sc.email
                    .extend(last.chars().map(|c| c.to_ascii_lowercase()));
                sc.email.push_str(digits.format(id));
                sc.email.push_str("@example.com");
                sc.clock.write(T0 + id as i64, &mut sc.created);
                sc.clock.write(cursor, &mut sc.updated);
                batch.push(&User {
                    id,
                    name: &sc.name,
                    email: &sc.email,
                    age: 18 + (r >> 16) % 70,
                    city: CITIES[((r >> 24) % 8) as usize],
                    version,
                    created_at: &sc.created,
                    updated_at: &sc.updated,
                })?;
            }
            "orders" => {
                sc.clock.write(T0 + id as i64, &mut sc.created);
                sc.clock.write(cursor, &mut sc.updated);
                batch.push(&Order {
                    id,
                    user_id: 1 + mix(seed, id) % config.count.max(1),
                    amount_cents: 100 + r % 100_000,
                    currency: if r.is_multiple_of(3) { "EUR" } else { "USD" },
                    status: STATUS[((r >> 20) % 4) as usize],
                    version,
                    created_at: &sc.created,
                    updated_at: &sc.updated,
                })?;
            }
            _ => {
                sc.clock.write(cursor, &mut sc.updated);
                batch.push(&Event {
                    id,
                    user_id: 1 + mix(seed ^ 7, id) % config.count.max(1),
                    kind: KINDS[(r % 5) as usize],
                    occurred_at: &sc.updated,
                })?;
            }
        }
        Ok(cursor)
    }
}

impl StreamRead for FakerStream {
    fn read_batch(&mut self, out: &mut StreamOutput<'_>) -> Result<Step> {
        let mut last_cursor = None;
        while !self.batch.is_full() {
            match self.advance() {
                Some(id) => last_cursor = Some(self.push(id)?),
                None => break,
            }
        }
        let done = !self.batch.is_full();
        out.records(&mut self.batch);
        if let Some(cursor) = last_cursor {
            out.checkpoint(&Bookmark {
                cursor: timestamp(cursor),
            })?;
        }
        Ok(if done { Step::Done } else { Step::More })
    }
}

sluice_guest::export_source!(Faker);

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_guest::{Message, Reader, native};

    fn read_all(
        config: &str,
        streams: &[(&str, SyncMode)],
        state: Vec<sluice_guest::StreamState>,
    ) -> (Vec<Value>, Vec<sluice_guest::StreamState>) {
        let catalog = ConfiguredCatalog {
            streams: streams
                .iter()
                .map(|(n, m)| ConfiguredStream {
                    sync_mode: *m,
                    ..ConfiguredStream::new(*n)
                })
                .collect(),
        };
        let mut reader = native::read::<Faker>(config, catalog, state).unwrap();
        let (mut rows, mut states) = (Vec::new(), Vec::new());
        while let Some(messages) = reader.next().unwrap() {
            for m in messages {
                match m {
                    Message::Records(b) => {
                        for line in b.lines() {
                            rows.push(serde_json::from_slice(line).unwrap());
                        }
                    }
                    Message::State(s) => states.push(s),
                    _ => {}
                }
            }
        }
        (rows, states)
    }

    #[test]
    fn counts_and_determinism() {
        let (a, _) = read_all(
            r#"{"count": 250, "batch_size": 100}"#,
            &[
                ("users", SyncMode::FullRefresh),
                ("orders", SyncMode::FullRefresh),
            ],
            vec![],
        );
        let (b, _) = read_all(
            r#"{"count": 250, "batch_size": 7}"#,
            &[
                ("users", SyncMode::FullRefresh),
                ("orders", SyncMode::FullRefresh),
            ],
            vec![],
        );
        assert_eq!(a.len(), 500);
        assert_eq!(a, b);
    }

    #[test]
    fn incremental_sees_only_new_and_changed() {
        let (first, states) = read_all(
            r#"{"count": 1000}"#,
            &[("users", SyncMode::Incremental)],
            vec![],
        );
        assert_eq!(first.len(), 1000);
        let last = states.last().unwrap().clone();
        // Generation 1 changes ids 1, 101, ..., 1101 and adds 1001..=1200.
        let (second, _) = read_all(
            r#"{"count": 1200, "generation": 1}"#,
            &[("users", SyncMode::Incremental)],
            vec![last],
        );
        let ids: Vec<u64> = second.iter().map(|r| r["id"].as_u64().unwrap()).collect();
        let mut expected: Vec<u64> = (1001..=1200).filter(|i| i % 100 != 1).collect();
        expected.extend((0..12).map(|k| 1 + 100 * k));
        assert_eq!(ids, expected);
        let cursors: Vec<&str> = second
            .iter()
            .map(|r| r["updated_at"].as_str().unwrap())
            .collect();
        assert!(
            cursors.windows(2).all(|w| w[0] < w[1]),
            "cursor order is strictly ascending"
        );
    }

    #[test]
    fn every_id_once_in_ascending_cursor_order_for_edge_configs() {
        for (count, generation, batch) in [
            (0, 0, 1),
            (1, 1, 1),
            (300, 1, 7),
            (300, 100, 1000),
            (300, 101, 3),
            (250, 250, 50),
        ] {
            let config = format!(
                r#"{{"count": {count}, "generation": {generation}, "batch_size": {batch}}}"#
            );
            let (rows, states) = read_all(&config, &[("users", SyncMode::Incremental)], vec![]);
            let mut ids: Vec<u64> = rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
            let cursors: Vec<&str> = rows
                .iter()
                .map(|r| r["updated_at"].as_str().unwrap())
                .collect();
            assert!(
                cursors.windows(2).all(|w| w[0] < w[1]),
                "{config}: ascending cursors"
            );
            ids.sort_unstable();
            assert_eq!(
                ids,
                (1..=count).collect::<Vec<u64>>(),
                "{config}: every id once"
            );
            if let Some(last) = states.last() {
                // Resuming from the last checkpoint yields nothing more.
                let (rest, _) = read_all(
                    &config,
                    &[("users", SyncMode::Incremental)],
                    vec![last.clone()],
                );
                assert!(rest.is_empty(), "{config}");
            }
        }
    }

    #[test]
    fn the_clock_matches_chrono() {
        let mut clock = Clock::default();
        let mut out = String::new();
        for secs in [
            T0,
            T0 + 1,
            T0 + 86_399,
            T0 + 86_400,
            T0 + 3_723,
            T0 + GENERATION_SPAN * 250 + 59,
        ] {
            clock.write(secs, &mut out);
            assert_eq!(out, timestamp(secs));
        }
    }
}
