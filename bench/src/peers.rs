//! The peers, installed from PyPI into virtual environments of their own
//! (their pins conflict): Airbyte's `airbyte-source-faker`, Singer's
//! `tap-jsonl` and `target-jsonl`.

use crate::proc::{Outcome, median, reap, run_counting, spawn};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Package pins, one virtual environment each (the tests' own).
pub use sluice_pyenv::{
    AIRBYTE_SOURCE_FAKER as AIRBYTE, Package, TAP_JSONL as TAP, TARGET_JSONL as TARGET,
};

/// The `bin/` directory of `package`'s environment under `work/venvs`,
/// installed from PyPI first if it is not there yet.
pub fn venv(work: &Path, package: Package) -> Result<PathBuf, String> {
    sluice_pyenv::ensure_in(&work.join("venvs"), package)
}

/// A peer's figures.
#[derive(Debug, Clone, Copy)]
pub struct PeerRun {
    /// Records moved.
    pub records: u64,
    /// Median wall seconds of the whole run, start-up included.
    pub secs: f64,
    /// Median seconds of the cheapest command (`spec`/`--about`): start-up.
    pub startup_secs: f64,
    /// Peak RSS, KiB (summed over the processes of a pipe).
    pub peak_rss_kib: u64,
}

fn time_command(cmd: &mut Command) -> Result<f64, String> {
    let started = Instant::now();
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    Ok(started.elapsed().as_secs_f64())
}

/// `source-faker read` of `count` users, `runs` times.
pub fn airbyte_faker(work: &Path, count: u64, runs: usize) -> Result<PeerRun, String> {
    let bin = venv(work, AIRBYTE)?;
    let dir = work.join("airbyte");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let config = dir.join("config.json");
    let catalog = dir.join("catalog.json");
    std::fs::write(
        &config,
        json!({"count": count, "seed": 42, "records_per_slice": 1000, "parallelism": 1})
            .to_string(),
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(
        &catalog,
        json!({"streams": [{
            "stream": {"name": "users", "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
            "sync_mode": "full_refresh",
            "destination_sync_mode": "overwrite"
        }]})
        .to_string(),
    )
    .map_err(|e| e.to_string())?;
    let faker = bin.join("source-faker");
    let mut startup = Vec::new();
    for _ in 0..runs {
        startup.push(time_command(Command::new(&faker).arg("spec"))?);
    }
    let mut secs = Vec::new();
    let mut last: Option<Outcome> = None;
    for _ in 0..runs {
        // Airbyte messages are one JSON object a line: {"type":"RECORD",...}.
        let o = run_counting(
            Command::new(&faker)
                .arg("read")
                .arg("--config")
                .arg(&config)
                .arg("--catalog")
                .arg(&catalog),
            "\"RECORD\"",
        )?;
        secs.push(o.secs);
        last = Some(o);
    }
    let last = last.ok_or("no run")?;
    if last.lines != count {
        return Err(format!(
            "airbyte source-faker emitted {} records, expected {count}",
            last.lines
        ));
    }
    Ok(PeerRun {
        records: last.lines,
        secs: median(&mut secs),
        startup_secs: median(&mut startup),
        peak_rss_kib: last.peak_rss_kib,
    })
}

/// `tap-jsonl | target-jsonl` over `input` (a JSON-lines file of `records`).
pub fn singer_jsonl(
    work: &Path,
    input: &Path,
    records: u64,
    runs: usize,
) -> Result<PeerRun, String> {
    let tap_bin = venv(work, TAP)?;
    let target_bin = venv(work, TARGET)?;
    let dir = work.join("singer");
    let out = dir.join("out");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let tap_config = dir.join("tap.json");
    let target_config = dir.join("target.json");
    std::fs::write(
        &tap_config,
        json!({"path": input.display().to_string(), "stream_name": "users"}).to_string(),
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(
        &target_config,
        json!({"destination_path": out.display().to_string(), "do_timestamp_file": false})
            .to_string(),
    )
    .map_err(|e| e.to_string())?;
    let tap = tap_bin.join("tap-jsonl");
    let target = target_bin.join("target-jsonl");
    let mut startup = Vec::new();
    for _ in 0..runs {
        startup.push(time_command(Command::new(&tap).arg("--about"))?);
    }
    let mut secs = Vec::new();
    let mut rss = 0;
    let mut written = 0;
    for _ in 0..runs {
        let _ = std::fs::remove_dir_all(&out);
        let started = Instant::now();
        let mut tap_child = spawn(
            Command::new(&tap)
                .arg("--config")
                .arg(&tap_config)
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        )
        .map_err(|e| format!("tap-jsonl: {e}"))?;
        let pipe = tap_child.stdout.take().expect("piped");
        let target_child = spawn(
            Command::new(&target)
                .arg("--config")
                .arg(&target_config)
                .stdin(Stdio::from(pipe))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .map_err(|e| format!("target-jsonl: {e}"))?;
        let (tap_ok, tap_rss) = reap(tap_child)?;
        let (target_ok, target_rss) = reap(target_child)?;
        secs.push(started.elapsed().as_secs_f64());
        if !(tap_ok && target_ok) {
            return Err("tap-jsonl | target-jsonl failed".into());
        }
        rss = tap_rss + target_rss;
        written = count_lines(&out.join("users.jsonl"))?;
    }
    if written != records {
        return Err(format!(
            "target-jsonl wrote {written} records, expected {records}"
        ));
    }
    Ok(PeerRun {
        records: written,
        secs: median(&mut secs),
        startup_secs: median(&mut startup),
        peak_rss_kib: rss,
    })
}

fn count_lines(path: &Path) -> Result<u64, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(data.iter().filter(|b| **b == b'\n').count() as u64)
}
