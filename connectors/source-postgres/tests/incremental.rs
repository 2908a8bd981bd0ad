//! Incremental reads: bookmarks of (cursor, key), ties, rows committed
//! while a run reads, bulk updates, runs stopped inside a tie.
#![cfg(not(target_family = "wasm"))]

mod common;

use common::{Db, Read, incremental, open, read_all, step};
use serde_json::json;
use sluice_guest::StreamState;
use sluice_source_postgres::Bookmark;

fn events(db: &Db, rows: usize) {
    db.sql(&format!(
        "create table ev (id serial primary key, updated_at timestamptz not null, v text);
         insert into ev (updated_at, v)
           select '2024-01-01'::timestamptz + i * interval '1 minute', 'v' || i
           from generate_series(1, {rows}) i;"
    ));
}

fn bookmark(state: &StreamState) -> Bookmark {
    serde_json::from_value(state.state.clone()).unwrap()
}

#[test]
fn only_new_rows_are_read_including_ties_with_the_bookmark() {
    let db = Db::new("inc_new");
    events(&db, 10);
    let config = db.config(json!({"batch_rows": 4}));
    let stream = || vec![incremental("ev", "updated_at")];
    let first = read_all(&config, stream(), vec![]);
    assert_eq!(first.ints("id"), (1..=10).collect::<Vec<i64>>());
    // A checkpoint after every batch: 4, 8, 10.
    assert_eq!(first.states.len(), 3);
    let last = first.last_state().unwrap();
    assert_eq!(
        bookmark(&last),
        Bookmark {
            cursor_field: "updated_at".into(),
            cursor: "2024-01-01 00:10:00+00".into(),
            key: vec!["10".into()],
        }
    );
    // Same cursor as the bookmark (a tie, later key), and a newer one.
    db.sql(
        "insert into ev (updated_at, v) values ('2024-01-01 00:10:00+00', 'tie'), ('2024-01-02', 'new');",
    );
    let second = read_all(&config, stream(), vec![last]);
    assert_eq!(second.ints("id"), [11, 12]);
    let third = read_all(&config, stream(), vec![second.last_state().unwrap()]);
    assert!(third.rows.is_empty());
    assert!(third.states.is_empty(), "no rows, no new checkpoint");
}

#[test]
fn an_integer_cursor_works_the_same() {
    let db = Db::new("inc_int");
    db.sql(
        "create table seqs (id integer primary key, seq bigint);
         insert into seqs select i, i / 3 from generate_series(1, 20) i;
         insert into seqs values (21, null);",
    );
    let config = db.config(json!({"batch_rows": 5}));
    let first = read_all(&config, vec![incremental("seqs", "seq")], vec![]);
    // Rows without a cursor value are not read incrementally.
    assert_eq!(first.ints("id"), (1..=20).collect::<Vec<i64>>());
    db.sql("insert into seqs values (22, 6), (23, 7);");
    let second = read_all(
        &config,
        vec![incremental("seqs", "seq")],
        vec![first.last_state().unwrap()],
    );
    assert_eq!(second.ints("id"), [22, 23]);
}

#[test]
fn a_row_committed_at_the_boundary_during_a_run_is_read_by_the_next() {
    let db = Db::new("inc_inflight");
    events(&db, 20);
    let config = db.config(json!({"batch_rows": 5}));
    let mut reader = open(&config, vec![incremental("ev", "updated_at")], vec![]);
    let mut read = Read::default();
    assert!(step(&mut reader, &mut read));
    assert!(step(&mut reader, &mut read));
    // Committed between two next() calls, with the run's boundary value
    // (the largest cursor of its snapshot) and with the last bookmark's.
    db.sql(
        "insert into ev (updated_at, v) values
           ('2024-01-01 00:20:00+00', 'at the bound'),
           ('2024-01-01 00:05:00+00', 'at the first checkpoint');",
    );
    while step(&mut reader, &mut read) {}
    assert_eq!(read.ints("id"), (1..=20).collect::<Vec<i64>>());
    let state = read.last_state().unwrap();
    assert_eq!(bookmark(&state).cursor, "2024-01-01 00:20:00+00");
    let next = read_all(&config, vec![incremental("ev", "updated_at")], vec![state]);
    // The row at the bound is picked up; the one far behind the bookmark
    // is not (a cursor must not go back in time; see the docs).
    assert_eq!(next.ints("id"), [21]);
    assert_eq!(next.rows[0]["v"], "at the bound");
}

#[test]
fn a_bulk_update_to_one_timestamp_moves_once_then_never() {
    let db = Db::new("inc_bulk");
    db.sql(
        "create table big (id integer primary key, updated_at timestamptz not null, v integer);
         insert into big select i, '2024-01-01'::timestamptz + i * interval '1 second', 0
           from generate_series(1, 100000) i;",
    );
    let config = db.config(json!({}));
    let stream = || vec![incremental("big", "updated_at")];
    let first = read_all(&config, stream(), vec![]);
    assert_eq!(first.rows.len(), 100_000);
    db.sql("update big set updated_at = '2030-01-01', v = 1;");
    let second = read_all(&config, stream(), vec![first.last_state().unwrap()]);
    assert_eq!(second.batches.len(), 10, "10 000 rows per batch");
    assert!(second.batches.iter().all(|b| b.count <= 10_000));
    let mut ids = second.ints("id");
    ids.sort();
    assert_eq!(ids, (1..=100_000).collect::<Vec<i64>>(), "each row once");
    assert!(second.rows.iter().all(|r| r["v"] == 1));
    let third = read_all(&config, stream(), vec![second.last_state().unwrap()]);
    assert!(
        third.rows.is_empty(),
        "{} rows moved again",
        third.rows.len()
    );
}

#[test]
fn a_run_stopped_inside_a_tie_resumes_without_skipping_or_repeating() {
    let db = Db::new("inc_tie");
    db.sql(
        "create table tie (id integer primary key, updated_at timestamptz not null);
         insert into tie select i, '2024-01-01' from generate_series(1, 10) i;
         insert into tie select i, '2024-01-02' from generate_series(11, 15) i;",
    );
    let config = db.config(json!({"batch_rows": 3}));
    let stream = || vec![incremental("tie", "updated_at")];
    for stop_after in 1..=4 {
        // Stop after `stop_after` batches (checkpoints inside the tie).
        let mut reader = open(&config, stream(), vec![]);
        let mut before = Read::default();
        while before.states.len() < stop_after {
            assert!(step(&mut reader, &mut before));
        }
        drop(reader);
        let state = before.last_state().unwrap();
        let after = read_all(&config, stream(), vec![state]);
        let mut ids = before.ints("id");
        ids.extend(after.ints("id"));
        assert_eq!(
            ids,
            (1..=15).collect::<Vec<i64>>(),
            "stopped after {stop_after}"
        );
    }
}

#[test]
fn ties_break_on_every_column_of_a_composite_key() {
    let db = Db::new("inc_composite");
    db.sql(
        "create table lines (o integer, n integer, updated_at timestamptz not null,
                             primary key (o, n));
         insert into lines select o, n, '2024-01-01' from generate_series(1, 4) o,
           generate_series(1, 5) n;",
    );
    let config = db.config(json!({"batch_rows": 3}));
    let stream = || vec![incremental("lines", "updated_at")];
    let mut reader = open(&config, stream(), vec![]);
    let mut before = Read::default();
    while before.states.len() < 3 {
        assert!(step(&mut reader, &mut before));
    }
    drop(reader);
    let state = before.last_state().unwrap();
    assert_eq!(bookmark(&state).key, ["2", "4"]);
    let after = read_all(&config, stream(), vec![state]);
    let pairs: Vec<(i64, i64)> = before
        .rows
        .iter()
        .chain(&after.rows)
        .map(|r| (r["o"].as_i64().unwrap(), r["n"].as_i64().unwrap()))
        .collect();
    let expected: Vec<(i64, i64)> = (1..=4).flat_map(|o| (1..=5).map(move |n| (o, n))).collect();
    assert_eq!(pairs, expected);
}

#[test]
fn incremental_needs_a_key_and_a_cursor_column() {
    let db = Db::new("inc_errors");
    db.sql("create table nk (a integer, at timestamptz); create table k (id integer primary key);");
    let config = db.config(json!({}));
    let catalog = |s| sluice_guest::ConfiguredCatalog { streams: vec![s] };
    let read = |s| {
        sluice_guest::native::read::<sluice_source_postgres::Postgres>(&config, catalog(s), vec![])
    };
    let Err(e) = read(incremental("nk", "at")) else {
        panic!("no key")
    };
    assert!(e.message.contains("primary key"), "{e}");
    assert_eq!(e.stream.as_deref(), Some("nk"));
    let Err(e) = read(incremental("k", "nope")) else {
        panic!("no column")
    };
    assert!(
        e.message.contains("`nope`") && e.message.contains("\"public\".\"k\""),
        "{e}"
    );
}
