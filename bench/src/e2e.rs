//! One end-to-end measurement: source -> dest-file (JSON lines), either
//! sandboxed (wasm components) or with the same connector crates linked
//! natively, through the same `Pipeline::run_with` code. Prints one JSON
//! object: records, bytes, seconds of the run, and the process's peak RSS.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sluice_dest_file::FileDestination;
use sluice_guest::{Reader, Writer, native};
use sluice_protocol::{Batch, ConnectorError, Message};
use sluice_runtime::pipeline::{
    BatchSink, BatchSource, Parallel, Pipeline, RunOptions, RunSummary, Share, Stages,
};
use sluice_runtime::state::StateStore;
use sluice_runtime::{Call, Error, Runtime};
use sluice_schema::SchemaId;
use sluice_source_faker::Faker;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What one run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measurement {
    /// Records that reached the destination.
    pub records: u64,
    /// Bytes of those records.
    pub bytes: u64,
    /// Seconds from opening the reader to the last commit.
    pub secs: f64,
    /// Peak resident set size of the whole process, KiB.
    pub peak_rss_kib: u64,
}

struct NativeSource<R> {
    reader: R,
}

fn native_error(call: Call, error: ConnectorError) -> Error {
    Error::Connector {
        connector: "native".into(),
        call,
        error,
    }
}

impl<R: Reader + Send + 'static> BatchSource for NativeSource<R> {
    fn name(&self) -> &str {
        "native source"
    }
    async fn next(&mut self) -> sluice_runtime::Result<Option<Vec<Message>>> {
        self.reader.next().map_err(|e| native_error(Call::Next, e))
    }
    async fn close(self) -> sluice_runtime::Result<()> {
        Ok(())
    }
}

struct NativeSink<W> {
    writer: W,
}

impl<W: Writer> BatchSink for NativeSink<W> {
    async fn schema(&mut self, _stream: &str, _id: &SchemaId) -> sluice_runtime::Result<()> {
        Ok(())
    }
    async fn write(&mut self, batch: Batch) -> sluice_runtime::Result<()> {
        self.writer
            .write(batch)
            .map_err(|e| native_error(Call::WriteBatch, e))
    }
    async fn commit(&mut self) -> sluice_runtime::Result<()> {
        self.writer
            .commit()
            .map_err(|e| native_error(Call::Commit, e))
    }
    async fn complete(&mut self, stream: &str) -> sluice_runtime::Result<()> {
        self.writer
            .complete(stream)
            .map_err(|e| native_error(Call::Complete, e))
    }
    async fn close(self) -> sluice_runtime::Result<()> {
        Ok(())
    }
}

/// Peak RSS of this process, KiB (`VmHWM`).
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The transforms of the `--transforms` scenario: a rename, a salted hash
/// and a filter on the users stream, run in the host.
const USER_TRANSFORMS: &str = r#"[[streams.transforms]]
rename = { from = "name", to = "full_name" }
[[streams.transforms]]
hash = { field = "email", salt = "bench-salt" }
[[streams.transforms]]
filter = { field = "age", op = ">=", value = 18 }
"#;

/// The pipeline file of a scenario.
fn pipeline_toml(
    components: &Path,
    source: &str,
    streams: &str,
    records: u64,
    input: &Path,
    out: &Path,
    transforms: bool,
) -> String {
    let (count, stream_list) = match streams {
        "users" => (records, vec!["users"]),
        _ => (records.div_ceil(3), vec!["users", "orders", "events"]),
    };
    let source_block = match source {
        "file" => format!(
            "component = {:?}\nconfig = {{ path = \"/in\" }}\ndirs = [{{ host = {:?}, guest = \"/in\" }}]",
            components.join("source-file.wasm"),
            input,
        ),
        _ => format!(
            "component = {:?}\nconfig = {{ count = {count}, batch_size = 1000 }}",
            components.join("source-faker.wasm"),
        ),
    };
    let mut text = format!(
        "name = \"bench\"\n[options]\ncommit_interval_ms = 5000\n[source]\n{source_block}\n[destination]\ncomponent = {:?}\nconfig = {{ path = \"/out\" }}\ndirs = [{{ host = {:?}, guest = \"/out\", write = true }}]\n",
        components.join("dest-file.wasm"),
        out,
    );
    if source == "faker" {
        for s in stream_list {
            text.push_str(&format!(
                "[[streams]]\nname = \"{s}\"\nsync_mode = \"full_refresh\"\nwrite_mode = \"overwrite\"\n"
            ));
            if transforms && s == "users" {
                text.push_str(USER_TRANSFORMS);
            }
        }
    }
    text
}

/// The sandboxed run, timed from opening the reader to the final commit.
async fn run_wasm(
    pipeline: &Pipeline,
    store: &StateStore,
    args: &[String],
    work: &Path,
) -> Result<(RunSummary, Duration), String> {
    let cache = work.join("cache");
    let rt = Runtime::builder()
        .cache_dir(Some(cache))
        .build()
        .map_err(|e| e.to_string())?;
    // `--fuel N`: both connectors metered with that budget per call.
    let mut pipeline = pipeline.clone();
    if let Some(fuel) = crate::flag(args, "--fuel") {
        let fuel: u64 = fuel.parse().map_err(|e| format!("--fuel {fuel}: {e}"))?;
        pipeline.source.limits.fuel = fuel;
        pipeline.destination.limits.fuel = fuel;
    }
    // `--parallelism N`: that many readers (default: one per core but one).
    if let Some(n) = parallelism(args)? {
        pipeline.options.parallelism = n;
    }
    let pipeline = &pipeline;
    let prepared = pipeline.prepare(&rt).await.map_err(|e| e.to_string())?;
    let started = Instant::now();
    let s = pipeline
        .run_prepared(prepared, store, &RunOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    Ok((s, started.elapsed()))
}

/// `--parallelism N`, if given.
fn parallelism(args: &[String]) -> Result<Option<usize>, String> {
    crate::flag(args, "--parallelism")
        .map(|n| n.parse().map_err(|e| format!("--parallelism {n}: {e}")))
        .transpose()
}

/// The native baseline: the same connector crates linked into the host,
/// with as many readers as the sandboxed run (`--parallelism`, by default
/// one: a single-threaded native pipeline), sharing the streams and
/// partitions the same way.
async fn run_native(
    pipeline: &Pipeline,
    store: &StateStore,
    args: &[String],
    out: &Path,
) -> Result<(RunSummary, Duration), String> {
    let src_config: Value = pipeline.source.config.clone();
    let dst_config = json!({"path": out.display().to_string()});
    let catalog = native::discover::<Faker>(&src_config.to_string()).map_err(|e| e.to_string())?;
    let configured = pipeline
        .configure(&catalog, &native::spec::<FileDestination>())
        .map_err(|e| e.to_string())?;
    let parallel = Parallel {
        readers: parallelism(args)?.unwrap_or(1),
        partitioned: catalog.streams.iter().map(|s| s.name.clone()).collect(),
    };
    let started = Instant::now();
    let s = pipeline
        .run_with(
            &configured,
            &Stages::default(),
            store,
            &RunOptions::default(),
            &parallel,
            async |configured: &sluice_protocol::ConfiguredCatalog, shares: &[Share]| {
                let mut readers = Vec::with_capacity(shares.len());
                for share in shares {
                    let config = src_config.to_string();
                    let reader =
                        native::read::<Faker>(&config, share.catalog.clone(), share.state.clone())
                            .map_err(|e| native_error(Call::Read, e))?;
                    readers.push(NativeSource { reader });
                }
                let writer =
                    native::write::<FileDestination>(&dst_config.to_string(), configured.clone())
                        .map_err(|e| native_error(Call::Write, e))?;
                Ok((readers, NativeSink { writer }))
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok((s, started.elapsed()))
}

pub fn main(args: &[String]) -> Result<(), String> {
    let mode = crate::required(args, "--mode")?.to_string();
    let source = crate::flag(args, "--source").unwrap_or("faker").to_string();
    let streams = crate::flag(args, "--streams").unwrap_or("all").to_string();
    let records: u64 = crate::required(args, "--records")?
        .parse()
        .map_err(|e| format!("--records: {e}"))?;
    let components = PathBuf::from(crate::required(args, "--components")?)
        .canonicalize()
        .map_err(|e| format!("--components: {e}"))?;
    let work = PathBuf::from(crate::required(args, "--work")?);
    let input = work.join("input");
    let out = work.join(format!("out-{mode}-{source}"));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let transforms = args.iter().any(|a| a == "--transforms");
    let text = pipeline_toml(
        &components,
        &source,
        &streams,
        records,
        &input,
        &out,
        transforms,
    );
    let pipeline =
        Pipeline::from_toml(&text, &work, "bench.toml", "bench").map_err(|e| e.to_string())?;
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let summary = tokio.block_on(async {
        let store = StateStore::in_memory().map_err(|e| e.to_string())?;
        match mode.as_str() {
            "wasm" => run_wasm(&pipeline, &store, args, &work).await,
            "native" if source == "faker" => run_native(&pipeline, &store, args, &out).await,
            "native" => Err("the native baseline runs source-faker only".to_string()),
            other => Err(format!("--mode {other}: expected wasm or native")),
        }
    })?;
    let (summary, elapsed) = summary;
    if !summary.succeeded() {
        return Err(format!("the run failed: {:?}", summary.run.error));
    }
    let written: u64 = std::fs::read_dir(&out)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok())
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum();
    if written != summary.bytes() {
        return Err(format!(
            "{written} bytes on disk, {} reported",
            summary.bytes()
        ));
    }
    // Records read: those a filter dropped were processed too.
    let dropped: u64 = summary.run.streams.iter().map(|s| s.dropped).sum();
    let m = Measurement {
        records: summary.records() + dropped,
        bytes: summary.bytes(),
        secs: elapsed.as_secs_f64(),
        peak_rss_kib: peak_rss_kib(),
    };
    let _ = std::fs::remove_dir_all(&out);
    println!("{}", serde_json::to_string(&m).map_err(|e| e.to_string())?);
    Ok(())
}
