//! `sluice serve` as a service manager runs it: pipelines on their
//! schedules, files added, changed and removed while it runs, a bad file
//! reported and skipped, two processes on one store, and SIGTERM during a
//! run.

mod support;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::kill::on_pipeline;
use support::{PipelineToml, sluice, url_from_stderr};

/// A source-faker pipeline `name.toml` in `dir` with `[schedule]`
/// `schedule`, into `out/<name>/`.
fn pipeline(dir: &Path, name: &str, count: u64, schedule: &str, stream: Value) -> PathBuf {
    let toml = PipelineToml::faker(json!({"count": count}))
        .name(name)
        .destination_config(json!({"path": "/out"}))
        .stream(stream)
        .extra(&format!("\n[schedule]\n{schedule}\n"));
    let text = toml.to_string();
    assert!(text.contains("host = \"out\""), "{text}");
    let text = text.replace("host = \"out\"", &format!("host = \"out/{name}\""));
    std::fs::create_dir_all(dir.join("out").join(name)).unwrap();
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    file
}

fn users(mode: &str) -> Value {
    json!({"name": "users", "sync_mode": "full_refresh", "write_mode": mode})
}

/// `sluice serve dir`, its stderr in `dir/serve-N.log`.
fn serve(dir: &Path, n: usize) -> Child {
    serve_with(dir, n, &[])
}

/// [`serve`] with more flags.
fn serve_with(dir: &Path, n: usize, flags: &[&str]) -> Child {
    sluice()
        .args(["serve", "--rescan-secs", "0.2", "--grace-secs", "20"])
        .args(flags)
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("serve-{n}.log"))).unwrap())
        .spawn()
        .unwrap()
}

/// SIGTERM, then the exit code and how long it took.
fn terminate(child: Child) -> (Option<i32>, Duration) {
    // SAFETY: signalling our own child, which has not been reaped.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let sent = Instant::now();
    let o = child.wait_with_output().unwrap();
    (o.status.code(), sent.elapsed())
}

/// The pipeline's runs, oldest first.
fn runs(file: &Path) -> Vec<Value> {
    let o = on_pipeline(file, &["runs", "--json"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut runs: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    runs.reverse();
    runs
}

/// No run started before the one before it ended.
fn assert_no_overlap(file: &Path, runs: &[Value]) {
    for pair in runs.windows(2) {
        let ended = pair[0]["ended_at_ms"].as_u64().expect("ended");
        let started = pair[1]["started_at_ms"].as_u64().unwrap();
        assert!(
            started >= ended,
            "{}: overlapping runs {pair:?}",
            file.display()
        );
    }
}

#[test]
fn pipelines_run_on_their_schedules_as_files_come_and_go() {
    let dir = tempfile::tempdir().unwrap();
    let a = pipeline(dir.path(), "a", 500, "every = \"1s\"", users("overwrite"));
    let b = pipeline(dir.path(), "b", 500, "every = \"1s\"", users("overwrite"));
    std::fs::write(dir.path().join("broken.toml"), "[source]\ncomponent = \"x.wasm\"\n[destination]\ncomponent = \"y.wasm\"\n[schedule]\ncron = \"61 * * * *\"\n").unwrap();
    let child = serve(dir.path(), 1);
    std::thread::sleep(Duration::from_millis(2500));
    let c = pipeline(dir.path(), "c", 500, "every = \"1s\"", users("overwrite"));
    // A changed file is read again: `a`'s later runs move 700 users.
    pipeline(dir.path(), "a", 700, "every = \"1s\"", users("overwrite"));
    let b_runs_when_removed = runs(&b).len();
    let b_text = std::fs::read_to_string(&b).unwrap();
    std::fs::remove_file(&b).unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let (code, took) = terminate(child);
    let log = std::fs::read_to_string(dir.path().join("serve-1.log")).unwrap();
    assert_eq!(code, Some(0), "{log}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(
        log.contains("broken.toml") && log.contains("`schedule.cron`"),
        "{log}"
    );

    let a_runs = runs(&a);
    // About five seconds of `every = "1s"` (the first run compiles).
    assert!((3..=7).contains(&a_runs.len()), "{}: {log}", a_runs.len());
    assert!(
        a_runs.iter().all(|r| r["status"] == "succeeded"),
        "{a_runs:?}"
    );
    assert_no_overlap(&a, &a_runs);
    let c_runs = runs(&c);
    assert!(!c_runs.is_empty(), "the added file runs: {log}");
    // Back, once the service is gone, to read b's history.
    std::fs::write(&b, b_text).unwrap();
    assert!(
        runs(&b).len() <= b_runs_when_removed + 1,
        "the removed file stops: {log}"
    );
    assert!(log.contains("b.toml: removed"), "{log}");
    let lines = std::fs::read_to_string(dir.path().join("out/a/users.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 700, "the changed file is used");
    assert_eq!(a_runs.last().unwrap()["streams"][0]["records"], 700);
    assert_eq!(a_runs[0]["streams"][0]["records"], 500);

    // `status` of the directory: the good pipelines, and the broken file
    // named on stderr.
    let o = sluice()
        .args(["status", "--json"])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("broken.toml") && err.contains("`schedule.cron`"),
        "{err}"
    );
    let all: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let a = all.iter().find(|p| p["pipeline"] == "a").unwrap();
    assert_eq!(a["schedule"], "every 1s", "{a}");
    assert!(
        a["next_run_ms"].as_u64().unwrap() > a["last_run"]["started_at_ms"].as_u64().unwrap(),
        "{a}"
    );
    assert_eq!(a["last_run"]["status"], "succeeded", "{a}");
    let users = &a["streams"][0];
    assert_eq!(users["stream"], "users", "{a}");
    assert_eq!(users["records"], 700, "{a}");
    assert_eq!(users["schema_version"], 1, "{a}");
    assert!(users["last_synced_ms"].as_u64().unwrap() > 0, "{a}");
}

#[test]
fn two_services_on_one_store_never_run_a_pipeline_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = pipeline(dir.path(), "a", 2000, "every = \"1s\"", users("overwrite"));
    let (first, second) = (serve(dir.path(), 1), serve(dir.path(), 2));
    std::thread::sleep(Duration::from_millis(4500));
    let (c1, _) = terminate(first);
    let (c2, _) = terminate(second);
    assert_eq!((c1, c2), (Some(0), Some(0)));
    let all = runs(&a);
    assert!(all.len() >= 2, "{all:?}");
    assert_no_overlap(&a, &all);
}

#[test]
fn with_a_concurrency_of_one_no_two_runs_are_ever_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = pipeline(
        dir.path(),
        "a",
        20_000,
        "every = \"1s\"",
        users("overwrite"),
    );
    let b = pipeline(
        dir.path(),
        "b",
        20_000,
        "every = \"1s\"",
        users("overwrite"),
    );
    let child = serve_with(dir.path(), 1, &["--concurrency", "1"]);
    std::thread::sleep(Duration::from_millis(4000));
    assert_eq!(terminate(child).0, Some(0));
    let (a_runs, b_runs) = (runs(&a), runs(&b));
    assert!(
        !a_runs.is_empty() && !b_runs.is_empty(),
        "{a_runs:?} {b_runs:?}"
    );
    let mut all: Vec<Value> = a_runs.into_iter().chain(b_runs).collect();
    all.sort_by_key(|r| r["started_at_ms"].as_u64());
    assert_no_overlap(dir.path(), &all);
}

#[test]
fn sigterm_during_a_run_saves_what_was_written_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let stream = json!({"name": "users", "sync_mode": "incremental", "write_mode": "append"});
    let file = pipeline(dir.path(), "big", 2_000_000, "every = \"1h\"", stream);
    let text =
        std::fs::read_to_string(&file).unwrap() + "\n[options]\ncommit_interval_ms = 3600000\n";
    std::fs::write(&file, text).unwrap();
    let child = serve(dir.path(), 1);
    let out = dir.path().join("out/big/users.jsonl");
    let waited = Instant::now();
    while std::fs::metadata(&out).map_or(0, |m| m.len()) < 1 << 20 {
        assert!(
            waited.elapsed() < Duration::from_secs(120),
            "nothing written"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let (code, took) = terminate(child);
    let log = std::fs::read_to_string(dir.path().join("serve-1.log")).unwrap();
    assert_eq!(code, Some(0), "{log}");
    assert!(took < Duration::from_secs(10), "{took:?}: {log}");
    let last = runs(&file).pop().unwrap();
    assert_eq!(last["status"], "interrupted", "{last}");
    let o = on_pipeline(&file, &["sync"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    let ids: std::collections::HashSet<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(text.lines().count(), 2_000_000, "every record once");
    assert_eq!(ids.len(), 2_000_000, "every record once");

    // What the re-run moved, its cursor and its lag, as `status` shows
    // them; the same cursor from `state show --json`.
    let o = on_pipeline(&file, &["status", "--json"]).output().unwrap();
    let status: Value = serde_json::from_slice(&o.stdout).unwrap();
    let users = &status[0]["streams"][0];
    let rerun = runs(&file).pop().unwrap();
    assert_eq!(users["records"], rerun["streams"][0]["records"], "{status}");
    assert_eq!(users["bytes"], rerun["streams"][0]["bytes"], "{status}");
    let moved = users["records"].as_u64().unwrap();
    assert!(moved > 0 && moved < 2_000_000, "{status}");
    assert!(users["bytes"].as_u64().unwrap() > moved * 20, "{status}");
    let extracted = users["extracted_at_ms"]
        .as_u64()
        .expect("an extraction time");
    assert!(
        extracted >= rerun["started_at_ms"].as_u64().unwrap(),
        "{status}"
    );
    let cursor = &users["state"]["cursor"];
    assert!(!cursor.is_null(), "{status}");
    let o = on_pipeline(&file, &["state", "show", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let saved: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(&saved["users"]["state"]["cursor"], cursor, "{saved}");
    assert_eq!(saved["users"]["run_id"], rerun["id"], "{saved}");
}

/// Serve `dir` until the pipeline `file` has `n` finished runs; then stop.
fn serve_until(dir: &Path, file: &Path, n: usize, log: usize) {
    let child = serve(dir, log);
    let waited = Instant::now();
    while runs(file)
        .iter()
        .filter(|r| r["status"] != "running")
        .count()
        < n
    {
        assert!(waited.elapsed() < Duration::from_secs(60), "run {n}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(terminate(child).0, Some(0));
}

/// A run missed while no service was up: with `catch_up = "once"` it runs
/// as the service starts, with `"skip"` at the next time on the schedule.
fn catch_up(policy: &str) -> (Vec<Value>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let schedule = format!("every = \"4s\"\ncatch_up = \"{policy}\"");
    let file = pipeline(dir.path(), "p", 100, &schedule, users("overwrite"));
    serve_until(dir.path(), &file, 1, 1);
    let first = runs(&file)[0]["started_at_ms"].as_u64().unwrap();
    // Down past the next time (first + 4 s), up before the one after.
    let down = Duration::from_millis((first + 4_500).saturating_sub(now_ms()));
    std::thread::sleep(down);
    let child = serve(dir.path(), 2);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(terminate(child).0, Some(0));
    let o = on_pipeline(&file, &["status", "--json"]).output().unwrap();
    let status: Value = serde_json::from_slice(&o.stdout).unwrap();
    (runs(&file), status[0].clone())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn a_missed_run_runs_once_as_the_service_starts_with_catch_up_once() {
    let (runs, status) = catch_up("once");
    assert_eq!(runs.len(), 2, "{runs:?}");
    let (first, second) = (&runs[0], &runs[1]);
    let gap = second["started_at_ms"].as_u64().unwrap() - first["started_at_ms"].as_u64().unwrap();
    assert!(
        gap >= 4_500,
        "the second run is the service's restart: {gap} ms"
    );
    assert_eq!(second["status"], "succeeded", "{second}");
    // And on from there: the next time counts from the run at start.
    let next = status["next_run_ms"].as_u64().unwrap();
    assert_eq!(
        next,
        second["started_at_ms"].as_u64().unwrap() + 4_000,
        "{status}"
    );
}

#[test]
fn a_missed_run_waits_for_its_next_time_with_catch_up_skip() {
    let (runs, status) = catch_up("skip");
    assert_eq!(runs.len(), 1, "nothing ran at start: {runs:?}");
    let first = runs[0]["started_at_ms"].as_u64().unwrap();
    // The missed time (first + 4 s) is skipped for the one after it.
    assert_eq!(
        status["next_run_ms"].as_u64().unwrap(),
        first + 8_000,
        "{status}"
    );
}

/// GET `url`: the status and the body.
fn get(url: &str) -> (u16, String) {
    match ureq::get(url).call() {
        Ok(mut r) => (r.status().as_u16(), r.body_mut().read_to_string().unwrap()),
        Err(ureq::Error::StatusCode(code)) => (code, String::new()),
        Err(e) => panic!("GET {url}: {e}"),
    }
}

#[test]
fn metrics_count_what_a_run_moved_and_the_probes_answer() {
    let dir = tempfile::tempdir().unwrap();
    let file = pipeline(dir.path(), "m", 3000, "every = \"1h\"", users("overwrite"));
    let mut child = sluice()
        .args([
            "serve",
            "--rescan-secs",
            "0.2",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (url, drain) = url_from_stderr(&mut child, "sluice: metrics on ");
    let done = "sluice_runs_total{pipeline=\"m\",status=\"succeeded\"} 1";
    let waited = Instant::now();
    let body = loop {
        let (code, body) = get(&url);
        assert_eq!(code, 200);
        if body.contains(done) {
            break body;
        }
        assert!(waited.elapsed() < Duration::from_secs(60), "{body}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let base = url.trim_end_matches("/metrics");
    assert_eq!(get(&format!("{base}/healthz")), (200, "ok\n".into()));
    assert_eq!(get(&format!("{base}/readyz")), (200, "ready\n".into()));
    let (code, _) = terminate(child);
    assert_eq!(code, Some(0), "{:?}", drain.join().unwrap());
    // Once the service is gone: between runs it still opens the store to
    // persist the next run, and redb lets one process at a time in.
    let run = runs(&file).pop().unwrap();
    let bytes = run["streams"][0]["bytes"].as_u64().unwrap();
    assert_eq!(run["streams"][0]["records"], 3000);
    for line in [
        "sluice_ingested_documents_total{pipeline=\"m\",stream=\"users\"} 3000".to_string(),
        "sluice_exported_documents_total{pipeline=\"m\",stream=\"users\"} 3000".to_string(),
        format!("sluice_exported_bytes_total{{pipeline=\"m\",stream=\"users\"}} {bytes}"),
        "sluice_run_duration_seconds_count{pipeline=\"m\"} 1".to_string(),
    ] {
        assert!(body.lines().any(|l| l == line), "{line} in\n{body}");
    }
    let lag = body
        .lines()
        .find_map(|l| l.strip_prefix("sluice_export_lag_seconds{pipeline=\"m\",stream=\"users\"} "))
        .unwrap_or_else(|| panic!("a lag gauge in\n{body}"));
    let lag: f64 = lag.parse().unwrap();
    assert!((0.0..60.0).contains(&lag), "lag {lag}");
    assert!(body.contains("sluice_state_store_bytes{store="), "{body}");
    assert!(body.trim_end().ends_with("# EOF"), "{body}");
}
