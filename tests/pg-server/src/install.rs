//! Finding the PostgreSQL binaries, and installing them with `apt-get`
//! when they are missing and we are root.
//!
//! Looked for, in order: the directory named by `SLUICE_PG_BIN`, the
//! highest Debian/Ubuntu `/usr/lib/postgresql/<version>/bin`, then the
//! directory of an `initdb` on `PATH`. A directory counts when it holds
//! both `initdb` and `postgres`.

use crate::Error;
use crate::account;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian and Ubuntu put each major version's server binaries.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The Debian package that pulls in the current server version.
const PACKAGE: &str = "postgresql";

/// The bin directory of an installed PostgreSQL, or `None`.
///
/// See the module docs for where it looks. `psql` and `pg_ctl` are taken
/// from the same directory.
pub fn find_installed() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SLUICE_PG_BIN") {
        let dir = PathBuf::from(dir);
        return is_bin_dir(&dir).then_some(dir);
    }
    debian_bin_dir().or_else(path_bin_dir)
}

/// The bin directory of an installed PostgreSQL, installing the Debian
/// package `postgresql` first if none is found and we are root.
///
/// The install runs `apt-get install -y postgresql` (and, if that fails,
/// `apt-get update` and the install once more), with apt's output on our
/// stderr. Not root, or no `apt-get`: [`Error::NotInstalled`] saying what
/// to install.
pub fn ensure_installed() -> Result<PathBuf, Error> {
    if let Some(dir) = find_installed() {
        return Ok(dir);
    }
    if !account::is_root() {
        return Err(Error::NotInstalled {
            hint: format!(
                "no {DEBIAN_ROOT}/<version>/bin with initdb and postgres, and no initdb on PATH; \
                 install the package `{PACKAGE}` (e.g. `sudo apt-get install -y {PACKAGE}`), \
                 or point SLUICE_PG_BIN at a directory holding initdb, postgres, pg_ctl and psql"
            ),
        });
    }
    if !Path::new("/usr/bin/apt-get").exists() {
        return Err(Error::NotInstalled {
            hint: format!(
                "no apt-get on this machine; install PostgreSQL's server package ({PACKAGE}) \
                 with the system's package manager, or set SLUICE_PG_BIN"
            ),
        });
    }
    eprintln!("sluice-pg-server: PostgreSQL not found; running `apt-get install -y {PACKAGE}`");
    if apt(&["install", "-y", PACKAGE]).is_err() {
        eprintln!("sluice-pg-server: install failed; running `apt-get update` and trying again");
        apt(&["update"])?;
        apt(&["install", "-y", PACKAGE])?;
    }
    find_installed().ok_or_else(|| Error::NotInstalled {
        hint: format!(
            "`apt-get install -y {PACKAGE}` succeeded but left no {DEBIAN_ROOT}/<version>/bin"
        ),
    })
}

/// Runs `apt-get <args>` non-interactively, its stdout sent to our stderr
/// so that a caller's stdout (a connection string) stays clean.
fn apt(args: &[&str]) -> Result<(), Error> {
    let command = format!("apt-get {}", args.join(" "));
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(std::io::stderr())
        .status()
        .map_err(|source| Error::Spawn {
            command: command.clone(),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Failed {
            command,
            status,
            output: "(apt-get's output is above, on stderr)".into(),
        })
    }
}

/// The highest-versioned `/usr/lib/postgresql/<version>/bin`.
fn debian_bin_dir() -> Option<PathBuf> {
    let entries = std::fs::read_dir(DEBIAN_ROOT).ok()?;
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = version_key(&e.file_name().to_string_lossy())?;
            let bin = e.path().join("bin");
            is_bin_dir(&bin).then_some((version, bin))
        })
        .max()
        .map(|(_, bin)| bin)
}

/// `"15"` -> `[15]`, `"9.6"` -> `[9, 6]`; `None` for anything else.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// The directory of the first `initdb` on `PATH`, if it also has `postgres`.
fn path_bin_dir() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|dir| is_bin_dir(dir))
}

fn is_bin_dir(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("postgres").is_file()
}

#[cfg(test)]
mod tests {
    use super::version_key;

    #[test]
    fn versions_order_numerically() {
        assert!(version_key("16") > version_key("9.6"));
        assert!(version_key("15") > version_key("9"));
        assert_eq!(version_key("main"), None);
    }
}
