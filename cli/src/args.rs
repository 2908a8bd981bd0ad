//! Arguments shared by the single-connector commands.

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde_json::Value;
use sluice_protocol::{Operation, WriteMode};
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
    /// Give the connector an environment variable KEY=VALUE.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Memory limit in MiB.
    #[arg(long)]
    pub memory_mib: Option<u64>,
    /// Deadline per call in milliseconds.
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Fuel per call.
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
