//! Full refresh: many batches equal the table, batches never exceed
//! `batch_rows`, one snapshot across the run's streams, partitions.
#![cfg(not(target_family = "wasm"))]

mod common;

use common::{Db, Read, full, incremental, open, part, read_all, step};
use serde_json::json;
use sluice_guest::{ErrorKind, native};
use sluice_source_postgres::Postgres;

fn assert_bounded(read: &Read, batch_rows: u32) {
    for b in &read.batches {
        assert!(b.count <= batch_rows, "a batch of {} rows", b.count);
        assert_eq!(b.data.split(|c| *c == b'\n').count() - 1, b.count as usize);
    }
}

#[test]
fn many_batches_equal_the_table() {
    let db = Db::new("full_many");
    db.sql(
        "create table t (id integer primary key, v text not null);
         insert into t select i, md5(i::text) from generate_series(1, 25003) i;",
    );
    let config = db.config(json!({"batch_rows": 1000}));
    let read = read_all(&config, vec![full("t")], vec![]);
    assert_bounded(&read, 1000);
    assert_eq!(read.batches.len(), 26);
    let mut ids = read.ints("id");
    ids.sort();
    assert_eq!(ids, (1..=25003).collect::<Vec<i64>>());
    let expected = db.column("select md5('77')");
    let row = read.rows.iter().find(|r| r["id"] == 77).unwrap();
    assert_eq!(row["v"], expected[0].as_str());
    assert!(read.states.is_empty(), "full refresh keeps no state");
}

#[test]
fn a_run_reads_one_snapshot_across_its_streams() {
    let db = Db::new("full_snapshot");
    db.sql(
        "create table a (id integer primary key);
         create table b (id integer primary key);
         insert into a select generate_series(1, 50);
         insert into b select generate_series(1, 50);",
    );
    let config = db.config(json!({"batch_rows": 10}));
    let mut reader = open(&config, vec![full("a"), full("b")], vec![]);
    let mut read = Read::default();
    assert!(step(&mut reader, &mut read));
    // Committed while the run reads `a`: neither stream sees it.
    db.sql(
        "insert into a select generate_series(51, 60);
         insert into b select generate_series(51, 60);
         delete from b where id <= 5;",
    );
    while step(&mut reader, &mut read) {}
    let ids = read.ints("id");
    assert_eq!(ids.len(), 100);
    assert!(ids.iter().all(|i| (1..=50).contains(i)));
    // The next run sees the change.
    let next = read_all(&config, vec![full("b")], vec![]);
    assert_eq!(next.rows.len(), 55);
}

#[test]
fn partitions_together_read_exactly_the_table() {
    let db = Db::new("full_parts");
    db.sql(
        "create table p (id bigint primary key, v integer);
         insert into p select i, i % 7 from generate_series(-500, 20000, 3) i;
         insert into p values (1000000000000, 1), (-9223372036854775808, 2), (9223372036854775807, 3);",
    );
    let all: Vec<i64> = db
        .column("select id from p order by id")
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let config = db.config(json!({"batch_rows": 500}));
    for count in [1, 3, 4] {
        let mut ids = Vec::new();
        for index in 0..count {
            let read = read_all(&config, vec![part(full("p"), index, count)], vec![]);
            assert_bounded(&read, 500);
            ids.extend(read.ints("id"));
        }
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(n, ids.len(), "{count} partitions overlap");
        assert_eq!(ids, all, "{count} partitions");
    }
}

#[test]
fn partitions_split_incremental_reads_too() {
    let db = Db::new("full_parts_inc");
    db.sql(
        "create table p (id integer primary key, updated_at timestamptz not null);
         insert into p select i, '2024-01-01'::timestamptz + (i % 10) * interval '1 hour'
           from generate_series(1, 3000) i;",
    );
    let config = db.config(json!({"batch_rows": 100}));
    let mut ids = Vec::new();
    for index in 0..3 {
        let read = read_all(
            &config,
            vec![part(incremental("p", "updated_at"), index, 3)],
            vec![],
        );
        ids.extend(read.ints("id"));
    }
    ids.sort();
    assert_eq!(ids, (1..=3000).collect::<Vec<i64>>());
}

#[test]
fn a_stream_without_an_integer_key_is_not_partitioned() {
    let db = Db::new("full_parts_refused");
    db.sql("create table k (id text primary key); insert into k values ('a');");
    let catalog = sluice_guest::ConfiguredCatalog {
        streams: vec![part(full("k"), 0, 2)],
    };
    let Err(e) = native::read::<Postgres>(&db.config(json!({})), catalog, vec![]) else {
        panic!("a text key was partitioned");
    };
    assert_eq!(e.kind, ErrorKind::Config);
    assert_eq!(e.stream.as_deref(), Some("k"));
    assert!(e.message.contains("integer"), "{e}");
}

#[test]
fn an_unknown_stream_is_a_config_error_naming_it() {
    let db = Db::new("full_unknown");
    let catalog = sluice_guest::ConfiguredCatalog {
        streams: vec![full("ghost")],
    };
    let Err(e) = native::read::<Postgres>(&db.config(json!({})), catalog, vec![]) else {
        panic!("read a stream that does not exist");
    };
    assert_eq!(e.kind, ErrorKind::Config);
    assert_eq!(e.stream.as_deref(), Some("ghost"));
}
