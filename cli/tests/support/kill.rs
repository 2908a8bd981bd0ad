//! Killing `sluice sync` with SIGKILL at chosen moments, and what the
//! crash tests check afterwards: the phase the run was in, the cursors the
//! state store kept, and the run history.

use super::sluice;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// When to kill a run.
#[derive(Clone, Copy, Debug)]
pub enum Trigger {
    /// After this long.
    After(Duration),
    /// As soon as the log shows this phase starting.
    OnLog(&'static str),
}

impl Trigger {
    /// A third of kills at a random time below `span`, the others as a
    /// commit of the destination or of the state begins; with the time
    /// after which a log trigger gives up and kills anyway.
    pub fn random(rng: &mut fastrand::Rng, span: Duration) -> (Trigger, Duration) {
        let span = span.as_micros() as u64;
        let trigger = match rng.u8(0..3) {
            0 => Trigger::After(Duration::from_micros(rng.u64(0..=span))),
            1 => Trigger::OnLog("destination commit begins"),
            _ => Trigger::OnLog("persisting checkpoints"),
        };
        (trigger, Duration::from_micros(rng.u64(0..=span)))
    }
}

/// `sluice ARGS file`.
pub fn on_pipeline(file: &Path, args: &[&str]) -> Command {
    let mut c = sluice();
    c.args(args).arg(file);
    c
}

/// Run `sluice sync file` and kill it at `trigger`; returns the phase it
/// was in, or `None` when it finished first.
pub fn run_and_kill(file: &Path, trigger: Trigger, give_up: Duration) -> Option<&'static str> {
    let log = file.with_extension("log");
    let mut child = on_pipeline(file, &["-vv", "sync"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut seen = 0;
    loop {
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        let fire = match trigger {
            Trigger::After(delay) => started.elapsed() >= delay,
            Trigger::OnLog(needle) => {
                let text = std::fs::read(&log).unwrap_or_default();
                let fresh = String::from_utf8_lossy(&text[seen.min(text.len())..]).into_owned();
                seen = text.len();
                fresh.contains(needle) || started.elapsed() >= give_up
            }
        };
        if fire {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    // SIGKILL: no destructor, no flush, no final commit.
    child.kill().unwrap();
    child.wait().unwrap();
    Some(phase(&std::fs::read_to_string(&log).unwrap_or_default()))
}

/// Where the killed run was, from its debug log.
pub fn phase(log: &str) -> &'static str {
    let last = log
        .lines()
        .rev()
        .find(|l| {
            l.contains("destination commit begins")
                || l.contains("persisting checkpoints")
                || l.contains("checkpoint persisted")
                || l.contains("attempt begins")
        })
        .unwrap_or("");
    if last.contains("destination commit begins") {
        "destination commit"
    } else if last.contains("persisting checkpoints") {
        "state write"
    } else if last.is_empty() {
        "start-up"
    } else {
        "read and write"
    }
}

/// Persisted cursor per stream, read from the state store as `sluice state
/// show` prints it: one per partition (`None` for a partition that has
/// not checkpointed yet), so a stream read whole has one. Partition `i` of
/// `n` holds the records whose id is `i` modulo `n`.
pub fn saved_cursors(file: &Path) -> BTreeMap<String, Vec<Option<String>>> {
    let o = on_pipeline(file, &["state", "show"]).output().unwrap();
    assert!(
        o.status.success(),
        "state show: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut out = BTreeMap::new();
    let streams = v.as_object().cloned().unwrap_or_default();
    let cursor = |state: &Value| state["cursor"].as_str().map(str::to_string);
    for (stream, saved) in streams {
        let state = &saved["state"];
        let cursors = match state["_sluice_partitions"].as_array() {
            Some(parts) => parts.iter().map(cursor).collect(),
            None => vec![Some(
                cursor(state).unwrap_or_else(|| panic!("cursor of {stream} in {saved}")),
            )],
        };
        out.insert(stream, cursors);
    }
    out
}

/// After a cycle's completing run: the runs its kills stopped are recorded
/// as interrupted (none is left `running`), the last one as succeeded.
pub fn check_history(file: &Path, killed: usize, cycle: usize) {
    let o = on_pipeline(file, &["runs", "--json"]).output().unwrap();
    let runs: Value = serde_json::from_slice(&o.stdout).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs[0]["status"], "succeeded", "cycle {cycle}: {runs:?}");
    let interrupted = runs[1..]
        .iter()
        .filter(|r| r["status"] == "interrupted")
        .count();
    // A kill during start-up comes before the run is recorded.
    assert!(interrupted <= killed, "cycle {cycle}: {runs:?}");
    for run in &runs[1..] {
        assert_ne!(run["status"], "running", "cycle {cycle}: {run}");
        for stream in run["streams"].as_array().unwrap() {
            assert_ne!(stream["status"], "running", "cycle {cycle}: {run}");
        }
    }
}
