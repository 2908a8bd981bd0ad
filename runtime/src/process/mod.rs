//! Process endpoints: Singer taps and targets, Airbyte sources and
//! destinations, run as programs **outside the sandbox** and spoken to in
//! their own protocol on stdin and stdout.
//!
//! sluice writes their config, catalog and state files (in a private
//! directory removed after the run), starts them with only the
//! environment the pipeline lists, reads their messages into batches and
//! checkpoints ([`ProcessReader`]), or writes batches to them as messages
//! and persists only the state they echo back ([`ProcessWriter`]).

mod child;
mod reader;
mod writer;

use crate::error::{Error, Result};
use crate::redact::Redactor;
use child::Child;
pub use reader::ProcessReader;
use serde_json::Value;
use sluice_interop::{Event, Protocol, catalog};
use sluice_manifest::Endpoint;
use sluice_protocol::{Catalog, Role, Spec, WriteMode, config};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
pub use writer::ProcessWriter;

/// A Singer or Airbyte program, ready to run: its command, config and
/// environment, and (a source) its own catalog.
#[derive(Clone)]
pub struct Process {
    inner: Arc<Inner>,
}

struct Inner {
    /// Its program's file name, for messages.
    name: String,
    protocol: Protocol,
    command: Vec<String>,
    config: Value,
    env: BTreeMap<String, String>,
    /// Where it runs: the pipeline file's directory.
    cwd: PathBuf,
    redactor: Redactor,
    /// Its config, catalog and state files; removed with the last clone.
    files: tempfile::TempDir,
    /// Its own catalog (a source): Singer's `--discover` output or an
    /// `AirbyteCatalog`, kept exactly, to select streams in.
    catalog: Value,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.inner.name)
            .field("protocol", &self.inner.protocol)
            .finish()
    }
}

impl Process {
    /// Its program's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The protocol it speaks.
    pub fn protocol(&self) -> Protocol {
        self.inner.protocol
    }

    /// An error of this process in `operation`, secrets scrubbed.
    fn error(&self, operation: &str, message: String) -> Error {
        Error::Process {
            process: self.inner.name.clone(),
            protocol: self.inner.protocol.name(),
            operation: operation.to_string(),
            message: self.inner.redactor.scrub(&message),
        }
    }

    /// Write `value` as the file `name` of its private directory (only
    /// the owner may read it: a config holds secrets).
    fn file(&self, name: &str, value: &Value) -> Result<String> {
        let path = self.inner.files.path().join(name);
        write_private(&path, &value.to_string())
            .map_err(|e| self.error("set-up", format!("cannot write {}: {e}", path.display())))?;
        Ok(path.display().to_string())
    }

    /// Its config file, written.
    fn config_file(&self) -> Result<String> {
        self.file("config.json", &self.inner.config)
    }

    /// Prepare the process of `endpoint` as a source: run its discovery
    /// (or read the pipeline's `catalog` file); returns it and its streams.
    pub async fn source(endpoint: &Endpoint, cwd: &Path) -> Result<(Process, Catalog)> {
        let mut p = Process::new(endpoint, cwd, Value::Null)?;
        if p.protocol() == Protocol::Airbyte {
            p = p.with_airbyte_secrets().await?;
        }
        let own = match (&endpoint.catalog, p.protocol()) {
            (Some(file), _) => read_catalog(&p, file)?,
            (None, Protocol::Singer) => p.singer_discover().await?,
            (None, Protocol::Airbyte) => p.airbyte_discover().await?,
        };
        let streams = match p.protocol() {
            Protocol::Singer => catalog::from_singer(&own),
            Protocol::Airbyte => catalog::from_airbyte(&own),
        }
        .map_err(|e| p.error("discover", format!("its catalog: {e}")))?;
        let mut inner =
            Arc::try_unwrap(p.inner).map_err(|_| Error::engine("discover", "shared"))?;
        inner.catalog = own;
        Ok((
            Process {
                inner: Arc::new(inner),
            },
            streams,
        ))
    }

    /// Prepare the process of `endpoint` as a destination; returns it and
    /// the spec sluice holds it to (an Airbyte destination's own `spec`;
    /// for a Singer target, which has none, append and append_dedup by
    /// its key properties).
    pub async fn destination(endpoint: &Endpoint, cwd: &Path) -> Result<(Process, Spec)> {
        let p = Process::new(endpoint, cwd, Value::Null)?;
        let empty = serde_json::json!({"type": "object"});
        let mut spec = Spec::destination(p.name(), "process", empty);
        spec.write_modes = vec![WriteMode::Append, WriteMode::AppendDedup];
        if p.protocol() == Protocol::Singer {
            return Ok((p, spec));
        }
        let (p, own) = p.airbyte_spec().await?;
        let modes = own
            .get("supported_destination_sync_modes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        spec.write_modes = modes
            .iter()
            .filter_map(|m| match m.as_str()? {
                "append" => Some(WriteMode::Append),
                "overwrite" => Some(WriteMode::Overwrite),
                "append_dedup" => Some(WriteMode::AppendDedup),
                _ => None,
            })
            .collect();
        spec.roles = vec![Role::Destination];
        Ok((p, spec))
    }

    fn new(endpoint: &Endpoint, cwd: &Path, catalog: Value) -> Result<Process> {
        let program = endpoint.command.first().cloned().unwrap_or_default();
        let name = Path::new(&program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or(program);
        let mut secrets = endpoint.secrets.clone();
        secrets.extend(
            endpoint
                .env
                .values()
                .filter(|v| v.is_secret())
                .map(|v| v.value().to_string()),
        );
        let files = tempfile::Builder::new()
            .prefix("sluice-process-")
            .tempdir()
            .map_err(|e| Error::engine("creating a process's private directory", e))?;
        Ok(Process {
            inner: Arc::new(Inner {
                name,
                protocol: endpoint.protocol.unwrap_or(Protocol::Singer),
                command: endpoint.command.clone(),
                config: endpoint.config.clone(),
                env: endpoint.env_values(),
                cwd: cwd.to_path_buf(),
                redactor: Redactor::new(secrets),
                files,
                catalog,
            }),
        })
    }

    /// Run it to its end with `args`, taking every stdout line; the
    /// Airbyte messages among them are decoded, logs logged.
    async fn run_lines(&self, operation: &'static str, args: &[String]) -> Result<Vec<String>> {
        let mut child = Child::start(self, operation, args, false)?;
        let mut lines = Vec::new();
        while let Some(line) = child.line().await? {
            lines.push(line);
        }
        child.wait().await?;
        Ok(lines)
    }

    /// Singer: `--config FILE --discover`, its stdout one JSON catalog.
    async fn singer_discover(&self) -> Result<Value> {
        let args = vec!["--config".into(), self.config_file()?, "--discover".into()];
        let text = self.run_lines("--discover", &args).await?.join("\n");
        serde_json::from_str(&text).map_err(|e| {
            self.error(
                "--discover",
                format!("its output is not a JSON catalog: {e}"),
            )
        })
    }

    /// The first message of type `want` among an Airbyte program's lines.
    fn airbyte_message(&self, operation: &'static str, lines: &[String]) -> Result<Event> {
        for (i, line) in lines.iter().enumerate() {
            let Ok(event) = sluice_interop::airbyte::decode(i as u64 + 1, line) else {
                tracing::debug!(process = %self.name(), "not an Airbyte message: {line}");
                continue;
            };
            match event {
                Event::Log { message, .. } => {
                    tracing::info!(target: "sluice::process", process = %self.name(), "{}", self.inner.redactor.scrub(&message));
                }
                Event::Error(e) => return Err(self.error(operation, e.message)),
                Event::Spec(_) | Event::Catalog(_) | Event::ConnectionStatus { .. } => {
                    return Ok(event);
                }
                _ => {}
            }
        }
        Err(self.error(operation, format!("it printed no {operation} message")))
    }

    /// Airbyte: `spec`; returns the process with the config's secret
    /// values (fields marked `airbyte_secret`) added to its redactor.
    async fn airbyte_spec(self) -> Result<(Process, Value)> {
        let lines = self.run_lines("spec", &["spec".into()]).await?;
        let Event::Spec(spec) = self.airbyte_message("spec", &lines)? else {
            return Err(self.error("spec", "it printed no SPEC message".into()));
        };
        let schema = spec
            .get("connectionSpecification")
            .cloned()
            .unwrap_or(Value::Null);
        let mut inner = Arc::try_unwrap(self.inner).map_err(|_| Error::engine("spec", "shared"))?;
        let mut secrets = config::secret_values(&schema, &inner.config);
        secrets.extend(inner.redactor.values());
        inner.redactor = Redactor::new(secrets);
        Ok((
            Process {
                inner: Arc::new(inner),
            },
            spec,
        ))
    }

    async fn with_airbyte_secrets(self) -> Result<Process> {
        Ok(self.airbyte_spec().await?.0)
    }

    /// Airbyte: `discover --config FILE`, its CATALOG.
    async fn airbyte_discover(&self) -> Result<Value> {
        let args = vec!["discover".into(), "--config".into(), self.config_file()?];
        let lines = self.run_lines("discover", &args).await?;
        match self.airbyte_message("discover", &lines)? {
            Event::Catalog(c) => Ok(c),
            _ => Err(self.error("discover", "it printed no CATALOG message".into())),
        }
    }
}

/// A catalog file the pipeline names for a process source.
fn read_catalog(p: &Process, file: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        p.error(
            "discover",
            format!("cannot read the catalog {}: {e}", file.display()),
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        p.error(
            "discover",
            format!("{} is not a JSON catalog: {e}", file.display()),
        )
    })
}

/// Write `text` to `path`, readable by its owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(text.as_bytes())
}
