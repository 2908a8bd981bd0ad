//! Typed row schemas of sluice streams.
//!
//! A [`Schema`] is the list of a row's [`Field`]s, each of a [`Type`]:
//! boolean, int8..int64, float32/64, bytes, string, timestamp, decimal,
//! array, map, struct or union, required or optional, with an optional
//! default. Around it:
//! - [`json_schema`]: lossless conversion to and from JSON Schema, the
//!   exchange format at the edges (`discover --json`, Singer, Airbyte);
//! - [`table`]: the contract's flat type table (WIT has no recursive
//!   types), which the host and the guest SDK map their bindings onto;
//! - [`SchemaId`]: the registry's content-addressed id;
//! - [`diff`](mod@diff): what changed between two versions, and which type changes
//!   are safe widenings;
//! - [`evolve`](mod@evolve): the evolution policies (evolve, freeze, discard_value,
//!   discard_row) deciding what a destination is told and what happens to
//!   records.
//!
//! This crate has no wasm or host dependencies: it builds for
//! `wasm32-wasip2` inside connectors as well as natively.

#![warn(missing_docs)]

pub mod diff;
mod error;
pub mod evolve;
pub mod json_schema;
pub mod table;

pub use diff::{Change, diff, widens};
pub use error::SchemaError;
pub use evolve::{Action, Evolution, Policy, Reason, Violation, evolve};
pub use table::{TableField, TableSchema, TypeNode};

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The type of a field's values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Type {
    /// `true` / `false`.
    Boolean,
    /// 8-bit signed integer.
    Int8,
    /// 16-bit signed integer.
    Int16,
    /// 32-bit signed integer.
    Int32,
    /// 64-bit signed integer.
    Int64,
    /// 32-bit float.
    Float32,
    /// 64-bit float.
    Float64,
    /// Binary data (base64 text in JSON rows).
    Bytes,
    /// UTF-8 text.
    String,
    /// An instant (RFC 3339 text in JSON rows).
    Timestamp,
    /// A decimal number with `precision` digits, `scale` of them after the point.
    Decimal {
        /// Total number of digits.
        precision: u8,
        /// Digits after the point.
        scale: u8,
    },
    /// A list of values of one type.
    Array(Box<Type>),
    /// String keys to values of one type.
    Map(Box<Type>),
    /// Named fields.
    Struct(Vec<Field>),
    /// Any one of these types.
    Union(Vec<Type>),
}

/// A named field of a row or of a struct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// The field's name (a key of the JSON object).
    pub name: String,
    /// The type of its values.
    #[serde(rename = "type")]
    pub ty: Type,
    /// Whether every record has a non-null value.
    pub required: bool,
    /// The value used when a record lacks the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

/// The schema of one row of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Schema {
    /// The row's fields, in order.
    pub fields: Vec<Field>,
}

impl Field {
    /// A required field.
    pub fn required(name: impl Into<String>, ty: Type) -> Field {
        Field {
            name: name.into(),
            ty,
            required: true,
            default: None,
        }
    }

    /// An optional field (it may be missing or null).
    pub fn optional(name: impl Into<String>, ty: Type) -> Field {
        Field {
            required: false,
            ..Field::required(name, ty)
        }
    }

    /// The same field with a default value.
    pub fn with_default(mut self, default: Value) -> Field {
        self.default = Some(default);
        self
    }
}

impl Schema {
    /// A schema of these fields.
    pub fn new(fields: Vec<Field>) -> Schema {
        Schema { fields }
    }

    /// The top-level field called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The names of the top-level fields, in order.
    pub fn names(&self) -> Vec<&str> {
        self.fields.iter().map(|f| f.name.as_str()).collect()
    }
}

/// A registry id: the hex SHA-256 of the schema's canonical JSON, so the
/// same schema always has the same id, in every run and pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SchemaId(pub String);

impl SchemaId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits, for tables meant for people.
    pub fn short(&self) -> &str {
        &self.0[..self.0.len().min(12)]
    }
}

impl fmt::Display for SchemaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Short type names for messages: `int64`, `decimal(10,2)`,
/// `array<string>`, `map<int64>`, `struct{a,b}`, `union<string|int64>`.
impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            Type::Array(item) => write!(f, "array<{item}>"),
            Type::Map(value) => write!(f, "map<{value}>"),
            Type::Struct(fields) => {
                let names: Vec<&str> = fields.iter().map(|x| x.name.as_str()).collect();
                write!(f, "struct{{{}}}", names.join(","))
            }
            Type::Union(members) => {
                let names: Vec<String> = members.iter().map(Type::to_string).collect();
                write!(f, "union<{}>", names.join("|"))
            }
            leaf => f.write_str(leaf.leaf_name().unwrap_or("?")),
        }
    }
}

impl Type {
    /// The name of a type without parameters (`int64`, `string`, ...);
    /// `None` for decimal, array, map, struct and union.
    pub fn leaf_name(&self) -> Option<&'static str> {
        Some(match self {
            Type::Boolean => "boolean",
            Type::Int8 => "int8",
            Type::Int16 => "int16",
            Type::Int32 => "int32",
            Type::Int64 => "int64",
            Type::Float32 => "float32",
            Type::Float64 => "float64",
            Type::Bytes => "bytes",
            Type::String => "string",
            Type::Timestamp => "timestamp",
            _ => return None,
        })
    }
}

impl Schema {
    /// The content-addressed id of this schema: field order, types,
    /// required flags and defaults all count.
    pub fn id(&self) -> SchemaId {
        use sha2::{Digest, Sha256};
        let canonical = serde_json::to_vec(self).expect("a schema serializes");
        SchemaId(hex::encode(Sha256::digest(&canonical)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_depends_only_on_content() {
        let a = Schema::new(vec![Field::required("id", Type::Int64)]);
        let b = Schema::new(vec![Field::required("id", Type::Int64)]);
        let c = Schema::new(vec![Field::optional("id", Type::Int64)]);
        assert_eq!(a.id(), b.id());
        assert_ne!(a.id(), c.id());
        assert_eq!(a.id().as_str().len(), 64);
    }

    #[test]
    fn types_display_in_short_form() {
        let shown = |t: Type| t.to_string();
        assert_eq!(shown(Type::Int64), "int64");
        assert_eq!(
            shown(Type::Decimal {
                precision: 10,
                scale: 2
            }),
            "decimal(10,2)"
        );
        assert_eq!(shown(Type::Array(Box::new(Type::String))), "array<string>");
        assert_eq!(shown(Type::Map(Box::new(Type::Int64))), "map<int64>");
        let s = Type::Struct(vec![
            Field::required("a", Type::Int8),
            Field::optional("b", Type::Bytes),
        ]);
        assert_eq!(shown(s), "struct{a,b}");
        assert_eq!(
            shown(Type::Union(vec![Type::String, Type::Int64])),
            "union<string|int64>"
        );
    }
}
