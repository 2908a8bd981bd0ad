//! `status`: when each stream of a pipeline last synced, what that run
//! moved, where its cursor is, its schema version, and when the pipeline
//! runs next. A store that a running `sluice sync` or a run of `sluice
//! serve` holds cannot be read until that run ends (redb opens a file in
//! one process at a time).

use crate::ui::{self, ago, iso8601};
use anyhow::Result;
use clap::Args;
use serde::Serialize;
use serde_json::Value;
use sluice_runtime::pipeline::Pipeline;
use sluice_runtime::state::{RunRecord, StreamOutcome, now_ms};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `status`.
#[derive(Args)]
pub struct StatusArgs {
    /// Pipeline files, or directories whose `*.toml` files are pipelines.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// One pipeline's status.
#[derive(Debug, Serialize)]
struct PipelineStatus {
    pipeline: String,
    file: String,
    /// The `[schedule]`, as people read it.
    schedule: Option<String>,
    /// When the service that runs it planned its next run (Unix ms).
    next_run_ms: Option<u64>,
    /// The newest run.
    last_run: Option<LastRun>,
    streams: Vec<StreamStatus>,
}

/// The newest run of a pipeline.
#[derive(Debug, Serialize)]
struct LastRun {
    id: u64,
    status: String,
    started_at_ms: u64,
    ended_at_ms: Option<u64>,
    error: Option<String>,
}

/// One stream's status.
#[derive(Debug, Serialize)]
struct StreamStatus {
    stream: String,
    /// When the newest run in which it succeeded ended (Unix ms).
    last_synced_ms: Option<u64>,
    /// That run, and what it moved.
    run: Option<u64>,
    records: u64,
    bytes: u64,
    /// The latest extraction time of what that run wrote (Unix ms): the
    /// stream's lag is now minus this.
    extracted_at_ms: Option<u64>,
    /// The saved state (the cursor).
    state: Option<Value>,
    /// The version of the schema that run wrote with.
    schema_version: Option<u32>,
}

/// `sluice status`.
pub fn status(a: StatusArgs) -> Result<ExitCode> {
    let mut out = Vec::new();
    let mut broken = false;
    for file in pipeline_files(&a.paths) {
        match pipeline_status(&file) {
            Ok(s) => out.push(s),
            Err(e) => {
                broken = true;
                // The error names the file.
                eprintln!("error: {e:#}");
            }
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for s in &out {
            print(s);
        }
    }
    Ok(if broken {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Each file given, and every `*.toml` of each directory, sorted.
fn pipeline_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = BTreeSet::new();
    for path in paths {
        match std::fs::read_dir(path) {
            Ok(dir) if path.is_dir() => files.extend(
                dir.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "toml")),
            ),
            _ => {
                files.insert(path.clone());
            }
        }
    }
    files.into_iter().collect()
}

fn pipeline_status(file: &Path) -> Result<PipelineStatus> {
    let pipeline = Pipeline::from_file(file)?;
    let mut status = PipelineStatus {
        pipeline: pipeline.name.clone(),
        file: file.display().to_string(),
        schedule: pipeline.schedule.as_ref().map(|s| s.to_string()),
        next_run_ms: None,
        last_run: None,
        streams: Vec::new(),
    };
    // A store that does not exist yet: it never ran (and is not created).
    if !pipeline.state_path().exists() {
        return Ok(status);
    }
    let store = super::open_store(&pipeline.state_path())?;
    let runs = store.runs(&pipeline.name)?;
    let saved = store.saved_states(&pipeline.name)?;
    let versions = store.schema_streams(&pipeline.name)?;
    status.next_run_ms = store.next_run(&pipeline.name)?.and_then(|n| n.at_ms);
    status.last_run = runs.first().map(|r| LastRun {
        id: r.id,
        status: r.status.to_string(),
        started_at_ms: r.started_at_ms,
        ended_at_ms: r.ended_at_ms,
        error: r.error.clone(),
    });
    let mut names: BTreeSet<String> = saved.keys().cloned().collect();
    names.extend(
        runs.iter()
            .flat_map(|r| r.streams.iter().map(|s| s.stream.clone())),
    );
    for name in names {
        let (run, synced) = last_success(&runs, &name).unzip();
        // The schema the stream was last written with: the newest run
        // that recorded one, else the newest version registered.
        let known = versions
            .iter()
            .find(|(s, _)| *s == name)
            .map_or(&[][..], |(_, v)| v.as_slice());
        let written = runs
            .iter()
            .flat_map(|r| &r.streams)
            .filter(|s| s.stream == name)
            .find_map(|s| s.schema.as_deref());
        let schema_version = match written {
            Some(id) => known.iter().find(|v| v.id.0 == id),
            None => known.last(),
        }
        .map(|v| v.version);
        status.streams.push(StreamStatus {
            last_synced_ms: run.and_then(|r| r.ended_at_ms),
            run: run.map(|r| r.id),
            records: synced.map_or(0, |s| s.records),
            bytes: synced.map_or(0, |s| s.bytes),
            extracted_at_ms: synced.and_then(|s| s.extracted_at_ms),
            state: saved.get(&name).map(|s| s.state.clone()),
            schema_version,
            stream: name,
        });
    }
    Ok(status)
}

/// The newest run in which `stream` succeeded, and its part in it.
fn last_success<'a>(
    runs: &'a [RunRecord],
    stream: &str,
) -> Option<(&'a RunRecord, &'a sluice_runtime::state::StreamRun)> {
    runs.iter().find_map(|r| {
        r.streams
            .iter()
            .find(|s| s.stream == stream && s.outcome == StreamOutcome::Succeeded)
            .map(|s| (r, s))
    })
}

/// A pipeline's status as people read it.
fn print(s: &PipelineStatus) {
    let now = now_ms();
    let when = |ms: u64| format!("{} ({})", iso8601(ms), ago(now, ms));
    println!("pipeline `{}` ({})", s.pipeline, s.file);
    match (&s.schedule, s.next_run_ms) {
        (Some(schedule), Some(next)) => {
            println!("  schedule: {schedule}; next run {}", iso8601(next))
        }
        (Some(schedule), None) => {
            println!("  schedule: {schedule}; not planned yet (`sluice serve` plans it)")
        }
        (None, _) => println!("  no [schedule]: runs with `sluice sync`"),
    }
    match &s.last_run {
        Some(r) => println!(
            "  last run: {} {}, started {}{}",
            r.id,
            r.status,
            when(r.started_at_ms),
            r.error
                .as_ref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ),
        None => println!("  never ran"),
    }
    if s.streams.is_empty() {
        println!();
        return;
    }
    let mut t = ui::table();
    t.set_header([
        "stream",
        "last synced",
        "run",
        "records",
        "bytes",
        "lag",
        "state",
        "schema",
    ]);
    for st in &s.streams {
        t.add_row([
            st.stream.clone(),
            st.last_synced_ms.map_or_else(|| "never".into(), when),
            st.run.map_or_else(String::new, |r| r.to_string()),
            st.records.to_string(),
            st.bytes.to_string(),
            st.extracted_at_ms.map_or_else(String::new, lag),
            st.state.as_ref().map_or_else(String::new, short),
            st.schema_version
                .map_or_else(String::new, |v| format!("v{v}")),
        ]);
    }
    println!("{t}\n");
}

/// Now minus an extraction time, as people read it ("4 min").
fn lag(extracted_at_ms: u64) -> String {
    ui::span(now_ms().saturating_sub(extracted_at_ms))
}

/// A saved state in a table cell: its cursor when it has one, else its
/// JSON, cut at 40 characters.
fn short(state: &Value) -> String {
    let text = match state.get("cursor") {
        Some(Value::String(c)) => c.clone(),
        Some(c) => c.to_string(),
        None => state.to_string(),
    };
    if text.chars().count() > 40 {
        format!("{}...", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}
