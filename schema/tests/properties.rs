//! Property tests: every schema survives JSON Schema and the type table;
//! diffs and evolution are stable.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Value, json};
use sluice_schema::{Change, Policy, diff, evolve, widens};
use sluice_schema::{Field, Schema, Type, TypeNode};

fn leaf() -> impl Strategy<Value = Type> {
    prop_oneof![
        Just(Type::Boolean),
        Just(Type::Int8),
        Just(Type::Int16),
        Just(Type::Int32),
        Just(Type::Int64),
        Just(Type::Float32),
        Just(Type::Float64),
        Just(Type::Bytes),
        Just(Type::String),
        Just(Type::Timestamp),
        (any::<u8>(), any::<u8>())
            .prop_map(|(precision, scale)| Type::Decimal { precision, scale }),
    ]
}

/// JSON values whose text form parses back to the same value (floats are
/// multiples of 1/8, exact in binary and in short decimal text).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<i32>().prop_map(|n| json!(f64::from(n) / 8.0)),
        ".{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(Value::from),
            vec(("[a-z]{0,3}", inner), 0..3).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Fields with unique names (names include `/`, `~`, `.` and spaces).
fn fields(ty: impl Strategy<Value = Type>) -> impl Strategy<Value = Vec<Field>> {
    let field = (
        "[a-c/~. ]{0,3}",
        ty,
        any::<bool>(),
        proptest::option::of(json_value()),
    );
    vec(field, 0..5).prop_map(|declared| {
        let mut fields: Vec<Field> = Vec::new();
        for (name, ty, required, default) in declared {
            if fields.iter().all(|f| f.name != name) {
                fields.push(Field {
                    name,
                    ty,
                    required,
                    default,
                });
            }
        }
        fields
    })
}

fn any_type() -> impl Strategy<Value = Type> {
    leaf().prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| Type::Array(Box::new(t))),
            inner.clone().prop_map(|t| Type::Map(Box::new(t))),
            fields(inner.clone()).prop_map(Type::Struct),
            vec(inner, 0..4).prop_map(Type::Union),
        ]
    })
}

fn any_schema() -> impl Strategy<Value = Schema> {
    fields(any_type()).prop_map(Schema::new)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_schema_round_trips(schema in any_schema()) {
        let json = schema.to_json_schema();
        prop_assert_eq!(Schema::from_json_schema(&json).unwrap(), schema);
    }

    #[test]
    fn json_schema_text_round_trips(schema in any_schema()) {
        let text = schema.to_json_schema().to_string();
        let json: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(Schema::from_json_schema(&json).unwrap(), schema);
    }

    #[test]
    fn single_types_round_trip(ty in any_type()) {
        prop_assert_eq!(Type::from_json_schema(&ty.to_json_schema()).unwrap(), ty);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn type_table_round_trips(schema in any_schema()) {
        let table = schema.to_table();
        prop_assert_eq!(Schema::from_table(&table).unwrap(), schema);
    }

    #[test]
    fn type_table_indices_point_backwards(schema in any_schema()) {
        let table = schema.to_table();
        for (i, node) in table.types.iter().enumerate() {
            let children: Vec<u32> = match node {
                TypeNode::Array(c) | TypeNode::Map(c) => vec![*c],
                TypeNode::Union(cs) => cs.clone(),
                TypeNode::Struct(fs) => fs.iter().map(|f| f.ty).collect(),
                _ => vec![],
            };
            prop_assert!(children.iter().all(|&c| (c as usize) < i));
        }
    }
}

/// Small schemas over few names, so two of them often share fields.
fn overlapping_schema() -> impl Strategy<Value = Schema> {
    let ty = leaf().prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| Type::Array(Box::new(t))),
            vec(("[ab]", inner, any::<bool>()), 0..3).prop_map(|declared| {
                let mut fields: Vec<Field> = Vec::new();
                for (name, ty, required) in declared {
                    if fields.iter().all(|f| f.name != name) {
                        fields.push(Field {
                            name,
                            ty,
                            required,
                            default: None,
                        });
                    }
                }
                Type::Struct(fields)
            }),
        ]
    });
    vec(("[a-d]", ty, any::<bool>()), 0..4).prop_map(|declared| {
        let mut fields: Vec<Field> = Vec::new();
        for (name, ty, required) in declared {
            if fields.iter().all(|f| f.name != name) {
                fields.push(Field {
                    name,
                    ty,
                    required,
                    default: None,
                });
            }
        }
        Schema::new(fields)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn nothing_changes_against_itself(schema in any_schema(), ty in any_type()) {
        prop_assert!(diff(&schema, &schema).is_empty());
        prop_assert!(widens(&ty, &ty));
        let evolution = evolve(Some(&schema), &schema, &Policy::default()).unwrap();
        prop_assert_eq!(evolution.schema, schema);
    }

    #[test]
    fn evolution_is_stable(known in overlapping_schema(), incoming in overlapping_schema()) {
        if let Ok(first) = evolve(Some(&known), &incoming, &Policy::default()) {
            let second = evolve(Some(&first.schema), &incoming, &Policy::default()).unwrap();
            prop_assert_eq!(&second.schema, &first.schema);
            let grew = |c: &Change| matches!(c, Change::Added { .. } | Change::Widened { .. });
            prop_assert!(!second.changes.iter().any(grew));
        }
    }
}
