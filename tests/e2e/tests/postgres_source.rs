//! source-postgres as a component in the sandbox, on a real PostgreSQL
//! server on loopback: tables of every awkward type round-trip exactly to
//! JSON lines and into dest-postgres; incremental syncs pick up new rows,
//! ties with the bookmark included, and a bulk update that gives 100 000
//! rows one timestamp moves them once; partitions together read exactly
//! the table. Each test uses tables of its own PostgreSQL schema.

mod pg;

use pg::sql_lines;
use serde_json::{Value, json};
use sluice_e2e::{PipelineToml, pipeline, run_ok};
use sluice_runtime::pipeline::Pipeline;
use std::collections::BTreeSet;
use std::path::Path;

/// source-postgres reading `schema` (tables named in `tables`).
fn source_config(schema: &str) -> Value {
    let mut c = pg::dest_config(schema);
    c.as_object_mut().unwrap().remove("schema");
    c["schemas"] = json!([schema]);
    c
}

/// source-postgres on `schema` -> dest-file (JSON lines) in `dir/out`.
fn pg_to_file(dir: &Path, schema: &str, streams: &[Value]) -> Pipeline {
    let mut toml = PipelineToml::new(sluice_artifacts::SOURCE_POSTGRES, source_config(schema))
        .name(schema)
        .source_hosts(&[&pg::addr()]);
    for s in streams {
        toml = toml.stream(s.clone());
    }
    pipeline(&toml, dir, "pg.toml", schema)
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ids(rows: &[Value]) -> Vec<i64> {
    rows.iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

/// A table of every awkward type, with NULLs and hard text.
fn create_types_table(schema: &str) {
    pg::pg()
        .sql(&format!(
            "drop schema if exists {schema} cascade; create schema {schema};
             create table {schema}.things (
                 id bigint primary key, amount numeric(14,4), at timestamptz, doc jsonb,
                 raw bytea, ints integer[], words text[], note text, ratio double precision,
                 flag boolean, small smallint);
             insert into {schema}.things values
                 (1, 12345678.1234, '2024-01-02 03:04:05.123456+00', '{{\"a\": [1, {{\"b\": null}}], \"c\": \"ü\"}}',
                  '\\x00ff10', '{{1,2,3}}', '{{\"x y\",\"z\"}}', E'tab\\there\\nnew \"quoted\" ''single'' back\\\\slash ünïcødé 🚀',
                  0.1, true, -7),
                 (2, null, null, null, null, null, null, null, null, null, null),
                 (3, -0.0001, '1999-12-31 23:59:59+00', '[]', '', '{{}}', '{{\"\"}}', '', -1.5e300, false, 32767);"
        ))
        .unwrap();
}

#[tokio::test]
async fn every_type_round_trips_exactly_to_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let schema = "e2e_src_types";
    create_types_table(schema);
    run_ok(&pg_to_file(
        dir.path(),
        schema,
        &[json!({"name": "things"})],
    ))
    .await;
    let rows = jsonl(&dir.path().join("out/things.jsonl"));
    assert_eq!(ids(&rows), [1, 2, 3]);
    let first = &rows[0];
    assert_eq!(
        first["amount"], "12345678.1234",
        "numeric keeps every digit, as text"
    );
    assert_eq!(first["at"], "2024-01-02T03:04:05.123456Z");
    assert_eq!(first["doc"], json!({"a": [1, {"b": null}], "c": "ü"}));
    assert_eq!(first["raw"], "AP8Q", "bytea as base64");
    assert_eq!(first["ints"], json!([1, 2, 3]));
    assert_eq!(first["words"], json!(["x y", "z"]));
    assert_eq!(
        first["note"],
        "tab\there\nnew \"quoted\" 'single' back\\slash ünïcødé 🚀"
    );
    assert_eq!(first["ratio"], json!(0.1));
    assert_eq!(first["flag"], json!(true));
    assert_eq!(first["small"], json!(-7));
    let nulls = rows[1].as_object().unwrap();
    assert!(
        nulls
            .iter()
            .filter(|(k, _)| *k != "id")
            .all(|(_, v)| v.is_null()),
        "{nulls:?}"
    );
    assert_eq!(rows[2]["amount"], "-0.0001");
    assert_eq!(rows[2]["raw"], "");
    assert_eq!(rows[2]["ints"], json!([]));
    assert_eq!(rows[2]["words"], json!([""]));
    assert_eq!(rows[2]["ratio"], json!(-1.5e300));
}

#[tokio::test]
async fn a_table_round_trips_exactly_into_dest_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let (from, to) = ("e2e_pg_from", "e2e_pg_to");
    create_types_table(from);
    let toml = PipelineToml::new(sluice_artifacts::SOURCE_POSTGRES, source_config(from))
        .name("pg-to-pg")
        .source_hosts(&[&pg::addr()])
        .destination(
            sluice_artifacts::DEST_POSTGRES,
            pg::dest_config(to),
            &[&pg::addr()],
        )
        .stream(json!({"name": "things", "write_mode": "append_dedup"}));
    run_ok(&pipeline(&toml, dir.path(), "pg.toml", "pg-to-pg")).await;
    // Scalars keep their types; arrays and JSON arrive as jsonb.
    let columns = sql_lines(&pg::columns(to, "things"));
    for c in [
        "amount|numeric",
        "at|timestamp with time zone",
        "doc|jsonb",
        "raw|bytea",
        "ints|jsonb",
        "note|text",
        "ratio|double precision",
        "flag|boolean",
        "small|smallint",
    ] {
        assert!(columns.contains(&c.to_string()), "{c} in {columns:?}");
    }
    let differ = |a: &str, b: &str| {
        sql_lines(&format!(
            "select count(*) from (select id, amount, at, doc, raw, to_jsonb(ints) as ints, to_jsonb(words) as words, note, ratio, flag, small from {a}.things
             except select id, amount, at, doc, raw, ints, words, note, ratio, flag, small from {b}.things) d"
        ))
    };
    assert_eq!(differ(from, to), ["0"]);
    let back = sql_lines(&format!(
        "select count(*) from (select id, amount, at, doc, raw, ints, words, note, ratio, flag, small from {to}.things
         except select id, amount, at, doc, raw, to_jsonb(ints), to_jsonb(words), note, ratio, flag, small from {from}.things) d"
    ));
    assert_eq!(back, ["0"]);
}

fn create_events(schema: &str, rows: u64) {
    pg::pg()
        .sql(&format!(
            "drop schema if exists {schema} cascade; create schema {schema};
             create table {schema}.events (id bigint primary key, updated_at timestamptz not null, v text);
             insert into {schema}.events select i, '2024-01-01'::timestamptz + (i / 10) * interval '1 second', 'v' || i
             from generate_series(1, {rows}) i;"
        ))
        .unwrap();
}

fn incremental_events() -> Value {
    json!({"name": "events", "sync_mode": "incremental", "cursor_field": "updated_at", "write_mode": "append"})
}

#[tokio::test]
async fn incremental_syncs_pick_up_new_rows_and_ties_with_the_bookmark() {
    let dir = tempfile::tempdir().unwrap();
    let schema = "e2e_src_incr";
    create_events(schema, 1_000);
    let p = pg_to_file(dir.path(), schema, &[incremental_events()]);
    run_ok(&p).await;
    let out = dir.path().join("out/events.jsonl");
    assert_eq!(jsonl(&out).len(), 1_000);
    // Rows with the bookmark's own cursor value, and later ones.
    pg::pg()
        .sql(&format!(
            "insert into {schema}.events select i, (select max(updated_at) from {schema}.events), 'tie' || i from generate_series(2001, 2005) i;
             insert into {schema}.events select i, '2030-01-01', 'new' || i from generate_series(3001, 3003) i;"
        ))
        .unwrap();
    run_ok(&p).await;
    let rows = jsonl(&out);
    assert_eq!(
        ids(&rows[1_000..]),
        [2001, 2002, 2003, 2004, 2005, 3001, 3002, 3003]
    );
    run_ok(&p).await;
    assert_eq!(jsonl(&out).len(), 1_008, "nothing new, nothing again");
}

#[tokio::test]
async fn a_bulk_update_to_one_timestamp_moves_its_rows_once() {
    let dir = tempfile::tempdir().unwrap();
    let schema = "e2e_src_bulk";
    create_events(schema, 100_000);
    let p = pg_to_file(dir.path(), schema, &[incremental_events()]);
    run_ok(&p).await;
    pg::pg()
        .sql(&format!(
            "update {schema}.events set updated_at = '2031-06-01', v = 'bulk'"
        ))
        .unwrap();
    let out = dir.path().join("out/events.jsonl");
    run_ok(&p).await;
    let rows = jsonl(&out);
    assert_eq!(rows.len(), 200_000);
    let moved: BTreeSet<i64> = ids(&rows[100_000..]).into_iter().collect();
    assert_eq!(moved.len(), 100_000, "every updated row once");
    assert!(rows[100_000..].iter().all(|r| r["v"] == "bulk"));
    run_ok(&p).await;
    assert_eq!(jsonl(&out).len(), 200_000, "the run after moves none");
}

#[tokio::test]
async fn partitions_together_read_exactly_the_table() {
    let schema = "e2e_src_parts";
    create_events(schema, 10_007);
    let dir = tempfile::tempdir().unwrap();
    for count in [3u32, 4] {
        let mut all = Vec::new();
        for index in 0..count {
            let d = dir.path().join(format!("of{count}-{index}"));
            let stream = json!({"name": "events", "partition": {"index": index, "count": count}});
            run_ok(&pg_to_file(&d, schema, &[stream])).await;
            let part = ids(&jsonl(&d.join("out/events.jsonl")));
            assert!(
                !part.is_empty(),
                "partition {index} of {count} reads a share"
            );
            all.extend(part);
        }
        all.sort();
        assert_eq!(
            all,
            (1..=10_007).collect::<Vec<i64>>(),
            "{count} partitions"
        );
    }
}
