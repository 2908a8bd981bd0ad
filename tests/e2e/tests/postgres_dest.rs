//! source-faker -> dest-postgres, both as components in the sandbox, on a
//! real PostgreSQL server on loopback: every write mode after a sequence of
//! syncs that insert, update (faker generations) and delete rows, compared
//! row for row with what the same faker reads say the table must hold.
//! Each test writes into a PostgreSQL schema of its own.

mod pg;

use pg::{FakerModel, Version, sql_lines, users_rows};
use serde_json::{Value, json};
use sluice_e2e::{PipelineToml, pipeline, run, run_ok, runtime};
use sluice_runtime::pipeline::{Pipeline, RunOptions};
use sluice_runtime::state::StateStore;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// faker (`config`) -> dest-postgres into `schema`, `streams` as given.
fn faker_to_pg(
    dir: &Path,
    schema: &str,
    faker: Value,
    streams: &[Value],
    extra: Value,
) -> Pipeline {
    let mut config = pg::dest_config(schema);
    for (k, v) in extra.as_object().into_iter().flatten() {
        config[k] = v.clone();
    }
    let mut toml = PipelineToml::faker(faker)
        .name(schema)
        .destination(sluice_artifacts::DEST_POSTGRES, config, &[&pg::addr()])
        .options(json!({"commit_interval_ms": 20}));
    for s in streams {
        toml = toml.stream(s.clone());
    }
    pipeline(&toml, dir, "pg.toml", schema)
}

fn users(mode: &str, sync: &str) -> Value {
    json!({"name": "users", "sync_mode": sync, "write_mode": mode})
}

fn faker(generation: u64, delete_every: u64) -> Value {
    json!({"count": 400, "orders_per_user": 1, "events_per_user": 0, "batch_size": 50,
           "generation": generation, "delete_every": delete_every})
}

/// Three incremental syncs (generations 0, 1, 2) of users in `mode`;
/// returns the model of what the source sent, run by run.
async fn three_generations(dir: &Path, schema: &str, mode: &str, delete_every: u64) -> FakerModel {
    let mut model = FakerModel::default();
    for generation in 0..3 {
        let config = faker(generation, delete_every);
        run_ok(&faker_to_pg(
            dir,
            schema,
            config.clone(),
            &[users(mode, "incremental")],
            json!({}),
        ))
        .await;
        model.read("users", &config);
    }
    model
}

#[tokio::test]
async fn append_keeps_every_record_of_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let model = three_generations(dir.path(), "e2e_append", "append", 0).await;
    let mut expected: Vec<String> = model.inserted("users").iter().map(users_rows).collect();
    expected.sort();
    let mut held = sql_lines(&pg::users_select("e2e_append"));
    held.sort();
    assert!(expected.len() > 400, "generations re-send changed users");
    assert_eq!(held, expected);
}

#[tokio::test]
async fn append_dedup_holds_the_latest_version_of_every_key_and_applies_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let model = three_generations(dir.path(), "e2e_dedup", "append_dedup", 7).await;
    let latest = model.latest("users");
    assert!(latest.len() < 400 && latest.len() > 300, "{}", latest.len());
    let expected: Vec<String> = latest.values().map(users_rows).collect();
    assert_eq!(sql_lines(&pg::users_select("e2e_dedup")), expected);
    // The primary key is the catalog's.
    assert_eq!(
        sql_lines(&pg::primary_key("e2e_dedup", "users")),
        vec!["id".to_string()]
    );
}

#[tokio::test]
async fn history_keeps_every_version_with_exact_validity_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let schema = "e2e_history";
    let model = three_generations(dir.path(), schema, "history", 7).await;
    let expected = model.versions("users");
    assert_history(schema, &expected);
    // A full refresh of the same generation sends every user again,
    // unchanged: no version opens.
    let config = faker(2, 7);
    let p = faker_to_pg(
        dir.path(),
        schema,
        config,
        &[users("history", "full_refresh")],
        json!({}),
    );
    run_ok(&p).await;
    assert_history(schema, &expected);
}

/// The history table holds exactly `expected`: per key its versions in
/// order, each closed by the next (a deleted key's last one closed too,
/// when the delete came), one current version per live key, none
/// overlapping.
fn assert_history(schema: &str, expected: &BTreeMap<u64, Vec<Version>>) {
    let held = sql_lines(&format!(
        "select id, version, {}, coalesce({}, '-'), _is_current \
         from {schema}.users order by id, _valid_from",
        pg::ts("_valid_from"),
        pg::ts("_valid_to"),
    ));
    let mut want = Vec::new();
    for (id, versions) in expected {
        for (i, v) in versions.iter().enumerate() {
            let to = match versions.get(i + 1) {
                _ if v.deleted => "deleted".into(),
                Some(next) => next.valid_from.clone(),
                None => "-".into(),
            };
            let current = if i + 1 == versions.len() && !v.deleted {
                "t"
            } else {
                "f"
            };
            want.push(format!(
                "{id}|{}|{}|{to}|{current}",
                v.version, v.valid_from
            ));
        }
    }
    assert_eq!(held.len(), want.len(), "versions held: {held:#?}");
    for (h, w) in held.iter().zip(&want) {
        if let Some(prefix) = w.strip_suffix("|deleted|f") {
            // Closed by a delete: at the delete's time, after it opened.
            let parts: Vec<&str> = h.split('|').collect();
            assert!(
                h.starts_with(prefix) && parts[3] != "-" && parts[3] >= parts[2] && parts[4] == "f",
                "{h} vs {w}"
            );
        } else {
            assert_eq!(h, w);
        }
    }
    let overlaps = sql_lines(&format!(
        "select count(*) from {schema}.users a join {schema}.users b on a.id = b.id \
         and a._valid_from < b._valid_from and (a._valid_to is null or a._valid_to > b._valid_from)"
    ));
    assert_eq!(overlaps, ["0"], "no two versions of a key overlap");
}

#[tokio::test]
async fn overwrite_swaps_the_new_table_in_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let schema = "e2e_overwrite";
    let load = |count: u64| {
        let config =
            json!({"count": count, "orders_per_user": 0, "events_per_user": 0, "batch_size": 100});
        faker_to_pg(
            dir.path(),
            schema,
            config,
            &[users("overwrite", "full_refresh")],
            json!({}),
        )
    };
    run_ok(&load(3_000)).await;
    assert_eq!(
        sql_lines(&format!("select count(*) from {schema}.users")),
        ["3000"]
    );
    // A reader polling while the next load commits many times sees the old
    // table or the new one, never a mix.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        let query = format!("select count(*) from {schema}.users");
        std::thread::spawn(move || {
            let mut seen = BTreeMap::new();
            while !stop.load(Ordering::Relaxed) {
                for line in sql_lines(&query) {
                    *seen.entry(line).or_insert(0u32) += 1;
                }
            }
            seen
        })
    };
    run_ok(&load(20_000)).await;
    stop.store(true, Ordering::Relaxed);
    let seen = reader.join().unwrap();
    assert!(seen.keys().all(|k| k == "3000" || k == "20000"), "{seen:?}");
    assert!(
        seen.contains_key("3000"),
        "the reader polled during the load: {seen:?}"
    );
    let mut model = FakerModel::default();
    let config = json!({"count": 20_000, "orders_per_user": 0, "events_per_user": 0});
    model.read("users", &config);
    let expected: Vec<String> = model.latest("users").values().map(users_rows).collect();
    assert_eq!(sql_lines(&pg::users_select(schema)), expected);
    // No staging table is left behind.
    assert_eq!(sql_lines(&pg::tables(schema)), ["users"]);
}

#[tokio::test]
async fn a_schema_change_adds_the_column_and_widens_the_type() {
    let dir = tempfile::tempdir().unwrap();
    let schema = "e2e_evolve";
    let orders =
        json!({"name": "orders", "sync_mode": "full_refresh", "write_mode": "append_dedup"});
    for version in [1, 2] {
        let config = json!({"count": 300, "events_per_user": 0, "schema_version": version});
        run_ok(&faker_to_pg(
            dir.path(),
            schema,
            config,
            std::slice::from_ref(&orders),
            json!({}),
        ))
        .await;
        let columns = sql_lines(&pg::columns(schema, "orders"));
        if version == 1 {
            assert!(
                columns.contains(&"amount_cents|integer".to_string()),
                "{columns:?}"
            );
            assert!(!columns.iter().any(|c| c.starts_with("coupon|")));
        } else {
            assert!(
                columns.contains(&"amount_cents|bigint".to_string()),
                "{columns:?}"
            );
            assert!(columns.contains(&"coupon|text".to_string()), "{columns:?}");
        }
    }
    let big = sql_lines(&format!(
        "select count(*) from {schema}.orders where amount_cents > 2147483647"
    ));
    assert_ne!(big, ["0"], "amounts beyond int32 arrived");
    let coupons = sql_lines(&format!(
        "select count(*) from {schema}.orders where coupon is not null"
    ));
    assert_ne!(coupons, ["0"], "coupons arrived");
}

#[tokio::test]
async fn foreign_keys_are_created_and_never_violated() {
    let dir = tempfile::tempdir().unwrap();
    let schema = "e2e_fk";
    let streams = [
        json!({"name": "users", "sync_mode": "incremental", "write_mode": "append_dedup"}),
        json!({"name": "orders", "sync_mode": "incremental", "write_mode": "append_dedup"}),
        json!({"name": "events", "sync_mode": "incremental", "write_mode": "append_dedup"}),
    ];
    for generation in 0..2 {
        let config = json!({"count": 500, "batch_size": 40, "generation": generation});
        let p = faker_to_pg(
            dir.path(),
            schema,
            config,
            &streams,
            json!({"foreign_keys": true}),
        );
        run_ok(&p).await;
    }
    let fks = sql_lines(&format!(
        "select conrelid::regclass::text || '->' || confrelid::regclass::text from pg_constraint \
         where contype = 'f' and connamespace = '{schema}'::regnamespace order by 1"
    ));
    assert_eq!(
        fks,
        [
            format!("{schema}.events->{schema}.users"),
            format!("{schema}.orders->{schema}.users")
        ]
    );
    let orphans = sql_lines(&format!(
        "select count(*) from {schema}.orders o left join {schema}.users u on u.id = o.user_id where u.id is null"
    ));
    assert_eq!(orphans, ["0"]);
}

#[tokio::test]
async fn deletes_into_an_append_stream_fail_it_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = faker_to_pg(
        dir.path(),
        "e2e_append_delete",
        faker(0, 5),
        &[users("append", "incremental")],
        json!({}),
    );
    let s = run(&p).await;
    assert!(!s.succeeded());
    let error = s.run.streams[0]
        .outcome
        .error()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("append") && error.contains("delete"),
        "{error}"
    );
}

#[tokio::test]
async fn an_address_the_pipeline_does_not_grant_is_refused_by_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let toml = PipelineToml::faker(faker(0, 0))
        .name("ungranted")
        .destination(
            sluice_artifacts::DEST_POSTGRES,
            pg::dest_config("e2e_ungranted"),
            &[],
        );
    let p = pipeline(&toml, dir.path(), "pg.toml", "ungranted");
    let store = StateStore::open(&p.state_path()).unwrap();
    let e = p
        .run(&runtime(), &store, &RunOptions::default())
        .await
        .map(|s| format!("{s:?}"))
        .unwrap_or_else(|e| e.to_string());
    assert!(e.contains(&pg::addr()) && e.contains("grant"), "{e}");
}
