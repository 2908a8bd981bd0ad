//! A service that embeds the sluice runtime through its public API only:
//! it loads the pipeline files of a directory, starts a sync over HTTP,
//! streams its progress and ends with the run's summary.
//!
//! - `GET /pipelines`: the pipelines, by name.
//! - `POST /pipelines/{name}/sync`: runs it; the answer is JSON lines, one
//!   `{"progress": ...}` per batch, then `{"summary": ...}` or
//!   `{"error": ...}`.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use sluice_runtime::Runtime;
use sluice_runtime::pipeline::{Pipeline, RunOptions};
use sluice_runtime::state::StateStore;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

/// What every request shares: one runtime, the loaded pipelines.
#[derive(Clone)]
pub struct App {
    runtime: Runtime,
    pipelines: Arc<BTreeMap<String, Arc<Pipeline>>>,
}

impl App {
    /// The pipelines of every `*.toml` file in `dir`.
    pub fn load(runtime: Runtime, dir: &std::path::Path) -> sluice_runtime::Result<App> {
        let mut pipelines = BTreeMap::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.path().extension().is_some_and(|e| e == "toml") {
                let p = Pipeline::from_file(&entry.path())?;
                pipelines.insert(p.name.clone(), Arc::new(p));
            }
        }
        Ok(App {
            runtime,
            pipelines: Arc::new(pipelines),
        })
    }

    /// The HTTP routes.
    pub fn router(self) -> Router {
        Router::new()
            .route("/pipelines", get(list))
            .route("/pipelines/{name}/sync", post(sync))
            .with_state(self)
    }
}

async fn list(State(app): State<App>) -> impl IntoResponse {
    axum::Json(app.pipelines.keys().cloned().collect::<Vec<_>>())
}

async fn sync(State(app): State<App>, Path(name): Path<String>) -> Response {
    let Some(pipeline) = app.pipelines.get(&name).cloned() else {
        return (StatusCode::NOT_FOUND, format!("no pipeline `{name}`\n")).into_response();
    };
    let store = match StateStore::open(&pipeline.state_path()) {
        Ok(store) => store,
        Err(e) => return (StatusCode::CONFLICT, format!("{e}\n")).into_response(),
    };
    let (tx, rx) = mpsc::unbounded_channel::<Result<String, std::io::Error>>();
    let progress = tx.clone();
    let opts = RunOptions {
        progress: Some(Arc::new(move |p| {
            let line = json!({"progress": {"stream": p.stream, "records": p.records, "bytes": p.bytes, "done": p.done}});
            let _ = progress.send(Ok(format!("{line}\n")));
        })),
        ..RunOptions::default()
    };
    let run = pipeline.spawn(&app.runtime, store, opts);
    tokio::spawn(async move {
        let last = match run.await {
            Ok(Ok(summary)) => json!({"summary": summary}),
            Ok(Err(e)) => json!({"error": e.to_string()}),
            Err(e) => json!({"error": e.to_string()}),
        };
        let _ = tx.send(Ok(format!("{last}\n")));
    });
    let body = Body::from_stream(UnboundedReceiverStream::new(rx));
    ([("content-type", "application/x-ndjson")], body).into_response()
}
