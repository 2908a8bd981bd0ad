use serde_json::json;

use super::{MAX_NODES, TableField, TableSchema, TypeNode};
use crate::{Field, Schema, SchemaError, Type};

fn field(name: &str, ty: u32) -> TableField {
    TableField {
        name: name.into(),
        ty,
        required: true,
        default: None,
    }
}

fn table(fields: Vec<TableField>, types: Vec<TypeNode>) -> TableSchema {
    TableSchema { fields, types }
}

fn read_err(fields: Vec<TableField>, types: Vec<TypeNode>) -> SchemaError {
    Schema::from_table(&table(fields, types)).expect_err("an invalid table")
}

#[test]
fn writes_children_first_and_shares_identical_nodes() {
    let schema = Schema::new(vec![
        Field::required("id", Type::Int64),
        Field::optional("tags", Type::Array(Box::new(Type::String))).with_default(json!([])),
        Field::required("owner", Type::Int64),
        Field::required(
            "address",
            Type::Struct(vec![Field::optional("city", Type::String)]),
        ),
    ]);
    let expected = table(
        vec![
            field("id", 0),
            TableField {
                required: false,
                default: Some("[]".into()),
                ..field("tags", 2)
            },
            field("owner", 0),
            field("address", 3),
        ],
        vec![
            TypeNode::Int64,
            TypeNode::String,
            TypeNode::Array(1),
            TypeNode::Struct(vec![TableField {
                required: false,
                ..field("city", 1)
            }]),
        ],
    );
    assert_eq!(schema.to_table(), expected);
    assert_eq!(Schema::from_table(&expected).unwrap(), schema);
}

#[test]
fn reads_tables_in_any_order() {
    let types = vec![
        TypeNode::Union(vec![1, 2]),
        TypeNode::Map(2),
        TypeNode::Decimal {
            precision: 12,
            scale: 3,
        },
    ];
    let schema = Schema::from_table(&table(vec![field("v", 0)], types)).unwrap();
    let decimal = Type::Decimal {
        precision: 12,
        scale: 3,
    };
    let union = Type::Union(vec![Type::Map(Box::new(decimal.clone())), decimal]);
    assert_eq!(schema, Schema::new(vec![Field::required("v", union)]));
}

#[test]
fn rejects_out_of_range_indices_naming_the_field() {
    let types = vec![TypeNode::Struct(vec![field("city", 7)])];
    let err = read_err(vec![field("address", 0)], types);
    assert_eq!(
        err.to_string(),
        "field `address.city`: type index 7 is out of range (the table has 1 types)"
    );
}

#[test]
fn rejects_cycles() {
    let err = read_err(vec![field("a", 0)], vec![TypeNode::Array(0)]);
    assert!(
        matches!(&err, SchemaError::Cycle { path, index: 0 } if path == "a[]"),
        "{err}"
    );
    let types = vec![
        TypeNode::Map(1),
        TypeNode::Union(vec![2]),
        TypeNode::Struct(vec![field("x", 0)]),
    ];
    let err = read_err(vec![field("m", 0)], types);
    assert_eq!(err.to_string(), "field `m{}|0.x`: type 0 contains itself");
}

#[test]
fn rejects_deep_and_exploding_tables() {
    let deep: Vec<TypeNode> = (0..100)
        .map(|i| TypeNode::Array(i + 1))
        .chain([TypeNode::Int8])
        .collect();
    let err = read_err(vec![field("a", 0)], deep);
    assert!(
        matches!(err, SchemaError::TooDeep { limit: 64, .. }),
        "{err}"
    );
    // Each union doubles the expansion: 2^40 nodes from 41 entries.
    let mut wide: Vec<TypeNode> = (0..40)
        .map(|i| TypeNode::Union(vec![i + 1, i + 1]))
        .collect();
    wide.push(TypeNode::Int8);
    let err = read_err(vec![field("a", 0)], wide);
    assert!(
        matches!(
            err,
            SchemaError::TooLarge {
                limit: MAX_NODES,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn rejects_duplicate_names_in_one_struct() {
    let err = read_err(vec![field("a", 0), field("a", 0)], vec![TypeNode::Int8]);
    assert_eq!(err.to_string(), "field `a` is declared twice");
    let types = vec![
        TypeNode::Int8,
        TypeNode::Struct(vec![field("x", 0), field("x", 0)]),
    ];
    let err = read_err(vec![field("s", 1)], types);
    assert!(
        matches!(&err, SchemaError::DuplicateField { path } if path == "s.x"),
        "{err}"
    );
    // The same name in different structs is fine.
    let types = vec![TypeNode::Int8, TypeNode::Struct(vec![field("s", 0)])];
    assert!(Schema::from_table(&table(vec![field("s", 1)], types)).is_ok());
}

#[test]
fn rejects_defaults_that_are_not_json() {
    let bad = TableField {
        default: Some("{oops".into()),
        ..field("x", 0)
    };
    let types = vec![TypeNode::Int8, TypeNode::Struct(vec![bad])];
    let err = read_err(vec![field("s", 1)], types);
    assert_eq!(
        err.to_string(),
        "field `s.x`: the default is not valid JSON"
    );
    assert!(std::error::Error::source(&err).is_some());
}
