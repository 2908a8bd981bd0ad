//! `sluice serve --ui-addr`: a status page, server-rendered HTML with a
//! small stylesheet and no script: every pipeline with its schedule, last
//! and next run, per-stream counts, freshness, lag and errors, a bar chart of
//! records per run, and a button that runs it now (a form POST, with the
//! `--ui-token` when one is set).

use crate::ui::{ago, iso8601, span};
use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;
use sluice_runtime::scheduler::{PipelineView, Scheduler};
use sluice_runtime::state::{RunRecord, SavedState, StreamOutcome, now_ms};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Runs shown in a pipeline's chart.
const CHART_RUNS: usize = 30;

const STYLE: &str = "
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #1d2330; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin: 0; }
.sub { color: #5b6475; margin-top: 0; }
section { border: 1px solid #d8dde6; border-radius: 8px; padding: 1rem 1.2rem; margin: 1rem 0; }
header { display: flex; justify-content: space-between; align-items: baseline; gap: 1rem; flex-wrap: wrap; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #eceff4; }
th { color: #5b6475; font-weight: 600; font-size: .85rem; }
.ok { color: #1a7f37; } .bad { color: #c0392b; } .run { color: #9a6700; }
.err { background: #fdf0ef; border-radius: 6px; padding: .4rem .6rem; color: #8e2a20; }
form { display: inline-flex; gap: .4rem; } button { padding: .3rem .8rem; border-radius: 6px; border: 1px solid #2f6feb; background: #2f6feb; color: #fff; cursor: pointer; }
input { padding: .25rem .5rem; border: 1px solid #c5ccd8; border-radius: 6px; }
svg rect { fill: #2f6feb; } svg rect.failed { fill: #c0392b; } svg text { font-size: 10px; fill: #5b6475; }
";

/// What the page's handlers share.
#[derive(Clone)]
struct Page {
    scheduler: Scheduler,
    token: Option<Arc<str>>,
}

/// Serve the page for `scheduler` on `addr` in the background; returns the
/// address bound, and says it on stderr.
pub async fn start(
    addr: &str,
    scheduler: Scheduler,
    token: Option<String>,
) -> Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--ui-addr {addr}: cannot listen"))?;
    let bound = listener.local_addr()?;
    eprintln!("sluice: status page on http://{bound}/");
    let page = Page {
        scheduler,
        token: token.map(Arc::from),
    };
    let app = Router::new()
        .route("/", get(index))
        .route("/pipelines/{name}/run", post(run_now))
        .with_state(page);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("the status page stopped: {e}");
        }
    });
    Ok(bound)
}

/// The form of the "run now" button.
#[derive(Deserialize)]
struct RunForm {
    #[serde(default)]
    token: String,
}

async fn run_now(
    State(page): State<Page>,
    Path(name): Path<String>,
    Form(form): Form<RunForm>,
) -> Response {
    if page.token.as_deref().is_some_and(|t| t != form.token) {
        return (StatusCode::FORBIDDEN, "wrong or missing token\n").into_response();
    }
    if !page.scheduler.run_now(&name) {
        return (
            StatusCode::NOT_FOUND,
            format!("no pipeline `{name}` is served\n"),
        )
            .into_response();
    }
    Redirect::to("/").into_response()
}

async fn index(State(page): State<Page>) -> Html<String> {
    let pipelines = page.scheduler.pipelines();
    let now = now_ms();
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content="10";
                title { "sluice: " (count(pipelines.len())) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "sluice" }
                p.sub { (count(pipelines.len())) " · " (iso8601(now)) " · refreshes every 10 s" }
                @for view in &pipelines {
                    (pipeline(&page, view, now))
                }
            }
        }
    };
    Html(body.into_string())
}

fn pipeline(page: &Page, view: &PipelineView, now: u64) -> Markup {
    let p = &view.pipeline;
    let (runs, saved) = page.scheduler.history(p).unwrap_or_default();
    let last = runs.first();
    let schedule = p
        .schedule
        .as_ref()
        .map_or("no [schedule]".to_string(), |s| s.to_string());
    html! {
        section id=(p.name) {
            header {
                h2 { (p.name) }
                span.sub { (schedule) " · " (view.file.display()) }
                form method="post" action={ "/pipelines/" (p.name) "/run" } {
                    @if page.token.is_some() {
                        input type="password" name="token" placeholder="token" aria-label="token";
                    }
                    button type="submit" { "Run now" }
                }
            }
            p {
                @if view.running { span.run { "running" } " · " }
                @match last {
                    Some(r) => {
                        "last run " (r.id) ": " span class=(status_class(r)) { (r.status.to_string()) }
                        ", started " (iso8601(r.started_at_ms)) " (" (ago(now, r.started_at_ms)) ")"
                    }
                    None => "never ran",
                }
                @if let Some(next) = view.next {
                    " · next run " (iso8601(next.timestamp_millis().max(0) as u64))
                }
            }
            @if let Some(error) = last.and_then(|r| r.error.as_ref()) {
                p.err { (error) }
            }
            (streams(&runs, &saved, now))
            (chart(&runs))
        }
    }
}

/// "1 pipeline", "3 pipelines".
fn count(n: usize) -> String {
    if n == 1 {
        "1 pipeline".into()
    } else {
        format!("{n} pipelines")
    }
}

fn status_class(r: &RunRecord) -> &'static str {
    match r.status.to_string().as_str() {
        "succeeded" => "ok",
        "running" => "run",
        _ => "bad",
    }
}

/// Per stream: last successful sync, how long ago (freshness), what that
/// run moved, its lag (now minus the extraction time of the latest batch
/// it wrote, as `sluice_export_lag_seconds`), the saved state, the last
/// error.
fn streams(runs: &[RunRecord], saved: &BTreeMap<String, SavedState>, now: u64) -> Markup {
    let mut names: Vec<String> = saved.keys().cloned().collect();
    for r in runs {
        for s in &r.streams {
            if !names.contains(&s.stream) {
                names.push(s.stream.clone());
            }
        }
    }
    names.sort();
    html! {
        @if !names.is_empty() {
            table {
                tr { th { "stream" } th { "last synced" } th { "freshness" } th { "records" } th { "bytes" } th title="now minus the extraction time of the latest batch written" { "lag" } th { "state" } th { "last error" } }
                @for name in &names {
                    @let ok = runs.iter().find_map(|r| r.streams.iter().find(|s| &s.stream == name && s.outcome == StreamOutcome::Succeeded).map(|s| (r, s)));
                    @let error = runs.iter().flat_map(|r| &r.streams).find(|s| &s.stream == name).and_then(|s| s.outcome.error());
                    tr {
                        td { (name) }
                        @match ok {
                            Some((r, s)) => {
                                @let at = r.ended_at_ms.unwrap_or(r.started_at_ms);
                                td { (iso8601(at)) } td { (ago(now, at)) } td { (s.records) } td { (s.bytes) }
                                td { (s.extracted_at_ms.map(|e| span(now.saturating_sub(e))).unwrap_or_default()) }
                            }
                            None => { td { "never" } td {} td { "0" } td { "0" } td {} }
                        }
                        td { code { (saved.get(name).map(|s| s.state.to_string()).unwrap_or_default()) } }
                        td.bad { (error.unwrap_or("")) }
                    }
                }
            }
        }
    }
}

/// Records per run, the last [`CHART_RUNS`] runs, oldest on the left.
fn chart(runs: &[RunRecord]) -> Markup {
    let shown: Vec<&RunRecord> = runs.iter().take(CHART_RUNS).rev().collect();
    if shown.is_empty() {
        return html! {};
    }
    let records = |r: &RunRecord| r.streams.iter().map(|s| s.records).sum::<u64>();
    let max = shown.iter().map(|r| records(r)).max().unwrap_or(0).max(1);
    let (w, h, bar) = (600.0, 80.0, 600.0 / CHART_RUNS as f64);
    html! {
        svg width=(w) height=(h + 14.0) viewBox={ "0 0 " (w) " " (h + 14.0) } role="img" aria-label="records per run" {
            @for (i, r) in shown.iter().enumerate() {
                @let height = (records(r) as f64 / max as f64 * h).max(1.0);
                rect class=(if r.status.to_string() == "succeeded" { "" } else { "failed" })
                    x=(i as f64 * bar + 1.0) y=(h - height) width=(bar - 2.0) height=(height) {
                    title { "run " (r.id) ": " (records(r)) " records, " (r.status.to_string()) }
                }
            }
            text x="0" y=(h + 12.0) { "records per run (last " (shown.len()) ", max " (max) ")" }
        }
    }
}
