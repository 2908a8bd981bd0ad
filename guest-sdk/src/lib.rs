//! Write sluice connectors in plain Rust.
//!
//! A connector implements [`Connector`] plus [`Source`] and/or
//! [`Destination`] (or [`Transform`]), then exports itself with
//! [`export_source!`], [`export_destination!`], [`export_duplex!`] or
//! [`export_transform!`], against the contract `sluice:connector@0.2.0`.
//! The SDK hides the component bindings, applies the config's defaults
//! from the spec's JSON Schema before connector code runs (the host has
//! validated it; natively, or with the `validate` feature, the SDK does), and
//! offers batching ([`BatchBuilder`]: typed schemas registered once and
//! stamped on batches, operations, extraction times), state ([`State`]) and
//! stream-iteration ([`Streams`], [`StreamRead`]) helpers. A destination
//! learns each stream's schema ([`Writer::schema`]) before its rows.
//! With the `http` feature, `http` is an HTTP client over `wasi:http` with
//! retries, redirects, rate limiting and pagination.
//!
//! The export macros emit bindings only for `wasm32`, so the same crate
//! builds natively as an ordinary library; [`native`] runs it in-process
//! through the very same entry points (used by tests and benchmarks as a
//! baseline).
//!
//! ```
//! use sluice_guest::*;
//! use serde_json::json;
//!
//! struct Numbers;
//!
//! #[derive(serde::Deserialize)]
//! struct Config { count: u64 }
//!
//! impl Connector for Numbers {
//!     type Config = Config;
//!     fn spec() -> Spec {
//!         Spec::source("source-numbers", "0.1.0", json!({
//!             "type": "object",
//!             "properties": {"count": {"type": "integer", "minimum": 0, "default": 3}}
//!         }))
//!     }
//!     fn discover(_: &Config) -> Result<Catalog> {
//!         Ok(Catalog { streams: vec![StreamInfo::new("numbers", row().to_json_schema())] })
//!     }
//! }
//!
//! fn row() -> Schema {
//!     Schema::new(vec![Field::required("n", Type::Int64)])
//! }
//!
//! struct NumbersReader { left: u64, batch: BatchBuilder }
//!
//! impl Source for Numbers {
//!     type Reader = NumbersReader;
//!     fn read(config: Config, _: ConfiguredCatalog, _: State) -> Result<NumbersReader> {
//!         // Registered once; its id is stamped on every batch.
//!         let batch = BatchBuilder::new("numbers", 1000).schema(&row())?;
//!         Ok(NumbersReader { left: config.count, batch })
//!     }
//! }
//!
//! impl Reader for NumbersReader {
//!     fn next(&mut self) -> Result<Option<Vec<Message>>> {
//!         if self.left == 0 { return Ok(None) }
//!         while self.left > 0 && !self.batch.is_full() {
//!             self.batch.push(&json!({"n": self.left}))?;
//!             self.left -= 1;
//!         }
//!         Ok(Some(self.batch.take().map(Message::Records).into_iter().collect()))
//!     }
//! }
//!
//! // In a connector crate: sluice_guest::export_source!(Numbers);
//! let mut reader = native::read::<Numbers>("{}", ConfiguredCatalog::default(), vec![]).unwrap();
//! let Some(messages) = reader.next().unwrap() else { panic!() };
//! let Message::Records(batch) = &messages[0] else { panic!() };
//! assert_eq!(batch.count, 3); // the default from the config schema
//! assert_eq!(batch.schema_id.as_deref(), Some(row().id().as_str()));
//! ```

#![warn(missing_docs)]

mod batch;
#[doc(hidden)]
pub mod export;
#[cfg(feature = "http")]
pub mod http;
pub mod json;
mod logging;
pub mod native;
pub mod registry;
mod state;
mod streams;
#[doc(hidden)]
pub mod wit;

pub use batch::BatchBuilder;
pub use logging::log;
pub use sluice_guest_macros::{export_destination, export_duplex, export_source, export_transform};
pub use sluice_protocol as protocol;
pub use sluice_protocol::schema::{Field, Schema, SchemaId, Type};
pub use sluice_protocol::{
    Batch, BatchFormat, Capabilities, Catalog, ConfiguredCatalog, ConfiguredStream, ConnectorError,
    ErrorKind, Level, Message, Operation, OperationSchema, Partition, Relationship, Role, Spec,
    StreamInfo, StreamState, StreamStatus, SyncMode, WriteMode,
};
pub use state::State;
pub use streams::{Step, StreamOutput, StreamRead, Streams};

/// A config error for a failed I/O operation on `path`:
/// ``cannot {what} `{path}`: {e}``.
///
/// ```
/// let e = sluice_guest::io_error("open", "/in/a.csv".as_ref(), std::io::ErrorKind::NotFound.into());
/// assert_eq!(e.message, "cannot open `/in/a.csv`: entity not found");
/// ```
pub fn io_error(what: &str, path: &std::path::Path, e: std::io::Error) -> ConnectorError {
    ConnectorError::config(format!("cannot {what} `{}`: {e}", path.display()))
}

/// How many readers of this source the host runs at once, each over its
/// own streams (1 unless the host says otherwise through
/// [`protocol::READERS_ENV`]). A limit a source keeps towards its system
/// (requests a second, connections) is shared among them.
pub fn readers() -> u32 {
    std::env::var(protocol::READERS_ENV)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// Parse `text` as the config of a connector with `spec`: defaults from
/// the schema filled in, then deserialised.
///
/// The sluice host validates every config against `spec.config_schema`
/// (errors name the field and never echo secret values) before it calls
/// the guest, so a component does not carry a validator of its own. Built
/// natively, or with the `validate` feature (for hosts that do not
/// validate), it checks the config here too.
pub fn parse_config<T: serde::de::DeserializeOwned>(spec: &Spec, text: &str) -> Result<T> {
    let value = protocol::config::validated_config(&spec.config_schema, text)?;
    serde_json::from_value(value)
        .map_err(|e| ConnectorError::config(format!("config does not fit the connector: {e}")))
}

/// The spec of a transform: no roles, sync modes, write modes or
/// operations of its own (the contract's roles are source and destination).
pub fn transform_spec(name: &str, version: &str, config_schema: serde_json::Value) -> Spec {
    Spec {
        roles: Vec::new(),
        sync_modes: Vec::new(),
        ..Spec::source(name, version, config_schema)
    }
}

/// The result type of connector code.
pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// What every connector implements: its spec, a connection check, and discovery.
pub trait Connector {
    /// The config, deserialised from JSON after it passed the spec's schema.
    type Config: serde::de::DeserializeOwned;

    /// What the connector is and what config it accepts.
    fn spec() -> Spec;

    /// Can the connector reach its system with this config?
    fn check(config: &Self::Config) -> Result<()> {
        let _ = config;
        Ok(())
    }

    /// The streams the connector offers.
    fn discover(config: &Self::Config) -> Result<Catalog>;
}

/// A connector that reads records.
pub trait Source: Connector {
    /// The reader a `read` call returns.
    type Reader: Reader + 'static;

    /// Start reading the streams of `catalog`, resuming from `state`.
    fn read(config: Self::Config, catalog: ConfiguredCatalog, state: State)
    -> Result<Self::Reader>;
}

/// Pulls messages out of a source: batches, state checkpoints, statuses.
pub trait Reader {
    /// The next messages, or `None` when every stream is done.
    ///
    /// Return at most one batch per stream per call, and emit a
    /// [`Message::State`] only after the records it covers.
    fn next(&mut self) -> Result<Option<Vec<Message>>>;
}

/// A connector that writes records.
pub trait Destination: Connector {
    /// The writer a `write` call returns.
    type Writer: Writer + 'static;

    /// Open the destination for the streams of `catalog`.
    fn write(config: Self::Config, catalog: ConfiguredCatalog) -> Result<Self::Writer>;
}

/// Applies batches to a destination.
pub trait Writer {
    /// Batches of `stream` from now on follow `schema` (already reduced by
    /// field selection, transforms and reserved-key renames). Called before
    /// the first batch under a schema the writer has not seen, so a
    /// destination can add columns (or start a new file) before rows. The
    /// default accepts any schema.
    fn schema(&mut self, stream: &str, schema: &Schema) -> Result<()> {
        let _ = (stream, schema);
        Ok(())
    }

    /// Apply one batch: its records do `batch.operation` to the
    /// destination's rows. Refuse operations the destination cannot apply
    /// (and that its spec does not list) with [`ConnectorError::data`].
    fn write(&mut self, batch: Batch) -> Result<()>;

    /// Make everything written so far durable. The host persists state only
    /// after this returns `Ok`.
    fn commit(&mut self) -> Result<()>;

    /// The source sent the last batch of `stream` for this run. Called once
    /// per stream that ended well, before the commit that ends the run; a
    /// stream that failed (or a run that stopped) is not completed. A
    /// destination that loads a replacement aside (an `overwrite` into a
    /// staging table) swaps it in at that commit. The default does nothing.
    fn complete(&mut self, stream: &str) -> Result<()> {
        let _ = stream;
        Ok(())
    }
}

/// A user's transform: rewrites the batches of one stream in the sandbox.
///
/// ```
/// use sluice_guest::*;
///
/// struct Upper;
/// impl Connector for Upper {
///     type Config = serde_json::Value;
///     fn spec() -> Spec { transform_spec("upper", "0.1.0", serde_json::json!({"type": "object"})) }
///     fn discover(_: &serde_json::Value) -> Result<Catalog> { Ok(Catalog::default()) }
/// }
/// struct Shout;
/// impl Transform for Upper {
///     type Transformer = Shout;
///     fn open(_: serde_json::Value, _: &str, input: Option<Schema>) -> Result<(Shout, Option<Schema>)> {
///         Ok((Shout, input)) // the same fields, other values
///     }
/// }
/// impl Transformer for Shout {
///     fn transform(&mut self, mut batch: Batch) -> Result<Vec<Batch>> {
///         batch.data = String::from_utf8_lossy(&batch.data).to_uppercase().into_bytes();
///         Ok(vec![batch])
///     }
/// }
///
/// // In a connector crate: sluice_guest::export_transform!(Upper);
/// let (mut t, _) = native::open_transform::<Upper>("{}", "s", None)?;
/// let out = t.transform(Batch::json_lines("s", 1, b"{\"a\":\"x\"}\n".to_vec()))?;
/// assert_eq!(out[0].data, b"{\"A\":\"X\"}\n");
/// # Ok::<(), ConnectorError>(())
/// ```
pub trait Transform: Connector {
    /// The transformer an `open` call returns.
    type Transformer: Transformer + 'static;

    /// Open a transformer for `stream`, whose rows follow `input` (`None`
    /// for schemaless streams); returns it with the schema of its output
    /// rows (`None`: schemaless). The SDK registers the output schema and
    /// stamps its id on every batch the transformer returns.
    fn open(
        config: Self::Config,
        stream: &str,
        input: Option<Schema>,
    ) -> Result<(Self::Transformer, Option<Schema>)>;
}

/// Rewrites batches of one stream.
pub trait Transformer {
    /// Rewrite one batch: records may be dropped, split across batches or
    /// rewritten. The batches returned follow the output schema.
    fn transform(&mut self, batch: Batch) -> Result<Vec<Batch>>;
}

#[doc(hidden)]
pub mod __private {
    pub use crate::export;
    pub use crate::wit;
    pub use wit_bindgen;
}
