//! Schemas inferred from records: each field's JSON type over the records
//! seen, widened as more arrive (integer and number to number, a
//! timestamp and other text to string, anything else that disagrees to
//! no type at all). Objects are inferred field by field, arrays from their
//! items. Every field is optional.

use chrono::DateTime;
use serde_json::{Map, Value, json};

/// What the values of one field looked like.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Only nulls (or nothing) so far.
    Null,
    /// `true` / `false`.
    Boolean,
    /// Whole numbers.
    Integer,
    /// Any numbers.
    Number,
    /// RFC 3339 timestamps.
    Timestamp,
    /// Any text.
    String,
    /// Lists of items of one shape.
    Array(Box<Shape>),
    /// Objects, field by field in first-seen order.
    Object(Vec<(String, Shape)>),
    /// Values that disagree.
    Any,
}

impl Shape {
    /// The shape of one value.
    pub fn of(value: &Value) -> Shape {
        match value {
            Value::Null => Shape::Null,
            Value::Bool(_) => Shape::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => Shape::Integer,
            Value::Number(_) => Shape::Number,
            Value::String(s) if DateTime::parse_from_rfc3339(s).is_ok() => Shape::Timestamp,
            Value::String(_) => Shape::String,
            Value::Array(items) => Shape::Array(Box::new(
                items.iter().fold(Shape::Null, |s, v| s.merge(Shape::of(v))),
            )),
            Value::Object(fields) => Shape::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), Shape::of(v)))
                    .collect(),
            ),
        }
    }

    /// The narrowest shape covering both.
    pub fn merge(self, other: Shape) -> Shape {
        use Shape as S;
        match (self, other) {
            (a, b) if a == b => a,
            (S::Null, x) | (x, S::Null) => x,
            (S::Integer, S::Number) | (S::Number, S::Integer) => S::Number,
            (S::Timestamp, S::String) | (S::String, S::Timestamp) => S::String,
            (S::Array(a), S::Array(b)) => S::Array(Box::new(a.merge(*b))),
            (S::Object(mut a), S::Object(b)) => {
                for (name, shape) in b {
                    match a.iter_mut().find(|(n, _)| *n == name) {
                        Some((_, s)) => *s = std::mem::replace(s, S::Null).merge(shape),
                        None => a.push((name, shape)),
                    }
                }
                S::Object(a)
            }
            _ => S::Any,
        }
    }

    /// The JSON Schema of this shape; every value may be null.
    pub fn json_schema(&self) -> Value {
        let nullable = |ty: &str| json!({"type": [ty, "null"]});
        match self {
            Shape::Null | Shape::Any => json!({}),
            Shape::Boolean => nullable("boolean"),
            Shape::Integer => nullable("integer"),
            Shape::Number => nullable("number"),
            Shape::String => nullable("string"),
            Shape::Timestamp => json!({"type": ["string", "null"], "format": "date-time"}),
            Shape::Array(items) => json!({"type": ["array", "null"], "items": items.item_schema()}),
            Shape::Object(fields) => {
                json!({"type": ["object", "null"], "properties": properties(fields)})
            }
        }
    }

    /// The schema of array items (never null in sluice: no null type).
    fn item_schema(&self) -> Value {
        let mut schema = self.json_schema();
        if let Some(types) = schema.get_mut("type").and_then(Value::as_array_mut) {
            types.retain(|t| t != "null");
        }
        schema
    }
}

fn properties(fields: &[(String, Shape)]) -> Map<String, Value> {
    fields
        .iter()
        .map(|(name, shape)| (name.clone(), shape.json_schema()))
        .collect()
}

/// The row schema of a stream, inferred from its records so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inferred {
    fields: Vec<(String, Shape)>,
    seen: usize,
}

impl Inferred {
    /// Take in `records` (JSON objects); whether the schema changed.
    pub fn observe(&mut self, records: &[Value]) -> bool {
        let before = self.fields.clone();
        for record in records {
            let Shape::Object(fields) = Shape::of(record) else {
                continue;
            };
            let merged =
                Shape::Object(std::mem::take(&mut self.fields)).merge(Shape::Object(fields));
            if let Shape::Object(fields) = merged {
                self.fields = fields;
            }
            self.seen += 1;
        }
        self.fields != before
    }

    /// Whether any record was seen.
    pub fn is_empty(&self) -> bool {
        self.seen == 0
    }

    /// The row's JSON Schema.
    pub fn json_schema(&self) -> Value {
        json!({"type": "object", "properties": properties(&self.fields)})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_guest::{Schema, Type};

    #[test]
    fn users_of_the_test_api() {
        let mut inferred = Inferred::default();
        assert!(inferred.is_empty());
        let changed = inferred.observe(&[
            json!({"id": 1, "name": "Ada", "email": "ada@example.com", "updated_at": "2024-01-01T00:00:00Z"}),
            json!({"id": 2, "name": "Bob", "email": null, "updated_at": "2024-01-02T00:00:00Z"}),
        ]);
        assert!(changed);
        assert_eq!(
            inferred.json_schema(),
            json!({"type": "object", "properties": {
                "id": {"type": ["integer", "null"]},
                "name": {"type": ["string", "null"]},
                "email": {"type": ["string", "null"]},
                "updated_at": {"type": ["string", "null"], "format": "date-time"}
            }})
        );
        let typed = Schema::from_json_schema(&inferred.json_schema()).unwrap();
        assert_eq!(typed.field("id").unwrap().ty, Type::Int64);
        assert_eq!(typed.field("updated_at").unwrap().ty, Type::Timestamp);
        assert!(typed.fields.iter().all(|f| !f.required));
        assert!(
            !inferred.observe(&[json!({"id": 3, "name": "Cy"})]),
            "nothing new"
        );
    }

    #[test]
    fn shapes_widen() {
        let mut inferred = Inferred::default();
        inferred.observe(&[json!({"amount": 1, "at": "2024-01-01T00:00:00Z", "x": 1})]);
        assert!(inferred.observe(&[json!({"amount": 1.5, "at": "soon", "x": "one", "new": true})]));
        let schema = inferred.json_schema();
        assert_eq!(
            schema["properties"]["amount"],
            json!({"type": ["number", "null"]})
        );
        assert_eq!(
            schema["properties"]["at"],
            json!({"type": ["string", "null"]})
        );
        assert_eq!(schema["properties"]["x"], json!({}));
        assert_eq!(
            schema["properties"]["new"],
            json!({"type": ["boolean", "null"]})
        );
    }

    #[test]
    fn nested_objects_and_arrays() {
        let mut inferred = Inferred::default();
        inferred.observe(&[
            json!({"address": {"zip": 123}, "tags": ["a", "b"], "empty": []}),
            json!({"address": {"city": "Oslo"}, "tags": []}),
        ]);
        let schema = inferred.json_schema();
        assert_eq!(
            schema["properties"]["address"],
            json!({"type": ["object", "null"], "properties": {
                "zip": {"type": ["integer", "null"]},
                "city": {"type": ["string", "null"]}
            }})
        );
        assert_eq!(
            schema["properties"]["tags"],
            json!({"type": ["array", "null"], "items": {"type": ["string"]}})
        );
        assert_eq!(
            schema["properties"]["empty"],
            json!({"type": ["array", "null"], "items": {}})
        );
        let typed = Schema::from_json_schema(&schema).unwrap();
        assert!(matches!(typed.field("tags").unwrap().ty, Type::Array(_)));
    }
}
