//! `--metrics-addr`: the process's Prometheus metrics on `/metrics`
//! (OpenMetrics text), liveness on `/healthz`, readiness on `/readyz`
//! (ready once the pipelines are loaded), over HTTP/1.1 with hyper.

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sluice_runtime::metrics::Metrics;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::TcpListener;

/// The content type of the OpenMetrics text format.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serve `metrics` on `addr` (`host:port`; port 0 picks one) in the
/// background; `ready` says what `/readyz` answers. Returns the address
/// bound, and says it on stderr.
pub async fn start(addr: &str, metrics: Metrics, ready: Arc<AtomicBool>) -> Result<SocketAddr> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("--metrics-addr {addr}: cannot listen"))?;
    let bound = listener.local_addr()?;
    eprintln!("sluice: metrics on http://{bound}/metrics");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (metrics, ready) = (metrics.clone(), ready.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let answer = answer(&request, &metrics, &ready);
                    async move { Ok::<_, Infallible>(answer) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(bound)
}

fn answer<B>(request: &Request<B>, metrics: &Metrics, ready: &AtomicBool) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, content_type: &str, body: String| {
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default()
    };
    let plain = "text/plain; charset=utf-8";
    match request.uri().path() {
        "/metrics" => text(StatusCode::OK, OPENMETRICS, metrics.encode()),
        "/healthz" => text(StatusCode::OK, plain, "ok\n".into()),
        "/readyz" if ready.load(Ordering::SeqCst) => text(StatusCode::OK, plain, "ready\n".into()),
        "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, plain, "starting\n".into()),
        _ => text(
            StatusCode::NOT_FOUND,
            plain,
            "not found: try /metrics, /healthz or /readyz\n".into(),
        ),
    }
}
