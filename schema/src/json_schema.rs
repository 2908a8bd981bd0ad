//! Conversion between [`Schema`] / [`Type`] and JSON Schema, the exchange
//! format at the edges (`discover --json`, Singer, Airbyte).
//!
//! # What sluice writes
//!
//! [`Schema::to_json_schema`] writes, and [`Schema::from_json_schema`] reads
//! back exactly (`from_json_schema(&s.to_json_schema()) == Ok(s)`):
//!
//! | type | JSON Schema |
//! |---|---|
//! | row, `struct` | `{"type":"object","properties":{..},"required":[..]}` (properties in field order; `required` left out when empty) |
//! | `boolean` | `{"type":"boolean"}` |
//! | `int8`..`int64` | `{"type":"integer","format":"int8"}` .. `"int64"` |
//! | `float32`, `float64` | `{"type":"number","format":"float"}`, `"double"` |
//! | `string` | `{"type":"string"}` |
//! | `bytes` | `{"type":"string","contentEncoding":"base64"}` |
//! | `timestamp` | `{"type":"string","format":"date-time"}` |
//! | `decimal(p,s)` | `{"type":"string","format":"decimal","precision":p,"scale":s}` |
//! | `array<T>` | `{"type":"array","items":T}` |
//! | `map<T>` | `{"type":"object","additionalProperties":T}` (no `properties`) |
//! | `union<A\|B>` | `{"anyOf":[A,B]}` |
//!
//! Decimals are strings, not numbers: JSON numbers pass through `f64` in
//! most parsers (Python's `json` aside), which silently rounds
//! `12345678901234567.89`; text keeps every digit, and is what Airbyte and
//! Singer taps emit for `NUMERIC` columns anyway.
//!
//! An optional field (`required: false`) is left out of `required` and its
//! type also admits null: `"type":["integer","null"]`, or one more
//! `{"type":"null"}` in `anyOf` for a union. A default is written as
//! `"default"`. Field names must be unique within a struct (JSON objects
//! cannot hold two keys of one name; [`Schema::from_table`] rejects them).
//!
//! # What sluice also reads
//!
//! Ordinary JSON Schemas from the wild (Singer and Airbyte catalogs, the
//! inferred schemas of file sources) are accepted too:
//! - `"integer"` without a format is `int64`; `"number"` without a format
//!   is `float64` (`float32` for `"format":"float"`), or `int64` with the
//!   hint `"airbyte_type":"integer"`;
//! - `"type":["string","null"]` (and `"null"` in `anyOf`/`oneOf`) makes the
//!   field optional, as does leaving it out of `required`; several non-null
//!   types (`["string","integer"]`) are a union; `oneOf` reads as `anyOf`;
//! - strings: `"format":"date-time"` or `"airbyte_type":
//!   "timestamp_with_timezone"` / `"timestamp_without_timezone"` is a
//!   timestamp; `"format":"date"` stays a `string`, since a bare date is not
//!   an instant; `"contentEncoding":"base64"` or `"format":"byte"` is bytes;
//!   other formats (`email`, `uri`, ...) are plain strings;
//! - an object without `properties` is a `map`: of the
//!   `additionalProperties` schema if there is one, else of `string`;
//! - a schema that constrains nothing (`{}`, `true`, `{"type":"null"}`, or
//!   one with only `enum`, `const`, `description`, ...) is an optional
//!   `string`: the simplest faithful reading is that a destination keeps
//!   such values as their JSON text; no catch-all type is added to [`Type`];
//! - an array without `items` is `array<string>` by the same rule; an item
//!   schema that admits null is read without the null (items are never
//!   null in sluice);
//! - at the top level, an object schema without `properties` is a row with
//!   no fields.
//!
//! Errors: a top-level schema that is not an object schema, `false`, a
//! `$ref`, tuple `items`, an unknown `type` name, a decimal without
//! `precision`/`scale` that fit in `u8`, or a keyword of the wrong kind is
//! a [`SchemaError`] naming the JSON pointer (`#/properties/a/items`).

use serde_json::{Map, Value, json};

use crate::{Field, Schema, SchemaError, Type};

/// How deep subschemas may nest before reading gives up.
pub const MAX_DEPTH: usize = 64;

impl Schema {
    /// The row's JSON Schema: an object schema with one property per field.
    ///
    /// ```
    /// use serde_json::json;
    /// use sluice_schema::{Field, Schema, Type};
    ///
    /// let schema = Schema::new(vec![
    ///     Field::required("id", Type::Int64),
    ///     Field::optional("tags", Type::Array(Box::new(Type::String))),
    /// ]);
    /// let json = schema.to_json_schema();
    /// assert_eq!(json, json!({
    ///     "type": "object",
    ///     "properties": {
    ///         "id": {"type": "integer", "format": "int64"},
    ///         "tags": {"type": ["array", "null"], "items": {"type": "string"}},
    ///     },
    ///     "required": ["id"],
    /// }));
    /// assert_eq!(Schema::from_json_schema(&json)?, schema);
    /// # Ok::<(), sluice_schema::SchemaError>(())
    /// ```
    pub fn to_json_schema(&self) -> Value {
        struct_schema(&self.fields)
    }

    /// Reads a row schema: sluice's own output exactly, ordinary JSON
    /// Schemas as described in the [module docs](self).
    pub fn from_json_schema(schema: &Value) -> Result<Schema, SchemaError> {
        let root = Reader::root();
        let Some(obj) = schema.as_object() else {
            return Err(root.not_a_row(schema));
        };
        if obj.contains_key("properties") {
            return root.fields(obj).map(Schema::new);
        }
        let (kinds, _) = root.kinds(obj)?;
        match kinds.as_slice() {
            [kind] if kind == "object" => Ok(Schema::default()),
            _ => Err(root.not_a_row(schema)),
        }
    }
}

impl Type {
    /// This type's JSON Schema (never admitting null: nullability belongs
    /// to fields).
    pub fn to_json_schema(&self) -> Value {
        match self {
            Type::Boolean => json!({"type": "boolean"}),
            Type::Int8 => json!({"type": "integer", "format": "int8"}),
            Type::Int16 => json!({"type": "integer", "format": "int16"}),
            Type::Int32 => json!({"type": "integer", "format": "int32"}),
            Type::Int64 => json!({"type": "integer", "format": "int64"}),
            Type::Float32 => json!({"type": "number", "format": "float"}),
            Type::Float64 => json!({"type": "number", "format": "double"}),
            Type::Bytes => json!({"type": "string", "contentEncoding": "base64"}),
            Type::String => json!({"type": "string"}),
            Type::Timestamp => json!({"type": "string", "format": "date-time"}),
            Type::Decimal { precision, scale } => json!({
                "type": "string", "format": "decimal", "precision": precision, "scale": scale,
            }),
            Type::Array(item) => json!({"type": "array", "items": item.to_json_schema()}),
            Type::Map(value) => {
                json!({"type": "object", "additionalProperties": value.to_json_schema()})
            }
            Type::Struct(fields) => struct_schema(fields),
            Type::Union(members) => {
                json!({"anyOf": members.iter().map(Type::to_json_schema).collect::<Vec<_>>()})
            }
        }
    }

    /// Reads one type; whether the schema admits null is dropped.
    pub fn from_json_schema(schema: &Value) -> Result<Type, SchemaError> {
        Reader::root().read(schema).map(|(ty, _)| ty)
    }
}

fn struct_schema(fields: &[Field]) -> Value {
    let properties: Map<String, Value> = fields
        .iter()
        .map(|f| (f.name.clone(), field_schema(f)))
        .collect();
    let required: Vec<&str> = fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name.as_str())
        .collect();
    let mut schema = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

fn field_schema(field: &Field) -> Value {
    let mut schema = field.ty.to_json_schema();
    if !field.required {
        admit_null(&mut schema);
    }
    if let Some(default) = &field.default {
        schema["default"] = default.clone();
    }
    schema
}

/// Makes a schema written by [`Type::to_json_schema`] also admit null.
fn admit_null(schema: &mut Value) {
    if let Some(Value::Array(members)) = schema.get_mut("anyOf") {
        members.push(json!({"type": "null"}));
    } else if let Some(kind) = schema.get("type").cloned() {
        schema["type"] = json!([kind, "null"]);
    }
}

/// The position of the subschema being read.
struct Reader {
    path: String,
    depth: usize,
}

/// A type, and whether its schema also admits null.
type Read = (Type, bool);

impl Reader {
    fn root() -> Reader {
        Reader {
            path: "#".into(),
            depth: 0,
        }
    }

    fn child(&self, segments: &[&str]) -> Result<Reader, SchemaError> {
        let mut path = self.path.clone();
        for segment in segments {
            path.push('/');
            path.push_str(&segment.replace('~', "~0").replace('/', "~1"));
        }
        if self.depth >= MAX_DEPTH {
            return Err(SchemaError::TooDeep {
                path,
                limit: MAX_DEPTH,
            });
        }
        Ok(Reader {
            path,
            depth: self.depth + 1,
        })
    }

    /// The same reader (same path, same level).
    fn keyword_free(&self) -> Reader {
        Reader {
            path: self.path.clone(),
            depth: self.depth,
        }
    }

    /// The same level of types, one keyword further along the path.
    fn keyword(&self, keyword: &str) -> Reader {
        Reader {
            path: format!("{}/{keyword}", self.path),
            depth: self.depth,
        }
    }

    fn unexpected(&self, expected: &'static str, found: &Value) -> SchemaError {
        SchemaError::Unexpected {
            path: self.path.clone(),
            expected,
            found: shorten(found),
        }
    }

    fn not_a_row(&self, found: &Value) -> SchemaError {
        SchemaError::NotARow {
            path: self.path.clone(),
            found: shorten(found),
        }
    }

    fn read(&self, schema: &Value) -> Result<Read, SchemaError> {
        match schema {
            Value::Bool(true) => Ok((Type::String, true)),
            Value::Object(obj) => self.read_object(obj),
            other => Err(self.unexpected("a schema (an object or `true`)", other)),
        }
    }

    fn read_object(&self, obj: &Map<String, Value>) -> Result<Read, SchemaError> {
        if obj.contains_key("$ref") {
            return Err(SchemaError::Unsupported {
                path: self.path.clone(),
                keyword: "$ref",
            });
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(members) = obj.get(keyword) {
                // The keyword is a path segment, not a level of types:
                // each member below counts one level, as in a type table.
                return self.keyword(keyword).read_union(members);
            }
        }
        let (kinds, nullable) = self.kinds(obj)?;
        // Several types make a union, which counts a level of its own (it
        // is written back as `anyOf`, whose members are one level down).
        let members = if kinds.len() > 1 {
            self.child(&[])?
        } else {
            self.keyword_free()
        };
        let mut types = Vec::with_capacity(kinds.len());
        for kind in &kinds {
            types.push(members.read_kind(kind, obj)?);
        }
        match types.len() {
            0 => Ok((Type::String, true)),
            1 => Ok((types.remove(0), nullable)),
            _ => Ok((Type::Union(types), nullable)),
        }
    }

    /// The non-null type names of `type` (guessed from `properties` or
    /// `items` when absent), and whether null is admitted.
    fn kinds(&self, obj: &Map<String, Value>) -> Result<(Vec<String>, bool), SchemaError> {
        let names: Vec<&str> = match obj.get("type") {
            None if obj.contains_key("properties") => vec!["object"],
            None if obj.contains_key("items") => vec!["array"],
            None => vec!["null"],
            Some(Value::String(name)) => vec![name.as_str()],
            Some(Value::Array(names)) => names
                .iter()
                .map(|n| n.as_str().ok_or_else(|| self.unexpected("a type name", n)))
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(self.unexpected("a type name or a list of them", other)),
        };
        let nullable = names.contains(&"null");
        let kinds = names
            .into_iter()
            .filter(|n| *n != "null")
            .map(String::from)
            .collect();
        Ok((kinds, nullable))
    }

    fn read_union(&self, members: &Value) -> Result<Read, SchemaError> {
        let Value::Array(members) = members else {
            return Err(self.unexpected("a list of schemas", members));
        };
        let mut types = Vec::with_capacity(members.len());
        let mut nullable = false;
        for (i, member) in members.iter().enumerate() {
            if is_null_only(member) {
                nullable = true;
                continue;
            }
            let (ty, null) = self.child(&[&i.to_string()])?.read(member)?;
            nullable |= null;
            types.push(ty);
        }
        Ok((Type::Union(types), nullable))
    }

    fn read_kind(&self, kind: &str, obj: &Map<String, Value>) -> Result<Type, SchemaError> {
        let format = obj.get("format").and_then(Value::as_str);
        let hint = obj.get("airbyte_type").and_then(Value::as_str);
        match kind {
            "boolean" => Ok(Type::Boolean),
            "integer" => Ok(integer(format)),
            "number" => Ok(number(format, hint)),
            "string" => self.read_string(obj, format, hint),
            "array" => self.read_array(obj),
            "object" => self.read_map_or_struct(obj),
            other => Err(SchemaError::UnknownType {
                path: self.path.clone(),
                name: other.into(),
            }),
        }
    }

    fn read_string(
        &self,
        obj: &Map<String, Value>,
        format: Option<&str>,
        hint: Option<&str>,
    ) -> Result<Type, SchemaError> {
        let base64 = obj.get("contentEncoding").and_then(Value::as_str) == Some("base64");
        Ok(match (format, hint) {
            _ if base64 => Type::Bytes,
            (Some("byte"), _) => Type::Bytes,
            (Some("decimal"), _) => Type::Decimal {
                precision: self.digits(obj, "precision")?,
                scale: self.digits(obj, "scale")?,
            },
            (Some("date-time"), _) => Type::Timestamp,
            (_, Some("timestamp_with_timezone" | "timestamp_without_timezone")) => Type::Timestamp,
            _ => Type::String,
        })
    }

    fn digits(&self, obj: &Map<String, Value>, keyword: &str) -> Result<u8, SchemaError> {
        let value = obj.get(keyword).unwrap_or(&Value::Null);
        let digits = value.as_u64().and_then(|n| u8::try_from(n).ok());
        match digits {
            Some(n) => Ok(n),
            None => Err(self
                .child(&[keyword])?
                .unexpected("a digit count from 0 to 255", value)),
        }
    }

    fn read_array(&self, obj: &Map<String, Value>) -> Result<Type, SchemaError> {
        let item = match obj.get("items") {
            // The implied item is written back as `items`: a level deeper.
            None => self.child(&["items"]).map(|_| Type::String)?,
            Some(Value::Array(_)) => {
                let path = self.child(&["items"])?.path;
                return Err(SchemaError::Unsupported {
                    path,
                    keyword: "items (tuple form)",
                });
            }
            Some(items) => self.child(&["items"])?.read(items)?.0,
        };
        Ok(Type::Array(Box::new(item)))
    }

    fn read_map_or_struct(&self, obj: &Map<String, Value>) -> Result<Type, SchemaError> {
        if obj.contains_key("properties") {
            return self.fields(obj).map(Type::Struct);
        }
        let value = match obj.get("additionalProperties") {
            Some(Value::Object(values)) => {
                self.child(&["additionalProperties"])?
                    .read_object(values)?
                    .0
            }
            // The implied value type is written back as
            // `additionalProperties`: a level deeper.
            _ => self
                .child(&["additionalProperties"])
                .map(|_| Type::String)?,
        };
        Ok(Type::Map(Box::new(value)))
    }

    fn fields(&self, obj: &Map<String, Value>) -> Result<Vec<Field>, SchemaError> {
        let required = self.required(obj)?;
        let properties = match obj.get("properties") {
            Some(Value::Object(properties)) => properties,
            Some(other) => {
                let at = self.child(&["properties"])?;
                return Err(at.unexpected("an object of property schemas", other));
            }
            None => return Ok(Vec::new()),
        };
        let mut fields = Vec::with_capacity(properties.len());
        for (name, schema) in properties {
            let (ty, nullable) = self.child(&["properties", name])?.read(schema)?;
            fields.push(Field {
                name: name.clone(),
                ty,
                required: !nullable && required.contains(&name.as_str()),
                default: schema.get("default").cloned(),
            });
        }
        Ok(fields)
    }

    fn required<'a>(&self, obj: &'a Map<String, Value>) -> Result<Vec<&'a str>, SchemaError> {
        let Some(list) = obj.get("required") else {
            return Ok(Vec::new());
        };
        let at = self.child(&["required"])?;
        let names = list
            .as_array()
            .ok_or_else(|| at.unexpected("a list of names", list))?;
        names
            .iter()
            .map(|n| {
                n.as_str()
                    .ok_or_else(|| at.unexpected("a property name", n))
            })
            .collect()
    }
}

fn integer(format: Option<&str>) -> Type {
    match format {
        Some("int8") => Type::Int8,
        Some("int16") => Type::Int16,
        Some("int32") => Type::Int32,
        _ => Type::Int64,
    }
}

fn number(format: Option<&str>, hint: Option<&str>) -> Type {
    match (format, hint) {
        (Some("float"), _) => Type::Float32,
        (_, Some("integer")) => Type::Int64,
        _ => Type::Float64,
    }
}

/// `{"type":"null"}`, the null member of a nullable `anyOf`.
fn is_null_only(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

/// A value as JSON text of at most about 60 characters, for messages.
fn shorten(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
#[path = "json_schema_tests.rs"]
mod tests;
