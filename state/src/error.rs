//! The store's error: which store, and what went wrong, typed where a
//! caller can act on it (a stored value that does not parse names its
//! table and key).

/// The state store failed, or the file is not a sluice state store.
#[derive(Debug, thiserror::Error)]
#[error("state store `{path}`: {kind}")]
pub struct Error {
    /// The store file (`:memory:` for an in-memory store).
    pub path: String,
    /// What went wrong.
    #[source]
    pub kind: ErrorKind,
}

/// What went wrong in a state store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// redb failed, or the file is not a sluice state store (or is
    /// damaged): what happened, in words.
    #[error("{0}")]
    Store(String),
    /// Another process has the store open (redb lets one process at a
    /// time in): a run of one of its pipelines, or `sluice serve`.
    #[error("it is in use by another sluice process")]
    InUse,
    /// A value stored in a table does not parse as what the table holds.
    #[error("table `{table}`, key {key}: the stored value does not parse: {source}")]
    Corrupt {
        /// The table (`stream_state`, `runs`, `schemas`, `schema_versions`).
        table: &'static str,
        /// The key, as text: `("pipeline", "stream")`, a run or schema id.
        key: String,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// A stream's schema version numbers ran out (`u32::MAX` versions).
    #[error("stream `{stream}` of pipeline `{pipeline}` has no schema version number left")]
    VersionsExhausted {
        /// The pipeline.
        pipeline: String,
        /// The stream.
        stream: String,
    },
}

impl Error {
    /// An error of the store at `path`, in words.
    pub(crate) fn store(path: &str, message: impl Into<String>) -> Self {
        Error {
            path: path.to_string(),
            kind: ErrorKind::Store(message.into()),
        }
    }

    /// The store at `path` is open in another process.
    pub(crate) fn in_use_at(path: &str) -> Self {
        Error {
            path: path.to_string(),
            kind: ErrorKind::InUse,
        }
    }

    /// Whether another process has the store open.
    pub fn in_use(&self) -> bool {
        matches!(self.kind, ErrorKind::InUse)
    }

    /// The table and key of a stored value that does not parse.
    pub fn corrupt(&self) -> Option<(&'static str, &str)> {
        match &self.kind {
            ErrorKind::Corrupt { table, key, .. } => Some((table, key)),
            _ => None,
        }
    }
}

/// The result type of the state store.
pub type Result<T, E = Error> = std::result::Result<T, E>;
