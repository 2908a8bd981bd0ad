//! source-faker into the writer natively, as a pipeline would drive it:
//! generations of changes, deletes, and schema version 2 (a widened
//! column, a new one) across runs, then a full re-delivery.

#![cfg(not(target_family = "wasm"))]

mod common;

use common::*;
use serde_json::json;
use sluice_guest::{ConfiguredCatalog, Message, Reader, WriteMode, native};
use sluice_source_faker::Faker;

fn faker_catalog() -> ConfiguredCatalog {
    catalog(vec![
        stream("users", WriteMode::AppendDedup, &["id"], Some("updated_at")),
        stream("orders", WriteMode::History, &["id"], Some("updated_at")),
        stream("events", WriteMode::Append, &["id"], Some("occurred_at")),
    ])
}

/// One run: every batch of the source through the writer, committing at
/// each state checkpoint as the host does; the run's last state.
fn run(
    db: &Db,
    source: serde_json::Value,
    state: Vec<sluice_guest::StreamState>,
) -> Vec<sluice_guest::StreamState> {
    let mut reader =
        native::read::<Faker>(&source.to_string(), faker_catalog(), state.clone()).unwrap();
    let mut w = open(&db.config(json!({})), faker_catalog());
    let mut told = std::collections::HashSet::new();
    let mut saved = state;
    while let Some(messages) = reader.next().unwrap() {
        for m in messages {
            match m {
                Message::Records(b) => {
                    if let Some(id) = b.schema_id.clone()
                        && told.insert((b.stream.clone(), id.clone()))
                    {
                        w.schema(&b.stream, &id).unwrap();
                    }
                    w.write(b).unwrap();
                }
                Message::State(s) => {
                    w.commit().unwrap();
                    saved.retain(|x| x.stream != s.stream);
                    saved.push(s);
                }
                _ => {}
            }
        }
    }
    for s in ["users", "orders", "events"] {
        w.complete(s).unwrap();
    }
    w.commit().unwrap();
    saved
}

fn counts(db: &Db) -> String {
    db.one(
        "select (select count(*) from users) || ' ' || (select count(*) from orders) || ' ' || \
         (select count(*) from orders where _is_current) || ' ' || (select count(*) from events)",
    )
}

#[test]
fn generations_deletes_and_a_new_schema_version_land_exactly() {
    let db = Db::new("faker");
    let source = |generation: u64, version: u64| json!({"count": 300, "batch_size": 50, "delete_every": 10, "generation": generation, "schema_version": version});
    let state = run(&db, source(0, 1), vec![]);
    // 30 users and orders deleted; every order has one version.
    assert_eq!(counts(&db), "270 300 270 300");
    run(&db, source(1, 2), state);
    // Generation 1 changes ids ending in 01: 3 users, 3 new order versions.
    assert_eq!(counts(&db), "270 303 270 300");
    assert_eq!(
        db.rows("select id, version from users where id in (1, 101, 201, 2) order by id"),
        ["1|1", "2|0", "101|1", "201|1"]
    );
    assert_eq!(
        db.one("select data_type from information_schema.columns where table_name = 'orders' and column_name = 'amount_cents'"),
        "bigint"
    );
    assert_eq!(db.rows("select count(*) from orders where id = 101"), ["2"]);
    // Everything again from scratch (state lost after the destination
    // committed): the upserted and versioned streams do not change.
    let source = source(1, 2);
    let before = db.rows("select * from orders order by id, _valid_from");
    let users = db.rows("select id, name, version, updated_at from users order by id");
    let mut reader = native::read::<Faker>(
        &source.to_string(),
        catalog(faker_catalog().streams[..2].to_vec()),
        vec![],
    )
    .unwrap();
    let mut w = open(&db.config(json!({})), faker_catalog());
    while let Some(messages) = reader.next().unwrap() {
        for m in messages {
            if let Message::Records(b) = m {
                if let Some(id) = b.schema_id.clone() {
                    w.schema(&b.stream, &id).unwrap();
                }
                w.write(b).unwrap();
            }
        }
    }
    w.commit().unwrap();
    assert_eq!(
        db.rows("select * from orders order by id, _valid_from"),
        before
    );
    assert_eq!(
        db.rows("select id, name, version, updated_at from users order by id"),
        users
    );
}
