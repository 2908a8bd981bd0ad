//! `sluice-bench`: the benchmark harness behind `cargo xtask bench`.
//!
//! `sluice-bench report` runs every scenario, each measurement in a child
//! process of its own (so peak RSS belongs to that scenario alone), takes
//! the median of several runs, and writes the table of BENCHMARKS.md.
//! `sluice-bench postgres` runs only the PostgreSQL scenarios and prints
//! their rows, `sluice-bench singer` only the Singer tap into sluice
//! against the Singer pipeline, `sluice-bench http` only source-http
//! against the HTTP peers. `sluice-bench e2e ...` is one measurement: a pipeline run through the
//! same `Pipeline::run_with` code, with the connectors either sandboxed
//! (wasm) or linked natively.

mod e2e;
mod http;
mod http_peers;
mod peers;
mod pg_peers;
mod postgres;
mod proc;
mod report;
mod singer_sluice;

use std::process::ExitCode;

const USAGE: &str = "usage:
  sluice-bench report [--quick|--smoke] --sluice PATH --components DIR --work DIR --out FILE
  sluice-bench postgres [--quick] --sluice PATH --components DIR --work DIR
  sluice-bench singer [--quick] --sluice PATH --components DIR --work DIR
  sluice-bench http [--quick] --sluice PATH --components DIR --work DIR
  sluice-bench e2e --mode wasm|native [--fuel N] [--parallelism N] --source faker|file --streams all|users --records N --components DIR --work DIR";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("e2e") => e2e::main(&args[1..]),
        Some("report") => report::main(&args[1..]),
        Some("postgres") => report::postgres_only(&args[1..]),
        Some("singer") => report::singer_only(&args[1..]),
        Some("http") => report::http_only(&args[1..]),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sluice-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--name value` from `args`.
pub fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// A required `--name value`.
pub fn required<'a>(args: &'a [String], name: &str) -> Result<&'a str, String> {
    flag(args, name).ok_or_else(|| format!("{name} is required\n{USAGE}"))
}
