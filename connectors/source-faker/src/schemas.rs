//! The typed row schemas of source-faker's streams (per `schema_version`)
//! and what `discover` says about each stream.

use crate::{KINDS, STATUS};
use serde_json::{Value, json};
use sluice_guest::{
    Field, Operation, OperationSchema, Relationship, Schema, StreamInfo, SyncMode, Type,
};

/// The schema of `stream`'s rows in `version` (1 or 2). Version 2 changes
/// `orders`: `amount_cents` widens from int32 to int64 (bulk orders exceed
/// the int32 range) and the optional `coupon` is added.
pub(crate) fn row_schema(stream: &str, version: u64) -> Schema {
    let id = || Field::required("id", Type::Int64);
    let text = |name: &str| Field::required(name, Type::String);
    let int64 = |name: &str| Field::required(name, Type::Int64);
    let time = |name: &str| Field::required(name, Type::Timestamp);
    let fields = match stream {
        "users" => vec![
            id(),
            text("name"),
            text("email"),
            Field::required("age", Type::Int32),
            text("city"),
            int64("version"),
            time("created_at"),
            time("updated_at"),
        ],
        "orders" => {
            let amount = if version >= 2 {
                Type::Int64
            } else {
                Type::Int32
            };
            let mut fields = vec![
                id(),
                int64("user_id"),
                Field::required("amount_cents", amount),
                text("currency"),
                text("status"),
                int64("version"),
                time("created_at"),
                time("updated_at"),
            ];
            if version >= 2 {
                fields.push(Field::optional("coupon", Type::String));
            }
            fields
        }
        _ => vec![id(), int64("user_id"), text("kind"), time("occurred_at")],
    };
    Schema::new(fields)
}

/// The JSON Schema of a row: the typed schema's, plus the enums of the
/// fields that take a few values.
fn json_schema(stream: &str, version: u64) -> Value {
    let mut schema = row_schema(stream, version).to_json_schema();
    let (field, values): (&str, &[&str]) = match stream {
        "orders" => ("status", &STATUS),
        "events" => ("kind", &KINDS),
        _ => return schema,
    };
    schema["properties"][field]["enum"] = json!(values);
    schema
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
    let of = |operation, schema| OperationSchema { operation, schema };
    vec![
        of(Operation::Insert, row.clone()),
        of(Operation::Update, partial),
        of(Operation::Upsert, row.clone()),
        of(Operation::Delete, key_only),
    ]
}

/// What discover says about `name`.
pub(crate) fn stream_info(name: &str, version: u64) -> StreamInfo {
    let schema = json_schema(name, version);
    let cursor = if name == "events" {
        "occurred_at"
    } else {
        "updated_at"
    };
    let relationships = match name {
        "users" => vec![],
        _ => vec![Relationship {
            name: format!("{name}_user"),
            fields: vec!["user_id".into()],
            target_stream: "users".into(),
            target_fields: vec!["id".into()],
        }],
    };
    StreamInfo {
        name: name.into(),
        operation_schemas: operation_schemas(&schema),
        schema,
        primary_key: vec!["id".into()],
        cursor_candidates: vec![cursor.into()],
        default_cursor: Some(cursor.into()),
        sync_modes: vec![SyncMode::FullRefresh, SyncMode::Incremental],
        relationships,
        partitioned: true,
    }
}
