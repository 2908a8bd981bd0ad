//! `source-faker`: deterministic fake `users`, `orders` and `events`.
//!
//! The same `seed` and `count` always give the same records. Each run may
//! also name a `generation`: in generation `g >= 1`, every user and order
//! whose id ends (mod 100) in `g % 100` is changed again, with a newer
//! `updated_at`, so incremental syncs see new *and* changed records.
//! Records are emitted in ascending cursor order and every batch is followed
//! by a state checkpoint holding the cursor of its last record.
//!
//! Every batch carries the registered id of its stream's typed schema
//! ([`schemas`]). `delete_every: N` deletes, in every read, each user and
//! order whose id is a multiple of N: a delete batch of `{"id": ..}`
//! records follows the batch that emitted them, before its checkpoint.
//! `schema_version: 2` widens `orders.amount_cents` to int64 (orders whose
//! id is a multiple of 100 are bulk orders beyond the int32 range) and adds
//! the optional `orders.coupon`. Every stream is partitioned: partition
//! `index` of `count` holds the ids with `id % count == index`.

mod records;
mod schemas;

pub(crate) use records::{KINDS, STATUS};
use records::{Record, Scratch, T0, timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sluice_guest::{
    BatchBuilder, Catalog, ConfiguredCatalog, ConfiguredStream, Connector, ConnectorError,
    Operation, Partition, Result, Source, Spec, State, Step, StreamOutput, StreamRead, Streams,
    SyncMode,
};

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
    /// Delete every user and order whose id is a multiple of this (0: none).
    pub delete_every: u64,
    /// Version of the streams' schemas: 1, or 2 (orders change).
    pub schema_version: u64,
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
            "batch_size": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1000},
            "delete_every": {"type": "integer", "minimum": 0, "default": 0,
                             "description": "N >= 1: every read also deletes each user and order whose id is a multiple of N, in a delete batch of {\"id\": ..} records right after the batch that emitted them (before its checkpoint). 0: no deletes."},
            "schema_version": {"type": "integer", "enum": [1, 2], "default": 1,
                               "description": "2: orders.amount_cents widens from int32 to int64 (orders whose id is a multiple of 100 are bulk orders beyond the int32 range) and orders gain the optional coupon."}
        }
    })
}

fn parse_timestamp(stream: &str, text: &str) -> Result<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .map_err(|e| {
            ConnectorError::data(format!(
                "saved cursor `{text}` is not an RFC 3339 time: {e}"
            ))
            .in_stream(stream)
        })
}

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

    /// Whether record `id` of `stream` is deleted in every read.
    fn deletes(&self, stream: &str, id: u64) -> bool {
        self.delete_every > 0 && stream != "events" && id.is_multiple_of(self.delete_every)
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

/// Records emitted by one call whose deletes and checkpoint come next.
struct Pending {
    cursor: Option<i64>,
    done: bool,
}

/// One configured stream of source-faker, read in ascending cursor order.
pub struct FakerStream {
    config: Config,
    stream: ConfiguredStream,
    cursor: Cursor,
    after: i64,
    batch: BatchBuilder,
    deletes: BatchBuilder,
    pending: Option<Pending>,
    scratch: Scratch,
}

/// Reads the configured streams one after another.
pub type FakerReader = Streams<FakerStream>;

impl Connector for Faker {
    type Config = Config;

    fn spec() -> Spec {
        let mut spec = Spec::source("source-faker", env!("CARGO_PKG_VERSION"), config_schema());
        spec.documentation = Some(
            "Deterministic fake users, orders and events, typed and partitioned. \
             delete_every N: each read deletes users and orders whose id % N == 0 \
             (delete batches of {\"id\": ..} after the inserts that emitted them). \
             schema_version 2: orders.amount_cents int32 -> int64, optional orders.coupon."
                .into(),
        );
        // Streams are generated independently: several readers may take them.
        spec.reads_streams_in_parallel()
    }

    fn discover(config: &Config) -> Result<Catalog> {
        let streams = STREAMS
            .iter()
            .map(|name| schemas::stream_info(name, config.schema_version))
            .collect();
        Ok(Catalog { streams })
    }
}

#[derive(Serialize, Deserialize)]
struct Bookmark {
    cursor: String,
}

/// A deleted record: its key.
#[derive(Serialize)]
struct Deleted {
    id: u64,
}

impl Source for Faker {
    type Reader = FakerReader;

    fn read(config: Config, catalog: ConfiguredCatalog, state: State) -> Result<FakerReader> {
        Streams::open(catalog, |stream| FakerStream::open(&config, stream, &state))
    }
}

impl FakerStream {
    fn open(config: &Config, stream: ConfiguredStream, state: &State) -> Result<FakerStream> {
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
        let schema = schemas::row_schema(&stream.name, config.schema_version);
        let batch = BatchBuilder::for_stream(&stream, config.batch_size).schema(&schema)?;
        let deletes = BatchBuilder::for_stream(&stream, config.batch_size)
            .schema(&schema)?
            .operation(Operation::Delete);
        Ok(FakerStream {
            config: config.clone(),
            stream,
            cursor: Cursor {
                band: 0,
                next_id: 1,
            },
            after,
            batch,
            deletes,
            pending: None,
            scratch: Scratch::default(),
        })
    }

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

    /// Whether this read's partition (if any) holds record `id`.
    fn owns(&self, id: u64) -> bool {
        self.stream.partition.is_none_or(|p: Partition| p.owns(id))
    }

    /// Add record `id` to the batch (and, if it is deleted, to the
    /// deletes); its cursor.
    fn push(&mut self, id: u64) -> Result<i64> {
        let config = &self.config;
        let name = self.stream.name.as_str();
        let record = Record {
            stream: name,
            id,
            version: match name {
                "events" => 0,
                _ => config.changed_in(id).unwrap_or(0),
            },
            cursor: config.cursor_of(name, id),
        };
        self.scratch.push(config, &record, &mut self.batch)?;
        if config.deletes(name, id) {
            self.deletes.push(&Deleted { id })?;
        }
        Ok(record.cursor)
    }

    /// Checkpoint after the records of one call; whether the stream is done.
    fn finish(&self, out: &mut StreamOutput<'_>, p: Pending) -> Result<Step> {
        if let Some(cursor) = p.cursor {
            out.checkpoint(&Bookmark {
                cursor: timestamp(cursor),
            })?;
        }
        Ok(if p.done { Step::Done } else { Step::More })
    }
}

impl StreamRead for FakerStream {
    /// One batch of records; when some of them are deleted, the delete
    /// batch and the checkpoint follow in the next call (one batch per
    /// call).
    fn read_batch(&mut self, out: &mut StreamOutput<'_>) -> Result<Step> {
        if let Some(pending) = self.pending.take() {
            out.records(&mut self.deletes);
            return self.finish(out, pending);
        }
        let mut cursor = None;
        while !self.batch.is_full() {
            match self.advance() {
                Some(id) if self.owns(id) => cursor = Some(self.push(id)?),
                Some(_) => {}
                None => break,
            }
        }
        let pending = Pending {
            cursor,
            done: !self.batch.is_full(),
        };
        out.records(&mut self.batch);
        if self.deletes.is_empty() {
            return self.finish(out, pending);
        }
        self.pending = Some(pending);
        Ok(Step::More)
    }
}

sluice_guest::export_source!(Faker);

#[cfg(test)]
mod tests;
