//! Crash safety into PostgreSQL: `sluice sync` of source-faker ->
//! dest-postgres killed with SIGKILL at random moments, in `append_dedup`
//! (users and orders, with deletes), `history` (users, with deletes) and
//! `overwrite` (users, full refresh), on a real server on loopback.
//!
//! Each cycle loads two generations (the second changes some users and
//! orders) into a fresh PostgreSQL schema, killing each generation's sync
//! up to twice and checking after every kill that the saved state is not
//! ahead of the tables (for overwrite: that the table is the old load or
//! the new one, never a mix); then a completed re-run, after which the tables
//! must equal those of an uninterrupted reference load exactly: the
//! source's latest rows and no duplicate keys (dedup), the same versions
//! and no duplicate or overlapping ones (history).
//!
//! `SLUICE_CRASH_PG_KILLS` sets the number of kills (default 4; `cargo
//! xtask crash --kills N` runs a third of N here). `SLUICE_CRASH_PG_REPORT`
//! names a file for the figures as JSON.

mod support;

use serde_json::{Value, json};
use sluice_artifacts as artifacts;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::kill::{Trigger, check_history, on_pipeline, run_and_kill, saved_cursors};
use support::pg_server::{self, Server};
use support::{PipelineToml, sluice};

/// Users (and as many orders) per generation.
const USERS: u64 = 15_000;

fn pg() -> &'static Server {
    pg_server::shared()
}

/// What a cycle loads.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Dedup,
    History,
    Overwrite,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Dedup => "append_dedup",
            Mode::History => "history",
            Mode::Overwrite => "overwrite",
        }
    }

    fn streams(self) -> &'static [&'static str] {
        match self {
            Mode::Dedup => &["users", "orders"],
            Mode::History | Mode::Overwrite => &["users"],
        }
    }

    /// Overwrite reloads everything (full refresh) and cannot apply
    /// deletes; the others read incrementally, with deletes.
    fn sync_mode(self) -> &'static str {
        match self {
            Mode::Overwrite => "full_refresh",
            _ => "incremental",
        }
    }

    fn delete_every(self) -> u64 {
        match self {
            Mode::Overwrite => 0,
            _ => 9,
        }
    }
}

/// The pipeline file of generation `generation` into `schema`, read by
/// `readers` source instances at once (4: every stream in partitions).
fn pipeline(dir: &Path, schema: &str, mode: Mode, generation: u64, readers: usize) -> PathBuf {
    let s = pg();
    let config = json!({"host": s.host(), "port": s.port(), "user": s.user(),
                        "password": s.password(), "database": s.database(), "schema": schema});
    let faker = json!({"count": USERS, "events_per_user": 0, "batch_size": 500,
                       "delete_every": mode.delete_every(), "generation": generation});
    let mut toml = PipelineToml::faker(faker)
        .name(schema)
        .destination(
            artifacts::DEST_POSTGRES,
            config,
            &[&format!("{}:{}", s.host(), s.port())],
        )
        .options(json!({"commit_interval_ms": 25, "parallelism": readers}));
    for stream in mode.streams() {
        toml = toml.stream(
            json!({"name": stream, "sync_mode": mode.sync_mode(), "write_mode": mode.name()}),
        );
    }
    toml.write(dir, "crash.toml")
}

fn sql(query: &str) -> Vec<String> {
    pg().sql(query)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .lines()
        .map(str::to_string)
        .collect()
}

/// Whether the table of `stream` was created (a run killed early has
/// not written to every stream yet).
fn exists(schema: &str, stream: &str) -> bool {
    sql(&format!(
        "select to_regclass('{schema}.{stream}') is not null"
    )) == ["t"]
}

/// The rows of `schema.stream` that must match the reference, as text,
/// sorted: every column but the load time, and for history whether a
/// version is closed rather than when (a delete closes it at the time the
/// delete was read).
fn table_rows(schema: &str, stream: &str, mode: Mode) -> Vec<String> {
    let row = match mode {
        Mode::Dedup | Mode::Overwrite => "(to_jsonb(t) - '_sluice_extracted_at')::text".to_string(),
        Mode::History => "(to_jsonb(t) - '_sluice_extracted_at' - '_valid_to')::text \
             || case when t._valid_to is null then '' else ' closed' end"
            .to_string(),
    };
    sql(&format!("select {row} from {schema}.{stream} t order by 1"))
}

/// No key is held twice (dedup), no two versions of a key overlap and at
/// most one is current (history).
fn check_keys(schema: &str, mode: Mode, when: &str) {
    for stream in mode.streams().iter().filter(|s| exists(schema, s)) {
        let dup = match mode {
            Mode::Dedup | Mode::Overwrite => {
                format!("select count(*) - count(distinct id) from {schema}.{stream}")
            }
            Mode::History => format!(
                "select count(*) from {schema}.{stream} a join {schema}.{stream} b on a.id = b.id \
                 and a._valid_from < b._valid_from \
                 and (a._valid_to is null or a._valid_to > b._valid_from)"
            ),
        };
        assert_eq!(
            sql(&dup),
            ["0"],
            "{when}: `{stream}` holds duplicate or overlapping keys"
        );
        if mode == Mode::History {
            let current = format!(
                "select count(*) from (select id from {schema}.{stream} where _is_current \
                 group by id having count(*) > 1) t"
            );
            assert_eq!(
                sql(&current),
                ["0"],
                "{when}: two current versions of a key"
            );
        }
    }
}

/// The saved state is not ahead of the tables: every row of the
/// reference whose cursor is at or before a stream's saved cursor (its
/// partition's, for a stream read in partitions) is held (with that
/// cursor value).
fn check_not_ahead(file: &Path, schema: &str, reference: &str, mode: Mode, when: &str) {
    for (stream, cursors) in saved_cursors(file) {
        let count = cursors.len();
        for (part, cursor) in cursors.iter().enumerate() {
            if let Some(cursor) = cursor {
                let part = (count > 1).then_some((part, count));
                check_part(schema, reference, mode, (&stream, part, cursor), when);
            }
        }
    }
}

/// [`check_not_ahead`] for one stream, or one partition `(index, count)`
/// of it, saved at `cursor`.
fn check_part(
    schema: &str,
    reference: &str,
    mode: Mode,
    (stream, part, cursor): (&str, Option<(usize, usize)>, &str),
    when: &str,
) {
    assert!(
        exists(schema, stream),
        "{when}: `{stream}` has state but no table"
    );
    let mut live = if mode == Mode::History {
        " and r._is_current".to_string()
    } else {
        String::new()
    };
    if let Some((index, count)) = part {
        live.push_str(&format!(" and r.id % {count} = {index}"));
    }
    let missing = sql(&format!(
        "select count(*) from {reference}.{stream} r where r.updated_at <= '{cursor}'::timestamptz{live} \
         and not exists (select 1 from {schema}.{stream} t where t.id = r.id and t.updated_at = r.updated_at)"
    ));
    assert_eq!(
        missing,
        ["0"],
        "{when}: the state of `{stream}` ({part:?}) is at {cursor}, but rows up to it are missing"
    );
}

/// A short summary of the users table of `schema` (empty when there is
/// none or it has no rows): its rows, the sum of their versions and the
/// latest update.
fn fingerprint(schema: &str) -> String {
    if !exists(schema, "users") {
        return String::new();
    }
    let held = sql(&format!(
        "select count(*) || '|' || coalesce(sum(version), 0) || '|' || coalesce(max(updated_at)::text, '') \
         from {schema}.users"
    ))
    .concat();
    // The first overwrite may create the (empty) table before its load is
    // swapped in: no rows, as before.
    if held.starts_with("0|") {
        String::new()
    } else {
        held
    }
}

/// An uninterrupted load of both generations.
struct Reference {
    /// How long the first generation took.
    took: Duration,
    /// The users table after each generation ([`fingerprint`]).
    after: Vec<String>,
}

/// Load both generations into `schema` without kills.
fn reference(root: &Path, schema: &str, mode: Mode) -> Reference {
    sql(&format!("drop schema if exists {schema} cascade"));
    let dir = root.join(schema);
    let (mut first, mut after) = (None, Vec::new());
    for generation in [0, 1] {
        let file = pipeline(&dir, schema, mode, generation, 1);
        let started = Instant::now();
        let o = sluice().arg("sync").arg(&file).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        first.get_or_insert(started.elapsed());
        after.push(fingerprint(schema));
    }
    check_keys(schema, mode, "reference");
    Reference {
        took: first.unwrap(),
        after,
    }
}

/// After a kill while overwriting: the table is the one before the load
/// or the one after it, never a mix.
fn check_whole(schema: &str, reference: &Reference, generation: usize, when: &str) {
    let held = fingerprint(schema);
    let before = generation
        .checked_sub(1)
        .map_or("", |g| reference.after[g].as_str());
    assert!(
        held == before || held == reference.after[generation],
        "{when}: the table is neither the old nor the new load: {held} (old {before}, new {})",
        reference.after[generation]
    );
}

/// Kills and their phases, over every cycle.
#[derive(Default)]
struct Tally {
    done: usize,
    cycles: usize,
    finished_first: usize,
    phases: BTreeMap<&'static str, usize>,
}

/// One cycle: both generations into a fresh schema with up to two kills
/// each, then a completed run each; the tables must equal the reference.
fn cycle(
    root: &Path,
    mode: Mode,
    (reference, expected): (&str, &Reference),
    span: Duration,
    kills: usize,
    t: &mut Tally,
    rng: &mut fastrand::Rng,
) {
    t.cycles += 1;
    let schema = format!("crash_{}_{}", mode.name(), t.cycles);
    let dir = root.join(&schema);
    // Kills in this cycle so far (its state store keeps every run).
    let mut killed = 0;
    for generation in [0, 1] {
        // Every other cycle reads every stream in partitions.
        let readers = if t.cycles.is_multiple_of(2) { 4 } else { 1 };
        let file = pipeline(&dir, &schema, mode, generation as u64, readers);
        for attempt in 0..2 {
            if t.done == kills {
                break;
            }
            let (trigger, give_up) = Trigger::random(rng, span);
            let when = format!(
                "cycle {}, generation {generation}, kill {}",
                t.cycles,
                attempt + 1
            );
            match run_and_kill(&file, trigger, give_up) {
                Some(phase) => {
                    t.done += 1;
                    killed += 1;
                    *t.phases.entry(phase).or_default() += 1;
                    check_keys(&schema, mode, &when);
                    if mode == Mode::Overwrite {
                        check_whole(&schema, expected, generation, &when);
                    } else {
                        check_not_ahead(&file, &schema, reference, mode, &when);
                    }
                }
                None => t.finished_first += 1,
            }
        }
        let o = on_pipeline(&file, &["sync"]).output().unwrap();
        assert!(
            o.status.success(),
            "cycle {}: the re-run failed: {}",
            t.cycles,
            String::from_utf8_lossy(&o.stderr)
        );
        check_history(&file, killed, t.cycles);
    }
    let when = format!("cycle {}, completed", t.cycles);
    check_keys(&schema, mode, &when);
    for stream in mode.streams() {
        assert_eq!(
            table_rows(&schema, stream, mode),
            table_rows(reference, stream, mode),
            "{when}: `{stream}` differs from the uninterrupted load"
        );
    }
    sql(&format!("drop schema {schema} cascade"));
}

#[test]
fn kill_9_into_postgres_keeps_exactly_the_latest_rows_and_versions() {
    let kills: usize = std::env::var("SLUICE_CRASH_PG_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let root = tempfile::tempdir().unwrap();
    for component in [artifacts::SOURCE_FAKER, artifacts::DEST_POSTGRES] {
        assert!(
            sluice()
                .args(["spec", component])
                .output()
                .unwrap()
                .status
                .success()
        );
    }
    let mut rng = fastrand::Rng::new();
    let mut report = serde_json::Map::new();
    for mode in [Mode::Dedup, Mode::History, Mode::Overwrite] {
        let name = format!("crash_ref_{}", mode.name());
        let reference = reference(root.path(), &name, mode);
        let (took, span) = (reference.took, reference.took * 12 / 10);
        let mut t = Tally::default();
        let want = kills.div_ceil(3);
        while t.done < want {
            cycle(
                root.path(),
                mode,
                (&name, &reference),
                span,
                want,
                &mut t,
                &mut rng,
            );
        }
        report.insert(
            mode.name().into(),
            json!({
                "kills": t.done,
                "cycles": t.cycles,
                "records_per_generation": USERS * mode.streams().len() as u64,
                "rows_lost_or_extra": 0,
                "duplicate_or_overlapping_keys": 0,
                "state_ahead_of_destination": 0,
                "kills_by_phase": t.phases,
                "runs_that_finished_before_their_kill": t.finished_first,
                "reference_run_ms": took.as_millis() as u64,
            }),
        );
    }
    let report = Value::Object(report);
    println!("postgres crash report: {report}");
    if let Ok(path) = std::env::var("SLUICE_CRASH_PG_REPORT") {
        std::fs::write(path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    }
}
