//! What `discover` says about each table: its typed row schema (as JSON
//! Schema), keys, cursors, per-operation schemas and relationships.

use crate::catalog::Table;
use serde_json::{Value, json};
use sluice_guest::{Field, Operation, OperationSchema, Relationship, Schema, StreamInfo, SyncMode};

/// The typed schema of a table's rows: one field per column, required
/// when the column is `not null`.
pub(crate) fn row_schema(table: &Table) -> Schema {
    Schema::new(
        table
            .columns
            .iter()
            .map(|c| {
                let ty = c.sluice_type();
                if c.not_null {
                    Field::required(&c.name, ty)
                } else {
                    Field::optional(&c.name, ty)
                }
            })
            .collect(),
    )
}

/// What discover says about `table`; `all` resolves foreign keys to
/// stream names (keys to tables outside the discovered set are left out).
pub(crate) fn stream_info(table: &Table, all: &[Table]) -> StreamInfo {
    let schema = row_schema(table).to_json_schema();
    let cursor_candidates: Vec<String> = table
        .columns
        .iter()
        .filter(|c| c.is_cursor_candidate())
        .map(|c| c.name.clone())
        .collect();
    let default_cursor = ["updated_at", "modified_at"]
        .into_iter()
        .find(|name| cursor_candidates.iter().any(|c| c == name))
        .map(String::from);
    let has_key = !table.primary_key.is_empty();
    let mut sync_modes = vec![SyncMode::FullRefresh];
    if has_key && !cursor_candidates.is_empty() {
        sync_modes.push(SyncMode::Incremental);
    }
    StreamInfo {
        name: table.stream.clone(),
        operation_schemas: operation_schemas(&schema, &table.primary_key),
        schema,
        primary_key: table.primary_key.clone(),
        cursor_candidates,
        default_cursor,
        sync_modes,
        relationships: relationships(table, all),
        partitioned: partition_key(table).is_some(),
    }
}

/// The single integer primary key column partitions split on, if the table has one.
pub(crate) fn partition_key(table: &Table) -> Option<&str> {
    match table.primary_key.as_slice() {
        [key] if table.column(key).is_some_and(|c| c.is_integer()) => Some(key),
        _ => None,
    }
}

/// Insert and upsert take the whole row; update the key plus any other
/// field; delete the key only. A table without a primary key takes inserts only.
fn operation_schemas(row: &Value, key: &[String]) -> Vec<OperationSchema> {
    let of = |operation, schema| OperationSchema { operation, schema };
    if key.is_empty() {
        return vec![of(Operation::Insert, row.clone())];
    }
    let properties = &row["properties"];
    let key_properties: serde_json::Map<String, Value> = key
        .iter()
        .map(|k| (k.clone(), properties[k].clone()))
        .collect();
    let key_only = json!({
        "type": "object",
        "properties": key_properties,
        "required": key,
        "additionalProperties": false
    });
    let partial = json!({
        "type": "object",
        "properties": properties,
        "required": key,
        "minProperties": key.len() + 1
    });
    vec![
        of(Operation::Insert, row.clone()),
        of(Operation::Update, partial),
        of(Operation::Upsert, row.clone()),
        of(Operation::Delete, key_only),
    ]
}

fn relationships(table: &Table, all: &[Table]) -> Vec<Relationship> {
    table
        .foreign_keys
        .iter()
        .filter_map(|fk| {
            let target = all.iter().find(|t| t.oid == fk.target)?;
            Some(Relationship {
                name: fk.name.clone(),
                fields: fk.columns.clone(),
                target_stream: target.stream.clone(),
                target_fields: fk.target_columns.clone(),
            })
        })
        .collect()
}
