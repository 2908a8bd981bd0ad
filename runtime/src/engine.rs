//! The wasmtime engines of a process, one metering fuel and one not, each
//! built on first use: their config (component model, fuel, epoch
//! interruption), epoch tickers, linkers with WASI and the host imports,
//! and the on-disk cache of precompiled components (keyed by engine). Nothing
//! here knows about connectors: [`Runtime::load`] lives with
//! [`Connector`](crate::Connector).

use crate::bindings;
use crate::error::{Error, Result};
use crate::host::HostState;
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

/// How often the engine's epoch advances: the granularity of deadlines and
/// of yielding to other tasks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The embeddable runtime: load connectors, then call them.
///
/// Cheap to clone; one per process is enough. It has two wasmtime
/// engines, built when first needed: one that meters fuel and one that
/// does not (metering costs about a fifth of a guest's speed). A call runs
/// on the metered one exactly when its sandbox's `limits.fuel` is set
/// (more than 0); the deadline and the memory limit hold on both.
///
/// ```no_run
/// # async fn demo() -> Result<(), sluice_runtime::Error> {
/// use sluice_runtime::{Runtime, Sandbox};
/// let runtime = Runtime::builder().build()?;
/// let faker = runtime.load("sluice_source_faker.wasm").await?;
/// let spec = faker.spec(&Sandbox::default()).await?;
/// println!("{} {}", spec.name, spec.version);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
    /// Which of the two engines this handle uses.
    metered: bool,
}

struct Inner {
    cache: Option<PathBuf>,
    /// The engine that meters fuel, and the one that does not.
    engines: [OnceLock<Engines>; 2],
}

/// One wasmtime engine and its linker.
struct Engines {
    engine: Engine,
    linker: Linker<HostState>,
}

/// A component compiled (or mapped from the cache) by this engine.
pub(crate) struct Compiled {
    /// The component file.
    pub(crate) path: PathBuf,
    /// The component, ready to link.
    pub(crate) component: Component,
    /// SHA-256 of the file, hex.
    pub(crate) hash: String,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache", &self.inner.cache)
            .field("metered", &self.metered)
            .finish()
    }
}

/// Settings of a [`Runtime`].
#[derive(Debug, Clone)]
pub struct RuntimeBuilder {
    cache: Option<PathBuf>,
    fuel: bool,
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        RuntimeBuilder {
            cache: default_cache_dir(),
            fuel: false,
        }
    }
}

/// `$SLUICE_CACHE_DIR`, else `$XDG_CACHE_HOME/sluice`, else `~/.cache/sluice`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SLUICE_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("sluice"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("sluice"))
}

impl RuntimeBuilder {
    /// Cache precompiled components in `dir` (`None`: compile every time).
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache = dir;
        self
    }

    /// Which engine [`Runtime::load`] compiles for first (default: the
    /// unmetered one, as the default `limits.fuel` is 0). A call whose
    /// limits ask for the other compiles the component for it then (once,
    /// and cached); so a fuel limit is enforced whenever one is set.
    pub fn consume_fuel(mut self, on: bool) -> Self {
        self.fuel = on;
        self
    }

    /// Build the runtime (its first engine, and that engine's epoch ticker).
    pub fn build(self) -> Result<Runtime> {
        let runtime = Runtime {
            inner: Arc::new(Inner {
                cache: self.cache,
                engines: [OnceLock::new(), OnceLock::new()],
            }),
            metered: self.fuel,
        };
        runtime.metering(self.fuel)
    }
}

impl Engines {
    /// An engine, metering fuel or not, with every host import linked, and
    /// its epoch ticker.
    fn new(fuel: bool) -> Result<Self> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .consume_fuel(fuel)
            .epoch_interruption(true)
            .parallel_compilation(true)
            .cranelift_opt_level(wasmtime::OptLevel::Speed);
        if profiling() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| Error::wasmtime("creating the engine", e))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| Error::wasmtime("linking WASI", e))?;
        crate::host::add_lookup_to_linker(&mut linker)
            .map_err(|e| Error::wasmtime("linking WASI name lookups", e))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| Error::wasmtime("linking WASI HTTP", e))?;
        crate::host::add_handler_to_linker(&mut linker)
            .map_err(|e| Error::wasmtime("linking WASI HTTP's outgoing handler", e))?;
        link_contract(&mut linker)?;
        start_ticker(&engine);
        Ok(Engines { engine, linker })
    }
}

/// Whether `SLUICE_PROFILE=perfmap` asks for the guests' compiled code to
/// be named in `/tmp/perf-<pid>.map`, so that `perf record` attributes
/// samples to guest functions (BENCHMARKS.md, "Profiling a guest").
fn profiling() -> bool {
    std::env::var_os(PROFILE_ENV).is_some_and(|v| v == "perfmap")
}

/// The variable that turns on [`profiling`].
pub const PROFILE_ENV: &str = "SLUICE_PROFILE";

/// The host imports of every contract version: a component built against
/// either links.
fn link_contract(linker: &mut Linker<HostState>) -> Result<()> {
    use bindings::{v0_1, v0_2};
    let linked = |e| Error::wasmtime("linking the host imports", e);
    v0_1::host::add_to_linker::<HostState, HasSelf<HostState>>(linker, |d| d).map_err(linked)?;
    v0_2::host::add_to_linker::<HostState, HasSelf<HostState>>(linker, |d| d).map_err(linked)?;
    v0_2::registry::add_to_linker::<HostState, HasSelf<HostState>>(linker, |d| d)
        .map_err(linked)?;
    Ok(())
}

/// Advance the epoch every [`EPOCH_TICK`] until the engine is dropped.
fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("sluice-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => return,
                }
            }
        })
        .expect("spawn the epoch ticker thread");
}

/// Feeds `Hash` output into SHA-256, to turn the engine's compatibility
/// hash into a stable cache-key part.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl Runtime {
    /// A runtime with the default settings.
    pub fn new() -> Result<Self> {
        Self::builder().build()
    }

    /// Settings for a runtime.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The cache directory, if caching is on.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.inner.cache.as_deref()
    }

    fn engine_key(&self) -> String {
        let mut h = Sha256Hasher(Sha256::new());
        self.engine().precompile_compatibility_hash().hash(&mut h);
        hex::encode(&h.0.finalize()[..12])
    }

    /// This handle's engines; built by [`Self::metering`] before any
    /// handle on them is made.
    fn engines(&self) -> &Engines {
        self.inner.engines[usize::from(self.metered)]
            .get()
            .expect("a runtime handle is made only once its engine is built")
    }

    /// The wasmtime engine.
    pub(crate) fn engine(&self) -> &Engine {
        &self.engines().engine
    }

    /// The linker: WASI 0.2 and the `sluice:connector/host` import.
    pub(crate) fn linker(&self) -> &Linker<HostState> {
        &self.engines().linker
    }

    /// Whether calls on this handle meter fuel.
    pub fn consumes_fuel(&self) -> bool {
        self.metered
    }

    /// A handle on the engine that meters fuel (`true`) or the one that
    /// does not, building it on first use; same cache.
    pub fn metering(&self, fuel: bool) -> Result<Runtime> {
        let slot = &self.inner.engines[usize::from(fuel)];
        if slot.get().is_none() {
            // Two callers may build one at once; the second is dropped.
            let _ = slot.set(Engines::new(fuel)?);
        }
        Ok(Runtime {
            inner: self.inner.clone(),
            metered: fuel,
        })
    }

    /// Compile the component at `path` on first use, mapping the cached
    /// artifact afterwards (on a blocking thread).
    pub(crate) async fn compile(&self, path: &Path) -> Result<Compiled> {
        let path = path.to_path_buf();
        let bytes = tokio::fs::read(&path).await.map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        let rt = self.clone();
        tokio::task::spawn_blocking(move || rt.compile_cached(path, &bytes))
            .await
            .map_err(|e| Error::engine("compiling a component", e))?
    }

    fn compile_cached(&self, path: PathBuf, bytes: &[u8]) -> Result<Compiled> {
        let not_a_connector = |message: String| Error::NotAConnector {
            path: path.clone(),
            message,
        };
        if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
            return Err(not_a_connector("not a WebAssembly file".into()));
        }
        let hash = hex::encode(Sha256::digest(bytes));
        let engine = self.engine();
        let cached = self
            .inner
            .cache
            .as_ref()
            .map(|dir| dir.join(format!("{}-{}.cwasm", &hash[..32], self.engine_key())));
        if let Some(file) = cached.as_ref().filter(|f| f.is_file()) {
            let started = Instant::now();
            // SAFETY: files in the cache are written only by `precompile_component`
            // of an engine with the same compatibility hash (part of the name), and
            // are keyed by the component's content hash.
            match unsafe { Component::deserialize_file(engine, file) } {
                Ok(component) => {
                    tracing::info!(
                        component = %path.display(),
                        cache = %file.display(),
                        micros = started.elapsed().as_micros() as u64,
                        "component loaded from the compile cache (no compile)"
                    );
                    return Ok(Compiled {
                        path,
                        component,
                        hash,
                    });
                }
                Err(e) => {
                    tracing::warn!(cache = %file.display(), "ignoring unusable cache entry: {e}")
                }
            }
        }
        let started = Instant::now();
        let artifact = engine
            .precompile_component(bytes)
            .map_err(|e| not_a_connector(format!("{e:#}")))?;
        tracing::info!(
            component = %path.display(),
            millis = started.elapsed().as_millis() as u64,
            "component compiled (first use; cached for next time)"
        );
        if let Some(file) = &cached
            && let Err(e) = write_atomically(file, &artifact)
        {
            tracing::warn!(cache = %file.display(), "cannot write the compile cache: {e}");
        }
        // SAFETY: `artifact` was produced just above by this engine.
        let component = unsafe { Component::deserialize(engine, &artifact) }
            .map_err(|e| Error::wasmtime("loading a compiled component", e))?;
        Ok(Compiled {
            path,
            component,
            hash,
        })
    }
}

fn write_atomically(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // Unique per write: the same component may be compiled twice at once
    // (a pipeline whose two ends are one file), in this process or another.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".tmp-{}-{}-{}",
        std::process::id(),
        WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        file.file_name().unwrap_or_default().to_string_lossy()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, file)
}
