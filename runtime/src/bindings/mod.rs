//! Host bindings of every contract version the runtime loads, and their
//! conversions to the plain types of `sluice-protocol`.
//!
//! Each version's module generates the bindings of its worlds (sharing one
//! set of `types` per version) and converts them; the conversions both
//! versions share are written once, in [`conversions!`], and expanded in
//! each module against its own `t` (types) and `host` modules.

use serde_json::Value;

/// JSON text from a guest that does not parse.
#[derive(Debug)]
pub struct InvalidJson {
    /// What the text was, e.g. "the schema of stream `users`".
    pub what: String,
    /// The parse error.
    pub source: serde_json::Error,
}

/// Parse JSON text a guest returned; `what` names it in the error.
pub fn json(what: impl FnOnce() -> String, text: &str) -> Result<Value, InvalidJson> {
    serde_json::from_str(text).map_err(|source| InvalidJson {
        what: what(),
        source,
    })
}

/// The bindings of one world of a contract version: async exports, and
/// the version's shared interfaces (`types`, `host`, ...) taken from its
/// `base` module, so every world of a version speaks the same types.
macro_rules! world {
    ($module:ident, $world:tt, $path:tt, [$($interface:tt => $shared:ident),*]) => {
        #[allow(missing_docs, clippy::all)]
        pub mod $module {
            wasmtime::component::bindgen!({
                world: $world,
                path: $path,
                exports: { default: async },
                with: {
                    $($interface: super::base::sluice::connector::$shared,)*
                },
            });
        }
    };
}

/// The conversions every contract version shares, expanded in a module
/// that has `t` (its types interface) and `host` in scope.
macro_rules! conversions {
    () => {
        use super::{InvalidJson, json};
        use sluice_protocol as p;

        impl From<t::ConnectorError> for p::ConnectorError {
            fn from(e: t::ConnectorError) -> Self {
                p::ConnectorError {
                    kind: match e.kind {
                        t::ErrorKind::Config => p::ErrorKind::Config,
                        t::ErrorKind::Auth => p::ErrorKind::Auth,
                        t::ErrorKind::Transient => p::ErrorKind::Transient,
                        t::ErrorKind::Data => p::ErrorKind::Data,
                        t::ErrorKind::Internal => p::ErrorKind::Internal,
                    },
                    message: e.message,
                    stream: e.stream,
                }
            }
        }

        pub fn sync_mode_in(m: t::SyncMode) -> p::SyncMode {
            match m {
                t::SyncMode::FullRefresh => p::SyncMode::FullRefresh,
                t::SyncMode::Incremental => p::SyncMode::Incremental,
            }
        }

        pub fn sync_mode_out(m: p::SyncMode) -> t::SyncMode {
            match m {
                p::SyncMode::FullRefresh => t::SyncMode::FullRefresh,
                p::SyncMode::Incremental => t::SyncMode::Incremental,
            }
        }

        pub fn write_mode_in(m: t::WriteMode) -> p::WriteMode {
            match m {
                t::WriteMode::Overwrite => p::WriteMode::Overwrite,
                t::WriteMode::Append => p::WriteMode::Append,
                t::WriteMode::AppendDedup => p::WriteMode::AppendDedup,
                t::WriteMode::History => p::WriteMode::History,
            }
        }

        pub fn write_mode_out(m: p::WriteMode) -> t::WriteMode {
            match m {
                p::WriteMode::Overwrite => t::WriteMode::Overwrite,
                p::WriteMode::Append => t::WriteMode::Append,
                p::WriteMode::AppendDedup => t::WriteMode::AppendDedup,
                p::WriteMode::History => t::WriteMode::History,
            }
        }

        pub fn operation_in(o: t::Operation) -> p::Operation {
            match o {
                t::Operation::Insert => p::Operation::Insert,
                t::Operation::Update => p::Operation::Update,
                t::Operation::Upsert => p::Operation::Upsert,
                t::Operation::Delete => p::Operation::Delete,
            }
        }

        pub fn operation_out(o: p::Operation) -> t::Operation {
            match o {
                p::Operation::Insert => t::Operation::Insert,
                p::Operation::Update => t::Operation::Update,
                p::Operation::Upsert => t::Operation::Upsert,
                p::Operation::Delete => t::Operation::Delete,
            }
        }

        pub fn level_in(l: host::Level) -> p::Level {
            match l {
                host::Level::Trace => p::Level::Trace,
                host::Level::Debug => p::Level::Debug,
                host::Level::Info => p::Level::Info,
                host::Level::Warn => p::Level::Warn,
                host::Level::Error => p::Level::Error,
            }
        }

        pub fn spec_in(s: t::ConnectorSpec) -> Result<p::Spec, InvalidJson> {
            Ok(p::Spec {
                config_schema: json(|| "the config schema".into(), &s.config_schema)?,
                name: s.name,
                version: s.version,
                roles: s
                    .roles
                    .into_iter()
                    .map(|r| match r {
                        t::ConnectorRole::Source => p::Role::Source,
                        t::ConnectorRole::Destination => p::Role::Destination,
                    })
                    .collect(),
                sync_modes: s.sync_modes.into_iter().map(sync_mode_in).collect(),
                write_modes: s.write_modes.into_iter().map(write_mode_in).collect(),
                operations: s.operations.into_iter().map(operation_in).collect(),
                reserved_keys: s.reserved_keys,
                capabilities: p::Capabilities {
                    hosts: s.capabilities.hosts,
                    dirs: s.capabilities.dirs,
                    env: s.capabilities.env,
                },
                documentation: s.documentation,
            })
        }

        /// One stream of a discovered catalog; `partitioned` is what the
        /// version says about partitions.
        fn stream_in(s: t::StreamInfo, partitioned: bool) -> Result<p::StreamInfo, InvalidJson> {
            let mut operation_schemas = Vec::with_capacity(s.operation_schemas.len());
            for o in s.operation_schemas {
                operation_schemas.push(p::OperationSchema {
                    operation: operation_in(o.operation),
                    schema: json(|| format!("a schema of stream `{}`", s.name), &o.schema)?,
                });
            }
            Ok(p::StreamInfo {
                schema: json(|| format!("the schema of stream `{}`", s.name), &s.schema)?,
                name: s.name,
                primary_key: s.primary_key,
                cursor_candidates: s.cursor_candidates,
                default_cursor: s.default_cursor,
                sync_modes: s.sync_modes.into_iter().map(sync_mode_in).collect(),
                operation_schemas,
                relationships: s
                    .relationships
                    .into_iter()
                    .map(|r| p::Relationship {
                        name: r.name,
                        fields: r.fields,
                        target_stream: r.target_stream,
                        target_fields: r.target_fields,
                    })
                    .collect(),
                partitioned,
            })
        }

        /// The JSON Schema text of a configured stream (empty when none).
        fn schema_text(s: &p::ConfiguredStream) -> String {
            if s.schema.is_null() {
                String::new()
            } else {
                s.schema.to_string()
            }
        }

        pub fn states_out(state: &[p::StreamState]) -> Vec<t::StreamState> {
            state
                .iter()
                .map(|s| t::StreamState {
                    stream: s.stream.clone(),
                    state: s.state.to_string(),
                })
                .collect()
        }

        /// A reader's message; its batches are converted by `batch_in`.
        pub fn message_in(m: t::Message) -> Result<p::Message, InvalidJson> {
            Ok(match m {
                t::Message::Records(b) => p::Message::Records(batch_in(b)),
                t::Message::State(s) => p::Message::State(p::StreamState {
                    state: json(|| format!("the state of stream `{}`", s.stream), &s.state)?,
                    stream: s.stream,
                }),
                t::Message::Status((stream, status)) => p::Message::Status(
                    stream,
                    match status {
                        t::StreamStatus::Started => p::StreamStatus::Started,
                        t::StreamStatus::Complete => p::StreamStatus::Complete,
                        t::StreamStatus::Incomplete => p::StreamStatus::Incomplete,
                    },
                ),
                t::Message::StreamError(e) => p::Message::StreamError(e.into()),
            })
        }

        /// The raw state text of a message, if it is a checkpoint (checked
        /// for secrets before it is parsed).
        pub fn state_text(m: &t::Message) -> Option<(&str, &str)> {
            match m {
                t::Message::State(s) => Some((s.stream.as_str(), s.state.as_str())),
                _ => None,
            }
        }
    };
}

pub mod schema;
pub mod v0_1;
pub mod v0_2;
