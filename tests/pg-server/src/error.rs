//! The one error type of the crate: what failed (a command, a file, the
//! wait for the server) and the tail of what it printed.
//!
//! Passwords never appear here: SQL that carries one is fed to `psql` on
//! stdin, not on its command line, and output is redacted before it is
//! stored (see [`crate::Server::sql`]).

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// How many lines of a command's output or of the server log an error keeps.
const TAIL_LINES: usize = 20;

/// Everything that can go wrong installing, starting, using or stopping a
/// server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No PostgreSQL binaries were found and they cannot be installed here
    /// (not root, or no `apt-get`).
    #[error("PostgreSQL is not installed: {hint}")]
    NotInstalled {
        /// What to install, and how.
        hint: String,
    },
    /// We are root but there is no `postgres` OS user to run the server as
    /// (postgres refuses to run as root).
    #[error(
        "running as root, but there is no `postgres` OS user to run the server as (the Debian package `postgresql` creates it)"
    )]
    NoPostgresUser,
    /// A command could not be started at all.
    #[error("cannot start `{command}`")]
    Spawn {
        /// The command, without secrets.
        command: String,
        /// Why it could not start.
        #[source]
        source: io::Error,
    },
    /// A command ran and failed.
    #[error("`{command}` failed ({status}){}", with_tail(output))]
    Failed {
        /// The command, without secrets.
        command: String,
        /// How it ended.
        status: ExitStatus,
        /// The tail of its stderr (or stdout when stderr was empty).
        output: String,
    },
    /// A file or directory operation failed.
    #[error("cannot {what} {}", path.display())]
    Io {
        /// What we tried (`create`, `write`, `remove`, ...).
        what: &'static str,
        /// On what.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The postmaster exited before it accepted connections.
    #[error("postgres exited during startup ({status}){}", with_tail(log_tail))]
    Exited {
        /// How it ended.
        status: ExitStatus,
        /// The tail of the server log.
        log_tail: String,
    },
    /// The postmaster did not accept connections in time.
    #[error(
        "postgres did not accept connections on 127.0.0.1:{port} within {}s{}",
        waited.as_secs(),
        with_tail(log_tail)
    )]
    NotReady {
        /// The port it was told to listen on.
        port: u16,
        /// How long we waited.
        waited: Duration,
        /// The tail of the server log.
        log_tail: String,
    },
    /// A persistent server's `server.json` is missing, unreadable or
    /// incomplete.
    #[error("{}: {reason}", path.display())]
    BadState {
        /// The `server.json` file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `attach` found a `server.json` but no live server behind it.
    #[error("no server is running in {}: {reason}", dir.display())]
    NotRunning {
        /// The persistent server's directory.
        dir: PathBuf,
        /// Why we think so (dead pid, closed port).
        reason: String,
    },
    /// `start_persistent` found a live server already in the directory.
    #[error("a server already runs in {} (pid {pid}, port {port})", dir.display())]
    AlreadyRunning {
        /// The persistent server's directory.
        dir: PathBuf,
        /// The postmaster's pid.
        pid: u32,
        /// Its TCP port.
        port: u16,
    },
}

impl Error {
    /// An [`Error::Io`] for `what` on `path`.
    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { what, path, source }
    }
}

/// `":\n<tail>"`, or nothing when the tail is empty.
fn with_tail(tail: &str) -> String {
    if tail.trim().is_empty() {
        String::new()
    } else {
        format!(":\n{tail}")
    }
}

/// The last [`TAIL_LINES`] lines of `text`.
pub(crate) fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

/// The tail of the file at `path`, or a note that it cannot be read.
pub(crate) fn file_tail(path: &std::path::Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => tail(&String::from_utf8_lossy(&bytes)),
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}
