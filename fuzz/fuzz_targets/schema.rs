//! `sluice_schema`'s two readers of untrusted schemas:
//! `Schema::from_json_schema` (the JSON Schemas of sources, Singer and
//! Airbyte catalogs) and `Schema::from_table` (the flat type table a guest
//! sends over the wasm boundary).
//!
//! Input: JSON text, read as a JSON Schema and as a `TableSchema` (its
//! serde form); or, when it starts with a 0x00 byte (never valid JSON), a
//! type table decoded from the bytes that follow (see `decode_table`), so
//! that deep, cyclic, shared and out-of-range tables are a few bytes away.
//!
//! Nothing may panic, hang or overflow the stack (both readers have depth
//! and size limits). Whatever a reader accepts must come back unchanged
//! from its writer: `from_json_schema(to_json_schema(s)) == s` and
//! `from_table(to_table(s)) == s`, with the same content id; and, as the
//! JSON Schema module promises for every schema, a schema read from a
//! table also survives the JSON Schema round trip.
//! (A union's `anyOf` once cost two levels when read back, so unions near
//! `MAX_DEPTH` did not survive; the seeds `divergence-union-depth-*` keep
//! that case.)

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sluice_schema::{Schema, SchemaId, TableField, TableSchema, TypeNode};

/// Field names the decoder picks from: a few, so that duplicates happen,
/// plus the empty name and characters JSON pointers escape.
const NAMES: [&str; 8] = ["id", "a", "b", "", "x/y", "t~0", "é", "a.b"];

/// Default texts the decoder picks from, valid JSON and not.
const DEFAULTS: [&str; 8] = [
    "1",
    "\"x\"",
    "null",
    "[1,{\"k\":true}]",
    "{",
    "1e400",
    "0.30000000000000004",
    "\"\\ud800\"",
];

/// Read `bytes` as a type table: a field count (low 3 bits), that many
/// fields, then type nodes until the bytes run out. A field is a name
/// byte, a type index byte and a flags byte (bit 0: required; bit 1: has
/// a default, picked by the next 3 bits). A node is a tag byte (mod 15, in
/// `TypeNode` order) and its operands: two bytes for a decimal, an index
/// byte for an array or a map, a count byte (low 3 bits) then fields for a
/// struct, a count byte (low 2 bits) then index bytes for a union.
fn decode_table(bytes: &[u8]) -> TableSchema {
    let mut it = bytes.iter().copied();
    let mut table = TableSchema::default();
    let count = it.next().map_or(0, |b| b & 7);
    for _ in 0..count {
        match decode_field(&mut it) {
            Some(f) => table.fields.push(f),
            None => return table,
        }
    }
    while let Some(tag) = it.next() {
        let node = match tag % 15 {
            0 => TypeNode::Boolean,
            1 => TypeNode::Int8,
            2 => TypeNode::Int16,
            3 => TypeNode::Int32,
            4 => TypeNode::Int64,
            5 => TypeNode::Float32,
            6 => TypeNode::Float64,
            7 => TypeNode::Bytes,
            8 => TypeNode::String,
            9 => TypeNode::Timestamp,
            10 => match (it.next(), it.next()) {
                (Some(precision), Some(scale)) => TypeNode::Decimal { precision, scale },
                _ => break,
            },
            11 => match it.next().map(u32::from) {
                Some(i) => TypeNode::Array(i),
                None => break,
            },
            12 => match it.next().map(u32::from) {
                Some(i) => TypeNode::Map(i),
                None => break,
            },
            13 => {
                let n = it.next().map_or(0, |b| b & 7);
                let fields = (0..n).map_while(|_| decode_field(&mut it)).collect();
                TypeNode::Struct(fields)
            }
            _ => {
                let n = it.next().map_or(0, |b| b & 3);
                TypeNode::Union(it.by_ref().take(n.into()).map(u32::from).collect())
            }
        };
        table.types.push(node);
    }
    table
}

/// One field of [`decode_table`]: name, type index and flags bytes.
fn decode_field(it: &mut impl Iterator<Item = u8>) -> Option<TableField> {
    let name = NAMES[usize::from(it.next()?) % NAMES.len()];
    let ty = u32::from(it.next()?);
    let flags = it.next()?;
    Some(TableField {
        name: name.to_string(),
        ty,
        required: flags & 1 == 1,
        default: (flags & 2 == 2)
            .then(|| DEFAULTS[usize::from(flags >> 2) % DEFAULTS.len()].to_string()),
    })
}

/// A content id: 64 hex digits, the same when computed again.
fn checked_id(schema: &Schema) -> SchemaId {
    let id = schema.id();
    assert_eq!(id.as_str().len(), 64, "an id is a hex SHA-256: {id}");
    assert!(id.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(schema.id(), id, "the id of one schema changed");
    id
}

/// `from_json_schema(to_json_schema(s)) == s`, with the same id.
fn json_round_trip(schema: &Schema, id: &SchemaId, came_from: &str) {
    let written = schema.to_json_schema();
    match Schema::from_json_schema(&written) {
        Ok(back) => {
            assert_eq!(
                &back, schema,
                "a schema read from {came_from} changed through JSON Schema\nwritten: {written}"
            );
            assert_eq!(&back.id(), id);
        }
        Err(e) => panic!(
            "a schema read from {came_from}: its own JSON Schema does not read back: {e}\nwritten: {written}"
        ),
    }
}

/// `from_table(to_table(s)) == s`, with the same id.
fn table_round_trip(schema: &Schema, id: &SchemaId, came_from: &str) {
    let table = schema.to_table();
    // Children come before their parents: every index points backwards.
    for (i, node) in table.types.iter().enumerate() {
        let children: Vec<u32> = match node {
            TypeNode::Array(c) | TypeNode::Map(c) => vec![*c],
            TypeNode::Union(cs) => cs.clone(),
            TypeNode::Struct(fs) => fs.iter().map(|f| f.ty).collect(),
            _ => Vec::new(),
        };
        assert!(
            children.iter().all(|c| (*c as usize) < i),
            "to_table wrote node {i} before a child: {node:?}"
        );
    }
    match Schema::from_table(&table) {
        Ok(back) if &back == schema => assert_eq!(&back.id(), id),
        Ok(back) => {
            let a = serde_json::to_value(schema).expect("a schema serializes");
            let b = serde_json::to_value(&back).expect("a schema serializes");
            // Defaults cross the table as JSON text; serde_json (without
            // `float_roundtrip`) may read a float back one ULP away.
            assert!(
                sluice_fuzz::json_eq(&a, &b) && !sluice_fuzz::strict(),
                "a schema read from {came_from} changed through its type table\nbefore: {a}\nafter:  {b}"
            );
        }
        Err(e) => panic!(
            "a schema read from {came_from}: its own type table does not read back: {e}\ntable: {table:?}"
        ),
    }
}

fn check_table(table: &TableSchema) {
    match Schema::from_table(table) {
        Ok(schema) => {
            let id = checked_id(&schema);
            table_round_trip(&schema, &id, "a type table");
            json_round_trip(&schema, &id, "a type table");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(bytes) = data.strip_prefix(&[0]) {
        check_table(&decode_table(bytes));
        return;
    }
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    match Schema::from_json_schema(&value) {
        Ok(schema) => {
            let id = checked_id(&schema);
            json_round_trip(&schema, &id, "JSON Schema");
            table_round_trip(&schema, &id, "JSON Schema");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(table) = serde_json::from_value::<TableSchema>(value) {
        check_table(&table);
    }
});
