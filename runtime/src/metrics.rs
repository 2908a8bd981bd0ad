//! Prometheus metrics of the runs of one process, in the OpenMetrics text
//! format, through `prometheus-client` (the Prometheus project's own Rust
//! client: typed families, label sets as structs, no global registry).
//! Give the same [`Metrics`] to every run ([`crate::pipeline::RunOptions`])
//! and serve [`Metrics::encode`] on `/metrics`.
//!
//! Per pipeline and stream: `sluice_ingested_documents_total`,
//! `sluice_ingested_bytes_total` and `sluice_ingest_errors_total` (what
//! the source handed over), `sluice_exported_documents_total`,
//! `sluice_exported_bytes_total` and `sluice_export_errors_total` (what the
//! destination accepted or refused), and the lag gauges
//! `sluice_ingest_lag_seconds` / `sluice_export_lag_seconds` (now minus the
//! extraction time of the latest batch read / written). Per pipeline:
//! `sluice_run_duration_seconds` (histogram), `sluice_runs_total{status}`,
//! `sluice_retries_total`, `sluice_limit_hits_total{limit}`,
//! `sluice_last_success_timestamp_seconds`; per store
//! `sluice_state_store_bytes`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use sluice_state::RunRecord;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamLabels {
    pipeline: String,
    stream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PipelineLabels {
    pipeline: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    pipeline: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    pipeline: String,
    limit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    store: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// One side of the flow: what sources hand over, or what destinations take.
#[derive(Default)]
struct Side {
    documents: Family<StreamLabels, Counter>,
    bytes: Family<StreamLabels, Counter>,
    errors: Family<StreamLabels, Counter>,
    lag: Family<StreamLabels, FloatGauge>,
}

impl Side {
    fn register(&self, r: &mut Registry, verb: &str, noun: &str, what: &str) {
        r.register(
            format!("sluice_{verb}_documents"),
            format!("Records {what}"),
            self.documents.clone(),
        );
        r.register(
            format!("sluice_{verb}_bytes"),
            format!("Bytes of records {what}"),
            self.bytes.clone(),
        );
        r.register(
            format!("sluice_{noun}_errors"),
            format!("Streams that failed on the {noun} side"),
            self.errors.clone(),
        );
        r.register(
            format!("sluice_{noun}_lag_seconds"),
            format!("Now minus the extraction time of the latest batch {what}"),
            self.lag.clone(),
        );
    }

    fn add(&self, labels: &StreamLabels, records: u64, bytes: u64, extracted_at_ms: u64) {
        self.documents.get_or_create(labels).inc_by(records);
        self.bytes.get_or_create(labels).inc_by(bytes);
        if extracted_at_ms > 0 {
            let lag = sluice_state::now_ms().saturating_sub(extracted_at_ms) as f64 / 1000.0;
            self.lag.get_or_create(labels).set(lag);
        }
    }
}

struct Inner {
    registry: Registry,
    ingest: Side,
    export: Side,
    run_duration: Family<PipelineLabels, Histogram, fn() -> Histogram>,
    runs: Family<StatusLabels, Counter>,
    retries: Family<PipelineLabels, Counter>,
    limit_hits: Family<LimitLabels, Counter>,
    last_success: Family<PipelineLabels, FloatGauge>,
    store_bytes: Family<StoreLabels, Gauge>,
}

/// The metrics of every run given them; cheap to clone (shared).
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn run_buckets() -> Histogram {
    // 0.1 s to 4 hours, in steps people read.
    let bounds = [
        0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0,
    ];
    Histogram::new(bounds)
}

impl Metrics {
    /// Every family registered, no samples yet.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let (ingest, export) = (Side::default(), Side::default());
        ingest.register(&mut registry, "ingested", "ingest", "read from sources");
        export.register(
            &mut registry,
            "exported",
            "export",
            "written to destinations",
        );
        let inner = Inner {
            ingest,
            export,
            run_duration: Family::new_with_constructor(run_buckets),
            runs: Family::default(),
            retries: Family::default(),
            limit_hits: Family::default(),
            last_success: Family::default(),
            store_bytes: Family::default(),
            registry,
        };
        let mut inner = inner;
        let r = &mut inner.registry;
        r.register(
            "sluice_run_duration_seconds",
            "How long runs took",
            inner.run_duration.clone(),
        );
        r.register(
            "sluice_runs",
            "Runs that ended, by status",
            inner.runs.clone(),
        );
        r.register(
            "sluice_retries",
            "Attempts retried after a transient error",
            inner.retries.clone(),
        );
        r.register(
            "sluice_limit_hits",
            "Runs stopped by a sandbox limit, by limit",
            inner.limit_hits.clone(),
        );
        r.register(
            "sluice_last_success_timestamp_seconds",
            "When the last successful run ended (Unix seconds)",
            inner.last_success.clone(),
        );
        r.register(
            "sluice_state_store_bytes",
            "Size of the state store file",
            inner.store_bytes.clone(),
        );
        Metrics(Arc::new(inner))
    }

    /// Everything, in the OpenMetrics text format (`# EOF` at the end).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.0.registry) {
            tracing::error!("cannot encode the metrics: {e}");
        }
        text
    }

    /// The source handed over a batch.
    pub(crate) fn read(
        &self,
        pipeline: &str,
        stream: &str,
        records: u64,
        bytes: u64,
        extracted_at_ms: u64,
    ) {
        self.0
            .ingest
            .add(&labels(pipeline, stream), records, bytes, extracted_at_ms);
    }

    /// The destination accepted a batch.
    pub(crate) fn written(
        &self,
        pipeline: &str,
        stream: &str,
        records: u64,
        bytes: u64,
        extracted_at_ms: u64,
    ) {
        self.0
            .export
            .add(&labels(pipeline, stream), records, bytes, extracted_at_ms);
    }

    /// A stream failed on the source side (`ingest`) or the destination's.
    pub(crate) fn stream_failed(&self, pipeline: &str, stream: &str, ingest: bool) {
        let side = if ingest {
            &self.0.ingest
        } else {
            &self.0.export
        };
        side.errors.get_or_create(&labels(pipeline, stream)).inc();
    }

    /// An attempt is retried.
    pub(crate) fn retried(&self, pipeline: &str) {
        self.0
            .retries
            .get_or_create(&pipeline_labels(pipeline))
            .inc();
    }

    /// A run was stopped by the sandbox limit `limit`.
    pub(crate) fn limit_hit(&self, pipeline: &str, limit: &str) {
        let labels = LimitLabels {
            pipeline: pipeline.into(),
            limit: limit.into(),
        };
        self.0.limit_hits.get_or_create(&labels).inc();
    }

    /// A run ended, recorded as `record`, its store at `store` (a path).
    pub(crate) fn run_ended(&self, pipeline: &str, record: &RunRecord, store: &str) {
        let p = pipeline_labels(pipeline);
        let ended = record.ended_at_ms.unwrap_or_else(sluice_state::now_ms);
        let secs = ended.saturating_sub(record.started_at_ms) as f64 / 1000.0;
        self.0.run_duration.get_or_create(&p).observe(secs);
        let status = StatusLabels {
            pipeline: pipeline.into(),
            status: record.status.to_string(),
        };
        self.0.runs.get_or_create(&status).inc();
        if record.status == sluice_state::RunStatus::Succeeded {
            self.0
                .last_success
                .get_or_create(&p)
                .set(ended as f64 / 1000.0);
        }
        if let Ok(meta) = std::fs::metadata(store) {
            let size = i64::try_from(meta.len()).unwrap_or(i64::MAX);
            let labels = StoreLabels {
                store: store.into(),
            };
            self.0.store_bytes.get_or_create(&labels).set(size);
        }
    }
}

fn labels(pipeline: &str, stream: &str) -> StreamLabels {
    StreamLabels {
        pipeline: pipeline.into(),
        stream: stream.into(),
    }
}

fn pipeline_labels(pipeline: &str) -> PipelineLabels {
    PipelineLabels {
        pipeline: pipeline.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_state::{RunStatus, StreamRun};

    /// The sample lines of `text` that start with `prefix`.
    fn samples<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        text.lines().filter(|l| l.starts_with(prefix)).collect()
    }

    #[test]
    fn both_sides_count_documents_bytes_errors_and_lag() {
        let m = Metrics::new();
        let extracted = sluice_state::now_ms() - 2_000;
        m.read("p", "users", 10, 100, extracted);
        m.read("p", "users", 5, 50, 0);
        m.written("p", "users", 15, 150, extracted);
        m.stream_failed("p", "users", true);
        m.stream_failed("p", "orders", false);
        let text = m.encode();
        for line in [
            "sluice_ingested_documents_total{pipeline=\"p\",stream=\"users\"} 15",
            "sluice_ingested_bytes_total{pipeline=\"p\",stream=\"users\"} 150",
            "sluice_exported_documents_total{pipeline=\"p\",stream=\"users\"} 15",
            "sluice_exported_bytes_total{pipeline=\"p\",stream=\"users\"} 150",
            "sluice_ingest_errors_total{pipeline=\"p\",stream=\"users\"} 1",
            "sluice_export_errors_total{pipeline=\"p\",stream=\"orders\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        for gauge in ["sluice_ingest_lag_seconds{", "sluice_export_lag_seconds{"] {
            let lines = samples(&text, gauge);
            assert_eq!(lines.len(), 1, "{gauge} in\n{text}");
            let lag: f64 = lines[0].rsplit(' ').next().unwrap().parse().unwrap();
            // A batch with no extraction time leaves the gauge as it was.
            assert!((2.0..60.0).contains(&lag), "{lag} in {}", lines[0]);
        }
    }

    #[test]
    fn runs_count_by_status_with_retries_limit_hits_and_the_last_success() {
        let m = Metrics::new();
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("state.redb");
        std::fs::write(&store, vec![0u8; 4096]).unwrap();
        let mut run = RunRecord::start(1, &["users"]);
        run.started_at_ms = 1_000_000;
        run.ended_at_ms = Some(1_003_000);
        run.status = RunStatus::Succeeded;
        run.streams = vec![StreamRun::new("users")];
        m.run_ended("p", &run, &store.to_string_lossy());
        run.status = RunStatus::Failed;
        m.run_ended("p", &run, &store.to_string_lossy());
        m.retried("p");
        m.retried("p");
        m.limit_hit("p", "memory");
        let text = m.encode();
        for line in [
            "sluice_runs_total{pipeline=\"p\",status=\"succeeded\"} 1",
            "sluice_runs_total{pipeline=\"p\",status=\"failed\"} 1",
            "sluice_retries_total{pipeline=\"p\"} 2",
            "sluice_limit_hits_total{pipeline=\"p\",limit=\"memory\"} 1",
            "sluice_run_duration_seconds_count{pipeline=\"p\"} 2",
            "sluice_run_duration_seconds_sum{pipeline=\"p\"} 6.0",
            "sluice_last_success_timestamp_seconds{pipeline=\"p\"} 1003.0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        let size = format!(
            "sluice_state_store_bytes{{store=\"{}\"}} 4096",
            store.display()
        );
        assert!(text.lines().any(|l| l == size), "{size} in\n{text}");
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
    }
}
