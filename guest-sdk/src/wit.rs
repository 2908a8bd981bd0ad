//! The SDK's own bindings of the contract's `types`, `host` and `registry`
//! interfaces (`sluice:connector@0.2.0`), and the one set of conversions
//! between them and `sluice-protocol` / `sluice-schema`.
//!
//! A connector's export macro generates the bindings of its one world in
//! its own crate, but maps these three interfaces onto these modules (the
//! `with` option of `wit_bindgen::generate!`). So every type that crosses
//! the boundary is defined here once, and the conversions below are
//! ordinary Rust that builds natively and is linted and tested with the SDK.
//! This world only imports what every connector world imports already, so
//! it adds nothing to a component's imports or exports.

use crate::protocol as p;

#[allow(missing_docs, clippy::all, unsafe_op_in_unsafe_fn)]
mod generated {
    wit_bindgen::generate!({
        inline: "
            package sluice:guest-sdk;

            world sdk {
                import sluice:connector/types@0.2.0;
                import sluice:connector/host@0.2.0;
                import sluice:connector/registry@0.2.0;
            }
        ",
        path: "../wit/0.2.0",
        generate_all,
    });
}

mod schema;

pub use generated::sluice::connector::{host, registry, types};
pub(crate) use schema::schema_in;
use types as t;

/// `From` both ways between a protocol enum and its bindings enum, from one
/// list of variants: a variant missing on either side does not compile.
macro_rules! enum_conversions {
    ($($pm:ident::$p:ident <=> $tm:ident::$t:ident { $($v:ident),+ $(,)? })+) => {$(
        impl From<$pm::$p> for $tm::$t {
            fn from(value: $pm::$p) -> Self {
                match value {
                    $($pm::$p::$v => $tm::$t::$v,)+
                }
            }
        }

        impl From<$tm::$t> for $pm::$p {
            fn from(value: $tm::$t) -> Self {
                match value {
                    $($tm::$t::$v => $pm::$p::$v,)+
                }
            }
        }
    )+};
}

enum_conversions! {
    p::ErrorKind <=> t::ErrorKind { Config, Auth, Transient, Data, Internal }
    p::Role <=> t::ConnectorRole { Source, Destination }
    p::SyncMode <=> t::SyncMode { FullRefresh, Incremental }
    p::WriteMode <=> t::WriteMode { Overwrite, Append, AppendDedup, History }
    p::Operation <=> t::Operation { Insert, Update, Upsert, Delete }
    p::BatchFormat <=> t::BatchFormat { JsonLines }
    p::StreamStatus <=> t::StreamStatus { Started, Complete, Incomplete }
    p::Level <=> host::Level { Trace, Debug, Info, Warn, Error }
}

fn all<A, B: From<A>>(items: Vec<A>) -> Vec<B> {
    items.into_iter().map(B::from).collect()
}

impl From<p::ConnectorError> for t::ConnectorError {
    fn from(e: p::ConnectorError) -> Self {
        t::ConnectorError {
            kind: e.kind.into(),
            message: e.message,
            stream: e.stream,
        }
    }
}

impl From<p::Spec> for t::ConnectorSpec {
    fn from(s: p::Spec) -> Self {
        t::ConnectorSpec {
            name: s.name,
            version: s.version,
            roles: all(s.roles),
            config_schema: s.config_schema.to_string(),
            sync_modes: all(s.sync_modes),
            write_modes: all(s.write_modes),
            operations: all(s.operations),
            reserved_keys: s.reserved_keys,
            capabilities: t::Capabilities {
                hosts: s.capabilities.hosts,
                dirs: s.capabilities.dirs,
                env: s.capabilities.env,
            },
            documentation: s.documentation,
        }
    }
}

impl From<p::OperationSchema> for t::OperationSchema {
    fn from(o: p::OperationSchema) -> Self {
        t::OperationSchema {
            operation: o.operation.into(),
            schema: o.schema.to_string(),
        }
    }
}

impl From<p::Relationship> for t::Relationship {
    fn from(r: p::Relationship) -> Self {
        t::Relationship {
            name: r.name,
            fields: r.fields,
            target_stream: r.target_stream,
            target_fields: r.target_fields,
        }
    }
}

impl From<t::Relationship> for p::Relationship {
    fn from(r: t::Relationship) -> Self {
        p::Relationship {
            name: r.name,
            fields: r.fields,
            target_stream: r.target_stream,
            target_fields: r.target_fields,
        }
    }
}

impl From<p::StreamInfo> for t::StreamInfo {
    fn from(s: p::StreamInfo) -> Self {
        t::StreamInfo {
            name: s.name,
            schema: s.schema.to_string(),
            primary_key: s.primary_key,
            cursor_candidates: s.cursor_candidates,
            default_cursor: s.default_cursor,
            sync_modes: all(s.sync_modes),
            operation_schemas: all(s.operation_schemas),
            relationships: all(s.relationships),
            partitioned: s.partitioned,
        }
    }
}

impl From<p::Catalog> for t::Catalog {
    fn from(c: p::Catalog) -> Self {
        t::Catalog {
            streams: all(c.streams),
        }
    }
}

impl From<p::Batch> for t::Batch {
    fn from(b: p::Batch) -> Self {
        t::Batch {
            stream: b.stream,
            schema_id: b.schema_id,
            operation: b.operation.into(),
            extracted_at: b.extracted_at,
            count: b.count,
            format: b.format.into(),
            data: b.data,
        }
    }
}

impl From<t::Batch> for p::Batch {
    fn from(b: t::Batch) -> Self {
        p::Batch {
            stream: b.stream,
            schema_id: b.schema_id,
            operation: b.operation.into(),
            extracted_at: b.extracted_at,
            count: b.count,
            format: b.format.into(),
            data: b.data,
        }
    }
}

impl From<p::Message> for t::Message {
    fn from(m: p::Message) -> Self {
        match m {
            p::Message::Records(batch) => t::Message::Records(batch.into()),
            p::Message::State(s) => t::Message::State(t::StreamState {
                stream: s.stream,
                state: s.state.to_string(),
            }),
            p::Message::Status(stream, status) => t::Message::Status((stream, status.into())),
            p::Message::StreamError(e) => t::Message::StreamError(e.into()),
        }
    }
}

/// Parse JSON text the host sent, naming what it was on failure.
pub(crate) fn json_in(what: &str, text: &str) -> crate::Result<serde_json::Value> {
    serde_json::from_str(text)
        .map_err(|e| p::ConnectorError::data(format!("{what} is not valid JSON: {e}")))
}

/// The configured catalog the host sent; an empty schema is `null`.
pub(crate) fn configured_catalog_in(
    c: t::ConfiguredCatalog,
) -> crate::Result<p::ConfiguredCatalog> {
    let mut streams = Vec::with_capacity(c.streams.len());
    for s in c.streams {
        let schema = if s.schema.is_empty() {
            serde_json::Value::Null
        } else {
            json_in(&format!("schema of stream `{}`", s.name), &s.schema)?
        };
        let partition = partition_in(&s.name, s.partition)?;
        streams.push(p::ConfiguredStream {
            name: s.name,
            fields: s.fields,
            sync_mode: s.sync_mode.into(),
            cursor_field: s.cursor_field,
            primary_key: s.primary_key,
            write_mode: s.write_mode.into(),
            schema,
            partition,
            relationships: s.relationships.into_iter().map(Into::into).collect(),
        });
    }
    Ok(p::ConfiguredCatalog { streams })
}

/// A stream's partition, checked: `index` below a `count` of at least 1.
fn partition_in(stream: &str, p: Option<t::Partition>) -> crate::Result<Option<p::Partition>> {
    let Some(t::Partition { index, count }) = p else {
        return Ok(None);
    };
    if index >= count {
        return Err(p::ConnectorError::config(format!(
            "partition {index} of {count} does not exist (the index must be below the count)"
        ))
        .in_stream(stream));
    }
    Ok(Some(p::Partition { index, count }))
}

/// The saved states the host sent.
pub(crate) fn states_in(states: Vec<t::StreamState>) -> crate::Result<Vec<p::StreamState>> {
    states
        .into_iter()
        .map(|s| {
            let state = json_in(&format!("state of stream `{}`", s.stream), &s.state)?;
            Ok(p::StreamState {
                stream: s.stream,
                state,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn enums_map_by_name_both_ways() {
        let w: t::WriteMode = p::WriteMode::AppendDedup.into();
        assert!(matches!(w, t::WriteMode::AppendDedup));
        assert_eq!(p::WriteMode::from(w), p::WriteMode::AppendDedup);
        let l: host::Level = p::Level::Warn.into();
        assert!(matches!(l, host::Level::Warn));
    }

    #[test]
    fn messages_go_out_as_json_text() {
        let state = p::Message::State(p::StreamState {
            stream: "users".into(),
            state: json!({"cursor": 5}),
        });
        let t::Message::State(s) = t::Message::from(state) else {
            panic!("a state message")
        };
        assert_eq!(s.state, r#"{"cursor":5}"#);
        let err = p::ConnectorError::data("bad row").in_stream("users");
        let t::Message::StreamError(e) = t::Message::from(p::Message::StreamError(err)) else {
            panic!("a stream error")
        };
        assert!(matches!(e.kind, t::ErrorKind::Data));
        assert_eq!(e.stream.as_deref(), Some("users"));
    }

    #[test]
    fn batches_keep_schema_id_operation_and_extraction_time_both_ways() {
        let batch = p::Batch {
            schema_id: Some("abc".into()),
            operation: p::Operation::Delete,
            extracted_at: 1_700_000_000_123,
            ..p::Batch::json_lines("users", 1, b"{\"id\":1}\n".to_vec())
        };
        let wit = t::Batch::from(batch.clone());
        assert!(matches!(wit.operation, t::Operation::Delete));
        assert_eq!(wit.extracted_at, 1_700_000_000_123);
        assert_eq!(p::Batch::from(wit), batch);
    }

    #[test]
    fn partitions_come_in_checked() {
        let mut s = configured("a", "");
        s.partition = Some(t::Partition { index: 1, count: 3 });
        let c = configured_catalog_in(t::ConfiguredCatalog { streams: vec![s] }).unwrap();
        assert_eq!(
            c.streams[0].partition,
            Some(p::Partition { index: 1, count: 3 })
        );
        for (index, count) in [(3, 3), (0, 0)] {
            let mut s = configured("a", "");
            s.partition = Some(t::Partition { index, count });
            let e = configured_catalog_in(t::ConfiguredCatalog { streams: vec![s] }).unwrap_err();
            assert_eq!(e.kind, p::ErrorKind::Config);
            assert_eq!(e.stream.as_deref(), Some("a"));
        }
        let info = t::StreamInfo::from(p::StreamInfo {
            partitioned: true,
            ..p::StreamInfo::new("a", json!({}))
        });
        assert!(info.partitioned);
    }

    fn configured(name: &str, schema: &str) -> t::ConfiguredStream {
        t::ConfiguredStream {
            name: name.into(),
            fields: vec![],
            sync_mode: t::SyncMode::Incremental,
            cursor_field: None,
            primary_key: vec![],
            write_mode: t::WriteMode::Append,
            schema: schema.into(),
            partition: None,
            relationships: vec![],
        }
    }

    #[test]
    fn catalog_and_state_come_in_parsed_and_named_on_error() {
        let c = configured_catalog_in(t::ConfiguredCatalog {
            streams: vec![configured("a", ""), configured("b", r#"{"type":"object"}"#)],
        })
        .unwrap();
        assert_eq!(c.streams[0].schema, serde_json::Value::Null);
        assert_eq!(c.streams[1].schema, json!({"type": "object"}));
        assert_eq!(c.streams[1].sync_mode, p::SyncMode::Incremental);
        let err = configured_catalog_in(t::ConfiguredCatalog {
            streams: vec![configured("a", "{")],
        })
        .unwrap_err();
        assert!(
            err.message
                .starts_with("schema of stream `a` is not valid JSON")
        );
        let err = states_in(vec![t::StreamState {
            stream: "a".into(),
            state: "nope".into(),
        }])
        .unwrap_err();
        assert!(
            err.message
                .starts_with("state of stream `a` is not valid JSON")
        );
    }
}
