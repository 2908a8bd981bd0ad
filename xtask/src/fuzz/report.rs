//! What a fuzzing run found, per target, and the summary table
//! `cargo xtask fuzz` prints (runs, runs per second, corpus, result).

use std::fmt;
use std::path::PathBuf;

/// What one target's run found.
#[derive(Debug)]
pub struct TargetReport {
    /// The fuzz target.
    pub target: String,
    /// Inputs executed (libFuzzer's `Done N runs` or its last status line).
    pub runs: Option<u64>,
    /// Seconds it ran, as libFuzzer reports them.
    pub seconds: Option<u64>,
    /// Files in the working corpus after the run.
    pub corpus_files: usize,
    /// Their total size in bytes.
    pub corpus_bytes: u64,
    /// The crash, timeout or out-of-memory it found, if any.
    pub crash: Option<Crash>,
}

/// A failing input found by a run.
#[derive(Debug)]
pub struct Crash {
    /// The input libFuzzer saved (`fuzz/artifacts/<target>/crash-...`).
    pub artifact: Option<PathBuf>,
    /// How the fuzzer exited.
    pub status: String,
    /// The first line that says what went wrong (panic message, libFuzzer
    /// error).
    pub summary: String,
    /// The full output of the run.
    pub log: PathBuf,
}

/// The results of `run`, one entry per target.
#[derive(Debug)]
pub struct FuzzReport {
    /// Seconds each target was given.
    pub seconds_per_target: u64,
    /// Per-target results, in run order.
    pub targets: Vec<TargetReport>,
}

impl FuzzReport {
    /// The targets that found something.
    pub fn crashed(&self) -> impl Iterator<Item = &TargetReport> {
        self.targets.iter().filter(|t| t.crash.is_some())
    }
}

impl fmt::Display for FuzzReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "fuzzing, {} s per target:\n  {:<14} {:>12} {:>9} {:>18}  result",
            self.seconds_per_target, "target", "runs", "runs/s", "corpus"
        )?;
        for t in &self.targets {
            let runs = t.runs.map_or("?".to_string(), |r| r.to_string());
            let rate = match (t.runs, t.seconds) {
                (Some(r), Some(s)) if s > 0 => (r / s).to_string(),
                _ => "-".to_string(),
            };
            let corpus = format!("{} files, {}", t.corpus_files, human_bytes(t.corpus_bytes));
            let result = match &t.crash {
                None => "ok".to_string(),
                Some(c) => format!("FOUND: {}", c.summary),
            };
            writeln!(
                f,
                "  {:<14} {:>12} {:>9} {:>18}  {result}",
                t.target, runs, rate, corpus
            )?;
        }
        Ok(())
    }
}

fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}
