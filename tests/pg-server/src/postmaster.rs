//! The server's processes: `initdb` and its configuration, the postmaster
//! spawned as a child with its log in a file, the wait until it accepts
//! TCP connections, `psql` scripts as the bootstrap superuser, and
//! `pg_ctl stop`.
//!
//! Nothing here knows about roles' passwords or `server.json`; it takes a
//! [`Layout`] (where the files go) and a port.

use crate::account::{self, Account};
use crate::error::{file_tail, tail};
use crate::roles::BOOTSTRAP_USER;
use crate::{Error, random};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the postmaster has to start accepting connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a stop may take before we kill the postmaster.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Room a unix socket path has (`sun_path` is 108 bytes on Linux, 104 on
/// macOS), minus the `/.s.PGSQL.<port>` postgres appends.
const MAX_SOCKET_DIR: usize = 104 - "/.s.PGSQL.65535".len() - 1;

/// How many fresh ports a start tries when another process took the one
/// we picked between picking it and the postmaster binding it.
const PORT_ATTEMPTS: usize = 5;

/// Where one server's files are.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    /// The directory holding everything below (removed on stop).
    pub(crate) root: PathBuf,
    /// The data directory (`initdb -D`).
    pub(crate) data: PathBuf,
    /// The unix socket directory (`-k`): `root/sock`, or a directory of its
    /// own under the temp dir when that path would be too long for a socket.
    pub(crate) socket: PathBuf,
    /// The postmaster's stdout and stderr.
    pub(crate) log: PathBuf,
}

impl Layout {
    /// The layout of a server in `root`.
    pub(crate) fn new(root: PathBuf) -> Self {
        let mut socket = root.join("sock");
        if socket.as_os_str().len() > MAX_SOCKET_DIR {
            socket = std::env::temp_dir().join(format!("sluice-pg-sock-{}", random::hex(4)));
        }
        Layout {
            data: root.join("data"),
            log: root.join("postgres.log"),
            socket,
            root,
        }
    }

    /// Whether the socket directory lives outside `root` (and must be
    /// removed on its own).
    fn socket_outside(&self) -> bool {
        !self.socket.starts_with(&self.root)
    }

    /// Removes everything the server wrote (after it stopped).
    pub(crate) fn remove(&self) -> Result<(), Error> {
        if self.socket_outside() && self.socket.exists() {
            fs::remove_dir_all(&self.socket).map_err(Error::io("remove", &self.socket))?;
        }
        if self.root.exists() {
            fs::remove_dir_all(&self.root).map_err(Error::io("remove", &self.root))?;
        }
        Ok(())
    }
}

/// A new empty directory `<temp dir>/sluice-pg-<random>`, mode 0755 so that
/// the `postgres` user can pass through it.
pub(crate) fn temp_root() -> Result<PathBuf, Error> {
    loop {
        let dir = std::env::temp_dir().join(format!("sluice-pg-{}", random::hex(6)));
        match fs::create_dir(&dir) {
            Ok(()) => {
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
                    .map_err(Error::io("chmod 0755", &dir))?;
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io("create", dir)(e)),
        }
    }
}

/// Creates the data and socket directories for `account` and runs
/// `initdb` into the data directory, then writes our settings and
/// `hba_conf` as its `pg_hba.conf`.
///
/// `sync: false` skips initdb's final fsync of the new cluster (a
/// throwaway server's data dies with it); the running server always
/// fsyncs.
pub(crate) fn init(
    bin: &Path,
    account: &Account,
    layout: &Layout,
    hba_conf: &str,
    sync: bool,
) -> Result<(), Error> {
    account.make_reachable(&layout.root)?;
    for (dir, mode) in [(&layout.data, 0o700), (&layout.socket, 0o755)] {
        fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(mode))
            .map_err(Error::io("chmod", dir))?;
        account.own(dir)?;
    }
    let mut initdb = account.command(&bin.join("initdb"), &layout.root);
    initdb.arg("-D").arg(&layout.data).args([
        "-U",
        BOOTSTRAP_USER,
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C",
    ]);
    if !sync {
        initdb.arg("--no-sync");
    }
    run(&mut initdb, "initdb", None)?;

    let conf = layout.data.join("postgresql.conf");
    let mut file = OpenOptions::new()
        .append(true)
        .open(&conf)
        .map_err(Error::io("open", &conf))?;
    file.write_all(settings(layout).as_bytes())
        .map_err(Error::io("write", &conf))?;
    let hba = layout.data.join("pg_hba.conf");
    fs::write(&hba, hba_conf).map_err(Error::io("write", &hba))
}

/// The settings appended to `postgresql.conf`. The port is not among them:
/// it is given on the command line, as a restart may need a new one.
fn settings(layout: &Layout) -> String {
    format!(
        "\n# Added by sluice-pg-server.\n\
         listen_addresses = '127.0.0.1'\n\
         unix_socket_directories = '{}'\n\
         max_connections = 100\n\
         shared_buffers = 128MB\n\
         password_encryption = 'scram-sha-256'\n\
         # Crash-safe on purpose: benchmarks measure durable loads.\n\
         fsync = on\n\
         synchronous_commit = on\n\
         full_page_writes = on\n",
        layout.socket.display().to_string().replace('\'', "''")
    )
}

/// Starts the postmaster on a free loopback port and waits until it
/// accepts connections; returns it and its port.
///
/// `detach` puts it in a process group of its own, so that it outlives
/// the terminal's Ctrl-C and the process that started it.
pub(crate) fn launch(
    bin: &Path,
    account: &Account,
    layout: &Layout,
    detach: bool,
) -> Result<(Child, u16), Error> {
    let mut attempt = 1;
    loop {
        let port = free_port()?;
        let mut child = spawn(bin, account, layout, port, detach)?;
        match wait_ready(bin, &mut child, layout, port) {
            Ok(()) => return Ok((child, port)),
            Err(Error::Exited { log_tail, .. })
                if attempt < PORT_ATTEMPTS && log_tail.contains("Address already in use") =>
            {
                attempt += 1;
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        }
    }
}

/// A loopback port nobody listens on right now (bind port 0, read it back).
fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(Error::io("bind a port on", "127.0.0.1"))?;
    let port = listener
        .local_addr()
        .map_err(Error::io("read the port of", "127.0.0.1"))?
        .port();
    Ok(port)
}

fn spawn(
    bin: &Path,
    account: &Account,
    layout: &Layout,
    port: u16,
    detach: bool,
) -> Result<Child, Error> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&layout.log)
        .map_err(Error::io("open", &layout.log))?;
    let log2 = log.try_clone().map_err(Error::io("open", &layout.log))?;
    let mut cmd = account.command(&bin.join("postgres"), &layout.root);
    cmd.arg("-D")
        .arg(&layout.data)
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(&layout.socket)
        .args(["-c", "listen_addresses=127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    if detach {
        cmd.process_group(0);
    }
    cmd.spawn().map_err(|source| Error::Spawn {
        command: "postgres".into(),
        source,
    })
}

/// Polls until the server on `port` accepts TCP connections and answers
/// `pg_isready` (a listening server may still be starting up).
fn wait_ready(bin: &Path, child: &mut Child, layout: &Layout, port: u16) -> Result<(), Error> {
    let start = Instant::now();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    while start.elapsed() < READY_TIMEOUT {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(Error::Exited {
                status,
                log_tail: file_tail(&layout.log),
            });
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            && is_ready(bin, port)
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(Error::NotReady {
        port,
        waited: start.elapsed(),
        log_tail: file_tail(&layout.log),
    })
}

/// `pg_isready` over TCP: whether the server takes connections (it needs
/// no password to tell).
pub(crate) fn is_ready(bin: &Path, port: u16) -> bool {
    Command::new(bin.join("pg_isready"))
        .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-U", BOOTSTRAP_USER, "-d", "postgres", "-t", "2"])
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `script` with `psql` as the bootstrap superuser over the unix
/// socket (trusted, no password). `what` names it in errors; the script
/// itself, which may hold passwords, is never shown.
pub(crate) fn bootstrap_sql(
    bin: &Path,
    layout: &Layout,
    port: u16,
    what: &str,
    script: &str,
) -> Result<String, Error> {
    let mut psql = Command::new(bin.join("psql"));
    psql.arg("-h")
        .arg(&layout.socket)
        .args([
            "-p",
            &port.to_string(),
            "-U",
            BOOTSTRAP_USER,
            "-d",
            "postgres",
        ])
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"]);
    run(&mut psql, &format!("psql ({what})"), Some(script))
}

/// Stops the server in `layout` (`pg_ctl stop -m fast`, as `account`);
/// if that fails, SIGINT (fast shutdown) to `pid`, then SIGKILL after
/// [`STOP_TIMEOUT`]. Reaps `child` when we have it.
pub(crate) fn stop(
    bin: &Path,
    account: &Account,
    layout: &Layout,
    pid: u32,
    child: Option<&mut Child>,
) -> Result<(), Error> {
    let mut pg_ctl = account.command(&bin.join("pg_ctl"), &layout.root);
    pg_ctl
        .args(["stop", "-m", "fast", "-w", "-t"])
        .arg(STOP_TIMEOUT.as_secs().to_string())
        .arg("-D")
        .arg(&layout.data);
    let stopped = run(&mut pg_ctl, "pg_ctl stop -m fast", None);
    match child {
        Some(child) => {
            if stopped.is_err() {
                account::signal(pid, libc::SIGINT);
                if !wait_child(child, STOP_TIMEOUT) {
                    let _ = child.kill();
                }
            }
            let _ = child.wait();
        }
        None => {
            // Signal only the postmaster of this data directory, not
            // whatever process got its pid after it died.
            if stopped.is_err() && account::pid_alive(pid) && recorded_pid(layout) == Some(pid) {
                account::signal(pid, libc::SIGINT);
                let start = Instant::now();
                while account::pid_alive(pid) && start.elapsed() < STOP_TIMEOUT {
                    std::thread::sleep(Duration::from_millis(50));
                }
                account::signal(pid, libc::SIGKILL);
            }
        }
    }
    // A failed pg_ctl is not an error when the server is gone anyway.
    match stopped {
        Err(e) if account::pid_alive(pid) && !is_zombie(pid) => Err(e),
        _ => Ok(()),
    }
}

/// The pid in the data directory's `postmaster.pid` (its first line).
fn recorded_pid(layout: &Layout) -> Option<u32> {
    let text = fs::read_to_string(layout.data.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// Waits up to `timeout` for `child` to exit; whether it did.
fn wait_child(child: &mut Child, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Whether `pid` is a zombie (exited, not yet reaped), from `/proc`.
fn is_zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Runs `cmd` with `stdin` (or none), capturing its output; its stdout on
/// success, else [`Error::Failed`] named `name` with the tail of stderr.
pub(crate) fn run(cmd: &mut Command, name: &str, stdin: Option<&str>) -> Result<String, Error> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| Error::Spawn {
        command: name.to_string(),
        source,
    })?;
    // Written from a thread so a large script cannot deadlock against a
    // child that fills its stdout pipe before reading all of stdin.
    let writer = match (stdin, child.stdin.take()) {
        (Some(text), Some(mut pipe)) => {
            let text = text.to_string();
            Some(std::thread::spawn(move || {
                let _ = pipe.write_all(text.as_bytes());
            }))
        }
        _ => None,
    };
    let out = child.wait_with_output().map_err(|source| Error::Spawn {
        command: name.to_string(),
        source,
    })?;
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(Error::Failed {
        command: name.to_string(),
        status: out.status,
        output: tail(if stderr.trim().is_empty() {
            &stdout
        } else {
            &stderr
        }),
    })
}
