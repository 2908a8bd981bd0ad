//! [`Server`]: one running PostgreSQL server with its roles, how to reach
//! it, and its end.
//!
//! A throwaway server ([`Server::start`]) lives in a fresh temp directory
//! and is stopped, and its directory removed, when the value drops. A
//! persistent one (see [`crate::persistent`]) outlives the value.

use crate::account::Account;
use crate::postmaster::{self, Layout};
use crate::roles::{self, Auth, DATABASE, Passwords};
use crate::{Error, install};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The host every server listens on.
const HOST: &str = "127.0.0.1";

/// A running PostgreSQL server and the roles it was set up with.
///
/// Its `Debug` shows where it is, never a password.
pub struct Server {
    pub(crate) bin: PathBuf,
    pub(crate) account: Account,
    pub(crate) layout: Layout,
    pub(crate) port: u16,
    pub(crate) pid: u32,
    pub(crate) passwords: Passwords,
    /// The postmaster, when this process started it (reaped on stop).
    pub(crate) child: Mutex<Option<Child>>,
    /// Persistent servers are not stopped on drop.
    pub(crate) persistent: bool,
    pub(crate) stopped: AtomicBool,
}

impl Server {
    /// Starts a throwaway server: PostgreSQL installed if missing (see
    /// [`crate::ensure_installed`]), a new cluster in a fresh temp
    /// directory `sluice-pg-<random>`, a postmaster on a free loopback
    /// port, and the roles and database of [`crate::Auth`].
    ///
    /// Running as root, the server runs as the `postgres` OS user. It is
    /// stopped and its directory removed by [`Server::stop`] or on drop.
    ///
    /// ```no_run
    /// let pg = sluice_pg_server::Server::start()?;
    /// assert_eq!(pg.sql("select 1")?, "1\n");
    /// # Ok::<(), sluice_pg_server::Error>(())
    /// ```
    pub fn start() -> Result<Server, Error> {
        let bin = install::ensure_installed()?;
        let account = Account::for_server()?;
        let layout = Layout::new(postmaster::temp_root()?);
        let started = postmaster::init(&bin, &account, &layout, &roles::hba_conf(), false)
            .and_then(|()| postmaster::launch(&bin, &account, &layout, false));
        let (child, port) = match started {
            Ok(started) => started,
            Err(e) => {
                let _ = layout.remove();
                return Err(e);
            }
        };
        let server = Server::running(
            bin,
            account,
            layout,
            child,
            port,
            Passwords::random(),
            false,
        );
        server.create_roles()?;
        Ok(server)
    }

    /// The value for a postmaster this process just started.
    pub(crate) fn running(
        bin: PathBuf,
        account: Account,
        layout: Layout,
        child: Child,
        port: u16,
        passwords: Passwords,
        persistent: bool,
    ) -> Server {
        Server {
            bin,
            account,
            layout,
            port,
            pid: child.id(),
            passwords,
            child: Mutex::new(Some(child)),
            persistent,
            stopped: AtomicBool::new(false),
        }
    }

    /// Creates the roles and the `sluice` database (once, on a new cluster).
    pub(crate) fn create_roles(&self) -> Result<(), Error> {
        let script = roles::setup_sql(&self.passwords);
        postmaster::bootstrap_sql(&self.bin, &self.layout, self.port, "create roles", &script)
            .map(drop)
            .map_err(|e| self.passwords.redact_error(e))
    }

    /// `"127.0.0.1"`: servers listen on loopback only.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The postmaster's pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `"sluice"`, the superuser role (SCRAM).
    pub fn user(&self) -> &str {
        Auth::Scram.user()
    }

    /// The `sluice` role's password.
    pub fn password(&self) -> &str {
        self.passwords.get(Auth::Scram)
    }

    /// `"sluice"`, the database owned by [`Server::user`], where the other
    /// roles may do everything too.
    pub fn database(&self) -> &str {
        DATABASE
    }

    /// `(user, password)` of the role that authenticates with `auth`.
    pub fn credentials(&self, auth: Auth) -> (&str, &str) {
        (auth.user(), self.passwords.get(auth))
    }

    /// `postgres://sluice:<password>@127.0.0.1:<port>/sluice`.
    pub fn url(&self) -> String {
        self.url_for(Auth::Scram)
    }

    /// The connection URL of the role that authenticates with `auth`.
    pub fn url_for(&self, auth: Auth) -> String {
        let (user, password) = self.credentials(auth);
        format!(
            "postgres://{user}:{password}@{HOST}:{}/{DATABASE}",
            self.port
        )
    }

    /// `psql` connected over TCP as `sluice` to database `sluice`, stopping
    /// at the first error, without `.psqlrc`, quiet; add `-c`, `-f` or stdin.
    pub fn psql(&self) -> Command {
        self.psql_as(Auth::Scram)
    }

    /// Like [`Server::psql`], as the role that authenticates with `auth`.
    pub fn psql_as(&self, auth: Auth) -> Command {
        let (user, password) = self.credentials(auth);
        let mut cmd = Command::new(self.psql_bin());
        cmd.args(["-h", HOST, "-p", &self.port.to_string()])
            .args(["-U", user, "-d", DATABASE])
            .args(["-v", "ON_ERROR_STOP=1", "-X", "-q"])
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "10")
            .env_remove("PGSERVICE")
            .env_remove("PGOPTIONS")
            .env_remove("PGPASSFILE");
        cmd
    }

    /// The `psql` binary of the server's installation.
    pub fn psql_bin(&self) -> PathBuf {
        self.bin.join("psql")
    }

    /// The directory of the server's binaries (`initdb`, `postgres`,
    /// `pg_ctl`, `psql`, `pg_dump`, ...).
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// Runs `sql` (any number of statements) as `sluice` with `psql -At`
    /// and returns what it printed: unaligned, tuples only, one row a
    /// line, `|` between columns, each line ending in `\n`.
    ///
    /// An error carries psql's stderr, with passwords redacted.
    pub fn sql(&self, sql: &str) -> Result<String, Error> {
        let mut psql = self.psql();
        psql.args(["-A", "-t", "-f", "-"]);
        postmaster::run(&mut psql, "psql -At (as sluice)", Some(sql))
            .map_err(|e| self.passwords.redact_error(e))
    }

    /// Creates database `name`, owned by `sluice`.
    pub fn create_database(&self, name: &str) -> Result<(), Error> {
        let ident = format!("\"{}\"", name.replace('"', "\"\""));
        self.sql(&format!("CREATE DATABASE {ident}")).map(drop)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.layout.data
    }

    /// The postmaster's log (its stdout and stderr).
    pub fn log_path(&self) -> &Path {
        &self.layout.log
    }

    /// Whether this is a persistent server (not stopped on drop).
    pub fn is_persistent(&self) -> bool {
        self.persistent
    }

    /// Stops the server (`pg_ctl stop -m fast`) and removes its directory,
    /// persistent or not.
    pub fn stop(self) -> Result<(), Error> {
        self.shutdown()
    }

    /// Stops the server and removes its directory, once; later calls do
    /// nothing. Takes `&self` so that the per-process server, a `static`,
    /// can be stopped at exit.
    pub(crate) fn shutdown(&self) -> Result<(), Error> {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
        postmaster::stop(
            &self.bin,
            &self.account,
            &self.layout,
            self.pid,
            child.as_mut(),
        )?;
        child.take();
        self.layout.remove()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.persistent
            && let Err(e) = self.shutdown()
        {
            eprintln!(
                "sluice-pg-server: stopping the server on port {}: {e}",
                self.port
            );
        }
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("port", &self.port)
            .field("pid", &self.pid)
            .field("data_dir", &self.layout.data)
            .field("persistent", &self.persistent)
            .finish_non_exhaustive()
    }
}
