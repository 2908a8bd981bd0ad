//! The contract's flat type table (`wit/0.2.0/connector.wit`: `type-node`,
//! `field`, `schema`), in plain Rust.
//!
//! WIT has no recursive types, so a schema crosses the component boundary
//! as a list of [`TypeNode`]s whose children are indices into that list.
//! The host and the guest SDK map their generated bindings onto these
//! types field by field; this module converts them to and from [`Schema`].
//!
//! [`Schema::to_table`] writes each distinct type once (identical nodes are
//! shared) and children before their parents, so every index points
//! backwards. [`Schema::from_table`] accepts any order but rejects indices
//! out of range, a type that contains itself, nesting deeper than
//! [`MAX_DEPTH`], tables that expand to more than [`MAX_NODES`] types,
//! duplicate field names within one struct, and defaults that are not JSON
//! text. Errors name the field path: `address.city`, `tags[]` for an
//! array's items, `attrs{}` for a map's values, `value|1` for the second
//! member of a union.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Field, Schema, SchemaError, Type};

/// How deep types may nest when read from a table.
pub const MAX_DEPTH: usize = 64;

/// How many types a table may expand to (shared nodes count every time
/// they are used), so a small table cannot describe a huge schema.
pub const MAX_NODES: usize = 100_000;

/// The contract's `schema` record: the row's fields and the type table.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TableSchema {
    /// The row's fields, in order.
    pub fields: Vec<TableField>,
    /// The types the fields' indices point into.
    pub types: Vec<TypeNode>,
}

/// The contract's `field` record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TableField {
    /// The field's name.
    pub name: String,
    /// Index of its type in [`TableSchema::types`].
    #[serde(rename = "type")]
    pub ty: u32,
    /// Whether every record has a non-null value.
    pub required: bool,
    /// The default, as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// The contract's `type-node` variant: a [`Type`] whose children are
/// indices into [`TableSchema::types`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeNode {
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
    /// Binary data.
    Bytes,
    /// UTF-8 text.
    String,
    /// An instant.
    Timestamp,
    /// A decimal number.
    Decimal {
        /// Total number of digits.
        precision: u8,
        /// Digits after the point.
        scale: u8,
    },
    /// A list of the type at this index.
    Array(u32),
    /// String keys to values of the type at this index.
    Map(u32),
    /// Named fields.
    Struct(Vec<TableField>),
    /// Any one of the types at these indices.
    Union(Vec<u32>),
}

impl Schema {
    /// This schema as the contract's flat type table.
    ///
    /// ```
    /// use sluice_schema::{Field, Schema, Type, TypeNode};
    ///
    /// let schema = Schema::new(vec![Field::required("ids", Type::Array(Box::new(Type::Int64)))]);
    /// let table = schema.to_table();
    /// assert_eq!(table.types, [TypeNode::Int64, TypeNode::Array(0)]);
    /// assert_eq!(table.fields[0].ty, 1);
    /// assert_eq!(Schema::from_table(&table)?, schema);
    /// # Ok::<(), sluice_schema::SchemaError>(())
    /// ```
    pub fn to_table(&self) -> TableSchema {
        let mut writer = Writer::default();
        let fields = self.fields.iter().map(|f| writer.field(f)).collect();
        TableSchema {
            fields,
            types: writer.types,
        }
    }

    /// Reads the contract's flat type table; see the [module docs](self)
    /// for what is rejected.
    pub fn from_table(table: &TableSchema) -> Result<Schema, SchemaError> {
        let mut reader = Reader {
            types: &table.types,
            stack: Vec::new(),
            nodes: 0,
        };
        reader.fields(&table.fields, "").map(Schema::new)
    }
}

/// Builds the type table, sharing identical nodes.
#[derive(Default)]
struct Writer {
    types: Vec<TypeNode>,
    known: HashMap<TypeNode, u32>,
}

impl Writer {
    fn field(&mut self, field: &Field) -> TableField {
        TableField {
            name: field.name.clone(),
            ty: self.add(&field.ty),
            required: field.required,
            default: field.default.as_ref().map(Value::to_string),
        }
    }

    fn add(&mut self, ty: &Type) -> u32 {
        let node = match ty {
            Type::Boolean => TypeNode::Boolean,
            Type::Int8 => TypeNode::Int8,
            Type::Int16 => TypeNode::Int16,
            Type::Int32 => TypeNode::Int32,
            Type::Int64 => TypeNode::Int64,
            Type::Float32 => TypeNode::Float32,
            Type::Float64 => TypeNode::Float64,
            Type::Bytes => TypeNode::Bytes,
            Type::String => TypeNode::String,
            Type::Timestamp => TypeNode::Timestamp,
            Type::Decimal { precision, scale } => TypeNode::Decimal {
                precision: *precision,
                scale: *scale,
            },
            Type::Array(item) => TypeNode::Array(self.add(item)),
            Type::Map(value) => TypeNode::Map(self.add(value)),
            Type::Struct(fields) => {
                TypeNode::Struct(fields.iter().map(|f| self.field(f)).collect())
            }
            Type::Union(members) => TypeNode::Union(members.iter().map(|m| self.add(m)).collect()),
        };
        self.intern(node)
    }

    fn intern(&mut self, node: TypeNode) -> u32 {
        if let Some(&index) = self.known.get(&node) {
            return index;
        }
        let index = u32::try_from(self.types.len()).unwrap_or(u32::MAX);
        self.types.push(node.clone());
        self.known.insert(node, index);
        index
    }
}

/// Expands table indices back into [`Type`]s, guarding against bad tables.
struct Reader<'a> {
    types: &'a [TypeNode],
    /// The indices being expanded, outermost first.
    stack: Vec<u32>,
    /// How many nodes have been expanded so far.
    nodes: usize,
}

impl<'a> Reader<'a> {
    fn fields(&mut self, fields: &[TableField], prefix: &str) -> Result<Vec<Field>, SchemaError> {
        let mut out: Vec<Field> = Vec::with_capacity(fields.len());
        for field in fields {
            let path = format!("{prefix}{}", field.name);
            if out.iter().any(|f| f.name == field.name) {
                return Err(SchemaError::DuplicateField { path });
            }
            let default =
                match &field.default {
                    None => None,
                    Some(text) => Some(serde_json::from_str(text).map_err(|source| {
                        SchemaError::BadDefault {
                            path: path.clone(),
                            source,
                        }
                    })?),
                };
            let ty = self.ty(field.ty, &path)?;
            out.push(Field {
                name: field.name.clone(),
                ty,
                required: field.required,
                default,
            });
        }
        Ok(out)
    }

    fn ty(&mut self, index: u32, path: &str) -> Result<Type, SchemaError> {
        let node = self.enter(index, path)?;
        let ty = self.expand(node, path);
        self.stack.pop();
        ty
    }

    /// Checks `index` and pushes it onto the stack.
    fn enter(&mut self, index: u32, path: &str) -> Result<&'a TypeNode, SchemaError> {
        let path = path.to_string();
        let types = self.types;
        let Some(node) = types.get(index as usize) else {
            return Err(SchemaError::IndexOutOfRange {
                path,
                index,
                len: self.types.len(),
            });
        };
        if self.stack.contains(&index) {
            return Err(SchemaError::Cycle { path, index });
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(SchemaError::TooDeep {
                path,
                limit: MAX_DEPTH,
            });
        }
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(SchemaError::TooLarge {
                path,
                limit: MAX_NODES,
            });
        }
        self.stack.push(index);
        Ok(node)
    }

    fn expand(&mut self, node: &TypeNode, path: &str) -> Result<Type, SchemaError> {
        Ok(match node {
            TypeNode::Boolean => Type::Boolean,
            TypeNode::Int8 => Type::Int8,
            TypeNode::Int16 => Type::Int16,
            TypeNode::Int32 => Type::Int32,
            TypeNode::Int64 => Type::Int64,
            TypeNode::Float32 => Type::Float32,
            TypeNode::Float64 => Type::Float64,
            TypeNode::Bytes => Type::Bytes,
            TypeNode::String => Type::String,
            TypeNode::Timestamp => Type::Timestamp,
            TypeNode::Decimal { precision, scale } => Type::Decimal {
                precision: *precision,
                scale: *scale,
            },
            TypeNode::Array(item) => Type::Array(Box::new(self.ty(*item, &format!("{path}[]"))?)),
            TypeNode::Map(value) => Type::Map(Box::new(self.ty(*value, &format!("{path}{{}}"))?)),
            TypeNode::Struct(fields) => Type::Struct(self.fields(fields, &format!("{path}."))?),
            TypeNode::Union(members) => {
                let mut types = Vec::with_capacity(members.len());
                for (i, member) in members.iter().enumerate() {
                    types.push(self.ty(*member, &format!("{path}|{i}"))?);
                }
                Type::Union(types)
            }
        })
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
