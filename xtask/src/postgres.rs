//! `cargo xtask postgres start|stop|status [--json]`: a PostgreSQL server
//! for people, in `target/postgres/`, that keeps running between commands
//! (docs/postgres-server.md).
//!
//! - `start`: installs PostgreSQL if missing (as root, with apt-get),
//!   starts the server (or finds the one already running) and prints its
//!   connection string on stdout, a human line on stderr.
//! - `stop`: stops it and removes `target/postgres/`.
//! - `status`: `running <connection string>` or `not running`.
//!
//! `--json` (start, status) prints the fields of `target/postgres/server.json`
//! instead: host, port, user, password, database, url, pid, directories
//! and every role with its password and method.

use sluice_pg_server::{Error, Server, error_chain};
use std::path::Path;

/// What `cargo xtask postgres` accepts.
pub const USAGE: &str = "cargo xtask postgres <start [--json]|stop|status [--json]>";

/// Runs `cargo xtask postgres <args>`.
pub fn main(mut args: impl Iterator<Item = String>) -> Result<(), String> {
    let command = args.next().unwrap_or_default();
    let mut json = false;
    for arg in args {
        match arg.as_str() {
            "--json" if command != "stop" => json = true,
            other => return Err(format!("unknown argument `{other}`; usage: {USAGE}")),
        }
    }
    let dir = crate::root().join("target/postgres");
    match command.as_str() {
        "start" => start(&dir, json),
        "stop" => stop(&dir),
        "status" => status(&dir, json),
        _ => Err(format!("usage: {USAGE}")),
    }
}

fn start(dir: &Path, json: bool) -> Result<(), String> {
    let (server, fresh) = match Server::attach(dir) {
        Ok(server) => (server, false),
        Err(_) => match Server::start_persistent(dir) {
            Ok(server) => (server, true),
            // Started by someone else in between: use theirs.
            Err(Error::AlreadyRunning { .. }) => (Server::attach(dir).map_err(chain)?, false),
            Err(e) => return Err(chain(e)),
        },
    };
    eprintln!(
        "xtask: {} PostgreSQL {} on 127.0.0.1:{} (pid {}), data in {}; `cargo xtask postgres stop` stops it",
        if fresh { "started" } else { "already running:" },
        version(&server),
        server.port(),
        server.pid(),
        display(server.data_dir()),
    );
    print(&server, json);
    Ok(())
}

fn stop(dir: &Path) -> Result<(), String> {
    let existed = dir.exists();
    let what = match Server::stop_persistent(dir).map_err(chain)? {
        true => "stopped the PostgreSQL server and removed",
        false if existed => "no PostgreSQL server was running; removed",
        false => "no PostgreSQL server was running in",
    };
    eprintln!("xtask: {what} {}", display(dir));
    Ok(())
}

fn status(dir: &Path, json: bool) -> Result<(), String> {
    match Server::attach(dir) {
        Ok(server) => {
            if json {
                let mut fields = server.state_json();
                fields["running"] = true.into();
                println!("{fields:#}");
            } else {
                println!("running {}", server.url());
            }
            eprintln!(
                "xtask: PostgreSQL {} on 127.0.0.1:{} (pid {}), data in {}",
                version(&server),
                server.port(),
                server.pid(),
                display(server.data_dir())
            );
        }
        Err(e) => {
            if json {
                println!("{{\n  \"running\": false\n}}");
            } else {
                println!("not running");
            }
            if dir.join(sluice_pg_server::STATE_FILE).exists() {
                eprintln!(
                    "xtask: {}; `cargo xtask postgres start` starts it again",
                    chain(e)
                );
            }
        }
    }
    Ok(())
}

/// The connection string, or with `--json` every `server.json` field.
fn print(server: &Server, json: bool) {
    if json {
        println!("{:#}", server.state_json());
    } else {
        println!("{}", server.url());
    }
}

/// The cluster's major version (`data/PG_VERSION`).
fn version(server: &Server) -> String {
    std::fs::read_to_string(server.data_dir().join("PG_VERSION"))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// `path` relative to the workspace root where it is inside it.
fn display(path: &Path) -> String {
    let root = crate::root();
    let root = std::fs::canonicalize(&root).unwrap_or(root);
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn chain(e: Error) -> String {
    error_chain(&e)
}
