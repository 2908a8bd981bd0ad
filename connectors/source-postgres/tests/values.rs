//! Exact values: every type the source maps, NULLs, and text that JSON
//! must escape; and the registered schema stamped on the batches.
#![cfg(not(target_family = "wasm"))]

mod common;

use common::{Db, full, read_all};
use serde_json::json;
use sluice_guest::{ConfiguredStream, Schema, registry};

pub const VALUES_TABLE: &str = r#"
create type mood as enum ('sad', 'happy');
create table vals (
    id integer primary key,
    small smallint, big bigint, r real, d double precision,
    price numeric(30,10), free numeric, ok boolean,
    name text, code char(3), u uuid, m mood,
    blob bytea, at timestamptz, local timestamp, day date, clock time,
    doc jsonb, raw json, ints int[], words text[], prices numeric[]
);
insert into vals values
 (1, -32768, 9223372036854775807, 1.5, 0.1, 12345678901234567890.0123456789,
  -0.000000000000000000001, true,
  E'ünï 中文 😀 "q" ''s'' \t tab \n nl \\ bs \r cr', 'ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'happy',
  '\x00ff10', '2024-02-29 23:59:59.123456+05', '2024-01-02 03:04:05', '2024-01-02', '12:34:56.5',
  '{"a": {"b": [1, 2.50, "x\ny"]}, "n": null}', E'{"k" :\n 1}', '{1,NULL,3}', E'{"a b","c\\"d",NULL}',
  '{1.10,2.000000000000000000001}'),
 (2, null, null, 'NaN', '-Infinity', null, 'NaN', false,
  '', null, null, null, '\x', 'infinity', null, null, null,
  '[1, "two"]', 'null', '{}', '{}', null),
 (3, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
  null, null, null, null, null, null);
"#;

#[test]
fn values_are_exact() {
    let db = Db::new("values_exact");
    db.sql(VALUES_TABLE);
    let read = read_all(&db.config(json!({})), vec![full("vals")], vec![]);
    let mut rows = read.rows.clone();
    rows.sort_by_key(|r| r["id"].as_i64());
    assert_eq!(
        rows[0],
        json!({
            "id": 1, "small": -32768, "big": 9223372036854775807_i64, "r": 1.5, "d": 0.1,
            "price": "12345678901234567890.0123456789", "free": "-0.000000000000000000001",
            "ok": true,
            "name": "ünï 中文 😀 \"q\" 's' \t tab \n nl \\ bs \r cr",
            "code": "ab ", "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "m": "happy",
            "blob": "AP8Q", "at": "2024-02-29T18:59:59.123456Z", "local": "2024-01-02T03:04:05Z",
            "day": "2024-01-02", "clock": "12:34:56.5",
            "doc": {"a": {"b": [1, 2.50, "x\ny"]}, "n": null}, "raw": {"k": 1},
            "ints": [1, null, 3], "words": ["a b", "c\"d", null],
            "prices": ["1.10", "2.000000000000000000001"]
        })
    );
    assert_eq!(
        rows[1],
        json!({
            "id": 2, "small": null, "big": null, "r": "NaN", "d": "-Infinity", "price": null,
            "free": "NaN", "ok": false, "name": "", "code": null, "u": null, "m": null,
            "blob": "", "at": "infinity", "local": null, "day": null, "clock": null,
            "doc": [1, "two"], "raw": null, "ints": [], "words": [], "prices": null
        })
    );
    // `raw` json 'null' is the JSON null value, as stored.
    assert!(
        rows[2]
            .as_object()
            .unwrap()
            .iter()
            .all(|(k, v)| k == "id" || v.is_null())
    );
    // Digits survive as text, not through f64.
    let line = String::from_utf8(read.batches[0].data.clone()).unwrap();
    assert!(line.contains("\"d\":0.1,"), "{line}");
    assert!(line.contains("\"big\":9223372036854775807,"), "{line}");
    assert!(line.contains("[1, 2.50, \"x\\ny\"]"), "{line}");
    assert_eq!(line.lines().count(), 3, "one line per row");
}

#[test]
fn batches_carry_the_registered_schema_of_the_selected_fields() {
    let db = Db::new("values_schema");
    db.sql(VALUES_TABLE);
    let stream = ConfiguredStream {
        fields: vec!["price".into(), "id".into(), "blob".into()],
        ..full("vals")
    };
    let read = read_all(&db.config(json!({})), vec![stream], vec![]);
    let id = read.batches[0].schema_id.clone().unwrap();
    let schema: Schema = registry::fetch(&id).unwrap().unwrap();
    assert_eq!(schema.names(), ["id", "price", "blob"]);
    assert_eq!(read.rows[0].as_object().unwrap().len(), 3);
    let mut ids = read.ints("id");
    ids.sort();
    assert_eq!(ids, [1, 2, 3]);
    let r1 = read.rows.iter().find(|r| r["id"] == 1).unwrap();
    assert_eq!(
        r1,
        &json!({"id": 1, "price": "12345678901234567890.0123456789", "blob": "AP8Q"})
    );
}
