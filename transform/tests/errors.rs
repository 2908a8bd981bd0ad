//! Errors name the stream, the step and the field or line, and never the salt.

use serde_json::{Value, json};
use sluice_schema::{Field, Schema, Type};
use sluice_transform::{Origin, Plan, Problem, Step, TransformError};

const SALT: &str = "s3cret-salt";

fn users() -> Schema {
    Schema::new(vec![
        Field::required("id", Type::Int64),
        Field::optional("name", Type::String),
        Field::required("email", Type::String),
    ])
}

fn steps(v: Value) -> Vec<Step> {
    serde_json::from_value(v).unwrap()
}

fn plan_error(v: Value) -> TransformError {
    let e = Plan::new("users", &steps(v), Some(&users())).unwrap_err();
    assert!(!e.to_string().contains(SALT), "{e}");
    assert!(!format!("{e:?}").contains(SALT), "{e:?}");
    e
}

#[test]
fn the_message_names_stream_step_field_and_known_fields() {
    let e = plan_error(json!([{"upper": "name"}, {"hash": {"field": "emial", "salt": SALT}}]));
    assert_eq!(
        e.to_string(),
        "transform 2 (`hash`) of stream `users`: unknown field `emial`; \
         the stream has fields id, name, email"
    );
    assert_eq!(e.stream(), "users");
    assert!(matches!(e.problem(), Some(Problem::UnknownField { field, .. }) if field == "emial"));
}

#[test]
fn every_step_kind_checks_its_fields() {
    let cases = [
        json!({"rename": {"from": "x", "to": "y"}}),
        json!({"select": ["id", "x"]}),
        json!({"drop": ["x"]}),
        json!({"upper": "x"}),
        json!({"lower": "x"}),
        json!({"hash": {"field": "x", "salt": SALT}}),
        json!({"mask": {"field": "x", "keep_last": 2}}),
        json!({"filter": {"any": [{"field": "id", "op": "=", "value": 1}, {"field": "x", "op": "is null"}]}}),
    ];
    for case in cases {
        let key = case.as_object().unwrap().keys().next().unwrap().clone();
        let e = plan_error(json!([case]));
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("transform 1 (`{key}`) of stream `users`")),
            "{text}"
        );
        assert!(text.contains("unknown field `x`"), "{text}");
    }
}

#[test]
fn fields_are_checked_against_the_schema_at_that_step() {
    let e = plan_error(json!([{"select": ["id", "name"]}, {"drop": ["email"]}]));
    assert_eq!(
        e.to_string(),
        "transform 2 (`drop`) of stream `users`: unknown field `email`; the stream has fields id, name"
    );
    let e = plan_error(json!([{"rename": {"from": "name", "to": "n"}}, {"upper": "name"}]));
    assert!(
        e.to_string()
            .contains("unknown field `name`; the stream has fields id, n, email")
    );
}

#[test]
fn wrong_types_taken_names_and_untyped_constants() {
    let e = plan_error(json!([{"lower": "id"}]));
    assert_eq!(
        e.to_string(),
        "transform 1 (`lower`) of stream `users`: field `id` is int64, not a string"
    );
    let e = plan_error(json!([{"rename": {"from": "name", "to": "email"}}]));
    assert!(
        e.to_string()
            .contains("the stream already has a field `email`"),
        "{e}"
    );
    let e = plan_error(json!([{"select": ["id", "id"]}]));
    assert!(e.to_string().contains("names field `id` twice"), "{e}");
    let e = plan_error(json!([{"set": {"field": "new", "value": []}}]));
    assert!(e.to_string().contains("empty list"), "{e}");
    let e = plan_error(json!([{"set": {"field": "new", "value": null}}]));
    assert!(e.to_string().contains("null"), "{e}");
}

#[test]
fn a_component_step_is_refused_with_its_number() {
    let e = plan_error(json!([{"upper": "name"}, {"component": "t/my.wasm"}]));
    assert!(matches!(
        &e,
        TransformError::Step {
            origin: Origin::Step {
                number: 2,
                key: "component"
            },
            ..
        }
    ));
    assert!(
        e.to_string()
            .contains("component `t/my.wasm` runs in the host runtime"),
        "{e}"
    );
}

#[test]
fn segments_keep_the_numbers_of_the_pipeline_file() {
    let list = steps(json!([{"upper": "name"}, {"component": "c.wasm"}, {"lower": "nmae"}]));
    let parts = sluice_transform::split(&list);
    let sluice_transform::Segment::Steps { offset, steps } = &parts[2] else {
        panic!()
    };
    let e = Plan::new("users", &[], Some(&users()))
        .unwrap()
        .then_steps(*offset, steps)
        .unwrap_err();
    assert!(e.to_string().starts_with("transform 3 (`lower`)"), "{e}");
}

#[test]
fn bad_lines_are_named_by_number() {
    let plan = Plan::new("users", &steps(json!([{"upper": "name"}])), Some(&users())).unwrap();
    let e = plan.apply(b"{\"id\":1}\n[1,2]\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "stream `users`, line 2 of the batch: expected a JSON object, found an array"
    );
    let e = plan
        .apply(b"{\"id\":1}\n{\"id\":2}\n{\"id\":\n")
        .unwrap_err();
    assert!(
        matches!(e, TransformError::InvalidJson { line: 3, .. }),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("stream `users`, line 3 of the batch: not valid JSON: "),
        "{e}"
    );
    assert!(std::error::Error::source(&e).is_some());
    // Blank lines are not records, as the host's batch check counts them.
    let applied = plan.apply(b"{\"id\":1}\n\n").unwrap();
    assert_eq!((applied.count, applied.dropped), (1, 0));
}

#[test]
fn the_salt_never_shows_in_debug_output() {
    let list = steps(json!([{"hash": {"field": "email", "salt": SALT}}]));
    assert!(!format!("{list:?}").contains(SALT));
    let plan = Plan::new("users", &list, Some(&users())).unwrap();
    assert!(!format!("{plan:?}").contains(SALT));
    assert_eq!(plan.secret_values(), [SALT]);
    let e = plan.apply(b"{\"email\":\"a\"}\nnope\n").unwrap_err();
    assert!(!e.to_string().contains(SALT) && !format!("{e:?}").contains(SALT));
}
