//! append, overwrite and append_dedup against a real server: exact table
//! contents after each commit, refusals, and overwrite atomicity.

#![cfg(not(target_family = "wasm"))]

mod common;

use common::*;
use serde_json::json;
use sluice_guest::{ErrorKind, Field, Operation, Schema, Type, WriteMode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

fn users() -> Schema {
    Schema::new(vec![
        Field::required("id", Type::Int64),
        Field::required("name", Type::String),
        Field::optional("age", Type::Int32),
    ])
}

const NO_META: fn() -> serde_json::Value = || json!({"metadata": false});

#[test]
fn append_adds_every_record_and_refuses_deletes() {
    let db = Db::new("append");
    let cfg = db.config(json!({}));
    let mut w = open(
        &cfg,
        catalog(vec![stream("users", WriteMode::Append, &["id"], None)]),
    );
    tell(&mut w, "users", &users());
    w.write(batch(
        "users",
        Operation::Insert,
        at(0),
        &[
            json!({"id": 1, "name": "a", "age": 30}),
            json!({"id": 2, "name": "b"}),
        ],
    ))
    .unwrap();
    // Nothing is visible before the commit, not even the new table.
    assert_eq!(db.rows("select to_regclass('users') is null"), ["t"]);
    w.commit().unwrap();
    w.write(batch(
        "users",
        Operation::Insert,
        at(1),
        &[json!({"id": 3, "name": "c", "age": null})],
    ))
    .unwrap();
    w.commit().unwrap();
    assert_eq!(
        db.rows("select id, name, age, _sluice_extracted_at from users order by id"),
        [
            "1|a|30|2024-01-01 00:00:00+00",
            "2|b|-|2024-01-01 00:00:00+00",
            "3|c|-|2024-01-01 00:00:01+00"
        ]
    );
    let e = w
        .write(batch(
            "users",
            Operation::Delete,
            at(2),
            &[json!({"id": 1})],
        ))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Data);
    assert_eq!(e.stream.as_deref(), Some("users"));
    assert!(
        e.message
            .contains("append mode, which cannot apply deletes"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("append_dedup or history"),
        "{}",
        e.message
    );
    // The table is logged, and has no key constraint: appending keeps
    // every record, one sent again too (generations, re-deliveries).
    assert_eq!(
        db.one("select relpersistence from pg_class where relname = 'users'"),
        "p"
    );
    w.write(batch(
        "users",
        Operation::Insert,
        at(3),
        &[json!({"id": 1, "name": "again"})],
    ))
    .unwrap();
    w.commit().unwrap();
    assert_eq!(
        db.rows("select id, name from users where id = 1 order by name"),
        ["1|a", "1|again"]
    );
    assert_eq!(
        db.rows("select count(*) from pg_constraint where conrelid = 'users'::regclass"),
        ["0"]
    );
    // A row the server refuses fails the commit, naming the stream, and
    // nothing of that transaction stays; the writer goes on.
    for records in [
        vec![json!({"id": 9, "name": "z"})],
        vec![json!({"id": 10, "name": null})],
    ] {
        w.write(batch("users", Operation::Insert, at(4), &records))
            .unwrap();
    }
    let e = w.commit().unwrap_err();
    assert_eq!(
        (e.kind, e.stream.as_deref()),
        (ErrorKind::Data, Some("users"))
    );
    assert!(e.message.contains("23502"), "{}", e.message);
    assert_eq!(db.rows("select count(*) from users"), ["4"]);
    w.write(batch(
        "users",
        Operation::Insert,
        at(5),
        &[json!({"id": 9, "name": "z"})],
    ))
    .unwrap();
    w.commit().unwrap();
    assert_eq!(db.rows("select count(*) from users"), ["5"]);
}

#[test]
fn append_dedup_keeps_the_last_record_per_key() {
    let db = Db::new("dedup");
    let cfg = db.config(NO_META());
    let mut w = open(
        &cfg,
        catalog(vec![stream("users", WriteMode::AppendDedup, &["id"], None)]),
    );
    tell(&mut w, "users", &users());
    w.write(batch(
        "users",
        Operation::Insert,
        at(0),
        &[
            json!({"id": 1, "name": "a"}),
            json!({"id": 2, "name": "b"}),
            json!({"id": 3, "name": "c"}),
        ],
    ))
    .unwrap();
    w.commit().unwrap();
    assert_eq!(
        db.rows("select id, name from users order by id"),
        ["1|a", "2|b", "3|c"]
    );
    // Many updates of one key in one commit: the last one wins; a delete
    // then a re-insert of another key leaves the re-insert; a key updated
    // then deleted is gone.
    let mut updates: Vec<_> = (0..500)
        .map(|i| json!({"id": 1, "name": format!("a{i}"), "age": i}))
        .collect();
    updates.push(json!({"id": 4, "name": "d"}));
    w.write(batch("users", Operation::Update, at(1), &updates))
        .unwrap();
    w.write(batch(
        "users",
        Operation::Delete,
        at(1),
        &[json!({"id": 2}), json!({"id": 3})],
    ))
    .unwrap();
    w.write(batch(
        "users",
        Operation::Upsert,
        at(1),
        &[json!({"id": 2, "name": "b2"})],
    ))
    .unwrap();
    w.commit().unwrap();
    assert_eq!(
        db.rows("select id, name, age from users order by id"),
        ["1|a499|499", "2|b2|-", "4|d|-"]
    );
    // A commit with only deletes, one of a key that does not exist.
    w.write(batch(
        "users",
        Operation::Delete,
        at(2),
        &[json!({"id": 4}), json!({"id": 99})],
    ))
    .unwrap();
    w.commit().unwrap();
    assert_eq!(db.rows("select id from users order by id"), ["1", "2"]);
    // Re-sending the same records changes nothing.
    w.write(batch(
        "users",
        Operation::Upsert,
        at(3),
        &[json!({"id": 2, "name": "b2"})],
    ))
    .unwrap();
    w.commit().unwrap();
    assert_eq!(
        db.rows("select id, name from users order by id"),
        ["1|a499", "2|b2"]
    );
}

#[test]
fn append_dedup_without_a_primary_key_is_a_config_error() {
    let db = Db::new("dedup_nokey");
    let cfg = db.config(json!({}));
    let cat = catalog(vec![stream("events", WriteMode::AppendDedup, &[], None)]);
    let Err(e) =
        sluice_guest::native::open_writer::<sluice_dest_postgres::PostgresDestination>(&cfg, cat)
    else {
        panic!("opened");
    };
    assert_eq!(e.kind, ErrorKind::Config);
    assert_eq!(e.stream.as_deref(), Some("events"));
    assert!(e.message.contains("stream `events`"), "{}", e.message);
    assert!(e.message.contains("primary key"), "{}", e.message);
}

#[test]
fn overwrite_replaces_the_table_at_the_commit_after_complete() {
    let db = Db::new("overwrite");
    let cfg = db.config(NO_META());
    let cat = || catalog(vec![stream("users", WriteMode::Overwrite, &["id"], None)]);
    let mut w = open(&cfg, cat());
    tell(&mut w, "users", &users());
    w.write(batch(
        "users",
        Operation::Insert,
        at(0),
        &[json!({"id": 1, "name": "a"})],
    ))
    .unwrap();
    w.commit().unwrap();
    // Loaded but not complete: the table is still empty.
    assert_eq!(db.rows("select count(*) from users"), ["0"]);
    w.write(batch(
        "users",
        Operation::Insert,
        at(0),
        &[json!({"id": 2, "name": "b"})],
    ))
    .unwrap();
    w.complete("users").unwrap();
    w.commit().unwrap();
    assert_eq!(
        db.rows("select id, name from users order by id"),
        ["1|a", "2|b"]
    );
    assert_eq!(
        db.rows("select to_regclass('users__sluice_load') is null"),
        ["t"]
    );
    assert_eq!(
        db.rows("select conname from pg_constraint where conrelid = 'users'::regclass"),
        ["users_pkey"]
    );
    // The next run replaces those rows; a leftover load table from a
    // failed run is dropped first.
    db.client()
        .batch_execute("create table users__sluice_load (junk int)")
        .unwrap();
    let mut w = open(&cfg, cat());
    tell(&mut w, "users", &users());
    w.write(batch(
        "users",
        Operation::Insert,
        at(5),
        &[json!({"id": 3, "name": "c"})],
    ))
    .unwrap();
    let e = w
        .write(batch(
            "users",
            Operation::Delete,
            at(5),
            &[json!({"id": 3})],
        ))
        .unwrap_err();
    assert_eq!(
        (e.kind, e.stream.as_deref()),
        (ErrorKind::Data, Some("users"))
    );
    assert!(
        e.message
            .contains("overwrite mode, which cannot apply deletes"),
        "{}",
        e.message
    );
    w.write(batch(
        "users",
        Operation::Insert,
        at(5),
        &[json!({"id": 3, "name": "c"})],
    ))
    .unwrap();
    w.complete("users").unwrap();
    w.commit().unwrap();
    assert_eq!(db.rows("select id, name from users order by id"), ["3|c"]);
    // A complete stream that had no rows in its run leaves an empty table.
    let mut w = open(&cfg, cat());
    tell(&mut w, "users", &users());
    w.complete("users").unwrap();
    w.commit().unwrap();
    assert_eq!(db.rows("select count(*) from users"), ["0"]);
}

#[test]
fn overwrite_readers_see_the_old_rows_or_the_new_never_a_mix() {
    let db = Db::new("overwrite_atomic");
    let cfg = db.config(json!({}));
    let cat = || catalog(vec![stream("users", WriteMode::Overwrite, &["id"], None)]);
    let load = |n: u64, commits: u64| {
        let mut w = open(&cfg, cat());
        tell(&mut w, "users", &users());
        let per = n / commits;
        for c in 0..commits {
            let records: Vec<_> = (c * per..(c + 1) * per)
                .map(|i| json!({"id": i, "name": format!("user {i}")}))
                .collect();
            w.write(batch("users", Operation::Insert, at(c), &records))
                .unwrap();
            if c + 1 == commits {
                w.complete("users").unwrap();
            }
            w.commit().unwrap();
        }
    };
    load(1000, 1);
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let (stop, seen) = (stop.clone(), seen.clone());
        let mut client = db.client();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let rows = client.query("select count(*) from users", &[]).unwrap();
                seen.lock()
                    .unwrap()
                    .push(rows.get(0, 0).unwrap().to_string());
            }
        })
    };
    // Two more runs of 5 commits each: 30 000 rows, then 20 000.
    load(30_000, 5);
    load(20_000, 5);
    stop.store(true, Ordering::SeqCst);
    reader.join().unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen.len() > 10, "the reader polled {} times", seen.len());
    let odd: Vec<&String> = seen
        .iter()
        .filter(|c| !["1000", "30000", "20000"].contains(&c.as_str()))
        .collect();
    assert!(odd.is_empty(), "a reader saw a half-loaded table: {odd:?}");
    assert!(seen.contains(&"30000".to_string()) || seen.contains(&"20000".to_string()));
}
