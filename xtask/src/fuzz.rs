//! `cargo xtask fuzz [--seconds N] [--asan] [target...]`: time-boxed
//! cargo-fuzz runs of the parsers' fuzz targets (`fuzz/`, see
//! docs/fuzzing.md).
//!
//! Installs cargo-fuzz if it is missing, builds every target once, copies
//! the committed seeds (`fuzz/seeds/<target>/`) into the working corpus
//! (`fuzz/corpus/<target>/`, not committed), lets the state-store target
//! generate its seed stores, then runs each target for N seconds and
//! reports runs, corpus size and crashes. Any crash fails the task, naming
//! the target and the input that reproduces it.
//!
//! Works on the stable toolchain: without a sanitizer cargo-fuzz passes
//! no `-Z` flag. `--asan` adds AddressSanitizer, which needs `-Zsanitizer`
//! and so `RUSTC_BOOTSTRAP=1` on stable; it builds into its own target
//! directory.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The cargo-fuzz release this task installs (and was tested with).
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Every fuzz target, in the order they run.
const TARGETS: [&str; 5] = ["pipeline_file", "catalog", "config", "batch", "state_store"];

/// Seconds per target when `--seconds` is not given.
const DEFAULT_SECONDS: u64 = 60;

/// A single input that runs longer than this (seconds) is a finding.
const INPUT_TIMEOUT_SECS: u64 = 20;

/// Usage of `cargo xtask fuzz`.
pub const USAGE: &str = "usage: cargo xtask fuzz [--seconds N] [--asan] [target...] \
     (targets: pipeline_file, catalog, config, batch, state_store; default: all, 60 s each)";

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

/// `cargo xtask fuzz ARGS`: parse the arguments, run, print the report.
pub fn main(mut args: impl Iterator<Item = String>) -> Result<(), String> {
    let mut seconds = DEFAULT_SECONDS;
    let mut asan = false;
    let mut targets = Vec::new();
    while let Some(arg) = args.next() {
        if let Some(value) = arg.strip_prefix("--seconds=") {
            seconds = parse_seconds(value)?;
        } else if arg == "--seconds" {
            let value = args.next().ok_or(USAGE)?;
            seconds = parse_seconds(&value)?;
        } else if arg == "--asan" {
            asan = true;
        } else if arg.starts_with('-') {
            return Err(format!("unknown option {arg}; {USAGE}"));
        } else {
            targets.push(arg);
        }
    }
    // Both print the report; an error names what was found.
    let root = super::root();
    if asan {
        run_with(&root, seconds, &targets, true)?;
    } else {
        run(&root, seconds, &targets)?;
    }
    Ok(())
}

fn parse_seconds(value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("--seconds wants a positive number, not `{value}`")),
    }
}

/// Fuzz `targets` (all when empty) for `seconds_per_target` each, without
/// a sanitizer (stable toolchain), and print the report. Returns it when
/// nothing was found; when a target crashed, the error names each such
/// target and the input that reproduces it.
pub fn run(root: &Path, seconds_per_target: u64, targets: &[String]) -> Result<FuzzReport, String> {
    run_with(root, seconds_per_target, targets, false)
}

fn run_with(
    root: &Path,
    seconds_per_target: u64,
    targets: &[String],
    asan: bool,
) -> Result<FuzzReport, String> {
    let fuzz_dir = root.join("fuzz");
    let targets: Vec<String> = if targets.is_empty() {
        TARGETS.iter().map(|t| t.to_string()).collect()
    } else {
        for t in targets {
            if !TARGETS.contains(&t.as_str()) {
                return Err(format!(
                    "no fuzz target `{t}`; the targets are {}",
                    TARGETS.join(", ")
                ));
            }
        }
        targets.to_vec()
    };
    ensure_cargo_fuzz()?;
    let sanitizer = Sanitizer { asan };
    super::run(
        &format!("building the fuzz targets ({})", sanitizer.name()),
        sanitizer.apply(&mut cargo_fuzz(&fuzz_dir, "build")),
    )?;

    let mut report = FuzzReport {
        seconds_per_target,
        targets: Vec::new(),
    };
    for target in &targets {
        report
            .targets
            .push(fuzz_one(&fuzz_dir, target, seconds_per_target, &sanitizer)?);
    }
    eprintln!();
    eprintln!("{report}");
    let crashed: Vec<String> = report
        .crashed()
        .map(|t| {
            let c = t.crash.as_ref().expect("crashed");
            let input = c
                .artifact
                .as_ref()
                .map_or("(no input saved)".to_string(), |a| shown(root, a));
            format!(
                "fuzz target `{}` found a problem ({}): {}\n  input: {input}\n  log:   {}\n  reproduce: cargo fuzz run --fuzz-dir fuzz {} {} {input}",
                t.target,
                c.status,
                c.summary,
                shown(root, &c.log),
                sanitizer.flag(),
                t.target,
            )
        })
        .collect();
    if crashed.is_empty() {
        Ok(report)
    } else {
        Err(crashed.join("\n"))
    }
}

/// Which sanitizer the targets are built with.
struct Sanitizer {
    asan: bool,
}

impl Sanitizer {
    fn name(&self) -> &'static str {
        if self.asan {
            "AddressSanitizer, RUSTC_BOOTSTRAP=1"
        } else {
            "no sanitizer, stable"
        }
    }

    fn flag(&self) -> &'static str {
        if self.asan {
            "--sanitizer address"
        } else {
            "--sanitizer none"
        }
    }

    /// Add the sanitizer choice to a `cargo fuzz build|run` command.
    fn apply<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        if self.asan {
            // -Zsanitizer on a stable compiler; a separate target directory
            // so the two builds do not overwrite each other.
            cmd.args(["--sanitizer", "address", "--target-dir", "target/asan"])
                .env("RUSTC_BOOTSTRAP", "1")
        } else {
            cmd.args(["--sanitizer", "none"])
        }
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn cargo_fuzz(fuzz_dir: &Path, sub: &str) -> Command {
    let mut cmd = cargo();
    cmd.arg("fuzz")
        .arg(sub)
        .arg("--fuzz-dir")
        .arg(fuzz_dir)
        .current_dir(fuzz_dir)
        // The fuzz crate is its own workspace and builds in fuzz/target.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR");
    cmd
}

/// Install the pinned cargo-fuzz unless some cargo-fuzz is there.
fn ensure_cargo_fuzz() -> Result<(), String> {
    let installed = cargo()
        .args(["fuzz", "--version"])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match installed {
        Some(v) if v.ends_with(CARGO_FUZZ_VERSION) => Ok(()),
        Some(v) => {
            eprintln!("xtask: using {v} (this task was tested with {CARGO_FUZZ_VERSION})");
            Ok(())
        }
        None => super::run(
            &format!("installing cargo-fuzz {CARGO_FUZZ_VERSION}"),
            cargo().args([
                "install",
                "cargo-fuzz",
                "--version",
                CARGO_FUZZ_VERSION,
                "--locked",
            ]),
        ),
    }
}

/// Copy the committed seeds into the working corpus (seeds win over a
/// corpus file of the same name).
fn prepare_corpus(fuzz_dir: &Path, target: &str) -> Result<PathBuf, String> {
    let corpus = fuzz_dir.join("corpus").join(target);
    std::fs::create_dir_all(&corpus)
        .map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
    let seeds = fuzz_dir.join("seeds").join(target);
    if let Ok(entries) = std::fs::read_dir(&seeds) {
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if let Some(name) = path.file_name().filter(|_| path.is_file()) {
                std::fs::copy(&path, corpus.join(name))
                    .map_err(|e| format!("cannot copy seed {}: {e}", path.display()))?;
            }
        }
    }
    Ok(corpus)
}

fn fuzz_one(
    fuzz_dir: &Path,
    target: &str,
    seconds: u64,
    sanitizer: &Sanitizer,
) -> Result<TargetReport, String> {
    let corpus = prepare_corpus(fuzz_dir, target)?;
    let artifacts = fuzz_dir.join("artifacts").join(target);
    std::fs::create_dir_all(&artifacts)
        .map_err(|e| format!("cannot create {}: {e}", artifacts.display()))?;
    let log = artifacts.join("last-run.log");
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let log_err = log_file.try_clone().map_err(|e| e.to_string())?;

    let mut cmd = cargo_fuzz(fuzz_dir, "run");
    sanitizer.apply(&mut cmd);
    cmd.arg(target).arg(&corpus).arg("--");
    cmd.arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECS}"))
        .arg("-print_final_stats=1");
    let dict = fuzz_dir.join("dicts").join(match target {
        "pipeline_file" => "pipeline_file.dict",
        _ => "json.dict",
    });
    if dict.is_file() {
        cmd.arg(format!("-dict={}", dict.display()));
    }
    if target == "state_store" && !has_generated_seed(&corpus) {
        // The target's init writes seed stores made by sluice-state itself.
        cmd.env("SLUICE_FUZZ_SEED_DIR", &corpus);
    }
    cmd.stdout(log_file).stderr(log_err);

    eprintln!(
        "xtask: fuzzing {target} for {seconds} s (output: {})",
        log.display()
    );
    let status = cmd
        .status()
        .map_err(|e| format!("cargo fuzz run {target}: cannot start: {e}"))?;
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    if !status.success() && !output.contains("INFO: Seed:") {
        // It never got to fuzzing: a build or start-up failure.
        return Err(format!(
            "cargo fuzz run {target} failed before fuzzing ({status}):\n{}",
            tail(&output, 30)
        ));
    }
    let (runs, secs) = parse_runs(&output);
    let (corpus_files, corpus_bytes) = corpus_size(&corpus);
    let crash = (!status.success()).then(|| Crash {
        artifact: parse_artifact(&output),
        status: status.to_string(),
        summary: parse_summary(&output),
        log: log.clone(),
    });
    if crash.is_some() {
        eprintln!("{}", tail(&output, 40));
    }
    Ok(TargetReport {
        target: target.to_string(),
        runs,
        seconds: secs,
        corpus_files,
        corpus_bytes,
        crash,
    })
}

fn has_generated_seed(corpus: &Path) -> bool {
    std::fs::read_dir(corpus).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with("seed-store-"))
        })
    })
}

/// Inputs executed and seconds taken: `Done N runs in S second(s)` at a
/// normal end, else `stat::number_of_executed_units`, else the last
/// `#N` status line (a crash ends the run without a summary).
fn parse_runs(output: &str) -> (Option<u64>, Option<u64>) {
    for line in output.lines().rev() {
        if let Some(rest) = line.strip_prefix("Done ") {
            let mut words = rest.split_whitespace();
            let runs = words.next().and_then(|w| w.parse().ok());
            let secs = words.nth(2).and_then(|w| w.parse().ok());
            if runs.is_some() {
                return (runs, secs);
            }
        }
    }
    let stat = |name: &str| {
        output.lines().rev().find_map(|l| {
            l.strip_prefix(name)
                .and_then(|v| v.trim_start_matches(':').trim().parse::<u64>().ok())
        })
    };
    if let Some(runs) = stat("stat::number_of_executed_units") {
        return (Some(runs), None);
    }
    let last = output.lines().rev().find_map(|l| {
        let n = l.strip_prefix('#')?.split_whitespace().next()?;
        n.parse::<u64>().ok()
    });
    (last, None)
}

/// The input libFuzzer saved: `... Test unit written to PATH`.
fn parse_artifact(output: &str) -> Option<PathBuf> {
    output.lines().rev().find_map(|l| {
        let (_, path) = l.split_once("Test unit written to ")?;
        Some(PathBuf::from(path.trim()))
    })
}

/// What went wrong, in one line: the panic message (the line after
/// `panicked at`), else libFuzzer's `ERROR:` or `SUMMARY:` line.
fn parse_summary(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.contains("panicked at")) {
        let place = lines[i]
            .split_once("panicked at ")
            .map_or("", |(_, p)| p.trim_end_matches(':'));
        let message = lines.get(i + 1).copied().unwrap_or("").trim();
        return clip(&format!("panic: {message} (at {place})"), 300);
    }
    lines
        .iter()
        .find(|l| l.contains("ERROR: libFuzzer") || l.starts_with("SUMMARY:"))
        .map_or("the fuzzer exited with an error".to_string(), |l| {
            clip(
                l.trim_start_matches(['=', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ' ']),
                300,
            )
        })
}

fn corpus_size(dir: &Path) -> (usize, u64) {
    let mut files = 0;
    let mut bytes = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if let Some(meta) = entry.metadata().ok().filter(|m| m.is_file()) {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    (files, bytes)
}

/// The last `n` lines of `text`, each cut to 300 characters (libFuzzer
/// prints a crashing input's bytes on one line).
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| clip(l, 300))
        .collect::<Vec<_>>()
        .join("\n")
}

fn clip(line: &str, max: usize) -> String {
    match line.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
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

fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_come_from_the_done_line_or_the_last_status() {
        let done = "#2\tINITED cov: 1\n#100\tpulse\nstat::number_of_executed_units: 450844\nDone 450844 runs in 11 second(s)\n";
        assert_eq!(parse_runs(done), (Some(450844), Some(11)));
        let crash = "#5\tINITED cov: 4077\n#20\tNEW    cov: 4126 ft: 4487\n\nthread '<unnamed>' panicked at src/x.rs:1:2:\nboom\n";
        assert_eq!(parse_runs(crash), (Some(20), None));
        assert_eq!(parse_runs(""), (None, None));
    }

    #[test]
    fn crashes_are_summarised_with_their_input() {
        let out = "thread '<unnamed>' (1044) panicked at /r/redb-4.4.0/src/tuple_types.rs:509:1:\n\
                   range end index 116 out of range for slice of length 20\n\
                   ==1044== ERROR: libFuzzer: deadly signal\n\
                   artifact_prefix='/w/fuzz/artifacts/s/'; Test unit written to /w/fuzz/artifacts/s/crash-1dbf\n";
        assert_eq!(
            parse_artifact(out),
            Some(PathBuf::from("/w/fuzz/artifacts/s/crash-1dbf"))
        );
        assert_eq!(
            parse_summary(out),
            "panic: range end index 116 out of range for slice of length 20 (at /r/redb-4.4.0/src/tuple_types.rs:509:1)"
        );
        let oom = "==7== ERROR: libFuzzer: out-of-memory (used: 2100Mb; exceeds: 2048Mb)\n";
        assert_eq!(
            parse_summary(oom),
            "ERROR: libFuzzer: out-of-memory (used: 2100Mb; exceeds: 2048Mb)"
        );
    }
}
