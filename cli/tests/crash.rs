//! Crash safety: `sluice sync` killed with SIGKILL at random moments loses
//! nothing, and its persisted state never points past what the destination
//! holds.
//!
//! Each cycle starts from an empty destination and state, syncs >= 200 000
//! records (source-faker -> dest-file, incremental, append) with a short
//! commit interval so that kills land in every phase, kills the process at a
//! random moment, checks the state against the destination, kills the
//! resumed run again, checks again, then re-runs to completion and compares
//! the destination with an uninterrupted reference run: every record
//! present, nothing that the source never sent, duplicates counted
//! (append is at-least-once). Cycles take turns at one reader, two
//! readers sharing the streams, and six reading every stream in two
//! partitions (state kept per partition).
//!
//! `SLUICE_CRASH_KILLS` sets the number of kills (default 8; `cargo xtask
//! crash --kills N` runs more). `SLUICE_CRASH_REPORT` names a file for the
//! figures as JSON.

mod support;

use serde_json::{Value, json};
use sluice_artifacts as artifacts;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::kill::{Trigger, check_history, on_pipeline, run_and_kill, saved_cursors};
use support::{PipelineToml, sluice};

/// Users; with the default orders and events per user, >= 200 000 records.
const USERS: u64 = 70_000;

/// A fresh pipeline directory: pipeline file, empty output dir. The
/// events go through host transforms, so the stage between the check and
/// the write is part of every crash. `readers` source instances read at
/// once: 2 share the three streams, 6 read each in two partitions.
fn pipeline(dir: &Path, readers: usize) -> PathBuf {
    PipelineToml::faker(json!({"count": USERS, "batch_size": 500}))
        .options(json!({"commit_interval_ms": 25, "parallelism": readers}))
        .stream(json!({"name": "users"}))
        .stream(json!({"name": "orders"}))
        .stream(json!({"name": "events", "transforms": [
            {"rename": {"from": "kind", "to": "event_kind"}},
            {"upper": "event_kind"},
        ]}))
        .write(dir, "crash.toml")
}

/// Complete lines of every stream file (a torn last line, never committed,
/// is left out: the next writer cuts it).
fn destination(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("out")).unwrap() {
        let path = entry.unwrap().path();
        let stream = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let complete = match text.rfind('\n') {
            Some(i) => &text[..=i],
            None => "",
        };
        out.insert(stream, complete.lines().map(str::to_string).collect());
    }
    out
}

/// Cursor field per stream, from the source's catalog.
fn cursor_fields() -> BTreeMap<String, String> {
    let o = sluice()
        .args(["discover", artifacts::SOURCE_FAKER, "--json"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let catalog: Value = serde_json::from_slice(&o.stdout).unwrap();
    catalog["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["default_cursor"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

struct Reference {
    /// Every record line, per stream.
    lines: BTreeMap<String, HashSet<String>>,
    /// (cursor, id, line) per stream, sorted by cursor.
    by_cursor: BTreeMap<String, Vec<(String, u64, String)>>,
    records: usize,
    duration: Duration,
}

fn reference(root: &Path, fields: &BTreeMap<String, String>) -> Reference {
    let dir = root.join("reference");
    let file = pipeline(&dir, 1);
    // Compile (or load from the cache) both components first, so the
    // reference time is that of a sync, not of a compile.
    for component in [artifacts::SOURCE_FAKER, artifacts::DEST_FILE] {
        let o = sluice().args(["spec", component]).output().unwrap();
        assert!(o.status.success());
    }
    let started = Instant::now();
    let o = sluice().arg("sync").arg(&file).output().unwrap();
    let duration = started.elapsed();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut lines = BTreeMap::new();
    let mut by_cursor = BTreeMap::new();
    let mut records = 0;
    for (stream, ls) in destination(&dir) {
        records += ls.len();
        let field = &fields[&stream];
        let mut sorted: Vec<(String, u64, String)> = ls
            .iter()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                let id = v["id"].as_u64().unwrap();
                (v[field].as_str().unwrap().to_string(), id, l.clone())
            })
            .collect();
        sorted.sort();
        let set: HashSet<String> = ls.into_iter().collect();
        assert_eq!(set.len(), sorted.len(), "the source sends distinct records");
        lines.insert(stream.clone(), set);
        by_cursor.insert(stream, sorted);
    }
    Reference {
        lines,
        by_cursor,
        records,
        duration,
    }
}

/// Assert the persisted state is not ahead of the destination: every
/// reference record at or before a stream's saved cursor (its
/// partition's, for a stream read in partitions) is in the destination. Also that the destination holds nothing the source never
/// sent. Returns the records the destination holds.
fn check_not_ahead(dir: &Path, reference: &Reference, when: &str) -> usize {
    let held = destination(dir);
    let mut total = 0;
    for (stream, lines) in &held {
        total += lines.len();
        let known = &reference.lines[stream];
        for l in lines {
            assert!(
                known.contains(l),
                "{when}: `{stream}` holds a record the source never sent: {l}"
            );
        }
    }
    for (stream, cursors) in saved_cursors(&dir.join("crash.toml")) {
        let have: HashSet<&String> = held
            .get(&stream)
            .map(|l| l.iter().collect())
            .unwrap_or_default();
        let count = cursors.len() as u64;
        for (part, cursor) in cursors.iter().enumerate() {
            let Some(cursor) = cursor else { continue };
            let covered = reference.by_cursor[&stream]
                .iter()
                .filter(|(_, id, _)| id % count == part as u64)
                .take_while(|(c, _, _)| c <= cursor);
            for (c, _, line) in covered {
                assert!(
                    have.contains(line),
                    "{when}: the state of `{stream}` (partition {part} of {count}) is at {cursor}, but the destination lacks the record at {c}: {line}"
                );
            }
        }
    }
    total
}

#[test]
fn kill_9_at_random_moments_loses_nothing_and_state_never_runs_ahead() {
    let kills: usize = std::env::var("SLUICE_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let root = tempfile::tempdir().unwrap();
    let fields = cursor_fields();
    let reference = reference(root.path(), &fields);
    assert!(
        reference.records >= 200_000,
        "{} records",
        reference.records
    );
    // Kill anywhere from start-up to a little past the reference duration.
    let span = reference.duration * 12 / 10;
    let mut rng = fastrand::Rng::new();
    let mut phases: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut done, mut cycles, mut duplicates, mut finished_first) = (0, 0, 0usize, 0);
    let mut by_readers: BTreeMap<usize, usize> = BTreeMap::new();
    while done < kills {
        cycles += 1;
        let dir = root.path().join(format!("cycle-{cycles}"));
        // Cycles take turns: one reader, two sharing the streams, six
        // reading every stream in two partitions.
        let readers = [1, 2, 6][(cycles - 1) % 3];
        *by_readers.entry(readers).or_default() += 1;
        let file = pipeline(&dir, readers);
        // Up to two kills per cycle: one in a fresh run, one in the run that
        // resumes from it.
        let mut killed = 0;
        for attempt in 0..2 {
            if done == kills {
                break;
            }
            let (trigger, give_up) = Trigger::random(&mut rng, span);
            match run_and_kill(&file, trigger, give_up) {
                Some(phase) => {
                    done += 1;
                    killed += 1;
                    *phases.entry(phase).or_default() += 1;
                    check_not_ahead(
                        &dir,
                        &reference,
                        &format!("cycle {cycles}, kill {} ({phase})", attempt + 1),
                    );
                }
                None => finished_first += 1,
            }
        }
        let o = on_pipeline(&file, &["sync"]).output().unwrap();
        assert!(
            o.status.success(),
            "cycle {cycles}: the re-run failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let held = check_not_ahead(&dir, &reference, &format!("cycle {cycles}, completed"));
        check_history(&file, killed, cycles);
        // Every record of the source is there.
        let lines = destination(&dir);
        for (stream, expected) in &reference.lines {
            let have: HashSet<&String> = lines[stream].iter().collect();
            let missing = expected.iter().filter(|l| !have.contains(l)).count();
            assert_eq!(
                missing, 0,
                "cycle {cycles}: `{stream}` lost {missing} records"
            );
        }
        duplicates += held - reference.records;
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let report = json!({
        "kills": done,
        "cycles": cycles,
        "records_per_cycle": reference.records,
        "records_lost": 0,
        "state_ahead_of_destination": 0,
        "kills_by_phase": phases,
        "cycles_by_readers": by_readers,
        "runs_that_finished_before_their_kill": finished_first,
        "duplicates_redelivered": duplicates,
        "reference_run_ms": reference.duration.as_millis() as u64,
    });
    println!("crash report: {report}");
    if let Ok(path) = std::env::var("SLUICE_CRASH_REPORT") {
        std::fs::write(path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    }
}
