//! Names that need quoting, and server errors that name the table.
#![cfg(not(target_family = "wasm"))]

mod common;

use common::{Db, full, incremental, read_all};
use serde_json::json;
use sluice_guest::{ErrorKind, Reader, native};
use sluice_source_postgres::Postgres;

#[test]
fn identifiers_that_need_quoting_are_read_incrementally() {
    let db = Db::new("naming_quoted");
    db.sql(
        r#"create schema "Odd Schema";
           create table "Odd Schema"."Mixed ""Case"" T" (
               "Key Id" integer primary key, "when's" timestamptz not null, "a\b" text);
           insert into "Odd Schema"."Mixed ""Case"" T"
             select i, '2024-01-01'::timestamptz + (i / 4) * interval '1 day', 'v' || i
             from generate_series(1, 30) i;"#,
    );
    let config = db.config(json!({"schemas": ["Odd Schema"], "batch_rows": 7}));
    let catalog = native::discover::<Postgres>(&config).unwrap();
    assert_eq!(catalog.streams[0].name, "Mixed \"Case\" T");
    assert_eq!(catalog.streams[0].primary_key, ["Key Id"]);
    let stream = || vec![incremental("Mixed \"Case\" T", "when's")];
    let first = read_all(&config, stream(), vec![]);
    assert_eq!(first.ints("Key Id"), (1..=30).collect::<Vec<i64>>());
    assert_eq!(first.rows[0]["a\\b"], "v1");
    db.sql(r#"insert into "Odd Schema"."Mixed ""Case"" T" values (31, '2024-01-08', 'x');"#);
    let second = read_all(&config, stream(), vec![first.last_state().unwrap()]);
    assert_eq!(second.ints("Key Id"), [31]);
}

#[test]
fn a_table_the_role_may_not_read_fails_naming_it() {
    let db = Db::new("naming_denied");
    db.sql(
        "drop role if exists naming_reader;
         create role naming_reader login password 'reader-pw-1';
         create table secret (id integer primary key);
         insert into secret values (1);",
    );
    let pg = sluice_pg_server::shared();
    let config = json!({
        "host": pg.host(), "port": pg.port(), "user": "naming_reader",
        "password": "reader-pw-1", "database": db.name,
    })
    .to_string();
    let catalog = native::discover::<Postgres>(&config).unwrap();
    assert_eq!(
        catalog.streams[0].name, "secret",
        "listed, though not readable"
    );
    let mut reader = common::open(&config, vec![full("secret")], vec![]);
    let e = loop {
        match reader.next() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("read a table without the privilege"),
            Err(e) => break e,
        }
    };
    assert_eq!(e.kind, ErrorKind::Config, "{e}");
    assert_eq!(e.stream.as_deref(), Some("secret"));
    assert!(e.message.contains("\"public\".\"secret\""), "{e}");
    assert!(e.message.contains("42501"), "{e}");
    assert!(!e.message.contains("reader-pw-1"), "{e}");
}
