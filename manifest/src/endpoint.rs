//! One end of a pipeline as the pipeline file writes it: a sandboxed
//! component with its grants and limits, or a process (a Singer or
//! Airbyte connector) that runs outside the sandbox.

use crate::substitute::{substitute, substitute_json};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A host directory made visible to the connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirGrant {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the connector sees it, e.g. `/data`.
    pub guest: String,
    /// Whether the connector may write (read-only otherwise).
    #[serde(default)]
    pub write: bool,
}

/// What a connector may touch. Everything else is denied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Directories, read-only unless `write`.
    #[serde(default)]
    pub dirs: Vec<DirGrant>,
    /// What it may reach on the network: `host:port` pairs (TCP and
    /// HTTP(S)) or URL prefixes such as `https://api.example.com/v2/`
    /// (HTTP(S) requests under that prefix only).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Environment variables it sees, with their values. Their values are
    /// scrubbed from logs and errors like secret config values, except
    /// those named in `plain_env`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The variables of `env` granted with `secret = false`: not scrubbed.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub plain_env: BTreeSet<String>,
    /// A PEM file of CA certificates trusted for HTTPS besides the
    /// system's roots: the CA of a private API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<PathBuf>,
}

impl Grants {
    /// The values of the granted variables that are secret (all but those
    /// in `plain_env`).
    pub fn secret_env_values(&self) -> Vec<String> {
        self.env
            .iter()
            .filter(|(k, _)| !self.plain_env.contains(*k))
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// One granted environment variable as a pipeline file writes it: a bare
/// value (secret: scrubbed from logs and errors), or `{ value = "...",
/// secret = false }` for a value that may be shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EnvVar {
    /// A value, treated as a secret.
    Value(String),
    /// A value with its secrecy said.
    Detailed {
        /// The value (`${VAR}` allowed).
        value: String,
        /// Whether it is scrubbed from logs and errors (default true).
        #[serde(default = "yes")]
        secret: bool,
    },
}

fn yes() -> bool {
    true
}

impl EnvVar {
    /// The value.
    pub fn value(&self) -> &str {
        match self {
            EnvVar::Value(v) | EnvVar::Detailed { value: v, .. } => v,
        }
    }

    /// Whether the value is scrubbed from logs and errors.
    pub fn is_secret(&self) -> bool {
        !matches!(self, EnvVar::Detailed { secret: false, .. })
    }

    fn value_mut(&mut self) -> &mut String {
        match self {
            EnvVar::Value(v) | EnvVar::Detailed { value: v, .. } => v,
        }
    }
}

/// Resource limits of a connector, applied to every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Linear memory per memory of the component, in MiB.
    pub memory_mib: u64,
    /// Fuel (roughly, wasm instructions) per call; 0 (the default): not
    /// metered. Set, the connector runs on an engine that meters fuel,
    /// about a fifth slower; unset, `timeout_ms` is what stops a runaway
    /// call (docs/security.md, "Fuel").
    pub fuel: u64,
    /// Wall-clock time per call, in milliseconds.
    pub timeout_ms: u64,
    /// Largest batch a source may hand over, in MiB of encoded records.
    pub batch_mib: u64,
    /// Log output (log calls, stdout, stderr) per call, in KiB; a
    /// connector that logs more is stopped.
    pub log_kib: u64,
    /// Data a connector hands the host in one go other than a batch (a
    /// spec, a catalog, an error message, a log line), in MiB.
    pub message_mib: u64,
    /// Host resources a connector may hold at once (open files, directory
    /// streams, sockets, pollables, HTTP requests and responses).
    pub handles: u32,
    /// Largest HTTP response body, in MiB.
    pub http_body_mib: u64,
    /// HTTP connect timeout, in milliseconds.
    pub http_connect_timeout_ms: u64,
    /// HTTP time to the first byte of a response, in milliseconds.
    pub http_first_byte_timeout_ms: u64,
    /// HTTP time between two parts of a response body, in milliseconds.
    pub http_between_bytes_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mib: 512,
            fuel: 0,
            timeout_ms: 120_000,
            batch_mib: 64,
            log_kib: 1024,
            message_mib: 16,
            handles: 1000,
            http_body_mib: 64,
            http_connect_timeout_ms: 10_000,
            http_first_byte_timeout_ms: 60_000,
            http_between_bytes_timeout_ms: 60_000,
        }
    }
}

impl Limits {
    /// Whether these are the default limits.
    pub fn is_default(&self) -> bool {
        *self == Limits::default()
    }

    /// The per-call deadline.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The largest batch, in bytes.
    pub fn batch_bytes(&self) -> usize {
        usize::try_from(self.batch_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    }

    /// The log budget per call, in bytes.
    pub fn log_bytes(&self) -> usize {
        usize::try_from(self.log_kib.saturating_mul(1 << 10)).unwrap_or(usize::MAX)
    }

    /// The largest spec, catalog, error or log line, in bytes.
    pub fn message_bytes(&self) -> usize {
        usize::try_from(self.message_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    }

    /// The largest HTTP response body, in bytes.
    pub fn http_body_bytes(&self) -> u64 {
        self.http_body_mib.saturating_mul(1 << 20)
    }
}

/// Grants plus limits: everything that shapes one connector's sandbox.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sandbox {
    /// What it may touch.
    #[serde(default)]
    pub grants: Grants,
    /// How much it may use.
    #[serde(default)]
    pub limits: Limits,
}

/// What runs at one end of a pipeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    /// A sluice connector: a WebAssembly component in the sandbox.
    #[default]
    Component,
    /// A Singer or Airbyte connector run as a process, outside the
    /// sandbox: it can do whatever the sluice process can.
    Process,
}

/// One end of a pipeline, as written in the pipeline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// The component file (relative to the pipeline file); components only.
    #[serde(default, skip_serializing_if = "path_is_empty")]
    pub component: PathBuf,
    /// `component` (the default) or `process`.
    #[serde(default, skip_serializing_if = "is_component")]
    pub kind: EndpointKind,
    /// The protocol a process speaks on stdin/stdout; processes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<sluice_interop::Protocol>,
    /// The program and its first arguments (`["tap-jsonl"]`,
    /// `[".venv/bin/source-faker"]`); processes only. A relative path
    /// with a `/` is relative to the pipeline file; a bare name is looked
    /// up on `PATH`. sluice adds the protocol's own arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// A Singer tap's own catalog file, used instead of running its
    /// `--discover` (processes that are sources only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<PathBuf>,
    /// The connector's config; strings may use `${ENV_VAR}`.
    #[serde(default = "empty_object")]
    pub config: Value,
    /// Directories granted (host paths relative to the pipeline file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dirs: Vec<DirGrant>,
    /// `host:port` endpoints granted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// A PEM file of CA certificates trusted for HTTPS besides the
    /// system's roots (relative to the pipeline file); components only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<PathBuf>,
    /// Environment variables granted, with values (`${VAR}` allowed). A
    /// process sees these, `PATH` and `HOME`, and nothing else. Values are
    /// secret unless written `{ value = "...", secret = false }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, EnvVar>,
    /// Resource limits (components only).
    #[serde(default, skip_serializing_if = "Limits::is_default")]
    pub limits: Limits,
    /// The values `${ENV}` put into `config` and `env`: scrubbed from
    /// everything a process prints.
    #[serde(skip)]
    pub secrets: Vec<String>,
}

fn is_component(k: &EndpointKind) -> bool {
    *k == EndpointKind::Component
}

fn path_is_empty(p: &Path) -> bool {
    p.as_os_str().is_empty()
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

impl Endpoint {
    /// A component endpoint with `config` and nothing granted.
    pub fn component(component: impl Into<PathBuf>, config: Value) -> Self {
        Endpoint {
            kind: EndpointKind::Component,
            component: component.into(),
            protocol: None,
            command: Vec::new(),
            catalog: None,
            config,
            dirs: Vec::new(),
            hosts: Vec::new(),
            ca_bundle: None,
            env: BTreeMap::new(),
            limits: Limits::default(),
            secrets: Vec::new(),
        }
    }

    /// Whether this end runs as a process outside the sandbox.
    pub fn is_process(&self) -> bool {
        self.kind == EndpointKind::Process
    }

    /// The granted environment variables' values.
    pub fn env_values(&self) -> BTreeMap<String, String> {
        self.env
            .iter()
            .map(|(k, v)| (k.clone(), v.value().to_string()))
            .collect()
    }

    /// The sandbox this endpoint asks for.
    pub fn sandbox(&self) -> Sandbox {
        Sandbox {
            grants: Grants {
                dirs: self.dirs.clone(),
                hosts: self.hosts.clone(),
                env: self.env_values(),
                plain_env: self
                    .env
                    .iter()
                    .filter(|(_, v)| !v.is_secret())
                    .map(|(k, _)| k.clone())
                    .collect(),
                ca_bundle: self.ca_bundle.clone(),
            },
            limits: self.limits,
        }
    }
}

/// Resolve `e` (the pipeline file's `which`): paths against `dir`,
/// `${ENV}` substituted, and its keys checked against its kind.
pub(crate) fn resolve_endpoint(
    mut e: Endpoint,
    which: &str,
    dir: &Path,
    file: &str,
) -> Result<Endpoint> {
    check_kind(&e, which, file)?;
    e.secrets = crate::substitute::env_values_json(&e.config);
    for v in e.env.values() {
        e.secrets.extend(crate::substitute::env_values(v.value()));
    }
    if e.is_process() {
        resolve_process(&mut e, which, dir, file)?;
    } else {
        e.component = dir.join(&e.component);
        if let Some(bundle) = &mut e.ca_bundle {
            *bundle = dir.join(&*bundle);
        }
    }
    substitute_json(&mut e.config, &format!("{which}.config"), file)?;
    for (i, d) in e.dirs.iter_mut().enumerate() {
        let host = substitute(
            &d.host.to_string_lossy(),
            &format!("{which}.dirs[{i}].host"),
            file,
        )?;
        d.host = dir.join(host);
        if !d.guest.starts_with('/') {
            return Err(Error {
                file: file.into(),
                message: format!(
                    "`{which}.dirs[{i}].guest` must be an absolute path like \"/data\", not `{}`",
                    d.guest
                ),
            });
        }
    }
    for (i, h) in e.hosts.iter_mut().enumerate() {
        *h = substitute(h, &format!("{which}.hosts[{i}]"), file)?;
    }
    for (k, v) in e.env.iter_mut() {
        let value = v.value_mut();
        *value = substitute(value, &format!("{which}.env.{k}"), file)?;
    }
    Ok(e)
}

/// The keys of `e` fit its kind: a component has a `component` and no
/// `command`; a process has a `protocol` and a `command`, and none of
/// the sandbox's grants and limits, which would not hold outside it.
fn check_kind(e: &Endpoint, which: &str, file: &str) -> Result<()> {
    let fail = |message: String| {
        Err(Error {
            file: file.into(),
            message,
        })
    };
    match e.kind {
        EndpointKind::Component => {
            if !e.command.is_empty() || e.protocol.is_some() {
                return fail(format!(
                    "`{which}` has `command`/`protocol` but is a component: add `kind = \"process\"` to run a Singer or Airbyte connector outside the sandbox"
                ));
            }
            if path_is_empty(&e.component) {
                return fail(format!(
                    "`{which}.component` is missing: the connector's .wasm file"
                ));
            }
            if e.catalog.is_some() {
                return fail(format!("`{which}.catalog` is for process sources only"));
            }
        }
        EndpointKind::Process => {
            if e.protocol.is_none() {
                return fail(format!(
                    "`{which}.protocol` is missing: `singer` or `airbyte` (kind = \"process\")"
                ));
            }
            if e.command.is_empty() {
                return fail(format!(
                    "`{which}.command` is missing: the program to run, e.g. [\"tap-jsonl\"]"
                ));
            }
            if !path_is_empty(&e.component) {
                return fail(format!(
                    "`{which}` is a process: it takes `command`, not `component`"
                ));
            }
            if !e.dirs.is_empty()
                || !e.hosts.is_empty()
                || e.ca_bundle.is_some()
                || e.limits != Limits::default()
            {
                return fail(format!(
                    "`{which}` is a process, which runs outside the sandbox: `dirs`, `hosts`, `ca_bundle` and `limits` do not apply to it"
                ));
            }
        }
    }
    Ok(())
}

/// `${ENV}` in a process's command; its program and catalog relative to `dir`.
fn resolve_process(e: &mut Endpoint, which: &str, dir: &Path, file: &str) -> Result<()> {
    for (i, arg) in e.command.iter_mut().enumerate() {
        *arg = substitute(arg, &format!("{which}.command[{i}]"), file)?;
    }
    if let Some(program) = e.command.first_mut() {
        let p = Path::new(program.as_str());
        if p.is_relative() && program.contains('/') {
            *program = dir.join(p).display().to_string();
        }
    }
    if let Some(c) = &mut e.catalog {
        *c = dir.join(&*c);
    }
    Ok(())
}
