//! Errors of the runtime: each names the connector, the call and what broke.

use sluice_protocol::{ConnectorError, Role};
use std::fmt;
use std::path::PathBuf;

/// An error of a library underneath (wasmtime, the OS), kept as the source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A connector operation, as named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Call {
    /// Instantiating the component in a fresh sandbox.
    Instantiate,
    /// `spec()`.
    Spec,
    /// `check(config)`.
    Check,
    /// `discover(config)`.
    Discover,
    /// `read(...)` that opens a reader.
    Read,
    /// `reader.next()`.
    Next,
    /// `write(...)` that opens a writer.
    Write,
    /// `writer.schema(stream, id)`: a destination told of a schema.
    Schema,
    /// `writer.write(batch)`.
    WriteBatch,
    /// `writer.commit()`.
    Commit,
    /// `writer.complete(stream)`: a destination told a stream ended.
    Complete,
    /// A transform component's `open` or `transform(batch)`.
    Transform,
    /// Dropping a reader or writer resource inside the guest.
    Close,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Call::Instantiate => "instantiate",
            Call::Spec => "spec",
            Call::Check => "check",
            Call::Discover => "discover",
            Call::Transform => "transform",
            Call::Schema => "schema",
            Call::Read => "read",
            Call::Next => "reader.next",
            Call::Write => "write",
            Call::WriteBatch => "writer.write",
            Call::Commit => "writer.commit",
            Call::Complete => "writer.complete",
            Call::Close => "close",
        })
    }
}

/// A sandbox limit a connector ran into.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// The call used up its fuel (instructions).
    Fuel {
        /// Fuel granted per call.
        per_call: u64,
    },
    /// The call ran past its wall-clock deadline.
    Deadline {
        /// The deadline, in milliseconds.
        millis: u64,
    },
    /// The guest asked for more linear memory than allowed.
    Memory {
        /// The limit, in bytes.
        limit: usize,
        /// What the guest asked for, in bytes.
        requested: usize,
    },
    /// The guest's call stack overflowed.
    Stack,
    /// A batch was larger than allowed.
    Batch {
        /// The limit, in bytes.
        max_bytes: usize,
        /// The batch's size, in bytes.
        bytes: usize,
    },
    /// The call logged more than allowed (log calls, stdout and stderr).
    Log {
        /// The budget per call, in bytes.
        per_call_bytes: usize,
    },
    /// The guest held more host resources at once than allowed (open
    /// files, directory streams, sockets, pollables, HTTP requests).
    Handles {
        /// The limit.
        max: usize,
    },
    /// The guest handed the host more data in one go than allowed (a
    /// spec, catalog, error message or log line; a batch in `next`).
    Data {
        /// The limit, in bytes.
        max_bytes: usize,
        /// The pipeline key that sets it.
        key: &'static str,
    },
    /// An HTTP response body was larger than allowed.
    HttpBody {
        /// The limit, in bytes.
        max_bytes: u64,
    },
    /// An HTTP request took longer than allowed to connect, to its
    /// response's first byte, or between two parts of its body.
    HttpTimeout {
        /// The timeout, in milliseconds.
        millis: u64,
        /// The pipeline key that sets it (`limits.http_connect_timeout_ms`,
        /// `limits.http_first_byte_timeout_ms`,
        /// `limits.http_between_bytes_timeout_ms`).
        key: &'static str,
    },
}

impl Limit {
    /// The limit's short name, as metrics label it: `fuel`, `deadline`,
    /// `memory`, `stack`, `batch`, `log`, `handles`, `data`, `http_body`,
    /// `http_timeout`.
    pub fn name(&self) -> &'static str {
        match self {
            Limit::Fuel { .. } => "fuel",
            Limit::Deadline { .. } => "deadline",
            Limit::Memory { .. } => "memory",
            Limit::Stack => "stack",
            Limit::Batch { .. } => "batch",
            Limit::Log { .. } => "log",
            Limit::Handles { .. } => "handles",
            Limit::Data { .. } => "data",
            Limit::HttpBody { .. } => "http_body",
            Limit::HttpTimeout { .. } => "http_timeout",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Fuel { per_call } => write!(f, "fuel limit of {per_call} units per call"),
            Limit::Deadline { millis } => write!(f, "deadline of {millis} ms per call"),
            Limit::Memory { limit, requested } => write!(
                f,
                "memory limit of {} MiB (asked for {} MiB)",
                limit / (1 << 20),
                requested.div_ceil(1 << 20)
            ),
            Limit::Stack => f.write_str("stack limit (call stack exhausted)"),
            Limit::Batch { max_bytes, bytes } => write!(
                f,
                "batch size limit of {} MiB (a batch of {bytes} bytes; raise limits.batch_mib)",
                max_bytes >> 20
            ),
            Limit::Log { per_call_bytes } => write!(
                f,
                "log limit of {} KiB per call (raise limits.log_kib)",
                per_call_bytes >> 10
            ),
            Limit::Handles { max } => write!(
                f,
                "handle limit of {max} host resources held at once (open files, sockets, streams, requests; raise limits.handles)"
            ),
            Limit::Data { max_bytes, key } => write!(
                f,
                "data limit of {} MiB handed to the host in one go (raise {key})",
                max_bytes >> 20
            ),
            Limit::HttpBody { max_bytes } => write!(
                f,
                "HTTP response body limit of {} MiB (raise limits.http_body_mib)",
                max_bytes >> 20
            ),
            Limit::HttpTimeout { millis, key } => {
                write!(f, "HTTP timeout of {millis} ms (raise {key})")
            }
        }
    }
}

/// Errors of the runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The component file could not be read.
    #[error("cannot read component `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a usable component of this contract.
    #[error("`{path}` is not a sluice connector component: {message}")]
    NotAConnector {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A source was needed and the component is not one (or vice versa).
    #[error(
        "connector `{connector}` (`{}`) is not a {expected}: it does not export `sluice:connector/{expected}`",
        path.display()
    )]
    WrongRole {
        /// The connector.
        connector: String,
        /// Its component file.
        path: PathBuf,
        /// The role it lacks.
        expected: Role,
    },
    /// The connector returned an error value.
    #[error("connector `{connector}` failed in {call}: {error}")]
    Connector {
        /// The connector.
        connector: String,
        /// The call.
        call: Call,
        /// Its error.
        error: ConnectorError,
    },
    /// The connector hit a sandbox limit and was stopped.
    #[error("connector `{connector}` was stopped in {call}: it hit the {limit}")]
    Limit {
        /// The connector.
        connector: String,
        /// The call.
        call: Call,
        /// The limit.
        limit: Limit,
    },
    /// The connector trapped (a panic, an abort, a bug).
    #[error("connector `{connector}` crashed in {call}: {message}")]
    Trap {
        /// The connector.
        connector: String,
        /// The call.
        call: Call,
        /// The trap, plus the guest's last stderr output when there is some.
        message: String,
    },
    /// The connector broke the contract (an unknown stream, a batch too
    /// large, a secret in a checkpoint).
    #[error("connector `{connector}` broke the contract in {call}: {message}")]
    Protocol {
        /// The connector.
        connector: String,
        /// The call.
        call: Call,
        /// What was wrong.
        message: String,
    },
    /// The connector returned text that should be JSON and is not.
    #[error(
        "connector `{connector}` broke the contract in {call}: {what} is not valid JSON: {source}"
    )]
    InvalidJson {
        /// The connector.
        connector: String,
        /// The call.
        call: Call,
        /// What the text was, e.g. "the state of stream `users`".
        what: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The connector sent an HTTP request to a URL it is not granted;
    /// nothing was sent.
    #[error(
        "connector `{connector}` was denied in {call}: a request to `{url}` is not granted (grant `{missing}` or a URL prefix in `hosts`)"
    )]
    Egress {
        /// The connector.
        connector: String,
        /// The call.
        call: Call,
        /// The URL asked for, secrets scrubbed.
        url: String,
        /// The grant it lacks (`host:port`).
        missing: String,
    },
    /// An HTTPS request failed its TLS handshake, most often because the
    /// server's certificate is not signed by a trusted root.
    #[error(
        "connector `{connector}` failed in {call}: the TLS handshake with `{server}` failed: {reason} (HTTPS trusts the system's roots and the endpoint's `ca_bundle`)"
    )]
    Tls {
        /// The connector.
        connector: String,
        /// The call.
        call: Call,
        /// The server, `host:port`.
        server: String,
        /// What went wrong.
        reason: String,
    },
    /// An instance that trapped was used again.
    #[error("connector `{connector}` cannot be called again after it was stopped; start a new run")]
    Poisoned {
        /// The connector.
        connector: String,
    },
    /// A grant could not be applied (a missing directory, an unresolvable host).
    #[error("cannot grant {what} to connector `{connector}`: {source}")]
    Grant {
        /// The connector.
        connector: String,
        /// The grant.
        what: String,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// A Singer or Airbyte program (a process endpoint) failed: it could
    /// not start, exited non-zero, or broke its protocol.
    #[error("{protocol} process `{process}` failed in {operation}: {message}")]
    Process {
        /// Its program's name.
        process: String,
        /// `singer` or `airbyte`.
        protocol: &'static str,
        /// What it was doing (`read`, `write`, `--discover`, `spec`).
        operation: String,
        /// What happened: the exit code and its last stderr lines, or the
        /// line of its output that is wrong.
        message: String,
    },
    /// A pipeline's catalog does not fit its connectors.
    #[error("{file}: {message}")]
    Pipeline {
        /// The pipeline file (or `pipeline` when built in code).
        file: String,
        /// What is wrong, naming the key or stream.
        message: String,
    },
    /// Something a key of a pipeline file names is unusable (its component,
    /// its config): the file, the key, and the error underneath.
    #[error("{file}: `{key}`: {source}")]
    InPipeline {
        /// The pipeline file.
        file: String,
        /// The key, e.g. `source.config`.
        key: String,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
    /// The pipeline file cannot be used.
    #[error(transparent)]
    Manifest(#[from] sluice_manifest::Error),
    /// The state store failed or is not a sluice state store.
    #[error(transparent)]
    State(#[from] sluice_state::Error),
    /// The engine itself failed (out of OS resources, a wasmtime bug).
    #[error("engine error while {what}: {source}")]
    Engine {
        /// What the engine was doing.
        what: &'static str,
        /// The error underneath.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// The connector's error value, if the connector returned one.
    pub fn connector_error(&self) -> Option<&ConnectorError> {
        match self.innermost() {
            Error::Connector { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The limit hit, if a limit stopped the connector.
    pub fn limit(&self) -> Option<&Limit> {
        match self.innermost() {
            Error::Limit { limit, .. } => Some(limit),
            _ => None,
        }
    }

    /// The error underneath any pipeline-file context.
    pub fn innermost(&self) -> &Error {
        match self {
            Error::InPipeline { source, .. } => source.innermost(),
            other => other,
        }
    }
}

impl Error {
    /// An engine failure while doing `what`.
    pub(crate) fn engine(what: &'static str, source: impl Into<BoxError>) -> Self {
        Error::Engine {
            what,
            source: source.into(),
        }
    }

    /// [`Self::engine`] for wasmtime's own error type.
    pub(crate) fn wasmtime(what: &'static str, source: wasmtime::Error) -> Self {
        Self::engine(what, source.into_boxed_dyn_error())
    }
}

/// The result type of the runtime.
pub type Result<T, E = Error> = std::result::Result<T, E>;
