//! The step list reads from a real TOML pipeline file.

use serde::Deserialize;
use serde_json::json;
use sluice_transform::{Predicate, Secret, Step, Test};

#[derive(Deserialize)]
struct Pipeline {
    streams: Vec<Stream>,
}

#[derive(Deserialize)]
struct Stream {
    #[allow(dead_code)]
    name: String,
    #[serde(default)]
    transforms: Vec<Step>,
}

const PIPELINE: &str = r#"
[[streams]]
name = "users"

[[streams.transforms]]
rename = { from = "email", to = "email_address" }
[[streams.transforms]]
select = ["id", "name"]
[[streams.transforms]]
drop = ["ssn"]
[[streams.transforms]]
upper = "name"
[[streams.transforms]]
lower = "name"
[[streams.transforms]]
hash = { field = "email", salt = "s3cret" }
[[streams.transforms]]
mask = { field = "card", keep_last = 4 }
[[streams.transforms]]
set = { field = "source", value = "faker" }
[[streams.transforms]]
set = { field = "loaded_at", value = "now()" }
[[streams.transforms]]
filter = { field = "age", op = ">=", value = 18 }
[[streams.transforms]]
filter = { all = [ { field = "age", op = ">=", value = 18 }, { any = [ { field = "country", op = "in", value = ["NL","BE"] }, { field = "vip", op = "is not null" } ] } ] }
[[streams.transforms]]
component = "transforms/my.wasm"
[[streams.transforms]]
component = { path = "transforms/other.wasm", config = { level = 3 } }
"#;

fn s(v: &str) -> String {
    v.to_string()
}

fn cond(field: &str, test: Test) -> Predicate {
    Predicate::Field {
        field: s(field),
        test,
    }
}

#[test]
fn every_step_shape_reads_from_toml() {
    let pipeline: Pipeline = toml::from_str(PIPELINE).unwrap();
    let steps = &pipeline.streams[0].transforms;
    let adult = cond("age", Test::Ge(json!(18)));
    let expected = vec![
        Step::Rename {
            from: s("email"),
            to: s("email_address"),
        },
        Step::Select(vec![s("id"), s("name")]),
        Step::Drop(vec![s("ssn")]),
        Step::Upper(s("name")),
        Step::Lower(s("name")),
        Step::Hash {
            field: s("email"),
            salt: Secret::new("s3cret"),
        },
        Step::Mask {
            field: s("card"),
            keep_last: 4,
        },
        Step::Set {
            field: s("source"),
            value: json!("faker"),
        },
        Step::Set {
            field: s("loaded_at"),
            value: json!("now()"),
        },
        Step::Filter(adult.clone()),
        Step::Filter(Predicate::All(vec![
            adult,
            Predicate::Any(vec![
                cond("country", Test::In(vec![json!("NL"), json!("BE")])),
                cond("vip", Test::IsNotNull),
            ]),
        ])),
        Step::Component {
            path: s("transforms/my.wasm"),
            config: None,
            limits: None,
        },
        Step::Component {
            path: s("transforms/other.wasm"),
            config: Some(json!({"level": 3})),
            limits: None,
        },
    ];
    assert_eq!(steps, &expected);
}

/// The error's message, without TOML's snippet of the source line.
fn toml_error(table: &str) -> String {
    let text = format!("[[streams]]\nname = \"users\"\n[[streams.transforms]]\n{table}\n");
    match toml::from_str::<Pipeline>(&text) {
        Ok(_) => panic!("accepted {table}"),
        Err(e) => e.message().to_string(),
    }
}

#[test]
fn toml_errors_name_the_key() {
    let e = toml_error("uppercase = \"name\"");
    assert!(e.contains("unknown transform `uppercase`"), "{e}");
    let e = toml_error("upper = \"name\"\nlower = \"name\"");
    // The order depends on the TOML map; both keys are named.
    assert!(e.contains("one step key, found `") && e.contains("`upper`") && e.contains("`lower`"));
    let e = toml_error("mask = { field = \"card\", keep = 4 }");
    assert!(e.contains("unknown field `keep`"), "{e}");
    let e = toml_error("filter = { field = \"age\", op = \"=>\", value = 1 }");
    assert!(e.contains("unknown variant `=>`"), "{e}");
    let e = toml_error("hash = { field = \"email\", salt = 987654321 }");
    assert!(
        e.contains("must be a string") && !e.contains("987654321"),
        "{e}"
    );
}
