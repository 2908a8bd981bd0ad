//! history mode (SCD type 2) against a real server: the exact version
//! chain, unchanged re-sends, stale records, deletes, and re-delivery after
//! a crash.

#![cfg(not(target_family = "wasm"))]

mod common;

use common::*;
use serde_json::{Value, json};
use sluice_guest::{Field, Operation, Schema, Type, WriteMode};

fn users() -> Schema {
    Schema::new(vec![
        Field::required("id", Type::Int64),
        Field::required("name", Type::String),
        Field::required("updated_at", Type::Timestamp),
    ])
}

/// `2024-01-01T00:00:<s>Z`.
fn t(s: u64) -> String {
    format!("2024-01-01T00:{:02}:{:02}Z", s / 60, s % 60)
}

fn user(id: u64, name: &str, s: u64) -> Value {
    json!({"id": id, "name": name, "updated_at": t(s)})
}

/// As the server prints a timestamptz of `t(s)`.
fn pg(s: u64) -> String {
    format!("2024-01-01 00:{:02}:{:02}+00", s / 60, s % 60)
}

const CHAIN: &str =
    "select id, name, _valid_from, _valid_to, _is_current from users order by id, _valid_from";

fn version(id: u64, name: &str, from: u64, to: Option<u64>) -> String {
    let to = to.map_or("-".to_string(), pg);
    let current = if to == "-" { "t" } else { "f" };
    format!("{id}|{name}|{}|{to}|{current}", pg(from))
}

fn by_cursor() -> sluice_guest::ConfiguredCatalog {
    catalog(vec![stream(
        "users",
        WriteMode::History,
        &["id"],
        Some("updated_at"),
    )])
}

#[test]
fn every_version_is_kept_with_exact_validity() {
    let db = Db::new("history_chain");
    let mut w = open(&db.config(json!({})), by_cursor());
    tell(&mut w, "users", &users());
    let insert = |records: &[Value]| batch("users", Operation::Insert, at(0), records);
    w.write(insert(&[
        user(1, "a", 10),
        user(2, "b", 10),
        user(3, "c", 10),
    ]))
    .unwrap();
    w.commit().unwrap();
    // Two versions of one key in one commit; a delete without a cursor
    // value (closed at its extraction time); an identical re-send.
    w.write(insert(&[
        user(1, "a2", 20),
        user(1, "a3", 30),
        user(3, "c", 10),
    ]))
    .unwrap();
    w.write(batch(
        "users",
        Operation::Delete,
        at(40),
        &[json!({"id": 2})],
    ))
    .unwrap();
    w.commit().unwrap();
    // A re-insert after the delete; a stale version (older than the
    // current one); a delete with a cursor value.
    w.write(insert(&[user(2, "b2", 50), user(1, "old", 15)]))
        .unwrap();
    w.write(batch(
        "users",
        Operation::Delete,
        at(99),
        &[json!({"id": 3, "updated_at": t(60)})],
    ))
    .unwrap();
    w.commit().unwrap();
    let expected = [
        version(1, "a", 10, Some(20)),
        version(1, "a2", 20, Some(30)),
        version(1, "a3", 30, None),
        version(2, "b", 10, Some(40)),
        version(2, "b2", 50, None),
        version(3, "c", 10, Some(60)),
    ];
    assert_eq!(db.rows(CHAIN), expected);
    // Deleting a deleted key, or re-sending a stale delete, does nothing.
    w.write(batch(
        "users",
        Operation::Delete,
        at(100),
        &[json!({"id": 3})],
    ))
    .unwrap();
    w.commit().unwrap();
    assert_eq!(db.rows(CHAIN), expected);
    assert_eq!(
        db.one("select pg_get_constraintdef(oid) from pg_constraint where conrelid = 'users'::regclass and contype = 'p'"),
        "PRIMARY KEY (id, _valid_from)"
    );
}

#[test]
fn without_a_timestamp_cursor_versions_start_at_extraction_and_unchanged_records_open_nothing() {
    let db = Db::new("history_extracted");
    let cat = catalog(vec![stream("users", WriteMode::History, &["id"], None)]);
    let mut w = open(
        &db.config(json!({"history": {"valid_from": "vf", "valid_to": "vt", "is_current": "cur"}})),
        cat,
    );
    tell(&mut w, "users", &users());
    let send = |w: &mut sluice_guest::native::HostWriter<_>, s: u64, name: &str| {
        w.write(batch(
            "users",
            Operation::Upsert,
            at(s),
            &[user(1, name, 0)],
        ))
        .unwrap();
        w.commit().unwrap();
    };
    send(&mut w, 100, "x");
    send(&mut w, 200, "x");
    send(&mut w, 300, "y");
    send(&mut w, 400, "y");
    assert_eq!(
        db.rows("select id, name, vf, vt, cur from users order by vf"),
        [version(1, "x", 100, Some(300)), version(1, "y", 300, None)]
    );
}

#[test]
fn redelivery_after_a_crash_creates_no_duplicates() {
    let db = Db::new("history_crash");
    let cfg = db.config(json!({}));
    let first = batch("users", Operation::Insert, at(0), &[user(1, "a", 10)]);
    let rest = [
        batch(
            "users",
            Operation::Insert,
            at(1),
            &[user(1, "b", 20), user(2, "x", 20)],
        ),
        batch(
            "users",
            Operation::Delete,
            at(1),
            &[json!({"id": 2, "updated_at": t(25)})],
        ),
        batch(
            "users",
            Operation::Insert,
            at(1),
            &[user(1, "c", 30), user(1, "c", 30)],
        ),
    ];
    {
        let mut w = open(&cfg, by_cursor());
        tell(&mut w, "users", &users());
        w.write(first.clone()).unwrap();
        w.commit().unwrap();
        for b in &rest {
            w.write(b.clone()).unwrap();
        }
        // Dropped without committing: the process died.
    }
    assert_eq!(db.rows(CHAIN), [version(1, "a", 10, None)]);
    let expected = [
        version(1, "a", 10, Some(20)),
        version(1, "b", 20, Some(30)),
        version(1, "c", 30, None),
        version(2, "x", 20, Some(25)),
    ];
    // The next run resends from an older checkpoint, twice over.
    for _ in 0..2 {
        let mut w = open(&cfg, by_cursor());
        tell(&mut w, "users", &users());
        w.write(first.clone()).unwrap();
        for b in &rest {
            w.write(b.clone()).unwrap();
        }
        w.commit().unwrap();
        assert_eq!(db.rows(CHAIN), expected);
    }
}

#[test]
fn metadata_columns_are_not_compared() {
    let db = Db::new("history_meta");
    let cat = catalog(vec![stream("users", WriteMode::History, &["id"], None)]);
    let mut w = open(&db.config(json!({"metadata": true})), cat);
    tell(&mut w, "users", &users());
    for s in [100, 200] {
        w.write(batch(
            "users",
            Operation::Insert,
            at(s),
            &[user(7, "same", 1)],
        ))
        .unwrap();
        w.commit().unwrap();
    }
    assert_eq!(
        db.rows("select id, _sluice_extracted_at, _valid_to from users"),
        [format!("7|{}|-", pg(100))]
    );
}

#[test]
fn a_delete_without_a_cursor_value_closes_the_version_sent_before_it() {
    // The source's cursor values may lie after the extraction time (as
    // source-faker's later generations do): a delete that carries only
    // the key still applies after the records sent before it.
    let db = Db::new("history_late_delete");
    let mut w = open(&db.config(json!({})), by_cursor());
    tell(&mut w, "users", &users());
    let future =
        |id: u64, name: &str| json!({"id": id, "name": name, "updated_at": "2099-01-01T00:00:00Z"});
    w.write(batch(
        "users",
        Operation::Insert,
        at(0),
        &[user(1, "a", 10), user(2, "b", 10)],
    ))
    .unwrap();
    w.commit().unwrap();
    // In one commit: a future version of 1, then its delete; and a delete
    // of 2 in a later commit, after its future version was committed.
    w.write(batch(
        "users",
        Operation::Insert,
        at(0),
        &[future(1, "a2"), future(2, "b2")],
    ))
    .unwrap();
    w.write(batch(
        "users",
        Operation::Delete,
        at(5),
        &[json!({"id": 1})],
    ))
    .unwrap();
    w.commit().unwrap();
    w.write(batch(
        "users",
        Operation::Delete,
        at(6),
        &[json!({"id": 2})],
    ))
    .unwrap();
    w.commit().unwrap();
    let f = "2099-01-01 00:00:00+00";
    assert_eq!(
        db.rows(CHAIN),
        [
            format!("1|a|{}|{f}|f", pg(10)),
            format!("1|a2|{f}|{f}|f"),
            format!("2|b|{}|{f}|f", pg(10)),
            format!("2|b2|{f}|{f}|f"),
        ]
    );
}
