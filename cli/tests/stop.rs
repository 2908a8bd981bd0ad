//! SIGINT and SIGTERM during `sluice sync`, sent as a user's Ctrl-C or a
//! service manager would: the run stops after its current batch, commits
//! what was written, saves the state covering it, is recorded
//! `interrupted`, and the process exits 130 within seconds; a re-run then
//! moves only what the first did not, so an append destination holds
//! every record exactly once. A second signal exits at once, and loses
//! nothing either. `sync --metrics-addr` serves the run's metrics while it
//! goes on.

mod support;

use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::kill::on_pipeline;
use support::{PipelineToml, url_from_stderr};

/// More users than a run moves before the signal.
const USERS: u64 = 2_000_000;

/// The ids in `out/users.jsonl`, and how many lines it has.
fn written(dir: &Path) -> (HashSet<u64>, usize) {
    let text = std::fs::read_to_string(dir.join("out/users.jsonl")).unwrap_or_default();
    let ids: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let n = ids.len();
    (ids.into_iter().collect(), n)
}

fn stop_with(signal: libc::c_int, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    // Committing only at the end, but for the stop: what the signal
    // finds written is covered by no checkpoint yet.
    let file = PipelineToml::faker(json!({"count": USERS}))
        .options(json!({"commit_interval_ms": 3_600_000}))
        .stream(json!({"name": "users", "sync_mode": "incremental", "write_mode": "append"}))
        .write(dir.path(), "stop.toml");
    let child = on_pipeline(&file, &["sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = dir.path().join("out/users.jsonl");
    let waited = Instant::now();
    while std::fs::metadata(&out).map_or(0, |m| m.len()) < 1 << 20 {
        assert!(
            waited.elapsed() < Duration::from_secs(120),
            "{name}: nothing written"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: signalling our own child, which has not been reaped.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
    let signalled = Instant::now();
    let o = child.wait_with_output().unwrap();
    let took = signalled.elapsed();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{name}: {err}");
    assert!(
        took < Duration::from_secs(10),
        "{name}: exited after {took:?}"
    );
    assert!(
        err.contains(name) && err.contains("interrupted"),
        "{name}: {err}"
    );

    let (ids, lines) = written(dir.path());
    assert!(
        lines > 0 && (lines as u64) < USERS,
        "{name}: stopped midway, {lines} written"
    );
    assert_eq!(ids.len(), lines, "{name}: no record twice");
    let runs = on_pipeline(&file, &["runs", "--json"]).output().unwrap();
    let runs: Value = serde_json::from_slice(&runs.stdout).unwrap();
    assert_eq!(runs[0]["status"], "interrupted", "{name}: {runs}");
    assert_eq!(
        runs[0]["streams"][0]["records"], lines as u64,
        "{name}: {runs}"
    );

    let o = on_pipeline(&file, &["sync"]).output().unwrap();
    assert!(
        o.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (ids, lines) = written(dir.path());
    assert_eq!(lines as u64, USERS, "{name}: every record exactly once");
    assert_eq!(ids.len() as u64, USERS, "{name}: every record exactly once");
}

#[test]
fn sigint_during_a_sync_saves_what_was_written_and_a_rerun_sends_nothing_twice() {
    stop_with(libc::SIGINT, "SIGINT");
}

#[test]
fn sigterm_during_a_sync_saves_what_was_written_and_a_rerun_sends_nothing_twice() {
    stop_with(libc::SIGTERM, "SIGTERM");
}

/// The samples of `name` in a metrics page, by their label text.
fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(&format!("{name}{{pipeline=\"stop\",stream=\"users\"}} ")))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn a_second_signal_exits_at_once_and_metrics_are_served_while_a_sync_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = PipelineToml::faker(json!({"count": USERS}))
        .name("stop")
        .options(json!({"commit_interval_ms": 3_600_000}))
        .stream(json!({"name": "users", "sync_mode": "incremental", "write_mode": "append"}))
        .write(dir.path(), "stop.toml");
    let mut child = on_pipeline(&file, &["sync", "--json", "--metrics-addr", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (url, log) = url_from_stderr(&mut child, "sluice: metrics on ");
    let waited = Instant::now();
    let body = loop {
        let body = ureq::get(&url)
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        if sample(&body, "sluice_exported_documents_total").is_some_and(|n| n > 0.0) {
            break body;
        }
        assert!(waited.elapsed() < Duration::from_secs(120), "{body}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let ingested = sample(&body, "sluice_ingested_documents_total").unwrap();
    let exported = sample(&body, "sluice_exported_documents_total").unwrap();
    assert!(exported <= ingested && ingested < USERS as f64, "{body}");
    assert!(
        sample(&body, "sluice_ingested_bytes_total").unwrap() > ingested * 20.0,
        "{body}"
    );
    let lag = sample(&body, "sluice_ingest_lag_seconds").expect("an ingest lag gauge");
    assert!((0.0..60.0).contains(&lag), "{body}");

    let pid = child.id() as libc::pid_t;
    // SAFETY: signalling our own child, which has not been reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    std::thread::sleep(Duration::from_millis(20));
    // SAFETY: as above; the child may be gone already, which is fine.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let signalled = Instant::now();
    let status = child.wait().unwrap();
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "{:?}",
        signalled.elapsed()
    );
    let err = log.join().unwrap().join("\n");
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("SIGINT: stopping"), "{err}");

    // Whatever the second signal cut short, the next run sends the rest:
    // nothing lost (an append destination may hold some twice).
    let o = on_pipeline(&file, &["sync"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (ids, _) = written(dir.path());
    assert_eq!(ids.len() as u64, USERS, "every record at least once");
    let runs = on_pipeline(&file, &["runs", "--json"]).output().unwrap();
    let runs: Value = serde_json::from_slice(&runs.stdout).unwrap();
    assert_eq!(runs[1]["status"], "interrupted", "{runs}");
    assert_eq!(runs[0]["status"], "succeeded", "{runs}");
}
