//! `sync`, `state` and `runs`: a pipeline file, its state and its history.

use crate::ui;
use anyhow::Result;
use clap::{Args, Subcommand};
use sluice_runtime::Runtime;
use sluice_runtime::pipeline::{Pipeline, RunOptions};
use sluice_runtime::state::StateStore;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sync`.
#[derive(Args)]
pub struct SyncArgs {
    /// The pipeline file (TOML).
    pipeline: PathBuf,
    /// Print the summary as JSON (no progress bars).
    #[arg(long)]
    json: bool,
}

/// The `state` subcommands.
#[derive(Subcommand)]
pub enum StateCommand {
    /// Print the saved state of every stream.
    Show {
        /// The pipeline file.
        pipeline: PathBuf,
    },
    /// Forget saved state so the next sync starts over.
    Reset {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Only this stream.
        #[arg(long)]
        stream: Option<String>,
    },
}

/// Arguments of `runs`.
#[derive(Args)]
pub struct RunsArgs {
    /// The pipeline file.
    pipeline: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `sluice sync`.
pub async fn sync(rt: &Runtime, a: SyncArgs) -> Result<ExitCode> {
    let pipeline = Pipeline::from_file(&a.pipeline)?;
    let bars = (!a.json).then(ui::Bars::new);
    let opts = RunOptions {
        progress: bars.as_ref().map(|b| b.callback()),
    };
    let preparing = bars.as_ref().map(|b| {
        b.note("loading connectors and discovering streams (the first run compiles them)")
    });
    // Everything that can be checked is checked before anything is
    // written: the pipeline file, both components and their roles, both
    // configs, the catalog. Only then is the state store opened (or
    // created), and only the run opens the destination.
    let prepared = pipeline.prepare(rt).await;
    if let Some(p) = preparing {
        p.finish_and_clear();
    }
    let prepared = prepared?;
    let store = StateStore::open(&pipeline.state_path())?;
    let summary = pipeline.run_prepared(prepared, &store, &opts).await?;
    if let Some(b) = &bars {
        b.finish();
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        ui::print_summary(&summary, &pipeline);
    }
    Ok(if summary.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `sluice state show|reset`.
pub fn state(command: StateCommand) -> Result<ExitCode> {
    match command {
        StateCommand::Show { pipeline } => {
            let pipeline = Pipeline::from_file(&pipeline)?;
            let store = StateStore::open(&pipeline.state_path())?;
            let states = store.saved_states(&pipeline.name)?;
            println!("{}", serde_json::to_string_pretty(&states)?);
        }
        StateCommand::Reset { pipeline, stream } => {
            let pipeline = Pipeline::from_file(&pipeline)?;
            let store = StateStore::open(&pipeline.state_path())?;
            let n = store.reset(&pipeline.name, stream.as_deref())?;
            println!(
                "reset the state of {n} stream(s) of pipeline `{}`",
                pipeline.name
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sluice runs`.
pub fn runs(a: RunsArgs) -> Result<ExitCode> {
    let pipeline = Pipeline::from_file(&a.pipeline)?;
    let store = StateStore::open(&pipeline.state_path())?;
    let runs = store.runs(&pipeline.name)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
    } else {
        ui::print_runs(&runs);
    }
    Ok(ExitCode::SUCCESS)
}
