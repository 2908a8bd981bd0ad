//! `sync` and `runs`: a pipeline file and its history.

use crate::ui;
use anyhow::Result;
use clap::Args;
use sluice_runtime::Runtime;
use sluice_runtime::metrics::Metrics;
use sluice_runtime::pipeline::{Pipeline, RunOptions, Stop};
use sluice_runtime::state::{RunStatus, StateStore};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Arguments of `sync`.
#[derive(Args)]
pub struct SyncArgs {
    /// The pipeline file (TOML).
    pipeline: PathBuf,
    /// Print the summary as JSON (no progress bars).
    #[arg(long)]
    json: bool,
    /// Serve Prometheus metrics (and /healthz, /readyz) on this address
    /// while the run goes on, e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
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
    let stop = Stop::new();
    crate::signals::stop_on_signal(stop.clone());
    let metrics = match &a.metrics_addr {
        Some(addr) => {
            let metrics = Metrics::new();
            let ready = Arc::new(AtomicBool::new(true));
            crate::metrics_server::start(addr, metrics.clone(), ready).await?;
            Some(metrics)
        }
        None => None,
    };
    let opts = RunOptions {
        progress: bars.as_ref().map(|b| b.callback()),
        stop: Some(stop),
        metrics,
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
    if summary.run.status == RunStatus::Interrupted {
        eprintln!(
            "sluice: run {} interrupted after {} records; the state covers them all, and the next `sluice sync` goes on from there",
            summary.run.id,
            summary.records()
        );
        return Ok(ExitCode::from(crate::signals::INTERRUPTED));
    }
    Ok(if summary.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `sluice runs`.
pub fn runs(a: RunsArgs) -> Result<ExitCode> {
    let pipeline = Pipeline::from_file(&a.pipeline)?;
    let store = super::open_store(&pipeline.state_path())?;
    let runs = store.runs(&pipeline.name)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
    } else {
        ui::print_runs(&runs);
    }
    Ok(ExitCode::SUCCESS)
}
