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

mod libfuzzer;
mod report;

pub use report::{Crash, FuzzReport, TargetReport};

use super::cargo;
use libfuzzer::{parse_artifact, parse_runs, parse_summary, tail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The cargo-fuzz release this task installs (and was tested with).
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Every fuzz target, in the order they run.
const TARGETS: [&str; 7] = [
    "pipeline_file",
    "catalog",
    "config",
    "batch",
    "state_store",
    "schema",
    "transform",
];

/// Seconds per target when `--seconds` is not given.
const DEFAULT_SECONDS: u64 = 60;

/// A single input that runs longer than this (seconds) is a finding.
const INPUT_TIMEOUT_SECS: u64 = 20;

/// Usage of `cargo xtask fuzz`.
pub const USAGE: &str = "usage: cargo xtask fuzz [--seconds N] [--asan] [target...] \
     (targets: pipeline_file, catalog, config, batch, state_store, schema, transform; \
     default: all, 60 s each)";

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

/// `cargo fuzz run TARGET CORPUS -- ...` for `seconds`, with the target's
/// dictionary and, for the state store, where to write its seed stores.
fn run_command(
    fuzz_dir: &Path,
    target: &str,
    corpus: &Path,
    seconds: u64,
    sanitizer: &Sanitizer,
) -> Command {
    let mut cmd = cargo_fuzz(fuzz_dir, "run");
    sanitizer.apply(&mut cmd);
    cmd.arg(target).arg(corpus).arg("--");
    cmd.arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECS}"))
        .arg("-print_final_stats=1");
    let dict = fuzz_dir.join("dicts").join(match target {
        "pipeline_file" => "pipeline_file.dict",
        "schema" => "schema.dict",
        "transform" => "transform.dict",
        _ => "json.dict",
    });
    if dict.is_file() {
        cmd.arg(format!("-dict={}", dict.display()));
    }
    if target == "state_store" && !has_generated_seed(corpus) {
        // The target's init writes seed stores made by sluice-state itself.
        cmd.env("SLUICE_FUZZ_SEED_DIR", corpus);
    }
    cmd
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
    // Beside the target's artifacts, not among them: cargo fuzz reports the
    // most recently modified file there as the failing input.
    let log = fuzz_dir
        .join("artifacts")
        .join(format!("{target}.last-run.log"));
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let log_err = log_file.try_clone().map_err(|e| e.to_string())?;

    let mut cmd = run_command(fuzz_dir, target, &corpus, seconds, sanitizer);
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

fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}
