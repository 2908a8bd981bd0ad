//! Every step on exact output bytes and the exact output schema.

use serde_json::{Value, json};
use sluice_schema::{Field, Schema, Type};
use sluice_transform::{Plan, Step};

fn users() -> Schema {
    Schema::new(vec![
        Field::required("id", Type::Int64),
        Field::optional("name", Type::String),
        Field::required("email", Type::String),
        Field::optional("age", Type::Int64),
    ])
}

const ROWS: &[u8] = b"{\"id\":1,\"name\":\"Ada\",\"email\":\"ada@example.com\",\"age\":36}\n\
{\"id\":2,\"name\":null,\"email\":\"bob@example.com\",\"age\":17}\n";

fn steps(v: Value) -> Vec<Step> {
    serde_json::from_value(v).unwrap()
}

/// The output bytes as text and the output schema.
fn run(v: Value, data: &[u8]) -> (String, Schema) {
    let plan = Plan::new("users", &steps(v), Some(&users())).unwrap();
    let out = plan.apply(data).unwrap();
    assert_eq!(out.count + out.dropped, 2);
    (
        String::from_utf8(out.data).unwrap(),
        plan.output_schema().unwrap().clone(),
    )
}

fn sha(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[test]
fn rename_keeps_the_position() {
    let (out, schema) = run(json!([{"rename": {"from": "email", "to": "mail"}}]), ROWS);
    assert_eq!(
        out,
        "{\"id\":1,\"name\":\"Ada\",\"mail\":\"ada@example.com\",\"age\":36}\n\
         {\"id\":2,\"name\":null,\"mail\":\"bob@example.com\",\"age\":17}\n"
    );
    assert_eq!(schema.names(), ["id", "name", "mail", "age"]);
    assert_eq!(schema.fields[2], Field::required("mail", Type::String));
}

#[test]
fn select_keeps_the_listed_order_and_drop_removes() {
    let (out, schema) = run(json!([{"select": ["email", "id"]}]), ROWS);
    assert_eq!(
        out,
        "{\"email\":\"ada@example.com\",\"id\":1}\n{\"email\":\"bob@example.com\",\"id\":2}\n"
    );
    let expected = vec![
        Field::required("email", Type::String),
        Field::required("id", Type::Int64),
    ];
    assert_eq!(schema, Schema::new(expected));
    let (out, schema) = run(json!([{"drop": ["email", "age"]}]), ROWS);
    assert_eq!(
        out,
        "{\"id\":1,\"name\":\"Ada\"}\n{\"id\":2,\"name\":null}\n"
    );
    assert_eq!(schema.names(), ["id", "name"]);
}

#[test]
fn upper_and_lower_change_strings_only() {
    let (out, schema) = run(
        json!([{"upper": "name"}, {"lower": "email"}, {"select": ["name", "email"]}]),
        b"{\"name\":\"Ada\",\"email\":\"Ada@X.com\"}\n{\"name\":null,\"email\":\"B\"}\n",
    );
    assert_eq!(
        out,
        "{\"name\":\"ADA\",\"email\":\"ada@x.com\"}\n{\"name\":null,\"email\":\"b\"}\n"
    );
    let expected = vec![
        Field::optional("name", Type::String),
        Field::required("email", Type::String),
    ];
    assert_eq!(schema, Schema::new(expected));
    // A schemaless stream may carry a number there: it is left unchanged.
    let plan = Plan::new("s", &steps(json!([{"upper": "name"}])), None).unwrap();
    let out = plan.apply(b"{\"name\":42}\n").unwrap();
    assert_eq!(out.data, b"{\"name\":42}\n");
}

#[test]
fn lower_alone_keeps_every_field_and_its_type() {
    let (out, schema) = run(json!([{"lower": "email"}, {"lower": "name"}]), ROWS);
    assert_eq!(
        out,
        "{\"id\":1,\"name\":\"ada\",\"email\":\"ada@example.com\",\"age\":36}\n\
         {\"id\":2,\"name\":null,\"email\":\"bob@example.com\",\"age\":17}\n"
    );
    assert_eq!(schema, users());
}

#[test]
fn hash_is_the_hex_sha256_of_salt_and_text() {
    let (out, schema) = run(
        json!([{"hash": {"field": "email", "salt": "s3cret"}}, {"hash": {"field": "age", "salt": "s3cret"}}, {"select": ["email", "age"]}]),
        ROWS,
    );
    let expected = format!(
        "{{\"email\":\"{}\",\"age\":\"{}\"}}\n{{\"email\":\"{}\",\"age\":\"{}\"}}\n",
        sha("s3cretada@example.com"),
        sha("s3cret36"),
        sha("s3cretbob@example.com"),
        sha("s3cret17")
    );
    assert_eq!(out, expected);
    let expected = vec![
        Field::required("email", Type::String),
        Field::optional("age", Type::String),
    ];
    assert_eq!(schema, Schema::new(expected));
    // Null stays null.
    let plan = Plan::new(
        "s",
        &steps(json!([{"hash": {"field": "a", "salt": "x"}}])),
        None,
    )
    .unwrap();
    assert_eq!(
        plan.apply(b"{\"a\":null}\n").unwrap().data,
        b"{\"a\":null}\n"
    );
}

#[test]
fn mask_keeps_the_last_characters() {
    let data = b"{\"id\":4111111111111234}\n{\"id\":12}\n";
    let (out, schema) = run(
        json!([{"mask": {"field": "id", "keep_last": 4}}, {"select": ["id"]}]),
        data,
    );
    assert_eq!(out, "{\"id\":\"************1234\"}\n{\"id\":\"**\"}\n");
    assert_eq!(
        schema,
        Schema::new(vec![Field::required("id", Type::String)])
    );
}

#[test]
fn set_adds_or_replaces_with_the_constant_type() {
    let v = json!([
        {"set": {"field": "source", "value": "faker"}},
        {"set": {"field": "age", "value": 1.5}},
        {"set": {"field": "ok", "value": true}},
        {"set": {"field": "n", "value": 7}},
        {"set": {"field": "tags", "value": ["a", 1]}},
        {"set": {"field": "name", "value": null}},
        {"select": ["source", "age", "ok", "n", "tags", "name"]}
    ]);
    let (out, schema) = run(v, ROWS);
    let line =
        "{\"source\":\"faker\",\"age\":1.5,\"ok\":true,\"n\":7,\"tags\":[\"a\",1],\"name\":null}\n";
    assert_eq!(out, format!("{line}{line}"));
    let tags = Type::Array(Box::new(Type::Union(vec![Type::String, Type::Int64])));
    let expected = vec![
        Field::required("source", Type::String),
        Field::required("age", Type::Float64),
        Field::required("ok", Type::Boolean),
        Field::required("n", Type::Int64),
        Field::required("tags", tags),
        Field::optional("name", Type::String),
    ];
    assert_eq!(schema, Schema::new(expected));
}

#[test]
fn set_now_writes_one_rfc3339_utc_time_per_batch() {
    let (out, schema) = run(
        json!([{"set": {"field": "at", "value": "now()"}}, {"select": ["at"]}]),
        ROWS,
    );
    assert_eq!(
        schema,
        Schema::new(vec![Field::required("at", Type::Timestamp)])
    );
    let times: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["at"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(times.len(), 2);
    assert_eq!(times[0], times[1]);
    assert_rfc3339(&times[0]);
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` with plausible ranges.
fn assert_rfc3339(t: &str) {
    let b = t.as_bytes();
    assert_eq!(b.len(), 27, "{t}");
    for (i, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ] {
        assert_eq!(b[i], c, "{t}");
    }
    let num = |r: std::ops::Range<usize>| t[r].parse::<u32>().unwrap();
    assert!(num(0..4) >= 2024);
    assert!((1..=12).contains(&num(5..7)) && (1..=31).contains(&num(8..10)));
    assert!(num(11..13) < 24 && num(14..16) < 60 && num(17..19) < 61);
    num(20..26);
}

#[test]
fn filter_drops_and_counts_and_keeps_the_schema() {
    let plan = Plan::new(
        "users",
        &steps(json!([{"filter": {"field": "age", "op": ">=", "value": 18}}])),
        Some(&users()),
    )
    .unwrap();
    let out = plan.apply(ROWS).unwrap();
    assert_eq!(
        out.data,
        b"{\"id\":1,\"name\":\"Ada\",\"email\":\"ada@example.com\",\"age\":36}\n"
    );
    assert_eq!((out.count, out.dropped), (1, 1));
    assert_eq!(plan.output_schema(), Some(&users()));
}

#[test]
fn filter_combinations() {
    let f = json!([{"filter": {"all": [
        {"field": "age", "op": ">=", "value": 18},
        {"any": [
            {"field": "country", "op": "in", "value": ["NL", "BE"]},
            {"field": "vip", "op": "is not null"}
        ]}
    ]}}, {"select": ["id"]}]);
    let plan = Plan::new("s", &steps(f), None).unwrap();
    let data = b"{\"id\":1,\"age\":20,\"country\":\"NL\"}\n{\"id\":2,\"age\":20,\"country\":\"DE\"}\n\
{\"id\":3,\"age\":20,\"vip\":false}\n{\"id\":4,\"age\":\"20\",\"country\":\"BE\"}\n{\"id\":5,\"country\":\"BE\"}\n";
    let out = plan.apply(data).unwrap();
    assert_eq!(out.data, b"{\"id\":1}\n{\"id\":3}\n");
    assert_eq!((out.count, out.dropped), (2, 3));
}

#[test]
fn steps_see_the_schema_of_the_steps_before() {
    let v = json!([
        {"rename": {"from": "email", "to": "mail"}},
        {"hash": {"field": "mail", "salt": "k"}},
        {"select": ["id", "mail"]},
        {"filter": {"field": "mail", "op": "is not null"}}
    ]);
    let (out, schema) = run(
        v,
        b"{\"id\":1,\"email\":\"a\",\"name\":\"x\"}\n{\"id\":2,\"email\":\"b\"}\n",
    );
    assert_eq!(
        out,
        format!(
            "{{\"id\":1,\"mail\":\"{}\"}}\n{{\"id\":2,\"mail\":\"{}\"}}\n",
            sha("ka"),
            sha("kb")
        )
    );
    assert_eq!(schema.names(), ["id", "mail"]);
}

#[test]
fn a_schemaless_stream_has_no_output_schema() {
    let plan = Plan::new("s", &steps(json!([{"drop": ["x"]}])), None).unwrap();
    assert!(plan.output_schema().is_none());
    assert!(!plan.is_identity());
    assert_eq!(
        plan.apply(b"{\"x\":1,\"y\":2}").unwrap().data,
        b"{\"y\":2}\n"
    );
    assert!(Plan::new("s", &[], None).unwrap().is_identity());
}
