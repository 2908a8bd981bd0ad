//! Crash safety with a Singer tap as the source: `sluice sync` of the real
//! tap-jsonl (a process endpoint) into dest-file, killed with SIGKILL at
//! random moments, loses nothing, and the state it persisted is always one
//! the tap emitted after records the destination holds, every one of them.
//!
//! The tap runs behind a wrapper that keeps a copy of everything it
//! printed, so each check knows exactly which records came before the
//! persisted state. tap-jsonl re-reads every file on every run (it looks
//! its bookmark up under a key the singer-sdk never writes, and reads all
//! files for each file its state names), so each re-run re-sends
//! everything: duplicates, never losses (append is at-least-once).
//!
//! `SLUICE_CRASH_SINGER_KILLS` sets the number of kills (default 4;
//! `cargo xtask crash` runs more).

mod support;

use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::kill::{Trigger, check_history, on_pipeline, run_and_kill};
use support::{pyenv, toml_inline};

/// Files of the source and records in each. The singer-sdk states every
/// 10 000 records, so a run emits several. One file: tap-jsonl, given a
/// state, reads every file once per file the state names.
const FILES: usize = 1;
const PER_FILE: usize = 60_000;

/// The line the wrapper writes to the copy before each run of the tap.
/// It starts with a newline: a run killed mid-line leaves a torn line,
/// and the next run's first message must not be glued to it.
const RUN_MARK: &str = r#"{"type":"RUN"}"#;

/// The input files, once per test: `in/fNNN.jsonl`.
fn input(root: &Path) -> HashSet<i64> {
    let dir = root.join("in");
    std::fs::create_dir_all(&dir).unwrap();
    let mut ids = HashSet::new();
    for f in 0..FILES {
        let mut text = String::new();
        for i in 0..PER_FILE {
            let id = (f * PER_FILE + i) as i64;
            text.push_str(&format!(
                "{}\n",
                json!({"id": id, "name": format!("user {id}"), "score": id * 7 % 1000})
            ));
            ids.insert(id);
        }
        std::fs::write(dir.join(format!("f{f:03}.jsonl")), text).unwrap();
    }
    ids
}

/// A pipeline directory: the tap behind its recording wrapper, into
/// dest-file, committing often.
fn pipeline(root: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let tap = pyenv::ensure(pyenv::TAP_JSONL).unwrap_or_else(|e| panic!("set-up: {e}"));
    let wrapper = dir.join("tap.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/usr/bin/env bash\ncase \"$*\" in *--discover*) exec {tap} \"$@\";; esac\n\
             printf '\\n{RUN_MARK}\\n' >> {log}\nset -o pipefail\n{tap} \"$@\" | tee -a {log}\n",
            tap = tap.join("tap-jsonl").display(),
            log = dir.join("tap-out.jsonl").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = json!({"path": format!("{}/in/*.jsonl", root.display()), "stream_name": "items"});
    let text = format!(
        "[source]\nkind = \"process\"\nprotocol = \"singer\"\ncommand = [{:?}]\nconfig = {}\n\n\
         [destination]\ncomponent = {:?}\nconfig = {{ path = \"/out\" }}\n\
         dirs = [{{ host = \"out\", guest = \"/out\", write = true }}]\n\n\
         [options]\ncommit_interval_ms = 25\n",
        wrapper.display().to_string(),
        toml_inline(&config),
        sluice_artifacts::DEST_FILE
    );
    let file = dir.join("crash.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// The ids of the complete lines in the destination.
fn held(dir: &Path) -> Vec<i64> {
    let text = std::fs::read_to_string(dir.join("out/items.jsonl")).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |i| &text[..=i]);
    complete
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect()
}

/// The persisted bookmark of `items`, if any.
fn saved(file: &Path) -> Option<Value> {
    let o = on_pipeline(file, &["state", "show"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v.get("items").map(|s| s["state"].clone())
}

/// The persisted state is one the tap emitted, and every record it
/// printed before that state (in the run that emitted it) is held. The
/// tap prints the same state value many times, within a run and across
/// the runs of a cycle, so it holds when one of those places qualifies:
/// sluice persists a state only after every record before it, in its run,
/// is committed.
fn check_not_ahead(dir: &Path, file: &Path, all: &HashSet<i64>, when: &str) {
    let have: HashSet<i64> = held(dir).into_iter().collect();
    assert!(
        have.is_subset(all),
        "{when}: the destination holds records the tap never sent"
    );
    let Some(state) = saved(file) else {
        return;
    };
    let printed = std::fs::read_to_string(dir.join("tap-out.jsonl")).unwrap_or_default();
    let mut before: Vec<i64> = Vec::new();
    // The fewest records missing before any place the state was printed.
    let mut fewest: Option<(usize, i64)> = None;
    for line in printed.lines() {
        let Ok(m) = serde_json::from_str::<Value>(line) else {
            continue; // a line torn by the kill
        };
        match m["type"].as_str() {
            Some("RECORD") => before.push(m["record"]["id"].as_i64().unwrap()),
            Some("STATE") if m["value"]["bookmarks"]["items"] == state => {
                let missing: Vec<i64> = before
                    .iter()
                    .copied()
                    .filter(|id| !have.contains(id))
                    .collect();
                if missing.is_empty() {
                    return;
                }
                if fewest.is_none_or(|(n, _)| missing.len() < n) {
                    fewest = Some((missing.len(), missing[0]));
                }
            }
            Some("RUN") => before.clear(), // a new run of the tap
            _ => {}
        }
    }
    match fewest {
        Some((n, first)) => panic!(
            "{when}: the state is ahead: wherever the tap printed it, records before it are not held (at the fewest {n}, first: {first})"
        ),
        None => panic!("{when}: the persisted state {state} is not one the tap printed"),
    }
}

#[test]
fn kill_9_during_a_singer_tap_loses_nothing_and_state_never_runs_ahead() {
    let kills: usize = std::env::var("SLUICE_CRASH_SINGER_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let root = tempfile::tempdir().unwrap();
    let all = input(root.path());
    // The reference: an uninterrupted run, for its duration.
    let reference = root.path().join("reference");
    let file = pipeline(root.path(), &reference);
    let started = Instant::now();
    let o = on_pipeline(&file, &["sync"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let span = started.elapsed() * 12 / 10;
    assert_eq!(held(&reference).len(), all.len());
    let mut rng = fastrand::Rng::new();
    let (mut done, mut cycles) = (0, 0);
    while done < kills {
        cycles += 1;
        let dir = root.path().join(format!("cycle-{cycles}"));
        let file = pipeline(root.path(), &dir);
        let mut killed = 0;
        for attempt in 0..2 {
            if done == kills {
                break;
            }
            let (trigger, give_up) = Trigger::random(&mut rng, span);
            if let Some(phase) =
                run_and_kill(&file, trigger, give_up.max(Duration::from_millis(50)))
            {
                done += 1;
                killed += 1;
                check_not_ahead(
                    &dir,
                    &file,
                    &all,
                    &format!("cycle {cycles}, kill {} ({phase})", attempt + 1),
                );
            }
        }
        let o = on_pipeline(&file, &["sync"]).output().unwrap();
        assert!(
            o.status.success(),
            "cycle {cycles}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        check_not_ahead(&dir, &file, &all, &format!("cycle {cycles}, completed"));
        check_history(&file, killed, cycles);
        let have: HashSet<i64> = held(&dir).into_iter().collect();
        assert_eq!(have.len(), all.len(), "cycle {cycles}: records lost");
        std::fs::remove_dir_all(&dir).unwrap();
    }
    println!(
        "crash report (singer tap): {}",
        json!({"kills": done, "cycles": cycles, "records_per_run": all.len(), "records_lost": 0})
    );
}
