use serde_json::json;

use crate::{Field, Schema, SchemaError, Type};

fn read(schema: serde_json::Value) -> Schema {
    Schema::from_json_schema(&schema).expect("a valid schema")
}

fn read_err(schema: serde_json::Value) -> SchemaError {
    Schema::from_json_schema(&schema).expect_err("an invalid schema")
}

fn boxed(ty: Type) -> Box<Type> {
    Box::new(ty)
}

#[test]
fn writes_the_documented_mapping() {
    let schema = Schema::new(vec![
        Field::required("id", Type::Int64),
        Field::optional("name", Type::String).with_default(json!("n/a")),
        Field::required(
            "price",
            Type::Decimal {
                precision: 10,
                scale: 2,
            },
        ),
        Field::optional("tags", Type::Array(boxed(Type::String))),
        Field::required("attrs", Type::Map(boxed(Type::Float32))),
        Field::optional("v", Type::Union(vec![Type::Bytes, Type::Timestamp])),
    ]);
    let expected = json!({
        "type": "object",
        "properties": {
            "id": {"type": "integer", "format": "int64"},
            "name": {"type": ["string", "null"], "default": "n/a"},
            "price": {"type": "string", "format": "decimal", "precision": 10, "scale": 2},
            "tags": {"type": ["array", "null"], "items": {"type": "string"}},
            "attrs": {"type": "object", "additionalProperties": {"type": "number", "format": "float"}},
            "v": {"anyOf": [
                {"type": "string", "contentEncoding": "base64"},
                {"type": "string", "format": "date-time"},
                {"type": "null"},
            ]},
        },
        "required": ["id", "price", "attrs"],
    });
    assert_eq!(schema.to_json_schema(), expected);
    assert_eq!(read(expected), schema);
}

#[test]
fn writes_structs_as_rows_and_keeps_property_order() {
    let address = Type::Struct(vec![
        Field::required("zip", Type::String),
        Field::optional("city", Type::String),
    ]);
    let schema = Schema::new(vec![Field::optional("address", address)]);
    let written = schema.to_json_schema();
    let inner = &written["properties"]["address"];
    assert_eq!(inner["type"], json!(["object", "null"]));
    assert_eq!(inner["required"], json!(["zip"]));
    let keys: Vec<&String> = inner["properties"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["zip", "city"]);
    assert_eq!(read(written), schema);
    assert_eq!(
        Schema::default().to_json_schema(),
        json!({"type": "object", "properties": {}})
    );
}

#[test]
fn reads_a_singer_catalog_schema() {
    let schema = read(json!({
        "type": ["null", "object"],
        "properties": {
            "id": {"type": "integer"},
            "amount": {"type": ["null", "number"]},
            "updated_at": {"type": ["null", "string"], "format": "date-time"},
            "birthday": {"type": "string", "format": "date"},
            "email": {"type": "string", "format": "email"},
            "meta": {"type": "object"},
            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "either": {"type": ["string", "integer"]},
        },
        "required": ["id", "birthday", "meta", "either"],
    }));
    let expected = Schema::new(vec![
        Field::required("id", Type::Int64),
        Field::optional("amount", Type::Float64),
        Field::optional("updated_at", Type::Timestamp),
        Field::required("birthday", Type::String),
        Field::optional("email", Type::String),
        Field::required("meta", Type::Map(boxed(Type::String))),
        Field::optional("counts", Type::Map(boxed(Type::Int64))),
        Field::required("either", Type::Union(vec![Type::String, Type::Int64])),
    ]);
    assert_eq!(schema, expected);
}

#[test]
fn reads_airbyte_hints_and_untyped_schemas() {
    let schema = read(json!({
        "type": "object",
        "properties": {
            "n": {"type": "number", "airbyte_type": "integer"},
            "at": {"type": "string", "airbyte_type": "timestamp_with_timezone"},
            "local": {"type": "string", "airbyte_type": "timestamp_without_timezone"},
            "blob": {"type": "string", "format": "byte"},
            "anything": {},
            "yes": true,
            "nothing": {"type": "null"},
            "choice": {"enum": ["a", "b"]},
            "list": {"type": "array"},
            "nullable_items": {"type": "array", "items": {"type": ["integer", "null"]}},
            "one": {"oneOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["n", "anything", "list"],
    }));
    let expected = Schema::new(vec![
        Field::required("n", Type::Int64),
        Field::optional("at", Type::Timestamp),
        Field::optional("local", Type::Timestamp),
        Field::optional("blob", Type::Bytes),
        Field::optional("anything", Type::String),
        Field::optional("yes", Type::String),
        Field::optional("nothing", Type::String),
        Field::optional("choice", Type::String),
        Field::required("list", Type::Array(boxed(Type::String))),
        Field::optional("nullable_items", Type::Array(boxed(Type::Int64))),
        Field::optional("one", Type::Union(vec![Type::String])),
    ]);
    assert_eq!(schema, expected);
}

#[test]
fn reads_object_schemas_without_a_type_or_properties() {
    assert_eq!(read(json!({"type": "object"})), Schema::default());
    let implied = read(json!({"properties": {"a": {"items": {"type": "boolean"}}}}));
    let expected = Schema::new(vec![Field::optional(
        "a",
        Type::Array(boxed(Type::Boolean)),
    )]);
    assert_eq!(implied, expected);
}

#[test]
fn reads_single_types() {
    let ty = Type::from_json_schema(&json!({"type": ["integer", "null"], "format": "int16"}));
    assert_eq!(ty.unwrap(), Type::Int16);
    let map = Type::Map(boxed(Type::Array(boxed(Type::Decimal {
        precision: 38,
        scale: 9,
    }))));
    assert_eq!(Type::from_json_schema(&map.to_json_schema()).unwrap(), map);
}

#[test]
fn a_top_level_schema_that_is_not_an_object_is_an_error() {
    for schema in [
        json!({"type": "string"}),
        json!([1]),
        json!(true),
        json!({}),
    ] {
        let err = read_err(schema);
        assert!(
            matches!(&err, SchemaError::NotARow { path, .. } if path == "#"),
            "{err}"
        );
    }
    let err = read_err(json!({"type": "integer"}));
    assert_eq!(
        err.to_string(),
        "schema at `#`: a row schema must be an object schema, found {\"type\":\"integer\"}"
    );
}

#[test]
fn errors_name_the_json_pointer() {
    let nested = |inner: serde_json::Value| json!({"type": "object", "properties": {"a/b": {"type": "array", "items": inner}}});
    let err = read_err(nested(json!({"type": "tuple"})));
    assert_eq!(
        err.to_string(),
        "schema at `#/properties/a~1b/items`: unknown type `tuple`"
    );
    let err = read_err(nested(
        json!({"type": "string", "format": "decimal", "scale": 2}),
    ));
    assert_eq!(
        err.to_string(),
        "schema at `#/properties/a~1b/items/precision`: expected a digit count from 0 to 255, \
         found null"
    );
    let err = read_err(nested(json!({"$ref": "#/definitions/x"})));
    assert!(
        matches!(
            err,
            SchemaError::Unsupported {
                keyword: "$ref",
                ..
            }
        ),
        "{err}"
    );
    let err = read_err(nested(json!(false)));
    assert!(
        matches!(&err, SchemaError::Unexpected { path, .. } if path == "#/properties/a~1b/items")
    );
    let err = read_err(json!({"type": "object", "properties": {}, "required": "a"}));
    assert!(matches!(&err, SchemaError::Unexpected { path, .. } if path == "#/required"));
    let err = read_err(json!({"properties": {"x": {"anyOf": [{"type": 3}]}}}));
    assert!(
        matches!(&err, SchemaError::Unexpected { path, .. } if path == "#/properties/x/anyOf/0")
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let mut schema = json!({"type": "string"});
    for _ in 0..200 {
        schema = json!({"type": "array", "items": schema});
    }
    let err = Type::from_json_schema(&schema).unwrap_err();
    assert!(
        matches!(err, SchemaError::TooDeep { limit: 64, .. }),
        "{err}"
    );
}
