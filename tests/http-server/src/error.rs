//! The one error type of the crate: what stopped the server from starting.

use std::io;

/// Everything that can go wrong starting a server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The options describe a dataset or a fault cadence the server cannot
    /// serve.
    #[error("invalid options: {reason}")]
    InvalidOptions {
        /// What is wrong with them.
        reason: String,
    },
    /// The listening socket could not be bound or set up.
    #[error("cannot listen on 127.0.0.1:{port}")]
    Bind {
        /// The port asked for (0: any free port).
        port: u16,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The server's tokio runtime or thread could not be created.
    #[error("cannot start the server's {what}")]
    Runtime {
        /// `runtime` or `thread`.
        what: &'static str,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The certificates for HTTPS could not be made.
    #[error("cannot set up HTTPS: {reason}")]
    Tls {
        /// What failed.
        reason: String,
    },
}
