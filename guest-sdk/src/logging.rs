//! Connector logs: into the host's structured logs on wasm, stderr natively.

use sluice_protocol::Level;
use std::sync::OnceLock;

static LOGGER: OnceLock<fn(Level, &str)> = OnceLock::new();

/// Route [`log`] to the host; called by the export glue.
#[doc(hidden)]
pub fn install_logger(logger: fn(Level, &str)) {
    let _ = LOGGER.set(logger);
}

/// Log `message` at `level` into the host's logs (stderr when run natively).
pub fn log(level: Level, message: &str) {
    match LOGGER.get() {
        Some(logger) => logger(level, message),
        None => eprintln!("[{level:?}] {message}"),
    }
}
