//! Tables from schemas against a real server: every type round trips,
//! schemas evolve (new columns, widenings) or are refused (narrowings),
//! and schemaless streams get their table from the JSON Schema.

#![cfg(not(target_family = "wasm"))]

mod common;

use common::*;
use serde_json::json;
use sluice_guest::{ErrorKind, Field, Operation, Schema, Type, WriteMode};

#[test]
fn every_type_round_trips() {
    let db = Db::new("types");
    let mut w = open(
        &db.config(json!({"metadata": false})),
        catalog(vec![stream("t", WriteMode::Append, &["id"], None)]),
    );
    let schema = Schema::new(vec![
        Field::required("id", Type::Int64),
        Field::optional("flag", Type::Boolean),
        Field::optional("tiny", Type::Int8),
        Field::optional("small", Type::Int16),
        Field::optional("n", Type::Int32),
        Field::optional("f32", Type::Float32),
        Field::optional("f64", Type::Float64),
        Field::optional("raw", Type::Bytes),
        Field::optional("text", Type::String),
        Field::optional("at", Type::Timestamp),
        Field::optional(
            "money",
            Type::Decimal {
                precision: 20,
                scale: 2,
            },
        ),
        Field::optional("tags", Type::Array(Box::new(Type::String))),
        Field::optional("attrs", Type::Map(Box::new(Type::Int64))),
        Field::optional(
            "address",
            Type::Struct(vec![Field::required("city", Type::String)]),
        ),
        Field::optional("either", Type::Union(vec![Type::String, Type::Int64])),
    ]);
    tell(&mut w, "t", &schema);
    let text = "tab\there\nnewline \\backslash 'quote' \"dq\" ünïcødé 🚀 \\N";
    w.write(batch("t", Operation::Insert, at(0), &[
        json!({
            "id": 1, "flag": true, "tiny": -128, "small": 32767, "n": -2147483648,
            "f32": 1.5, "f64": 0.1, "raw": "AAEC/w==", "text": text,
            "at": "2024-02-29T23:59:59.123456+02:00",
            "money": "123456789012345678.99",
            "tags": ["a", "b\tc"], "attrs": {"x": 1}, "address": {"city": "Lisbon \\ O'Neil"},
            "either": 5
        }),
        json!({"id": 2}),
        json!({"id": 3, "flag": false, "text": "", "tags": [], "either": "s", "money": 0.5, "f64": 1e300}),
    ]))
    .unwrap();
    w.commit().unwrap();
    let rows = db.rows(
        "select id, flag, tiny, small, n, f32, f64, encode(raw, 'hex'), text, at, money, \
         tags, attrs, address, either from t order by id",
    );
    assert_eq!(
        rows[0],
        format!(
            "1|t|-128|32767|-2147483648|1.5|0.1|000102ff|{text}|2024-02-29 21:59:59.123456+00|\
             123456789012345678.99|[\"a\", \"b\\tc\"]|{{\"x\": 1}}|{{\"city\": \"Lisbon \\\\ O'Neil\"}}|5"
        )
    );
    assert_eq!(rows[1], "2|-|-|-|-|-|-|-|-|-|-|-|-|-|-");
    assert_eq!(rows[2], "3|f|-|-|-|-|1e+300|-||-|0.50|[]|-|-|\"s\"");
    let types = db.rows(
        "select column_name || ' ' || data_type from information_schema.columns \
         where table_name = 't' order by ordinal_position",
    );
    assert_eq!(
        types,
        [
            "id bigint",
            "flag boolean",
            "tiny smallint",
            "small smallint",
            "n integer",
            "f32 real",
            "f64 double precision",
            "raw bytea",
            "text text",
            "at timestamp with time zone",
            "money numeric",
            "tags jsonb",
            "attrs jsonb",
            "address jsonb",
            "either jsonb"
        ]
    );
    assert_eq!(
        db.one("select numeric_precision || ',' || numeric_scale from information_schema.columns where column_name = 'money'"),
        "20,2"
    );
}

#[test]
fn a_value_that_does_not_fit_is_a_data_error_naming_stream_and_field() {
    let db = Db::new("misfit");
    let mut w = open(
        &db.config(json!({})),
        catalog(vec![stream("t", WriteMode::Append, &["id"], None)]),
    );
    tell(
        &mut w,
        "t",
        &Schema::new(vec![Field::required("id", Type::Int64)]),
    );
    let e = w
        .write(batch(
            "t",
            Operation::Insert,
            at(0),
            &[json!({"id": 1}), json!({"id": 2, "new": 1})],
        ))
        .unwrap_err();
    assert_eq!((e.kind, e.stream.as_deref()), (ErrorKind::Data, Some("t")));
    assert!(e.message.contains("record 2"), "{}", e.message);
    assert!(e.message.contains("field `new`"), "{}", e.message);
    // What only the server can refuse is reported when the COPY ends: at
    // the commit, or at the next batch of another stream.
    w.write(batch("t", Operation::Insert, at(0), &[json!({"id": "x"})]))
        .unwrap();
    let e = w.commit().unwrap_err();
    assert_eq!((e.kind, e.stream.as_deref()), (ErrorKind::Data, Some("t")));
    assert!(e.message.contains("22P02"), "{}", e.message);
    w.write(batch("t", Operation::Insert, at(0), &[json!({"id": null})]))
        .unwrap();
    let e = w.commit().unwrap_err();
    assert_eq!((e.kind, e.stream.as_deref()), (ErrorKind::Data, Some("t")));
    assert!(e.message.contains("column id"), "{}", e.message);
    // Nothing of the failed transactions stays, not even the table.
    assert_eq!(db.rows("select to_regclass('t') is null"), ["t"]);
}

fn orders(amount: Type, coupon: bool) -> Schema {
    let mut fields = vec![
        Field::required("id", Type::Int64),
        Field::required("amount", amount),
    ];
    if coupon {
        fields.push(Field::optional("coupon", Type::String));
    }
    Schema::new(fields)
}

#[test]
fn a_new_schema_adds_columns_and_widens_types_but_never_narrows() {
    for mode in [
        WriteMode::Append,
        WriteMode::AppendDedup,
        WriteMode::History,
        WriteMode::Overwrite,
    ] {
        let name = format!("evolve_{}", format!("{mode:?}").to_lowercase());
        let db = Db::new(&name);
        let cat = || catalog(vec![stream("orders", mode, &["id"], None)]);
        let mut w = open(&db.config(json!({"metadata": false})), cat());
        tell(&mut w, "orders", &orders(Type::Int32, false));
        w.write(batch(
            "orders",
            Operation::Insert,
            at(0),
            &[json!({"id": 1, "amount": 100})],
        ))
        .unwrap();
        // Under the new schema in the same transaction: a bigger amount and
        // a coupon.
        tell(&mut w, "orders", &orders(Type::Int64, true));
        w.write(batch(
            "orders",
            Operation::Insert,
            at(1),
            &[json!({"id": 2, "amount": 5_000_000_000_i64, "coupon": "X"})],
        ))
        .unwrap();
        w.complete("orders").unwrap();
        w.commit().unwrap();
        assert_eq!(
            db.rows("select id, amount, coupon from orders order by id"),
            ["1|100|-", "2|5000000000|X"],
            "{mode:?}"
        );
        assert_eq!(
            db.one("select data_type from information_schema.columns where column_name = 'amount'"),
            "bigint"
        );
        // A new writer told a narrower type refuses it, naming it all.
        let mut w = open(&db.config(json!({"metadata": false})), cat());
        let id = sluice_guest::registry::register("orders", &orders(Type::String, true)).unwrap();
        if mode == WriteMode::Overwrite {
            // Overwrite replaces the table: any schema goes, at the first write.
            w.schema("orders", &id).unwrap();
            continue;
        }
        let e = w.schema("orders", &id).unwrap_err();
        assert_eq!(
            (e.kind, e.stream.as_deref()),
            (ErrorKind::Config, Some("orders")),
            "{mode:?}"
        );
        assert!(
            e.message.contains("table \"public\".\"orders\": column `amount` is bigint and the stream's schema now needs text"),
            "{}",
            e.message
        );
    }
}

#[test]
fn a_stream_without_a_registry_schema_gets_its_table_from_its_json_schema() {
    let db = Db::new("schemaless");
    let mut s = stream("events", WriteMode::Append, &[], None);
    s.schema = json!({
        "type": "object",
        "properties": {"kind": {"type": "string"}, "n": {"type": "integer"}, "at": {"type": "string", "format": "date-time"}},
        "required": ["kind"]
    });
    let mut w = open(&db.config(json!({"schema": "raw"})), catalog(vec![s]));
    w.write(batch(
        "events",
        Operation::Insert,
        at(0),
        &[json!({"kind": "login", "n": 3})],
    ))
    .unwrap();
    w.commit().unwrap();
    assert_eq!(db.rows("select kind, n, at from raw.events"), ["login|3|-"]);
    assert_eq!(
        db.rows("select column_name || ' ' || data_type || ' ' || is_nullable from information_schema.columns where table_name = 'events' order by ordinal_position"),
        ["kind text NO", "n bigint YES", "at timestamp with time zone YES", "_sluice_extracted_at timestamp with time zone YES"]
    );
}
