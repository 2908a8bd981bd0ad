//! Row schemas across the boundary: the bindings' `schema` record and
//! `sluice_schema::Schema`, through the plain-Rust flat type table
//! ([`TableSchema`]), which checks indices, cycles and duplicate fields.

use super::types as t;
use crate::protocol::schema::{Schema, SchemaError, TableField, TableSchema, TypeNode};

fn field_out(f: TableField) -> t::Field {
    t::Field {
        name: f.name,
        type_: f.ty,
        required: f.required,
        default: f.default,
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

fn node_out(n: TypeNode) -> t::TypeNode {
    match n {
        TypeNode::Boolean => t::TypeNode::Boolean,
        TypeNode::Int8 => t::TypeNode::Int8,
        TypeNode::Int16 => t::TypeNode::Int16,
        TypeNode::Int32 => t::TypeNode::Int32,
        TypeNode::Int64 => t::TypeNode::Int64,
        TypeNode::Float32 => t::TypeNode::Float32,
        TypeNode::Float64 => t::TypeNode::Float64,
        TypeNode::Bytes => t::TypeNode::Bytes,
        TypeNode::String => t::TypeNode::String,
        TypeNode::Timestamp => t::TypeNode::Timestamp,
        TypeNode::Decimal { precision, scale } => {
            t::TypeNode::Decimal(t::DecimalType { precision, scale })
        }
        TypeNode::Array(i) => t::TypeNode::Array(i),
        TypeNode::Map(i) => t::TypeNode::Map(i),
        TypeNode::Struct(fields) => {
            t::TypeNode::Struct(fields.into_iter().map(field_out).collect())
        }
        TypeNode::Union(members) => t::TypeNode::Union(members),
    }
}

fn node_in(n: t::TypeNode) -> TypeNode {
    match n {
        t::TypeNode::Boolean => TypeNode::Boolean,
        t::TypeNode::Int8 => TypeNode::Int8,
        t::TypeNode::Int16 => TypeNode::Int16,
        t::TypeNode::Int32 => TypeNode::Int32,
        t::TypeNode::Int64 => TypeNode::Int64,
        t::TypeNode::Float32 => TypeNode::Float32,
        t::TypeNode::Float64 => TypeNode::Float64,
        t::TypeNode::Bytes => TypeNode::Bytes,
        t::TypeNode::String => TypeNode::String,
        t::TypeNode::Timestamp => TypeNode::Timestamp,
        t::TypeNode::Decimal(d) => TypeNode::Decimal {
            precision: d.precision,
            scale: d.scale,
        },
        t::TypeNode::Array(i) => TypeNode::Array(i),
        t::TypeNode::Map(i) => TypeNode::Map(i),
        t::TypeNode::Struct(fields) => TypeNode::Struct(fields.into_iter().map(field_in).collect()),
        t::TypeNode::Union(members) => TypeNode::Union(members),
    }
}

impl From<&Schema> for t::Schema {
    fn from(schema: &Schema) -> Self {
        let table = schema.to_table();
        t::Schema {
            fields: table.fields.into_iter().map(field_out).collect(),
            types: table.types.into_iter().map(node_out).collect(),
        }
    }
}

/// A schema the host sent, checked (indices in range, no cycles, no
/// duplicate fields, defaults that are JSON).
pub(crate) fn schema_in(schema: t::Schema) -> Result<Schema, SchemaError> {
    let table = TableSchema {
        fields: schema.fields.into_iter().map(field_in).collect(),
        types: schema.types.into_iter().map(node_in).collect(),
    };
    Schema::from_table(&table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::{Field, Type};

    #[test]
    fn a_nested_schema_round_trips_through_the_bindings() {
        let schema = Schema::new(vec![
            Field::required("id", Type::Int64),
            Field::optional(
                "price",
                Type::Decimal {
                    precision: 10,
                    scale: 2,
                },
            ),
            Field::optional(
                "address",
                Type::Struct(vec![Field::required("city", Type::String)]),
            ),
            Field::optional("tags", Type::Array(Box::new(Type::String))),
            Field::optional("attrs", Type::Map(Box::new(Type::Int32))),
            Field::optional("v", Type::Union(vec![Type::Int64, Type::String]))
                .with_default(serde_json::json!(0)),
        ]);
        let wit = t::Schema::from(&schema);
        assert_eq!(schema_in(wit).unwrap(), schema);
    }

    #[test]
    fn a_bad_table_is_an_error_not_a_panic() {
        let wit = t::Schema {
            fields: vec![t::Field {
                name: "id".into(),
                type_: 7,
                required: true,
                default: None,
            }],
            types: vec![t::TypeNode::Int64],
        };
        assert!(schema_in(wit).is_err());
    }
}
