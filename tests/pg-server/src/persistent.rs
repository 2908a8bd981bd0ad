//! Persistent servers, for people rather than tests: a server in a
//! directory of the caller's choosing (`cargo xtask postgres` uses
//! `<repo>/target/postgres/`) that outlives the process that started it.
//!
//! The directory holds the cluster (`data/`), the socket directory
//! (`sock/`), the log (`postgres.log`) and `server.json`: how to reach the
//! server (host, port, roles with passwords, database, URL) and what it is
//! (pid, data, bin and socket directories). `server.json` is mode 0600.
//!
//! [`Server::attach`] reads it back; [`Server::stop_persistent`] stops the
//! server and removes the directory. Starting again after the server died
//! (a reboot) restarts the same cluster with the same passwords.

use crate::account::{self, Account};
use crate::postmaster::{self, Layout};
use crate::roles::{self, Auth, Passwords};
use crate::{Error, Server, install};
use serde_json::{Value, json};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file in a persistent server's directory that describes it.
pub const STATE_FILE: &str = "server.json";

impl Server {
    /// Starts a server that lives in `dir` and keeps running after this
    /// value drops (and after this process exits), and writes
    /// `dir/server.json`.
    ///
    /// A live server already in `dir` is [`Error::AlreadyRunning`] (use
    /// [`Server::attach`]). One that died (its cluster and `server.json`
    /// are still there) is restarted with the same roles and passwords,
    /// on a fresh port.
    pub fn start_persistent(dir: &Path) -> Result<Server, Error> {
        if dir.join(STATE_FILE).exists() {
            if let Ok(live) = Server::attach(dir) {
                return Err(Error::AlreadyRunning {
                    dir: dir.to_path_buf(),
                    pid: live.pid,
                    port: live.port,
                });
            }
            let state = State::read(dir)?;
            if state.layout.data.join("PG_VERSION").is_file() {
                return restart(dir, state);
            }
        }
        let bin = install::ensure_installed()?;
        let account = Account::for_server()?;
        std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
        let dir = std::fs::canonicalize(dir).map_err(Error::io("resolve", dir))?;
        let layout = Layout::new(dir);
        if layout.data.exists() {
            return Err(Error::BadState {
                path: layout.root.join(STATE_FILE),
                reason: format!(
                    "missing, but {} exists; remove {} (or run its stop) to start afresh",
                    layout.data.display(),
                    layout.root.display()
                ),
            });
        }
        postmaster::init(&bin, &account, &layout, &roles::hba_conf(), true)?;
        let (child, port) = postmaster::launch(&bin, &account, &layout, true)?;
        let server = Server::running(bin, account, layout, child, port, Passwords::random(), true);
        let ready = server.create_roles().and_then(|()| server.write_state());
        if let Err(e) = ready {
            let _ = server.shutdown();
            return Err(e);
        }
        Ok(server)
    }

    /// The persistent server described by `dir/server.json`, if its
    /// postmaster is alive and its port accepts connections
    /// ([`Error::NotRunning`] if not).
    pub fn attach(dir: &Path) -> Result<Server, Error> {
        let state = State::read(dir)?;
        if !account::pid_alive(state.pid) {
            return Err(Error::NotRunning {
                dir: dir.to_path_buf(),
                reason: format!("its postmaster (pid {}) is gone", state.pid),
            });
        }
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, state.port));
        if TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err() {
            return Err(Error::NotRunning {
                dir: dir.to_path_buf(),
                reason: format!("nothing accepts connections on 127.0.0.1:{}", state.port),
            });
        }
        Ok(Server {
            bin: state.bin,
            account: Account::for_server()?,
            layout: state.layout,
            port: state.port,
            pid: state.pid,
            passwords: state.passwords,
            child: std::sync::Mutex::new(None),
            persistent: true,
            stopped: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Stops the persistent server in `dir` (if it runs) and removes
    /// `dir`; whether a server was running.
    pub fn stop_persistent(dir: &Path) -> Result<bool, Error> {
        if !dir.join(STATE_FILE).exists() {
            if dir.exists() {
                std::fs::remove_dir_all(dir).map_err(Error::io("remove", dir))?;
            }
            return Ok(false);
        }
        let state = State::read(dir)?;
        let running = account::pid_alive(state.pid);
        if running {
            let account = Account::for_server()?;
            postmaster::stop(&state.bin, &account, &state.layout, state.pid, None)?;
        }
        state.layout.remove()?;
        Ok(running)
    }

    /// The `server.json` fields: host, port, user, password, database,
    /// url, pid, data/bin/socket directories, log, and every role.
    pub fn state_json(&self) -> Value {
        let roles: serde_json::Map<String, Value> = Auth::ALL
            .iter()
            .map(|&auth| {
                let (user, password) = self.credentials(auth);
                (
                    auth.key().to_string(),
                    json!({ "user": user, "password": password, "method": auth.hba_method() }),
                )
            })
            .collect();
        json!({
            "host": self.host(),
            "port": self.port,
            "user": self.user(),
            "password": self.password(),
            "database": self.database(),
            "url": self.url(),
            "pid": self.pid,
            "data_dir": self.layout.data,
            "bin_dir": self.bin,
            "socket_dir": self.layout.socket,
            "log": self.layout.log,
            "roles": roles,
        })
    }

    /// Writes `server.json` (mode 0600: it holds passwords).
    fn write_state(&self) -> Result<(), Error> {
        let path = self.layout.root.join(STATE_FILE);
        let text = serde_json::to_string_pretty(&self.state_json()).expect("JSON values serialize");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(Error::io("create", &path))?;
        file.write_all(format!("{text}\n").as_bytes())
            .map_err(Error::io("write", &path))
    }
}

/// A dead persistent server's cluster, started again.
fn restart(dir: &Path, state: State) -> Result<Server, Error> {
    let bin = if state.bin.join("postgres").is_file() {
        state.bin
    } else {
        install::ensure_installed()?
    };
    let account = Account::for_server()?;
    std::fs::create_dir_all(&state.layout.socket)
        .map_err(Error::io("create", &state.layout.socket))?;
    account.own(&state.layout.socket)?;
    eprintln!(
        "sluice-pg-server: restarting the stopped server in {}",
        dir.display()
    );
    let (child, port) = postmaster::launch(&bin, &account, &state.layout, true)?;
    let server = Server::running(
        bin,
        account,
        state.layout,
        child,
        port,
        state.passwords,
        true,
    );
    server.write_state()?;
    Ok(server)
}

/// What `server.json` says.
struct State {
    port: u16,
    pid: u32,
    bin: PathBuf,
    layout: Layout,
    passwords: Passwords,
}

impl State {
    fn read(dir: &Path) -> Result<State, Error> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(Error::io("read", &path))?;
        let bad = |reason: &str| Error::BadState {
            path: path.clone(),
            reason: reason.to_string(),
        };
        let v: Value = serde_json::from_str(&text).map_err(|e| bad(&format!("not JSON: {e}")))?;
        let string = |key: &str| {
            v.get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| bad(&format!("no string `{key}`")))
        };
        let number = |key: &str| {
            v.get(key)
                .and_then(Value::as_u64)
                .ok_or_else(|| bad(&format!("no number `{key}`")))
        };
        let password = |auth: Auth| {
            v.pointer(&format!("/roles/{}/password", auth.key()))
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| bad(&format!("no password for role `{}`", auth.user())))
        };
        let port = u16::try_from(number("port")?).map_err(|_| bad("`port` is out of range"))?;
        let pid = u32::try_from(number("pid")?).map_err(|_| bad("`pid` is out of range"))?;
        let data = PathBuf::from(string("data_dir")?);
        let root = data
            .parent()
            .ok_or_else(|| bad("`data_dir` has no parent"))?
            .to_path_buf();
        Ok(State {
            port,
            pid,
            bin: PathBuf::from(string("bin_dir")?),
            layout: Layout {
                root,
                data,
                socket: PathBuf::from(string("socket_dir")?),
                log: PathBuf::from(string("log")?),
            },
            passwords: Passwords([
                password(Auth::Scram)?,
                password(Auth::Md5)?,
                password(Auth::Cleartext)?,
            ]),
        })
    }
}
