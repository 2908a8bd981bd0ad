//! The 0.2.0 contract's flat type table <-> [`sluice_schema::Schema`],
//! through the schema crate's plain mirror of that table.

use super::v0_2::t;
use sluice_schema::table::{TableField, TableSchema, TypeNode};
use sluice_schema::{Schema, SchemaError};

/// A schema a guest sent, checked (indices in range, no cycles, unique
/// field names, defaults that parse).
pub fn schema_in(s: t::Schema) -> Result<Schema, SchemaError> {
    Schema::from_table(&TableSchema {
        fields: s.fields.into_iter().map(field_in).collect(),
        types: s.types.into_iter().map(node_in).collect(),
    })
}

/// A schema for a guest.
pub fn schema_out(s: &Schema) -> t::Schema {
    let table = s.to_table();
    t::Schema {
        fields: table.fields.into_iter().map(field_out).collect(),
        types: table.types.into_iter().map(node_out).collect(),
    }
}

fn field_in(f: t::Field) -> TableField {
    TableField {
        name: f.name,
        ty: f.type_,
        required: f.required,
        default: f.default,
    }
}

fn field_out(f: TableField) -> t::Field {
    t::Field {
        name: f.name,
        type_: f.ty,
        required: f.required,
        default: f.default,
    }
}

fn node_in(n: t::TypeNode) -> TypeNode {
    use t::TypeNode as W;
    match n {
        W::Boolean => TypeNode::Boolean,
        W::Int8 => TypeNode::Int8,
        W::Int16 => TypeNode::Int16,
        W::Int32 => TypeNode::Int32,
        W::Int64 => TypeNode::Int64,
        W::Float32 => TypeNode::Float32,
        W::Float64 => TypeNode::Float64,
        W::Bytes => TypeNode::Bytes,
        W::String => TypeNode::String,
        W::Timestamp => TypeNode::Timestamp,
        W::Decimal(d) => TypeNode::Decimal {
            precision: d.precision,
            scale: d.scale,
        },
        W::Array(i) => TypeNode::Array(i),
        W::Map(i) => TypeNode::Map(i),
        W::Struct(fields) => TypeNode::Struct(fields.into_iter().map(field_in).collect()),
        W::Union(items) => TypeNode::Union(items),
    }
}

fn node_out(n: TypeNode) -> t::TypeNode {
    use t::TypeNode as W;
    match n {
        TypeNode::Boolean => W::Boolean,
        TypeNode::Int8 => W::Int8,
        TypeNode::Int16 => W::Int16,
        TypeNode::Int32 => W::Int32,
        TypeNode::Int64 => W::Int64,
        TypeNode::Float32 => W::Float32,
        TypeNode::Float64 => W::Float64,
        TypeNode::Bytes => W::Bytes,
        TypeNode::String => W::String,
        TypeNode::Timestamp => W::Timestamp,
        TypeNode::Decimal { precision, scale } => W::Decimal(t::DecimalType { precision, scale }),
        TypeNode::Array(i) => W::Array(i),
        TypeNode::Map(i) => W::Map(i),
        TypeNode::Struct(fields) => W::Struct(fields.into_iter().map(field_out).collect()),
        TypeNode::Union(items) => W::Union(items),
    }
}
