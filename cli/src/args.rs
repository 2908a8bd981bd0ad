//! Arguments shared by the single-connector commands.

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, ValueEnum};
use serde_json::Value;
use sluice_protocol::{Operation, StreamState, WriteMode};
use sluice_runtime::{DirGrant, Grants, Limits, Sandbox};
use std::path::{Path, PathBuf};

/// The component and its config.
#[derive(Args)]
pub struct ComponentArgs {
    /// The connector component (.wasm).
    pub component: PathBuf,
    /// The connector's config: a JSON or TOML file.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
}

impl ComponentArgs {
    /// The config as JSON (an empty object when none is given).
    pub fn config(&self) -> Result<Value> {
        read_config(self.config.as_deref())
    }
}

/// A connector config file (JSON, or TOML by its extension) as JSON; an
/// empty object when there is none. Errors name the file.
pub fn read_config(path: Option<&Path>) -> Result<Value> {
    let Some(path) = path else {
        return Ok(Value::Object(Default::default()));
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    let value: Value = if path.extension().is_some_and(|e| e == "toml") {
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?
    } else {
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()))?
    };
    if !value.is_object() {
        bail!("{}: the config must be an object", path.display());
    }
    Ok(value)
}

/// What the connector may touch and use. Nothing is granted by default.
#[derive(Args)]
pub struct SandboxArgs {
    /// Grant a directory: HOST:GUEST (read-only) or HOST:GUEST:rw.
    #[arg(long = "dir", value_name = "HOST:GUEST[:rw]")]
    pub dirs: Vec<String>,
    /// Grant a network endpoint HOST:PORT.
    #[arg(long = "allow-host", value_name = "HOST:PORT")]
    pub hosts: Vec<String>,
    /// Trust the CA certificates in this PEM file for HTTPS, besides the
    /// system's roots (a private API's CA).
    #[arg(long, value_name = "PEM")]
    pub ca_bundle: Option<PathBuf>,
    /// Give the connector an environment variable KEY=VALUE.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Memory limit in MiB.
    #[arg(long)]
    pub memory_mib: Option<u64>,
    /// Deadline per call in milliseconds.
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Fuel per call (roughly, wasm instructions), metered on an engine
    /// that counts it; 0 (the default): not metered, the deadline stops a
    /// runaway call.
    #[arg(long)]
    pub fuel: Option<u64>,
    /// Largest batch a source may hand over, in MiB.
    #[arg(long)]
    pub batch_mib: Option<u64>,
    /// Log output per call (log calls, stdout, stderr), in KiB.
    #[arg(long)]
    pub log_kib: Option<u64>,
}

impl SandboxArgs {
    /// The sandbox these flags describe.
    pub fn sandbox(&self) -> Result<Sandbox> {
        let mut grants = Grants::default();
        for d in &self.dirs {
            let parts: Vec<&str> = d.split(':').collect();
            let (host, guest, write) = match parts.as_slice() {
                [h, g] => (h, g, false),
                [h, g, "rw"] => (h, g, true),
                [h, g, "ro"] => (h, g, false),
                _ => bail!("--dir {d}: expected HOST:GUEST or HOST:GUEST:rw"),
            };
            if !guest.starts_with('/') {
                bail!("--dir {d}: the guest path must be absolute, like /data");
            }
            grants.dirs.push(DirGrant {
                host: PathBuf::from(host),
                guest: guest.to_string(),
                write,
            });
        }
        grants.hosts = self.hosts.clone();
        grants.ca_bundle = self.ca_bundle.clone();
        for e in &self.env {
            let Some((k, v)) = e.split_once('=') else {
                bail!("--env {e}: expected KEY=VALUE");
            };
            grants.env.insert(k.to_string(), v.to_string());
        }
        let mut limits = Limits::default();
        if let Some(m) = self.memory_mib {
            limits.memory_mib = m;
        }
        if let Some(t) = self.timeout_ms {
            limits.timeout_ms = t;
        }
        if let Some(f) = self.fuel {
            limits.fuel = f;
        }
        if let Some(b) = self.batch_mib {
            limits.batch_mib = b;
        }
        if let Some(l) = self.log_kib {
            limits.log_kib = l;
        }
        Ok(Sandbox { grants, limits })
    }
}

/// `--operation`.
#[derive(Clone, Copy, ValueEnum)]
pub enum OperationArg {
    Insert,
    Update,
    Upsert,
    Delete,
}

impl From<OperationArg> for Operation {
    fn from(o: OperationArg) -> Self {
        match o {
            OperationArg::Insert => Operation::Insert,
            OperationArg::Update => Operation::Update,
            OperationArg::Upsert => Operation::Upsert,
            OperationArg::Delete => Operation::Delete,
        }
    }
}

/// `--write-mode`.
#[derive(Clone, Copy, ValueEnum)]
pub enum WriteModeArg {
    Overwrite,
    Append,
    AppendDedup,
    History,
}

impl From<WriteModeArg> for WriteMode {
    fn from(m: WriteModeArg) -> Self {
        match m {
            WriteModeArg::Overwrite => WriteMode::Overwrite,
            WriteModeArg::Append => WriteMode::Append,
            WriteModeArg::AppendDedup => WriteMode::AppendDedup,
            WriteModeArg::History => WriteMode::History,
        }
    }
}

/// Read a JSON file as `T`, naming the file and `what` it is on error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} file {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a valid {what}", path.display()))
}

/// `--format`: the messages a command reads or prints.
#[derive(Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// sluice's own: JSON lines of records (human text for spec, check
    /// and discover).
    #[default]
    Jsonl,
    /// Singer messages (SCHEMA, RECORD, STATE), a Singer catalog.
    Singer,
    /// Airbyte messages (RECORD, STATE, TRACE, LOG, SPEC, CATALOG,
    /// CONNECTION_STATUS).
    Airbyte,
}

impl Format {
    /// The interop protocol of this format; `None` for sluice's own.
    pub fn protocol(self) -> Option<sluice_interop::Protocol> {
        match self {
            Format::Jsonl => None,
            Format::Singer => Some(sluice_interop::Protocol::Singer),
            Format::Airbyte => Some(sluice_interop::Protocol::Airbyte),
        }
    }
}

/// `--format` of state files.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateFormat {
    /// sluice's own: a list of `{"stream": ..., "state": ...}`.
    Sluice,
    /// A Singer state: `{"bookmarks": {stream: bookmark}}` (also inside a
    /// STATE message or Meltano's `singer_state`).
    Singer,
    /// Airbyte state: a list of STREAM or GLOBAL state messages, or a
    /// LEGACY state object.
    Airbyte,
}

impl StateFormat {
    /// Its name, as the flag spells it.
    pub fn name(self) -> &'static str {
        match self {
            StateFormat::Sluice => "sluice",
            StateFormat::Singer => "Singer",
            StateFormat::Airbyte => "Airbyte",
        }
    }
}

/// Per-stream states of a state file's JSON in `format`; errors say what
/// is wrong, the caller names the file.
pub fn states_from(value: &Value, format: StateFormat) -> Result<Vec<StreamState>> {
    let states = match format {
        StateFormat::Sluice => serde_json::from_value(value.clone())
            .context("not a list of {\"stream\": ..., \"state\": ...}")?,
        StateFormat::Singer => sluice_interop::state::from_singer(value).map_err(|e| anyhow!(e))?,
        StateFormat::Airbyte => {
            sluice_interop::state::from_airbyte(value).map_err(|e| anyhow!(e))?
        }
    };
    Ok(states)
}

/// A state file as JSON: one JSON document, or JSON lines (several state
/// messages, as a connector printed them: Singer keeps the last, Airbyte
/// all of them, as a list). Errors name the file.
pub fn read_state_file(path: &Path, format: StateFormat) -> Result<Vec<StreamState>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the state file {}", path.display()))?;
    let value = match serde_json::from_str::<Value>(&text) {
        Ok(v) => v,
        Err(whole) => {
            let lines: Result<Vec<Value>, _> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(serde_json::from_str::<Value>)
                .collect();
            match (lines, format) {
                (Ok(mut l), StateFormat::Singer) if l.len() > 1 => l.pop().unwrap_or_default(),
                (Ok(l), StateFormat::Airbyte) if l.len() > 1 => Value::Array(l),
                _ => {
                    return Err(anyhow!(whole))
                        .with_context(|| format!("{} is not valid JSON", path.display()));
                }
            }
        }
    };
    states_from(&value, format)
        .with_context(|| format!("{} is not {} state", path.display(), format.name()))
}
