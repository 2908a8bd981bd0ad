//! `state`: a pipeline's saved state, shown, reset, exported to a state
//! file (sluice's, Singer's or Airbyte's) and imported from one.

use crate::args::{self, StateFormat};
use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::Value;
use sluice_interop::state;
use sluice_protocol::StreamState;
use sluice_runtime::pipeline::Pipeline;
use sluice_runtime::state::StateStore;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The `state` subcommands.
#[derive(Subcommand)]
pub enum StateCommand {
    /// Print the saved state of every stream, as JSON.
    Show {
        /// The pipeline file.
        pipeline: PathBuf,
        /// JSON (what it prints in any case; accepted like every command's
        /// `--json`).
        #[arg(long)]
        json: bool,
    },
    /// Forget saved state so the next sync starts over.
    Reset {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Only this stream.
        #[arg(long)]
        stream: Option<String>,
    },
    /// Write every stream's saved state as a state file: sluice's list, a
    /// Singer state (`{"bookmarks": ...}`, what a tap's --state reads) or
    /// Airbyte state (a list of STREAM and GLOBAL state messages).
    Export {
        /// The pipeline file.
        pipeline: PathBuf,
        /// The state file's form.
        #[arg(long, value_enum, default_value = "sluice")]
        format: StateFormat,
        /// Write it here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Save the streams' state from a state file, so the next sync resumes
    /// where it says: sluice's list; a Singer state (also a STATE message,
    /// Meltano's `{"singer_state": ...}`, or the STATE lines a tap printed,
    /// of which the last counts); Airbyte STREAM, GLOBAL or LEGACY state,
    /// one message or a list (also the STATE lines a source printed).
    /// Streams the file does not name keep their state.
    Import {
        /// The pipeline file.
        pipeline: PathBuf,
        /// The state file.
        file: PathBuf,
        /// The state file's form.
        #[arg(long, value_enum, default_value = "sluice")]
        format: StateFormat,
    },
}

/// `sluice state show|reset|export|import`.
pub fn state(command: StateCommand) -> Result<ExitCode> {
    match command {
        StateCommand::Show { pipeline, .. } => {
            let (pipeline, store) = open(&pipeline)?;
            let states = store.saved_states(&pipeline.name)?;
            println!("{}", serde_json::to_string_pretty(&states)?);
        }
        StateCommand::Reset { pipeline, stream } => {
            let (pipeline, store) = open(&pipeline)?;
            let n = store.reset(&pipeline.name, stream.as_deref())?;
            println!(
                "reset the state of {n} stream(s) of pipeline `{}`",
                pipeline.name
            );
        }
        StateCommand::Export {
            pipeline,
            format,
            output,
        } => export(&pipeline, format, output.as_deref())?,
        StateCommand::Import {
            pipeline,
            file,
            format,
        } => import(&pipeline, &file, format)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The pipeline of `file` and its state store.
fn open(file: &Path) -> Result<(Pipeline, StateStore)> {
    let pipeline = Pipeline::from_file(file)?;
    let store = super::open_store(&pipeline.state_path())?;
    Ok((pipeline, store))
}

/// `sluice state export`.
fn export(file: &Path, format: StateFormat, output: Option<&Path>) -> Result<()> {
    let (pipeline, store) = open(file)?;
    let states = store.stream_states(&pipeline.name)?;
    let text = serde_json::to_string_pretty(&state_file(&states, format))?;
    match output {
        None => println!("{text}"),
        Some(path) => {
            std::fs::write(path, format!("{text}\n"))
                .with_context(|| format!("cannot write the state file {}", path.display()))?;
            eprintln!(
                "wrote the state of {} stream(s) of pipeline `{}` to {} ({} state)",
                states.len(),
                pipeline.name,
                path.display(),
                format.name()
            );
        }
    }
    Ok(())
}

/// The state file of `states` in `format`.
fn state_file(states: &[StreamState], format: StateFormat) -> Value {
    match format {
        StateFormat::Sluice => serde_json::to_value(states).unwrap_or_default(),
        StateFormat::Singer => state::to_singer(states),
        StateFormat::Airbyte => state::to_airbyte(states),
    }
}

/// `sluice state import`: parse the whole file first, then commit every
/// stream's state in one transaction.
fn import(file: &Path, state_file: &Path, format: StateFormat) -> Result<()> {
    let states = args::read_state_file(state_file, format)?;
    let (pipeline, store) = open(file)?;
    if states.is_empty() {
        println!(
            "{} holds no stream state: nothing imported",
            state_file.display()
        );
        return Ok(());
    }
    let checkpoint: BTreeMap<String, Value> = states
        .iter()
        .map(|s| (s.stream.clone(), s.state.clone()))
        .collect();
    store.commit_checkpoint(&pipeline.name, &checkpoint)?;
    for (stream, state) in &checkpoint {
        println!("imported the state of stream `{stream}`: {state}");
    }
    println!(
        "imported the state of {} stream(s) into pipeline `{}` from {}; the next sync resumes from it",
        checkpoint.len(),
        pipeline.name,
        state_file.display()
    );
    Ok(())
}
