//! SIGINT and SIGTERM during a run: the first asks the run to stop (it
//! commits what was written, saves the state covering it and ends
//! `interrupted`); a second exits at once, which is safe too (the state is
//! never ahead of the destination), only less tidy.

use sluice_runtime::pipeline::Stop;
use tokio::signal::unix::{SignalKind, signal};

/// The exit code of a run stopped by a signal (128 + SIGINT, as shells
/// report Ctrl-C).
pub const INTERRUPTED: u8 = 130;

/// Watch for SIGINT and SIGTERM on the runtime, asking `stop` at the
/// first and exiting at the second.
pub fn stop_on_signal(stop: Stop) {
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("cannot watch for SIGINT/SIGTERM: a signal ends sluice at once");
        return;
    };
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        };
        eprintln!(
            "sluice: {name}: stopping after the current batch, committing and saving state (again to exit at once)"
        );
        stop.request();
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        eprintln!("sluice: exiting at once; the saved state covers only what was committed before");
        std::process::exit(i32::from(INTERRUPTED));
    });
}
