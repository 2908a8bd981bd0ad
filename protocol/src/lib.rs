//! Plain Rust types of the `sluice:connector@0.1.0` contract.
//!
//! The host runtime and the guest SDK both convert their generated WIT
//! bindings to and from these types, so everything above the bindings
//! (pipelines, the CLI, connector code, native baselines) speaks one
//! vocabulary. JSON-valued fields (config, schemas, state) are
//! [`serde_json::Value`] here and JSON text on the wire.
//!
//! ```
//! use sluice_protocol::{Batch, SyncMode};
//! let batch = Batch::json_lines("users", 2, b"{\"id\":1}\n{\"id\":2}\n".to_vec());
//! assert_eq!(batch.count, 2);
//! assert_eq!(serde_json::to_string(&SyncMode::FullRefresh).unwrap(), "\"full_refresh\"");
//! ```

#![warn(missing_docs)]

pub mod batch;
pub mod config;
mod message;

pub use message::{Batch, BatchFormat, Message, StreamStatus, now_ms};

/// Typed row schemas (the `schema` records of the contract and the registry).
pub use sluice_schema as schema;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// The newest contract version these types describe.
pub const CONTRACT_VERSION: &str = "0.2.0";

/// Every contract version a sluice host loads, oldest first.
pub const CONTRACT_VERSIONS: [&str; 2] = ["0.1.0", "0.2.0"];

/// The environment variable through which the host tells each reader of
/// a source how many read at once (`options.parallelism`), so that what a
/// source promises an API per second is shared among them. A source that
/// lists it in its capabilities' `env` may be read by several instances
/// at once ([`Spec::reads_streams_in_parallel`]); any other by one.
pub const READERS_ENV: &str = "SLUICE_READERS";

/// What went wrong, so the host knows whether to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The config is wrong; retrying will not help.
    Config,
    /// Credentials were rejected.
    Auth,
    /// A temporary failure; the host may retry.
    Transient,
    /// A record or batch is malformed.
    Data,
    /// A bug in the connector.
    Internal,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Config => "config",
            ErrorKind::Auth => "auth",
            ErrorKind::Transient => "transient",
            ErrorKind::Data => "data",
            ErrorKind::Internal => "internal",
        })
    }
}

/// An error a connector returns as a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorError {
    /// The class of error.
    pub kind: ErrorKind,
    /// A message for people.
    pub message: String,
    /// The stream it belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
}

impl ConnectorError {
    /// An error of `kind` with `message`, not tied to a stream.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ConnectorError {
            kind,
            message: message.into(),
            stream: None,
        }
    }

    /// A config error.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    /// A data error.
    pub fn data(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Data, message)
    }

    /// A transient error: the host may retry from the last checkpoint.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Transient, message)
    }

    /// An internal error (a bug in the connector).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// The same error, tied to `stream`.
    pub fn in_stream(mut self, stream: impl Into<String>) -> Self {
        self.stream = Some(stream.into());
        self
    }
}

impl fmt::Display for ConnectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.stream {
            Some(s) => write!(f, "{} error in stream `{s}`: {}", self.kind, self.message),
            None => write!(f, "{} error: {}", self.kind, self.message),
        }
    }
}

impl std::error::Error for ConnectorError {}

/// Whether a connector reads, writes, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// It reads records from a system.
    Source,
    /// It writes records into a system.
    Destination,
}

impl Role {
    /// `source` or `destination`, as the contract's interfaces are named.
    pub fn name(self) -> &'static str {
        match self {
            Role::Source => "source",
            Role::Destination => "destination",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a source reads a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Everything, every time.
    #[default]
    FullRefresh,
    /// Only what changed since the saved state.
    Incremental,
}

/// How a destination applies a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// Replace what the destination holds for the stream.
    Overwrite,
    /// Add to what is there.
    #[default]
    Append,
    /// Upsert on the primary key.
    AppendDedup,
    /// Keep every version (SCD type 2).
    History,
}

/// What a batch of records does in the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// New records.
    #[default]
    Insert,
    /// Changes to existing records.
    Update,
    /// Insert or update by primary key.
    Upsert,
    /// Removals by primary key.
    Delete,
}

impl Operation {
    /// Every operation, in contract order.
    pub const ALL: [Operation; 4] = [
        Operation::Insert,
        Operation::Update,
        Operation::Upsert,
        Operation::Delete,
    ];
}

/// What a connector will ask the host to grant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// `host:port` pairs it connects to.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Guest paths of directories it expects.
    #[serde(default)]
    pub dirs: Vec<String>,
    /// Environment variables it reads.
    #[serde(default)]
    pub env: Vec<String>,
}

/// What a connector is and what it accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    /// Connector name, e.g. `source-faker`.
    pub name: String,
    /// Connector version.
    pub version: String,
    /// Source, destination, or both.
    pub roles: Vec<Role>,
    /// JSON Schema of the config; properties with `"secret": true` are secrets.
    pub config_schema: Value,
    /// Sync modes a source supports.
    #[serde(default)]
    pub sync_modes: Vec<SyncMode>,
    /// Write modes a destination supports.
    #[serde(default)]
    pub write_modes: Vec<WriteMode>,
    /// Operations a destination accepts.
    #[serde(default)]
    pub operations: Vec<Operation>,
    /// Field names a destination reserves.
    #[serde(default)]
    pub reserved_keys: Vec<String>,
    /// What it will ask to be granted.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Where its documentation lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documentation: Option<String>,
}

impl Spec {
    /// A source spec declaring both sync modes and nothing else.
    pub fn source(name: &str, version: &str, config_schema: Value) -> Spec {
        Spec {
            name: name.into(),
            version: version.into(),
            roles: vec![Role::Source],
            config_schema,
            sync_modes: vec![SyncMode::FullRefresh, SyncMode::Incremental],
            write_modes: Vec::new(),
            operations: Vec::new(),
            reserved_keys: Vec::new(),
            capabilities: Capabilities::default(),
            documentation: None,
        }
    }

    /// A destination spec accepting inserts in `append` and `overwrite`.
    pub fn destination(name: &str, version: &str, config_schema: Value) -> Spec {
        Spec {
            name: name.into(),
            version: version.into(),
            roles: vec![Role::Destination],
            config_schema,
            sync_modes: Vec::new(),
            write_modes: vec![WriteMode::Append, WriteMode::Overwrite],
            operations: vec![Operation::Insert],
            reserved_keys: Vec::new(),
            capabilities: Capabilities::default(),
            documentation: None,
        }
    }

    /// Top-level config properties marked `"secret": true` (or Airbyte's
    /// `"airbyte_secret": true`).
    pub fn secret_fields(&self) -> Vec<String> {
        secret_fields(&self.config_schema)
    }

    /// This source's streams may be read by several instances at once,
    /// each over its own streams (they share no snapshot, no parent and
    /// child, no connection budget the source does not divide itself): it
    /// reads [`READERS_ENV`], and says so in its capabilities.
    pub fn reads_streams_in_parallel(mut self) -> Spec {
        if !self.reads_in_parallel() {
            self.capabilities.env.push(READERS_ENV.to_string());
        }
        self
    }

    /// Whether the host may run several readers of this source at once
    /// ([`Self::reads_streams_in_parallel`]).
    pub fn reads_in_parallel(&self) -> bool {
        self.capabilities.env.iter().any(|e| e == READERS_ENV)
    }
}

/// Paths (as `a.b.c`, for people) of the properties of `schema` marked
/// secret, at any depth.
pub fn secret_fields(schema: &Value) -> Vec<String> {
    secret_paths(schema).iter().map(|p| p.join(".")).collect()
}

/// Paths (as segments: a property name may hold `.` or `/`) of the
/// properties of `schema` marked secret, at any depth.
pub fn secret_paths(schema: &Value) -> Vec<Vec<String>> {
    fn walk(schema: &Value, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            return;
        };
        for (name, prop) in props {
            let mut path = prefix.to_vec();
            path.push(name.clone());
            let marked = |key: &str| prop.get(key).and_then(Value::as_bool) == Some(true);
            if marked("secret") || marked("airbyte_secret") {
                out.push(path.clone());
            }
            walk(prop, &path, out);
        }
    }
    let mut out = Vec::new();
    walk(schema, &[], &mut out);
    out
}

/// The JSON pointer (RFC 6901) of a path of property names.
pub fn json_pointer(path: &[String]) -> String {
    path.iter()
        .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// The JSON Schema of one operation on a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationSchema {
    /// The operation.
    pub operation: Operation,
    /// Its JSON Schema.
    pub schema: Value,
}

/// A foreign key from one stream to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relationship {
    /// Name of the relationship, e.g. `order_user`.
    pub name: String,
    /// Fields of this stream.
    pub fields: Vec<String>,
    /// The stream referred to.
    pub target_stream: String,
    /// Fields of the target stream.
    pub target_fields: Vec<String>,
}

/// A stream a connector offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// Unique name within the connector.
    pub name: String,
    /// JSON Schema of one row.
    pub schema: Value,
    /// Primary key fields.
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// Fields usable as an incremental cursor.
    #[serde(default)]
    pub cursor_candidates: Vec<String>,
    /// The cursor used when the pipeline names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_cursor: Option<String>,
    /// Sync modes this stream supports.
    #[serde(default)]
    pub sync_modes: Vec<SyncMode>,
    /// Per-operation schemas.
    #[serde(default)]
    pub operation_schemas: Vec<OperationSchema>,
    /// Foreign keys to other streams.
    #[serde(default)]
    pub relationships: Vec<Relationship>,
    /// Whether the source can read a share of the stream
    /// ([`ConfiguredStream::partition`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partitioned: bool,
}

impl StreamInfo {
    /// A full-refresh stream with `schema` and nothing else declared.
    pub fn new(name: &str, schema: Value) -> StreamInfo {
        StreamInfo {
            name: name.into(),
            schema,
            primary_key: Vec::new(),
            cursor_candidates: Vec::new(),
            default_cursor: None,
            sync_modes: vec![SyncMode::FullRefresh],
            operation_schemas: Vec::new(),
            relationships: Vec::new(),
            partitioned: false,
        }
    }
}

/// Everything a connector offers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// The streams.
    pub streams: Vec<StreamInfo>,
}

impl Catalog {
    /// The stream called `name`.
    pub fn stream(&self, name: &str) -> Option<&StreamInfo> {
        self.streams.iter().find(|s| s.name == name)
    }
}

/// One stream as a pipeline wants it synced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfiguredStream {
    /// Stream name.
    pub name: String,
    /// Selected fields; empty means all.
    #[serde(default)]
    pub fields: Vec<String>,
    /// How the source reads it.
    #[serde(default)]
    pub sync_mode: SyncMode,
    /// Cursor for incremental reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_field: Option<String>,
    /// Primary key fields.
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// How the destination applies it.
    #[serde(default)]
    pub write_mode: WriteMode,
    /// JSON Schema of the rows the destination gets.
    #[serde(default)]
    pub schema: Value,
    /// Read only this share of the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<Partition>,
    /// The source's relationships from this stream to other configured
    /// streams (foreign keys a destination may create).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relationships: Vec<Relationship>,
}

/// Share `index` of `count` of a stream (`0 <= index < count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Partition {
    /// Which share, from 0.
    pub index: u32,
    /// How many shares the stream is read in.
    pub count: u32,
}

impl Partition {
    /// Whether the record whose key hashes to `key_hash` falls in this share.
    pub fn owns(&self, key_hash: u64) -> bool {
        self.count <= 1 || key_hash % u64::from(self.count) == u64::from(self.index)
    }
}

impl ConfiguredStream {
    /// A full-refresh, append stream with every field and no schema.
    pub fn new(name: impl Into<String>) -> Self {
        ConfiguredStream {
            name: name.into(),
            fields: Vec::new(),
            sync_mode: SyncMode::FullRefresh,
            cursor_field: None,
            primary_key: Vec::new(),
            write_mode: WriteMode::Append,
            schema: Value::Null,
            partition: None,
            relationships: Vec::new(),
        }
    }

    /// Whether `field` is selected (every field is when none are listed).
    pub fn selects(&self, field: &str) -> bool {
        self.fields.is_empty() || self.fields.iter().any(|f| f == field)
    }
}

/// The streams a pipeline syncs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfiguredCatalog {
    /// The streams.
    pub streams: Vec<ConfiguredStream>,
}

impl ConfiguredCatalog {
    /// The stream called `name`.
    pub fn stream(&self, name: &str) -> Option<&ConfiguredStream> {
        self.streams.iter().find(|s| s.name == name)
    }
}

/// Saved state of one stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamState {
    /// Stream name.
    pub stream: String,
    /// The state.
    pub state: Value,
}

/// Log levels of the host `log` import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Very detailed.
    Trace,
    /// For debugging.
    Debug,
    /// Normal progress.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something failed.
    Error,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_fields_found_at_any_depth() {
        let schema = json!({
            "type": "object",
            "properties": {
                "user": {"type": "string"},
                "password": {"type": "string", "secret": true},
                "tls": {"type": "object", "properties": {
                    "key": {"type": "string", "airbyte_secret": true}
                }}
            }
        });
        assert_eq!(secret_fields(&schema), vec!["password", "tls.key"]);
    }

    #[test]
    fn batch_lines_skip_the_trailing_newline() {
        let b = Batch::json_lines("s", 2, b"{\"a\":1}\n{\"a\":2}\n".to_vec());
        let lines: Vec<_> = b.lines().collect();
        assert_eq!(lines, vec![&b"{\"a\":1}"[..], &b"{\"a\":2}"[..]]);
    }

    #[test]
    fn catalog_round_trips_through_json() {
        let cat = ConfiguredCatalog {
            streams: vec![ConfiguredStream {
                sync_mode: SyncMode::Incremental,
                cursor_field: Some("updated_at".into()),
                ..ConfiguredStream::new("users")
            }],
        };
        let text = serde_json::to_string(&cat).unwrap();
        assert!(text.contains("\"sync_mode\":\"incremental\""));
        let back: ConfiguredCatalog = serde_json::from_str(&text).unwrap();
        assert_eq!(back, cat);
    }
}
