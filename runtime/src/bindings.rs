//! Host bindings of `sluice:connector@0.1.0`, one per world, sharing types,
//! and conversions to the plain types of `sluice-protocol`.

#[allow(missing_docs, clippy::all)]
pub mod base {
    wasmtime::component::bindgen!({
        world: "base",
        path: "../wit/0.1.0",
        imports: { default: trappable },
        exports: { default: async },
    });
}

#[allow(missing_docs, clippy::all)]
pub mod source {
    wasmtime::component::bindgen!({
        world: "source-connector",
        path: "../wit/0.1.0",
        exports: { default: async },
        with: {
            "sluice:connector/types": super::base::sluice::connector::types,
            "sluice:connector/host": super::base::sluice::connector::host,
        },
    });
}

#[allow(missing_docs, clippy::all)]
pub mod destination {
    wasmtime::component::bindgen!({
        world: "destination-connector",
        path: "../wit/0.1.0",
        exports: { default: async },
        with: {
            "sluice:connector/types": super::base::sluice::connector::types,
            "sluice:connector/host": super::base::sluice::connector::host,
        },
    });
}

pub use base::sluice::connector::host;
pub use base::sluice::connector::types as t;
use serde_json::Value;
use sluice_protocol as p;

pub fn error_in(e: t::ConnectorError) -> p::ConnectorError {
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

pub fn catalog_in(c: t::Catalog) -> Result<p::Catalog, InvalidJson> {
    let mut streams = Vec::with_capacity(c.streams.len());
    for s in c.streams {
        let mut operation_schemas = Vec::with_capacity(s.operation_schemas.len());
        for o in s.operation_schemas {
            operation_schemas.push(p::OperationSchema {
                operation: operation_in(o.operation),
                schema: json(|| format!("a schema of stream `{}`", s.name), &o.schema)?,
            });
        }
        streams.push(p::StreamInfo {
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
            partitioned: false,
        });
    }
    Ok(p::Catalog { streams })
}

pub fn configured_catalog_out(c: &p::ConfiguredCatalog) -> t::ConfiguredCatalog {
    t::ConfiguredCatalog {
        streams: c
            .streams
            .iter()
            .map(|s| t::ConfiguredStream {
                name: s.name.clone(),
                fields: s.fields.clone(),
                sync_mode: sync_mode_out(s.sync_mode),
                cursor_field: s.cursor_field.clone(),
                primary_key: s.primary_key.clone(),
                write_mode: write_mode_out(s.write_mode),
                schema: if s.schema.is_null() {
                    String::new()
                } else {
                    s.schema.to_string()
                },
            })
            .collect(),
    }
}

pub fn batch_out(b: p::Batch) -> t::Batch {
    t::Batch {
        stream: b.stream,
        count: b.count,
        format: t::BatchFormat::JsonLines,
        data: b.data,
    }
}

pub fn message_in(m: t::Message) -> Result<p::Message, InvalidJson> {
    Ok(match m {
        t::Message::Records(b) => p::Message::Records(p::Batch {
            stream: b.stream,
            schema_id: None,
            operation: p::Operation::Insert,
            extracted_at: p::now_ms(),
            count: b.count,
            format: p::BatchFormat::JsonLines,
            data: b.data,
        }),
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
        t::Message::StreamError(e) => p::Message::StreamError(error_in(e)),
    })
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
