//! `cargo xtask <task>`: everything needed on a fresh machine.
//!
//! - `setup`: install the wasm32-wasip2 target if missing, build the
//!   connectors and put them in `target/components/`.
//! - `demo`: setup, then a demo sync of source-faker -> dest-file.
//! - `test`: setup, then fmt, clippy and every test (host and connectors).
//! - `bench [--quick]`: setup, a release build, then every benchmark;
//!   writes BENCHMARKS.md. `bench --smoke`: every scenario and peer at the
//!   smallest sizes on the debug build the tests use (CI's check that no
//!   harness rots; report in `target/bench-smoke.md`, figures meaningless).
//! - `crash [--kills N]`: the SIGKILL crash tests: N kills into dest-file
//!   (default 30), a third of N into dest-postgres and a third during a
//!   Singer tap; writes the figures of the first two
//!   to `target/crash-report.json` and `target/crash-postgres-report.json`.
//! - `soak [--minutes N]`: 50 pipelines on `every = "1s"` in one `sluice
//!   serve` for N minutes (default 10): RSS and descriptors flat, no
//!   overlapping runs, nothing lost; figures in `target/soak-report.json`.
//! - `fuzz [--seconds N] [--asan] [target...]`: time-boxed cargo-fuzz runs
//!   of the parser fuzz targets (`fuzz/`, docs/fuzzing.md).
//! - `postgres start|stop|status [--json]`: a real PostgreSQL server in
//!   `target/postgres/` that keeps running between commands; `start`
//!   installs PostgreSQL if missing and prints the connection string
//!   (docs/postgres-server.md).

mod fuzz;
mod postgres;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask <setup|build-connectors|demo|test|bench [--quick|--smoke]|crash [--kills N]|soak [--minutes N]|fuzz [--seconds N] [target...]|postgres <start [--json]|stop|status [--json]>>";

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "setup" => setup(),
        "build-connectors" => build_connectors(),
        "demo" => setup().and_then(|()| demo()),
        "test" => setup().and_then(|()| test()),
        "bench" => {
            let size = std::env::args().nth(2).unwrap_or_default();
            setup().and_then(|()| bench(&size))
        }
        "crash" => kills().and_then(|n| setup().and_then(|()| crash(n))),
        "soak" => minutes().and_then(|n| setup().and_then(|()| soak(n))),
        "fuzz" => fuzz::main(std::env::args().skip(2)),
        "postgres" => postgres::main(std::env::args().skip(2)),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(what: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask: {what}");
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

fn setup() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup is needed to add the wasm32-wasip2 target: {e}"))?;
    if !String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == "wasm32-wasip2")
    {
        run(
            "installing the wasm32-wasip2 target",
            Command::new("rustup").args(["target", "add", "wasm32-wasip2"]),
        )?;
    }
    build_connectors()
}

/// Build every connector into `target/wasm` (shared with the test
/// harness) and copy the components to `target/components/<name>.wasm`.
fn build_connectors() -> Result<(), String> {
    let root = root();
    let connectors = sluice_guest_build::guests(&root, "connectors")?;
    eprintln!("xtask: building the connectors (wasm32-wasip2, release)");
    sluice_guest_build::build(&root, "connectors")?;
    let out = root.join("target/components");
    sluice_guest_build::install(&connectors, &out)?;
    eprintln!("xtask: connectors are in {}", out.display());
    Ok(())
}

fn demo() -> Result<(), String> {
    let root = root();
    // The whole workspace, not only the CLI: cargo unifies features over
    // the packages it builds, and a CLI-only build would give wasmtime a
    // feature set of its own, built again by `cargo xtask test`.
    run(
        "building the sluice CLI (and the workspace, as the tests build it)",
        cargo().current_dir(&root).args(["build", "--workspace"]),
    )?;
    let sluice = root.join("target/debug/sluice");
    let examples = root.join("examples");
    // A fresh demo every time: forget earlier output and state.
    for stale in [examples.join("out"), examples.join(".sluice")] {
        if stale.exists() {
            std::fs::remove_dir_all(&stale)
                .map_err(|e| format!("cannot remove {}: {e}", stale.display()))?;
        }
    }
    std::fs::create_dir_all(examples.join("out")).map_err(|e| e.to_string())?;
    let pipeline = examples.join("faker-to-file.toml");
    run(
        "sluice sync examples/faker-to-file.toml",
        Command::new(&sluice).arg("sync").arg(&pipeline),
    )?;
    println!();
    run(
        "sluice sync again: incremental, so only new or changed records move",
        Command::new(&sluice).arg("sync").arg(&pipeline),
    )?;
    println!();
    println!(
        "The demo synced source-faker into dest-file, both running as sandboxed wasm components."
    );
    println!("  output: {}", examples.join("out").display());
    println!(
        "  state:  {} (see `target/debug/sluice state show examples/faker-to-file.toml`)",
        examples.join(".sluice/state.redb").display()
    );
    println!("  runs:   target/debug/sluice runs examples/faker-to-file.toml");
    Ok(())
}

fn test() -> Result<(), String> {
    let root = root();
    let connectors = root.join("connectors");
    fmt_check(&root, &connectors)?;
    test_suites(&root, &connectors)?;
    lint(&root, &connectors)
}

/// `cargo fmt --check` of the workspace, the connectors and the test guests.
fn fmt_check(root: &Path, connectors: &Path) -> Result<(), String> {
    run(
        "cargo fmt --check",
        cargo()
            .current_dir(root)
            .args(["fmt", "--all", "--", "--check"]),
    )?;
    run(
        "cargo fmt --check (connectors)",
        cargo()
            .current_dir(connectors)
            .args(["fmt", "--all", "--", "--check"]),
    )?;
    run(
        "cargo fmt --check (test guests)",
        cargo()
            .current_dir(root.join("tests/guests"))
            .args(["fmt", "--all", "--", "--check"]),
    )
}

/// Every test: the workspace, the SDK with `http`, the connectors natively.
fn test_suites(root: &Path, connectors: &Path) -> Result<(), String> {
    let host = host_triple()?;
    run(
        "cargo test (workspace)",
        cargo().current_dir(root).args(["test", "--workspace"]),
    )?;
    // The workspace builds the SDK without its optional `http` feature.
    run(
        "cargo test (guest SDK with http)",
        cargo()
            .current_dir(root)
            .args(["test", "-p", "sluice-guest", "--features", "http"]),
    )?;
    run(
        "cargo test (connectors, native)",
        cargo()
            .current_dir(connectors)
            .args(["test", "--workspace", "--target", &host])
            .env("CARGO_TARGET_DIR", root.join("target/connectors-native")),
    )
}

/// `clippy -D warnings` of the workspace, the SDK with `http`, the connectors.
fn lint(root: &Path, connectors: &Path) -> Result<(), String> {
    run(
        "cargo clippy -D warnings",
        cargo().current_dir(root).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    run(
        "cargo clippy -D warnings (guest SDK with http)",
        cargo().current_dir(root).args([
            "clippy",
            "-p",
            "sluice-guest",
            "--features",
            "http",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    run(
        "cargo clippy -D warnings (connectors)",
        cargo()
            .current_dir(connectors)
            .args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--release",
                "--",
                "-D",
                "warnings",
            ])
            .env("CARGO_TARGET_DIR", root.join("target/wasm")),
    )
}

/// The benchmarks at `size`: full (no flag), `--quick` (both on a
/// release build, writing BENCHMARKS.md) or `--smoke` (the debug build).
fn bench(size: &str) -> Result<(), String> {
    let root = root();
    let (profile, out) = match size {
        "" | "--quick" => ("release", root.join("BENCHMARKS.md")),
        "--smoke" => ("debug", root.join("target/bench-smoke.md")),
        other => {
            return Err(format!(
                "bench takes --quick or --smoke, not {other}; {USAGE}"
            ));
        }
    };
    let mut build = cargo();
    build.current_dir(&root);
    if profile == "release" {
        build.args([
            "build",
            "--release",
            "-p",
            "sluice-cli",
            "-p",
            "sluice-bench",
        ]);
    } else {
        // The workspace, as the tests build it: nothing new to compile.
        build.args(["build", "--workspace"]);
    }
    run(
        &format!("building sluice and the benchmarks ({profile})"),
        &mut build,
    )?;
    let bin = root.join("target").join(profile);
    let mut cmd = Command::new(bin.join("sluice-bench"));
    cmd.current_dir(&root)
        .arg("report")
        .arg("--sluice")
        .arg(bin.join("sluice"))
        .arg("--components")
        .arg(root.join("target/components"))
        .arg("--work")
        .arg(root.join("target/bench"))
        .arg("--out")
        .arg(out);
    if !size.is_empty() {
        cmd.arg(size);
    }
    run(format!("benchmarks {size}").trim_end(), &mut cmd)
}

/// `--kills N` (default 30).
fn kills() -> Result<usize, String> {
    let args: Vec<String> = std::env::args().skip(2).collect();
    match args.iter().position(|a| a == "--kills") {
        None => Ok(30),
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("--kills needs a number; {USAGE}")),
    }
}

/// The crash tests with `kills` SIGKILLs into dest-file, a third of them
/// into dest-postgres and a third during a Singer tap; the figures of the
/// first two in target/.
fn crash(kills: usize) -> Result<(), String> {
    let root = root();
    let report = root.join("target/crash-report.json");
    let pg_report = root.join("target/crash-postgres-report.json");
    // Into PostgreSQL a cycle loads two generations through a real server:
    // a third of the kills there.
    let pg_kills = (kills / 3).max(2);
    // A Singer tap's runs are cheap; a third of the kills there too.
    let singer_kills = (kills / 3).max(2);
    run(
        &format!(
            "crash test with {kills} kills (dest-file), {pg_kills} (dest-postgres) and {singer_kills} (a Singer tap)"
        ),
        cargo()
            .current_dir(&root)
            // Selected by name from the workspace's test build: `-p` or
            // `--test` would resolve features anew and build wasmtime again.
            .args([
                "test",
                "--workspace",
                "--",
                "--exact",
                "kill_9_at_random_moments_loses_nothing_and_state_never_runs_ahead",
                "kill_9_into_postgres_keeps_exactly_the_latest_rows_and_versions",
                "kill_9_during_a_singer_tap_loses_nothing_and_state_never_runs_ahead",
                "--nocapture",
            ])
            .env("SLUICE_CRASH_KILLS", kills.to_string())
            .env("SLUICE_CRASH_REPORT", &report)
            .env("SLUICE_CRASH_PG_KILLS", pg_kills.to_string())
            .env("SLUICE_CRASH_PG_REPORT", &pg_report)
            .env("SLUICE_CRASH_SINGER_KILLS", singer_kills.to_string()),
    )?;
    for path in [&report, &pg_report] {
        let figures = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        println!("{figures}");
    }
    Ok(())
}

/// `--minutes N` (default 10).
fn minutes() -> Result<u64, String> {
    let args: Vec<String> = std::env::args().skip(2).collect();
    match args.iter().position(|a| a == "--minutes") {
        None => Ok(10),
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("--minutes takes a number\n{USAGE}")),
    }
}

fn soak(minutes: u64) -> Result<(), String> {
    let root = root();
    let report = root.join("target/soak-report.json");
    run(
        &format!("soak: 50 pipelines every second for {minutes} min in one `sluice serve`"),
        cargo()
            .current_dir(&root)
            .args([
                "test",
                "--workspace",
                "--",
                "--exact",
                "fifty_pipelines_every_second_stay_flat_never_overlap_and_lose_nothing",
                "--nocapture",
            ])
            .env("SLUICE_SOAK_SECS", (minutes * 60).to_string())
            .env("SLUICE_SOAK_REPORT", &report),
    )?;
    let figures = std::fs::read_to_string(&report)
        .map_err(|e| format!("cannot read {}: {e}", report.display()))?;
    println!("{figures}");
    Ok(())
}

fn host_triple() -> Result<String, String> {
    let out = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("-vV")
        .output()
        .map_err(|e| format!("rustc -vV: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .ok_or_else(|| "rustc -vV printed no host".into())
}
