//! The soak run: 50 pipelines on `every = "1s"` in one `sluice serve`
//! process. Its RSS and open descriptors (read from `/proc/PID`, once a
//! second) must stay flat, first minute against last (a quarter of the
//! run each when it is shorter than four minutes); no run of a pipeline overlaps
//! another; every run succeeds (or is stopped by the final SIGTERM) and
//! every output holds exactly the records its runs wrote.
//!
//! `SLUICE_SOAK_SECS` sets the length (default 20; `cargo xtask soak
//! --minutes N` runs N minutes and writes the figures to
//! `SLUICE_SOAK_REPORT`).

mod support;

use serde_json::{Value, json};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::kill::on_pipeline;
use support::{PipelineToml, sluice};

const PIPELINES: usize = 50;
const RECORDS: u64 = 20;

/// `/proc/PID/status`'s `VmRSS` in KiB, and the open descriptors.
fn sample(pid: u32) -> Option<(u64, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches(" kB")
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((rss, fds))
}

/// The median of `values`.
fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

fn write_pipelines(dir: &Path) {
    for n in 0..PIPELINES {
        let name = format!("p{n:02}");
        let text = PipelineToml::faker(json!({"count": RECORDS, "seed": n}))
            .name(&name)
            .stream(json!({"name": "users", "sync_mode": "full_refresh", "write_mode": "append"}))
            .extra("\n[schedule]\nevery = \"1s\"\n")
            .to_string()
            .replace("host = \"out\"", &format!("host = \"out/{name}\""));
        std::fs::create_dir_all(dir.join("out").join(&name)).unwrap();
        std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
    }
}

#[test]
fn fifty_pipelines_every_second_stay_flat_never_overlap_and_lose_nothing() {
    let secs: u64 = std::env::var("SLUICE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    write_pipelines(dir.path());
    let mut child = sluice()
        .args(["serve", "--rescan-secs", "1", "--grace-secs", "20"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(1));
        samples.extend(sample(child.id()));
    }
    // SAFETY: signalling our own child, which has not been reaped.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let status = child.wait().unwrap();
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(status.success(), "{status}: {log}");

    // One sample a second: the first and last minute, or quarter.
    let window = (samples.len() / 4).clamp(1, 60);
    let (first, last) = (&samples[..window], &samples[samples.len() - window..]);
    let rss = |s: &[(u64, usize)]| median(s.iter().map(|x| x.0).collect());
    let fds = |s: &[(u64, usize)]| median(s.iter().map(|x| x.1 as u64).collect());
    let (mut runs, mut failed) = (0, 0);
    for n in 0..PIPELINES {
        let file = dir.path().join(format!("p{n:02}.toml"));
        let o = on_pipeline(&file, &["runs", "--json"]).output().unwrap();
        let mut all: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
        all.reverse();
        for pair in all.windows(2) {
            let ended = pair[0]["ended_at_ms"].as_u64().expect("ended");
            assert!(
                pair[1]["started_at_ms"].as_u64().unwrap() >= ended,
                "p{n:02} overlaps: {pair:?}"
            );
        }
        // Runs the SIGTERM stopped end interrupted; any other end is a failure.
        failed += all
            .iter()
            .filter(|r| r["status"] != "succeeded" && r["status"] != "interrupted")
            .count();
        runs += all.len();
        // Appends: the file holds exactly what the runs say they wrote.
        let written: u64 = all
            .iter()
            .map(|r| r["streams"][0]["records"].as_u64().unwrap())
            .sum();
        let out = dir.path().join(format!("out/p{n:02}/users.jsonl"));
        let lines = std::fs::read_to_string(&out).unwrap().lines().count() as u64;
        assert_eq!(lines, written, "{}: nothing lost or doubled", out.display());
    }
    let report = json!({
        "pipelines": PIPELINES, "seconds": secs, "runs": runs, "runs_not_succeeded": failed,
        "window_secs": window,
        "rss_kib_first": rss(first), "rss_kib_last": rss(last),
        "fds_first": fds(first), "fds_last": fds(last),
        "records_per_run": RECORDS,
    });
    println!("soak report: {report}");
    if let Ok(path) = std::env::var("SLUICE_SOAK_REPORT") {
        std::fs::write(path, report.to_string()).unwrap();
    }
    assert_eq!(failed, 0, "every run succeeds: {log}");
    assert!(
        runs >= PIPELINES * (secs as usize) / 4,
        "{runs} runs in {secs} s"
    );
    assert!(fds(last) <= fds(first) + 8, "descriptors grow: {report}");
    assert!(
        rss(last) <= rss(first) + rss(first) / 4 + 16_384,
        "memory grows: {report}"
    );
}
