//! The host's own stages: reserved-key renames and schema-policy drops,
//! run in the same pass as the pipeline's steps.

use serde_json::json;
use sluice_schema::{Field, Schema, Type};
use sluice_transform::{Origin, Plan, Step, reserved};

fn schema() -> Schema {
    Schema::new(vec![
        Field::required("_key", Type::String),
        Field::required("_key_", Type::String),
        Field::optional("name", Type::String),
        Field::optional("extra", Type::Int64),
    ])
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn reserved_renames_run_after_the_users_steps() {
    let steps: Vec<Step> = serde_json::from_value(json!([{"upper": "name"}])).unwrap();
    let plan = Plan::new("s", &steps, Some(&schema())).unwrap();
    let renames = reserved::renames(plan.output_schema().unwrap(), &strings(&["", "_key"]), &[]);
    let plan = plan.then_renames(&renames).unwrap();
    assert_eq!(
        plan.output_schema().unwrap().names(),
        ["_key__", "_key_", "name", "extra"]
    );
    let out = plan
        .apply(b"{\"_key\":\"a\",\"_key_\":\"b\",\"name\":\"x\"}\n")
        .unwrap();
    assert_eq!(
        out.data,
        b"{\"_key__\":\"a\",\"_key_\":\"b\",\"name\":\"X\"}\n"
    );
    let origins: Vec<_> = plan.origins().cloned().collect();
    assert_eq!(
        origins,
        [
            Origin::Step {
                number: 1,
                key: "upper"
            },
            Origin::ReservedKey
        ]
    );
    assert!(
        Plan::identity("s", None)
            .then_renames(&[])
            .unwrap()
            .is_identity()
    );
}

#[test]
fn a_rename_of_a_missing_field_names_the_reserved_key_stage() {
    let renames = vec![("nope".to_string(), "nope_".to_string())];
    let e = Plan::identity("s", Some(&schema()))
        .then_renames(&renames)
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("the reserved-key rename of stream `s`: unknown field `nope`")
    );
}

#[test]
fn policy_drops_fields_and_counts_dropped_rows() {
    let plan = Plan::identity("s", Some(&schema()))
        .then_drop_fields(&strings(&["_key_", "not-there"]))
        .then_drop_rows(&strings(&["extra"]));
    assert_eq!(plan.output_schema().unwrap().names(), ["_key", "name"]);
    let data = b"{\"_key\":\"a\",\"_key_\":\"b\",\"extra\":null}\n{\"_key\":\"c\",\"extra\":5}\n{\"_key\":\"d\"}\n";
    let out = plan.apply(data).unwrap();
    assert_eq!(out.data, b"{\"_key\":\"a\"}\n{\"_key\":\"d\"}\n");
    assert_eq!((out.count, out.dropped), (2, 1));
    assert!(
        Plan::identity("s", None)
            .then_drop_fields(&[])
            .then_drop_rows(&[])
            .is_identity()
    );
}

#[test]
fn policy_stages_can_come_before_the_users_steps() {
    let steps: Vec<Step> =
        serde_json::from_value(json!([{"filter": {"field": "name", "op": "is not null"}}]))
            .unwrap();
    let plan = Plan::identity("s", None)
        .then_drop_rows(&strings(&["extra"]))
        .then_steps(0, &steps)
        .unwrap();
    let out = plan
        .apply(b"{\"name\":\"a\",\"extra\":1}\n{\"name\":null}\n{\"name\":\"b\"}\n")
        .unwrap();
    assert_eq!(out.data, b"{\"name\":\"b\"}\n");
    assert_eq!((out.count, out.dropped), (1, 2));
    assert!(plan.output_schema().is_none());
}
