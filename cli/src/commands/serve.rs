//! `serve`: every pipeline on its schedule in one long-running process.

use crate::signals;
use crate::ui::iso8601;
use anyhow::Result;
use clap::Args;
use serde_json::json;
use sluice_runtime::Runtime;
use sluice_runtime::metrics::Metrics;
use sluice_runtime::pipeline::Stop;
use sluice_runtime::scheduler::{Scheduler, ServeEvent, ServeOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Arguments of `serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Pipeline files, or directories whose `*.toml` files are pipelines
    /// (added, changed and removed files are picked up as they change).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Runs at once, over all pipelines (default: the number of cores).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Seconds running runs get to finish after SIGTERM or SIGINT.
    #[arg(long, default_value_t = 30)]
    grace_secs: u64,
    /// How often to look at the pipeline files again, in seconds.
    #[arg(long, default_value_t = 2.0)]
    rescan_secs: f64,
    /// Print one JSON object per event on stdout instead of log lines.
    #[arg(long)]
    json: bool,
    /// Serve Prometheus metrics on this address (with /healthz, and
    /// /readyz once the pipeline files are read), e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
    /// Serve a status page on this address (off by default), e.g.
    /// 127.0.0.1:8080.
    #[arg(long, value_name = "HOST:PORT")]
    ui_addr: Option<String>,
    /// The token the status page's "Run now" button asks for (also from
    /// SLUICE_UI_TOKEN); without one, anyone who reaches the page can
    /// start runs.
    #[arg(long, env = "SLUICE_UI_TOKEN", hide_env_values = true)]
    ui_token: Option<String>,
}

/// `sluice serve`.
pub async fn serve(rt: &Runtime, a: ServeArgs) -> Result<ExitCode> {
    let mut options = ServeOptions {
        grace: Duration::from_secs(a.grace_secs),
        rescan: Duration::from_secs_f64(a.rescan_secs.max(0.05)),
        ..ServeOptions::default()
    };
    if let Some(n) = a.concurrency {
        options.concurrency = n.max(1);
    }
    let stop = Stop::new();
    signals::stop_on_signal(stop.clone());
    let json = a.json;
    let mut scheduler = Scheduler::new(rt.clone(), options);
    let ready = Arc::new(AtomicBool::new(false));
    if let Some(addr) = &a.metrics_addr {
        let metrics = Metrics::new();
        crate::metrics_server::start(addr, metrics.clone(), ready.clone()).await?;
        scheduler = scheduler.with_metrics(metrics);
    }
    if let Some(addr) = &a.ui_addr {
        crate::status_page::start(addr, scheduler.clone(), a.ui_token.clone()).await?;
    }
    let on_event = Arc::new(move |e: &ServeEvent<'_>| {
        if matches!(e, ServeEvent::Ready { .. }) {
            ready.store(true, Ordering::SeqCst);
        }
        print(e, json);
    });
    scheduler.serve(&a.paths, stop, on_event).await;
    Ok(ExitCode::SUCCESS)
}

/// One event: a log line on stderr, or a JSON object on stdout.
fn print(event: &ServeEvent<'_>, as_json: bool) {
    let at = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| iso8601(t.timestamp_millis().max(0) as u64))
    };
    let value = match event {
        ServeEvent::Loaded {
            file,
            pipeline,
            next,
        } => json!({"event": "loaded", "file": file, "pipeline": pipeline.name,
            "schedule": pipeline.schedule.as_ref().map(|s| s.to_string()), "next_run": at(*next)}),
        ServeEvent::Invalid { file, error } => {
            json!({"event": "invalid", "file": file, "error": error})
        }
        ServeEvent::Removed { file } => json!({"event": "removed", "file": file}),
        ServeEvent::Started { pipeline } => json!({"event": "started", "pipeline": pipeline}),
        ServeEvent::Finished {
            pipeline,
            summary,
            next,
        } => json!({"event": "finished", "pipeline": pipeline, "run": summary.run.id,
            "status": summary.run.status.to_string(), "records": summary.records(),
            "duration_ms": summary.duration_ms, "error": summary.run.error, "next_run": at(*next)}),
        ServeEvent::Failed {
            pipeline,
            error,
            next,
        } => {
            json!({"event": "failed", "pipeline": pipeline, "error": error, "next_run": at(*next)})
        }
        ServeEvent::Ready { pipelines } => json!({"event": "ready", "pipelines": pipelines}),
        ServeEvent::Stopping { running } => json!({"event": "stopping", "running": running}),
    };
    if as_json {
        println!("{value}");
    } else {
        eprintln!("sluice serve: {}", line(&value));
    }
}

/// An event as a line people read.
fn line(v: &serde_json::Value) -> String {
    let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
    let next = v["next_run"]
        .as_str()
        .map_or_else(|| "no further run".to_string(), |t| format!("next run {t}"));
    match v["event"].as_str().unwrap_or("") {
        "loaded" => match v["schedule"].as_str() {
            Some(schedule) => format!(
                "{}: pipeline `{}`, {schedule}, {next}",
                s("file"),
                s("pipeline")
            ),
            None => format!(
                "{}: pipeline `{}` has no [schedule]; it runs only with `sluice sync`",
                s("file"),
                s("pipeline")
            ),
        },
        "invalid" => format!("skipping {}", s("error")),
        "removed" => format!("{}: removed", s("file")),
        "started" => format!("`{}`: run started", s("pipeline")),
        "finished" => format!(
            "`{}`: run {} {}, {} records in {:.2} s{}; {next}",
            s("pipeline"),
            v["run"],
            s("status"),
            v["records"],
            v["duration_ms"].as_u64().unwrap_or(0) as f64 / 1000.0,
            v["error"]
                .as_str()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ),
        "failed" => format!("`{}`: cannot run: {}; {next}", s("pipeline"), s("error")),
        "ready" => format!("serving {} pipelines", v["pipelines"]),
        "stopping" => format!(
            "stopping: no new runs; waiting for {} running",
            v["running"]
        ),
        _ => v.to_string(),
    }
}
