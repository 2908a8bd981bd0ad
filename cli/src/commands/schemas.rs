//! `schemas list | show | diff`: the schema registry of a pipeline's
//! streams — every version each stream was seen with, the version's
//! schema (as JSON Schema), and what changed between two versions.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use comfy_table::Table;
use serde_json::json;
use sluice_protocol::schema::{Change, Schema, diff};
use sluice_runtime::pipeline::Pipeline;
use sluice_runtime::state::{SchemaVersion, StateStore};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The `schemas` subcommands.
#[derive(Subcommand)]
pub enum SchemasCommand {
    /// Every stream's schema versions: id, first-seen run and time.
    List {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One version of a stream's schema, as JSON Schema (default: the latest).
    Show {
        /// The pipeline file.
        pipeline: PathBuf,
        /// The stream.
        stream: String,
        /// The version number (from `schemas list`).
        #[arg(long)]
        version: Option<u32>,
        /// Print the typed schema as JSON instead of JSON Schema.
        #[arg(long)]
        json: bool,
    },
    /// What changed between two versions of a stream's schema.
    Diff {
        /// The pipeline file.
        pipeline: PathBuf,
        /// The stream.
        stream: String,
        /// The older version (default: the one before `to`).
        #[arg(long)]
        from: Option<u32>,
        /// The newer version (default: the latest).
        #[arg(long)]
        to: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `sluice schemas`.
pub fn schemas(command: SchemasCommand) -> Result<ExitCode> {
    match command {
        SchemasCommand::List { pipeline, json } => list(&pipeline, json),
        SchemasCommand::Show {
            pipeline,
            stream,
            version,
            json,
        } => {
            let (store, versions) = versions_of(&pipeline, &stream)?;
            let v = pick(&versions, version, &stream)?;
            let schema = fetch(&store, v)?;
            let out = if json {
                serde_json::to_value(&schema)?
            } else {
                schema.to_json_schema()
            };
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(ExitCode::SUCCESS)
        }
        SchemasCommand::Diff {
            pipeline,
            stream,
            from,
            to,
            json,
        } => {
            let (store, versions) = versions_of(&pipeline, &stream)?;
            let new = pick(&versions, to, &stream)?;
            let old = match from {
                Some(n) => pick(&versions, Some(n), &stream)?,
                None => versions
                    .iter()
                    .rev()
                    .find(|v| v.version < new.version)
                    .with_context(|| {
                        format!("stream `{stream}` has only version {}", new.version)
                    })?,
            };
            let changes = diff(&fetch(&store, old)?, &fetch(&store, new)?);
            print_diff(&stream, old, new, &changes, json)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn open(pipeline: &Path) -> Result<(Pipeline, StateStore)> {
    let pipeline = Pipeline::from_file(pipeline)?;
    let store = super::open_store(&pipeline.state_path())?;
    Ok((pipeline, store))
}

fn list(pipeline: &Path, as_json: bool) -> Result<ExitCode> {
    let (pipeline, store) = open(pipeline)?;
    let streams = store.schema_streams(&pipeline.name)?;
    if as_json {
        let out: Vec<_> = streams
            .iter()
            .map(|(stream, versions)| json!({"stream": stream, "versions": versions}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if streams.is_empty() {
        println!("no schemas registered for pipeline `{}` yet", pipeline.name);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new();
    table.set_header(["stream", "version", "id", "first seen run", "first seen at"]);
    for (stream, versions) in &streams {
        for v in versions {
            let run = v.first_seen_run.map(|r| r.to_string()).unwrap_or_default();
            let at = sluice_transform::time::rfc3339(std::time::Duration::from_millis(
                v.first_seen_at_ms,
            ));
            table.add_row([
                stream.clone(),
                v.version.to_string(),
                v.id.short().to_string(),
                run,
                at,
            ]);
        }
    }
    println!("{table}");
    Ok(ExitCode::SUCCESS)
}

fn versions_of(pipeline: &Path, stream: &str) -> Result<(StateStore, Vec<SchemaVersion>)> {
    let (pipeline, store) = open(pipeline)?;
    let versions = store.schema_versions(&pipeline.name, stream)?;
    if versions.is_empty() {
        let known: Vec<String> = store
            .schema_streams(&pipeline.name)?
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        bail!(
            "pipeline `{}` has no schema for stream `{stream}`; streams with schemas: {}",
            pipeline.name,
            if known.is_empty() {
                "none yet (run a sync first)".into()
            } else {
                known.join(", ")
            }
        );
    }
    Ok((store, versions))
}

fn pick<'a>(
    versions: &'a [SchemaVersion],
    n: Option<u32>,
    stream: &str,
) -> Result<&'a SchemaVersion> {
    match n {
        None => Ok(versions.last().expect("non-empty")),
        Some(n) => versions.iter().find(|v| v.version == n).with_context(|| {
            let have: Vec<String> = versions.iter().map(|v| v.version.to_string()).collect();
            format!(
                "stream `{stream}` has no schema version {n}; it has {}",
                have.join(", ")
            )
        }),
    }
}

fn fetch(store: &StateStore, v: &SchemaVersion) -> Result<Schema> {
    store
        .fetch_schema(&v.id)?
        .with_context(|| format!("the registry lists schema {} but does not hold it", v.id))
}

fn print_diff(
    stream: &str,
    old: &SchemaVersion,
    new: &SchemaVersion,
    changes: &[Change],
    as_json: bool,
) -> Result<()> {
    if as_json {
        let list: Vec<_> = changes
            .iter()
            .map(|c| json!({"kind": kind(c), "field": c.path(), "change": c.to_string()}))
            .collect();
        let out =
            json!({"stream": stream, "from": old.version, "to": new.version, "changes": list});
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "stream `{stream}`: version {} -> {}",
        old.version, new.version
    );
    if changes.is_empty() {
        println!("  no changes");
    }
    for c in changes {
        println!("  {:<12} {c}", kind(c));
    }
    Ok(())
}

/// The kind of a change, as one word.
fn kind(c: &Change) -> &'static str {
    match c {
        Change::Added { .. } => "added",
        Change::Removed { .. } => "removed",
        Change::Widened { .. } => "widened",
        Change::Incompatible { .. } => "incompatible",
        Change::Optional { .. } => "optional",
        Change::Required { .. } => "required",
        _ => "changed",
    }
}
