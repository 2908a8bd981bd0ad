//! A throwaway real PostgreSQL server for tests, benchmarks and users, with
//! no Docker: the distribution's PostgreSQL binaries (installed with
//! `apt-get` when missing and we are root), a fresh cluster in a temp
//! directory, a postmaster on a free loopback port, and one role per
//! password method a client must speak (SCRAM-SHA-256, MD5, clear text).
//!
//! - [`Server::start`]: a server of your own, stopped and removed on drop.
//! - [`shared`]: one server per process, stopped at exit; what test
//!   binaries use.
//! - [`Server::start_persistent`], [`Server::attach`],
//!   [`Server::stop_persistent`]: a server in a directory that outlives
//!   the process (`cargo xtask postgres start|stop|status`).
//!
//! The server is durable (fsync and synchronous commit on), because
//! benchmarks measure crash-safe loads. Running as root, `initdb` and
//! `postgres` run as the `postgres` OS user.
//!
//! ```no_run
//! use sluice_pg_server::{Auth, shared};
//!
//! let pg = shared();
//! pg.sql("create table t (id int); insert into t values (1)")?;
//! assert_eq!(pg.sql("select count(*) from t")?, "1\n");
//! let (user, password) = pg.credentials(Auth::Md5);
//! println!("connect as {user} to 127.0.0.1:{}", pg.port());
//! # let _ = password;
//! # Ok::<(), sluice_pg_server::Error>(())
//! ```

mod account;
mod error;
mod install;
mod persistent;
mod postmaster;
mod random;
mod roles;
mod server;

pub use error::Error;
pub use install::{ensure_installed, find_installed};
pub use persistent::STATE_FILE;
pub use roles::Auth;
pub use server::Server;

use std::sync::OnceLock;

/// The per-process server, or why it could not start.
static SHARED: OnceLock<Result<Server, String>> = OnceLock::new();

/// The server shared by everything in this process, started on first use
/// and stopped (its directory removed) when the process exits, through
/// `atexit`: the test harness ends with `exit`, which runs it.
///
/// # Panics
///
/// If the server cannot start; every call panics with the same reason.
/// Meant for tests; use [`Server::start`] to handle the error.
pub fn shared() -> &'static Server {
    let server = SHARED.get_or_init(|| {
        let started = Server::start().map_err(|e| error_chain(&e));
        if started.is_ok() {
            // SAFETY: stop_shared is an `extern "C" fn()` that never unwinds.
            unsafe {
                libc::atexit(stop_shared);
            }
        }
        started
    });
    match server {
        Ok(server) => server,
        Err(reason) => panic!("cannot start the shared PostgreSQL server: {reason}"),
    }
}

/// Stops the shared server at process exit.
extern "C" fn stop_shared() {
    let _ = std::panic::catch_unwind(|| {
        if let Some(Ok(server)) = SHARED.get()
            && let Err(e) = server.shutdown()
        {
            eprintln!(
                "sluice-pg-server: stopping the shared server: {}",
                error_chain(&e)
            );
        }
    });
}

/// `error` and its sources, `: `-separated.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text += &format!(": {e}");
        source = e.source();
    }
    text
}
