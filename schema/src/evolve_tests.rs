use serde_json::json;

use super::{Action, Evolution, Policy, Reason, evolve};
use crate::{Change, Field, Schema, Type};

fn policy(new_fields: Action, type_changes: Action) -> Policy {
    Policy {
        new_fields,
        type_changes,
    }
}

fn run(known: &Schema, incoming: &Schema, policy: Policy) -> Evolution {
    evolve(Some(known), incoming, &policy).expect("an accepted change")
}

fn known() -> Schema {
    Schema::new(vec![
        Field::required("id", Type::Int32),
        Field::optional("age", Type::String),
    ])
}

fn with(extra: Field) -> Schema {
    let mut schema = known();
    schema.fields.push(extra);
    schema
}

fn added_email() -> Schema {
    with(Field::required("email", Type::String).with_default(json!("")))
}

fn widened_id() -> Schema {
    Schema::new(vec![
        Field::required("id", Type::Int64),
        Field::optional("age", Type::String),
    ])
}

fn retyped_age() -> Schema {
    Schema::new(vec![
        Field::required("id", Type::Int32),
        Field::optional("age", Type::Int64),
    ])
}

#[test]
fn the_first_schema_is_accepted_as_is() {
    let frozen = policy(Action::Freeze, Action::Freeze);
    let evolution = evolve(None, &known(), &frozen).unwrap();
    assert_eq!(
        evolution,
        Evolution {
            schema: known(),
            ..Evolution::default()
        }
    );
}

#[test]
fn nothing_changed_tells_the_known_schema() {
    let address = |fields: Vec<Field>| Field::optional("address", Type::Struct(fields));
    let old = with(address(vec![
        Field::required("a", Type::Int8),
        Field::optional("b", Type::String),
    ]))
    .fields[2]
        .clone();
    let reordered = address(vec![
        Field::optional("b", Type::String),
        Field::required("a", Type::Int8),
    ]);
    let known = with(old);
    let evolution = run(&known, &with(reordered), Policy::default());
    assert_eq!(
        evolution,
        Evolution {
            schema: known,
            ..Evolution::default()
        }
    );
}

#[test]
fn new_fields_under_each_action() {
    let added = Change::Added {
        path: "email".into(),
        ty: Type::String,
    };
    let evolution = run(
        &known(),
        &added_email(),
        policy(Action::Evolve, Action::Freeze),
    );
    assert_eq!(evolution.schema, added_email(), "appended as declared");
    assert_eq!(evolution.changes, vec![added.clone()]);

    let err = evolve(
        Some(&known()),
        &added_email(),
        &policy(Action::Freeze, Action::Evolve),
    );
    let err = err.unwrap_err();
    assert_eq!(
        (err.field.as_str(), &err.change, err.reason),
        ("email", &added, Reason::Frozen)
    );
    assert_eq!(
        err.to_string(),
        "field `email`: new field of type string, but new fields are frozen"
    );

    let evolution = run(
        &known(),
        &added_email(),
        policy(Action::DiscardValue, Action::Freeze),
    );
    let expected = Evolution {
        schema: known(),
        drop_fields: vec!["email".into()],
        changes: vec![added.clone()],
        ..Evolution::default()
    };
    assert_eq!(evolution, expected);

    let evolution = run(
        &known(),
        &added_email(),
        policy(Action::DiscardRow, Action::Freeze),
    );
    let expected = Evolution {
        schema: known(),
        drop_rows_with: vec!["email".into()],
        changes: vec![added],
        ..Evolution::default()
    };
    assert_eq!(evolution, expected);
}

#[test]
fn widened_types_under_each_action() {
    let widened = Change::Widened {
        path: "id".into(),
        from: Type::Int32,
        to: Type::Int64,
    };
    let evolution = run(
        &known(),
        &widened_id(),
        policy(Action::Freeze, Action::Evolve),
    );
    assert_eq!(evolution.schema, widened_id());
    assert_eq!(evolution.changes, vec![widened.clone()]);

    let err = evolve(
        Some(&known()),
        &widened_id(),
        &policy(Action::Evolve, Action::Freeze),
    )
    .unwrap_err();
    assert_eq!(err.reason, Reason::Frozen);
    assert_eq!(
        err.to_string(),
        "field `id`: int32 -> int64, but type changes are frozen"
    );

    let evolution = run(
        &known(),
        &widened_id(),
        policy(Action::Freeze, Action::DiscardValue),
    );
    let told = Schema::new(vec![
        Field::optional("id", Type::Int32),
        Field::optional("age", Type::String),
    ]);
    let expected = Evolution {
        schema: told,
        drop_fields: vec!["id".into()],
        changes: vec![widened.clone()],
        ..Evolution::default()
    };
    assert_eq!(
        evolution, expected,
        "values dropped: the field is told optional"
    );

    let evolution = run(
        &known(),
        &widened_id(),
        policy(Action::Freeze, Action::DiscardRow),
    );
    let expected = Evolution {
        schema: known(),
        drop_rows_with: vec!["id".into()],
        changes: vec![widened],
        ..Evolution::default()
    };
    assert_eq!(evolution, expected);
}

#[test]
fn type_changes_that_do_not_widen_under_each_action() {
    let changed = Change::Incompatible {
        path: "age".into(),
        from: Type::String,
        to: Type::Int64,
    };
    for action in [Action::Evolve, Action::Freeze] {
        let err = evolve(
            Some(&known()),
            &retyped_age(),
            &policy(Action::Evolve, action),
        )
        .unwrap_err();
        assert_eq!((err.reason, &err.change), (Reason::NotAWidening, &changed));
        assert_eq!(
            err.to_string(),
            "field `age`: string -> int64 is not a safe widening"
        );
    }
    let evolution = run(
        &known(),
        &retyped_age(),
        policy(Action::Freeze, Action::DiscardValue),
    );
    let expected = Evolution {
        schema: known(),
        drop_fields: vec!["age".into()],
        changes: vec![changed.clone()],
        ..Evolution::default()
    };
    assert_eq!(evolution, expected);
    let evolution = run(
        &known(),
        &retyped_age(),
        policy(Action::Freeze, Action::DiscardRow),
    );
    let expected = Evolution {
        schema: known(),
        drop_rows_with: vec!["age".into()],
        changes: vec![changed],
        ..Evolution::default()
    };
    assert_eq!(evolution, expected);
}

#[test]
fn removed_fields_stay_as_optional() {
    let incoming = Schema::new(vec![Field::optional("age", Type::String)]);
    let frozen = policy(Action::Freeze, Action::Freeze);
    let evolution = run(&known(), &incoming, frozen);
    let told = Schema::new(vec![
        Field::optional("id", Type::Int32),
        Field::optional("age", Type::String),
    ]);
    assert_eq!(evolution.schema, told);
    assert_eq!(
        evolution.changes,
        vec![Change::Removed { path: "id".into() }]
    );
    // The next run is told the same schema.
    assert_eq!(run(&told, &incoming, frozen).schema, told);
}

#[test]
fn required_flags_only_ever_relax() {
    let frozen = policy(Action::Freeze, Action::Freeze);
    let flipped = Schema::new(vec![
        Field::optional("id", Type::Int32),
        Field::required("age", Type::String),
    ]);
    let evolution = run(&known(), &flipped, frozen);
    let told = Schema::new(vec![
        Field::optional("id", Type::Int32),
        Field::optional("age", Type::String),
    ]);
    assert_eq!(evolution.schema, told);
    assert_eq!(
        evolution.changes,
        vec![
            Change::Optional { path: "id".into() },
            Change::Required { path: "age".into() }
        ]
    );
}

fn nested(city: Type, zip: bool) -> Schema {
    let mut fields = vec![Field::required("city", city)];
    if zip {
        fields.push(Field::optional("zip", Type::String));
    }
    Schema::new(vec![
        Field::required("id", Type::Int64),
        Field::required("address", Type::Struct(fields)),
    ])
}

#[test]
fn nested_changes_evolve_inside_the_struct() {
    let evolution = run(
        &nested(Type::Int16, false),
        &nested(Type::Int32, true),
        Policy::default(),
    );
    assert_eq!(evolution.schema, nested(Type::Int32, true));
    assert_eq!(
        evolution.changes,
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
}

#[test]
fn nested_changes_drop_by_top_level_field_and_name_the_nested_path() {
    let (old, new) = (nested(Type::Int16, false), nested(Type::Int32, true));
    let err = evolve(Some(&old), &new, &policy(Action::Freeze, Action::Evolve)).unwrap_err();
    assert_eq!(err.field, "address.zip");
    assert_eq!(
        err.to_string(),
        "field `address.zip`: new field of type string, but new fields are frozen"
    );

    let evolution = run(&old, &new, policy(Action::DiscardValue, Action::Evolve));
    assert_eq!(evolution.drop_fields, vec!["address".to_string()]);
    let mut told = old.clone();
    told.fields[1].required = false;
    assert_eq!(evolution.schema, told);

    let evolution = run(&old, &new, policy(Action::DiscardValue, Action::DiscardRow));
    assert_eq!(
        (evolution.drop_fields.len(), evolution.drop_rows_with),
        (0, vec!["address".to_string()])
    );
    assert_eq!(
        evolution.schema, old,
        "a dropped row wins over a dropped value"
    );
}

#[test]
fn a_struct_that_loses_a_field_is_incompatible_but_arrays_of_structs_grow() {
    let inner = |fields: Vec<Field>| Schema::new(vec![Field::required("s", Type::Struct(fields))]);
    let old = inner(vec![
        Field::required("a", Type::Int8),
        Field::required("b", Type::Int8),
    ]);
    let new = inner(vec![
        Field::required("c", Type::Int8),
        Field::required("a", Type::Int16),
    ]);
    // Removing `b` makes the struct incompatible as a whole...
    assert!(evolve(Some(&old), &new, &Policy::default()).is_err());
    // ...but an array of structs widens item by item.
    let array = |s: &Schema| {
        Schema::new(vec![Field::required(
            "s",
            Type::Array(Box::new(s.fields[0].ty.clone())),
        )])
    };
    let grown = inner(vec![
        Field::required("c", Type::Int8),
        Field::optional("b", Type::Int8),
        Field::required("a", Type::Int16),
    ]);
    let told = run(&array(&old), &array(&grown), Policy::default()).schema;
    let expected = inner(vec![
        Field::required("a", Type::Int16),
        Field::optional("b", Type::Int8),
        Field::required("c", Type::Int8),
    ]);
    assert_eq!(told, array(&expected));
}

#[test]
fn policies_read_from_config() {
    let parsed: Policy = serde_json::from_value(json!({"new_fields": "discard_row"})).unwrap();
    assert_eq!(parsed, policy(Action::DiscardRow, Action::Evolve));
    let parsed: Policy = serde_json::from_value(json!({"type_changes": "discard_value"})).unwrap();
    assert_eq!(parsed, policy(Action::Evolve, Action::DiscardValue));
    assert_eq!(
        serde_json::to_value(Action::Freeze).unwrap(),
        json!("freeze")
    );
    assert!(serde_json::from_value::<Policy>(json!({"new_field": "freeze"})).is_err());
    assert_eq!(Policy::default(), policy(Action::Evolve, Action::Evolve));
}
