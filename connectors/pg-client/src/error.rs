//! What can go wrong talking to a server, typed so a connector can tell a
//! refused connection from a rejected password from a failed statement.

use std::fmt;

/// A failure of the client.
#[derive(Debug)]
pub enum Error {
    /// The TCP connection could not be made (refused, unreachable, or not
    /// granted by the sandbox).
    Connect {
        /// `host:port` as configured.
        addr: String,
        /// What the socket said.
        source: std::io::Error,
    },
    /// The server rejected the credentials, or asked for a method this
    /// client does not speak. Never holds the password.
    Auth {
        /// The user that tried to log in.
        user: String,
        /// Why, as the server (or the client) put it.
        message: String,
    },
    /// The server refused a statement.
    Server(Box<ServerError>),
    /// Reading or writing the socket failed mid-conversation.
    Io(std::io::Error),
    /// The server sent something this client did not expect.
    Protocol(String),
}

/// The fields of a PostgreSQL `ErrorResponse` worth showing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerError {
    /// `ERROR`, `FATAL`, ...
    pub severity: String,
    /// The SQLSTATE code, e.g. `23505` for a unique violation.
    pub code: String,
    /// The primary message.
    pub message: String,
    /// Detail, when the server gave one.
    pub detail: Option<String>,
    /// A hint, when the server gave one.
    pub hint: Option<String>,
    /// The table the error is about, when known.
    pub table: Option<String>,
    /// The column the error is about, when known.
    pub column: Option<String>,
    /// The constraint the error is about, when known.
    pub constraint: Option<String>,
}

impl Error {
    /// The SQLSTATE of a server error.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Server(e) => Some(&e.code),
            _ => None,
        }
    }

    /// Whether retrying later may help: connection and I/O failures, and
    /// server errors of class 08 (connection), 40 (serialization failure,
    /// deadlock), 53 (resources) and 57 (operator intervention).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Connect { source, .. } => source.kind() != std::io::ErrorKind::PermissionDenied,
            Error::Io(_) => true,
            Error::Server(e) => ["08", "40", "53", "57"]
                .iter()
                .any(|c| e.code.starts_with(c)),
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Connect { addr, source }
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                write!(
                    f,
                    "cannot connect to {addr}: the sandbox does not grant this address \
                     (add \"{addr}\" to the pipeline's `hosts`)"
                )
            }
            Error::Connect { addr, source } => write!(f, "cannot connect to {addr}: {source}"),
            Error::Auth { user, message } => {
                write!(f, "authentication failed for user `{user}`: {message}")
            }
            Error::Server(e) => fmt::Display::fmt(e, f),
            Error::Io(e) => write!(f, "connection to the server failed: {e}"),
            Error::Protocol(what) => write!(f, "unexpected message from the server: {what}"),
        }
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.severity, self.code, self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, " ({detail})")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "; hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connect { source, .. } | Error::Io(source) => Some(source),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// A result of the client.
pub type Result<T> = std::result::Result<T, Error>;
