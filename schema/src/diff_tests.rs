use super::{Change, diff, widens};
use crate::{Field, Schema, Type};

fn dec(precision: u8, scale: u8) -> Type {
    Type::Decimal { precision, scale }
}

fn array(ty: Type) -> Type {
    Type::Array(Box::new(ty))
}

#[test]
fn integers_and_floats_widen_upwards_only() {
    use Type::*;
    let ints = [Int8, Int16, Int32, Int64];
    for (i, from) in ints.iter().enumerate() {
        for (j, to) in ints.iter().enumerate() {
            assert_eq!(widens(from, to), i <= j, "{from} -> {to}");
        }
        assert!(widens(from, &Float64), "{from} -> float64");
        assert_eq!(widens(from, &Float32), i <= 1, "{from} -> float32");
    }
    assert!(widens(&Float32, &Float64));
    assert!(!widens(&Float64, &Float32));
    assert!(!widens(&Float64, &Int64));
}

#[test]
fn decimals_widen_when_both_digit_counts_do() {
    assert!(widens(&dec(10, 2), &dec(12, 4)));
    assert!(widens(&dec(10, 2), &dec(11, 2)));
    assert!(!widens(&dec(10, 2), &dec(10, 3)), "one integer digit fewer");
    assert!(
        !widens(&dec(10, 2), &dec(10, 1)),
        "one fraction digit fewer"
    );
    assert!(widens(&Type::Int32, &dec(12, 2)));
    assert!(!widens(&Type::Int32, &dec(11, 2)));
    assert!(widens(&Type::Int64, &dec(19, 0)));
    assert!(widens(&Type::Int8, &dec(3, 0)));
    assert!(
        !widens(&dec(3, 0), &Type::Int64),
        "decimals never narrow to integers"
    );
    assert!(!widens(&Type::Float64, &dec(38, 10)));
}

#[test]
fn unions_arrays_and_maps() {
    let union = Type::Union(vec![Type::String, Type::Int64]);
    assert!(widens(&Type::String, &union));
    assert!(widens(&Type::Int16, &union), "a widening of a member");
    assert!(!widens(&Type::Boolean, &union));
    assert!(widens(&Type::Union(vec![Type::Int8, Type::String]), &union));
    assert!(!widens(&union, &Type::String));
    assert!(widens(&array(Type::Int32), &array(Type::Int64)));
    assert!(!widens(&array(Type::Int64), &array(Type::Int32)));
    assert!(widens(
        &Type::Map(Box::new(Type::Float32)),
        &Type::Map(Box::new(Type::Float64))
    ));
    assert!(!widens(
        &array(Type::Int8),
        &Type::Map(Box::new(Type::Int8))
    ));
}

#[test]
fn text_and_numbers_never_widen_into_each_other() {
    for (from, to) in [
        (Type::String, Type::Int64),
        (Type::Int64, Type::String),
        (Type::Timestamp, Type::String),
        (Type::String, Type::Bytes),
        (Type::Boolean, Type::Int8),
    ] {
        assert!(!widens(&from, &to), "{from} -> {to}");
    }
}

#[test]
fn structs_widen_by_additions_and_widened_fields() {
    let old = Type::Struct(vec![
        Field::required("a", Type::Int32),
        Field::optional("b", Type::String),
    ]);
    let more = Type::Struct(vec![
        Field::optional("b", Type::String),
        Field::required("a", Type::Int64),
        Field::optional("c", Type::Bytes),
    ]);
    assert!(widens(&old, &more));
    let fewer = Type::Struct(vec![Field::required("a", Type::Int32)]);
    assert!(!widens(&old, &fewer));
    let narrowed = Type::Struct(vec![
        Field::required("a", Type::Int8),
        Field::optional("b", Type::String),
    ]);
    assert!(!widens(&old, &narrowed));
}

#[test]
fn reports_top_level_changes_in_order() {
    let old = Schema::new(vec![
        Field::required("id", Type::Int32),
        Field::optional("age", Type::String),
        Field::required("name", Type::String),
        Field::optional("gone", Type::Boolean),
        Field::optional("note", Type::String),
    ]);
    let new = Schema::new(vec![
        Field::required("id", Type::Int64),
        Field::optional("age", Type::Int64),
        Field::optional("name", Type::String),
        Field::required("note", Type::String),
        Field::required("email", Type::String),
    ]);
    assert_eq!(
        diff(&old, &new),
        vec![
            Change::Widened {
                path: "id".into(),
                from: Type::Int32,
                to: Type::Int64
            },
            Change::Incompatible {
                path: "age".into(),
                from: Type::String,
                to: Type::Int64
            },
            Change::Optional {
                path: "name".into()
            },
            Change::Removed {
                path: "gone".into()
            },
            Change::Required {
                path: "note".into()
            },
            Change::Added {
                path: "email".into(),
                ty: Type::String
            },
        ]
    );
    assert!(diff(&old, &old).is_empty());
}

#[test]
fn reports_nested_changes_of_a_widened_struct() {
    let address = |city: Type, extra: bool| {
        let mut fields = vec![Field::required("city", city)];
        if extra {
            fields.push(Field::optional("zip", Type::String));
        }
        Type::Struct(fields)
    };
    let old = Schema::new(vec![Field::required(
        "address",
        address(Type::Int16, false),
    )]);
    let new = Schema::new(vec![Field::required("address", address(Type::Int32, true))]);
    assert_eq!(
        diff(&old, &new),
        vec![
            Change::Widened {
                path: "address.city".into(),
                from: Type::Int16,
                to: Type::Int32
            },
            Change::Added {
                path: "address.zip".into(),
                ty: Type::String
            },
        ]
    );
    let broken = Schema::new(vec![Field::required(
        "address",
        address(Type::String, true),
    )]);
    assert_eq!(
        diff(&old, &broken),
        vec![Change::Incompatible {
            path: "address".into(),
            from: address(Type::Int16, false),
            to: address(Type::String, true),
        }]
    );
}

#[test]
fn reports_item_changes_of_arrays_and_maps() {
    let item = |total: Type| Type::Struct(vec![Field::required("total", total)]);
    let old = Schema::new(vec![
        Field::required("orders", array(item(dec(10, 2)))),
        Field::required("tags", array(Type::String)),
        Field::required("attrs", Type::Map(Box::new(Type::Int8))),
    ]);
    let new = Schema::new(vec![
        Field::required("orders", array(item(dec(12, 2)))),
        Field::required("tags", array(Type::Int64)),
        Field::required("attrs", Type::Map(Box::new(Type::Int16))),
    ]);
    assert_eq!(
        diff(&old, &new),
        vec![
            Change::Widened {
                path: "orders[].total".into(),
                from: dec(10, 2),
                to: dec(12, 2)
            },
            Change::Incompatible {
                path: "tags[]".into(),
                from: Type::String,
                to: Type::Int64
            },
            Change::Widened {
                path: "attrs{}".into(),
                from: Type::Int8,
                to: Type::Int16
            },
        ]
    );
}

#[test]
fn changes_read_as_sentences() {
    let shown = |c: Change| c.to_string();
    assert_eq!(
        shown(Change::Incompatible {
            path: "age".into(),
            from: Type::String,
            to: Type::Int64
        }),
        "field `age` changed type from string to int64, which is not a safe widening"
    );
    assert_eq!(
        shown(Change::Widened {
            path: "a.b".into(),
            from: Type::Int8,
            to: dec(10, 2)
        }),
        "field `a.b` widened from int8 to decimal(10,2)"
    );
    assert_eq!(
        shown(Change::Added {
            path: "tags".into(),
            ty: array(Type::String)
        }),
        "field `tags` was added with type array<string>"
    );
    assert_eq!(
        shown(Change::Removed { path: "x".into() }),
        "field `x` was removed"
    );
    assert_eq!(
        shown(Change::Optional { path: "x".into() }),
        "field `x` became optional"
    );
    assert_eq!(
        shown(Change::Required { path: "x".into() }),
        "field `x` became required"
    );
}
