//! Which OS user runs `initdb`, `postgres` and `pg_ctl`.
//!
//! PostgreSQL refuses to run as root. Running as root, we run the server
//! as the `postgres` OS user (the Debian package creates it): its uid and
//! gid come from `getpwnam_r`, the commands get them through
//! [`CommandExt::uid`]/[`CommandExt::gid`], and the directories the server
//! writes are chowned to it. Not root, everything runs as ourselves.

use crate::Error;
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// The OS user the server's programs run as.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Account {
    /// `(uid, gid)` of `postgres` when we are root; `None`: ourselves.
    ids: Option<(u32, u32)>,
}

/// Whether we run as root (effective uid 0).
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl Account {
    /// `postgres` when we are root, else ourselves.
    pub(crate) fn for_server() -> Result<Self, Error> {
        if !is_root() {
            return Ok(Account { ids: None });
        }
        let ids = user_ids("postgres").ok_or(Error::NoPostgresUser)?;
        Ok(Account { ids: Some(ids) })
    }

    /// `program`, run as this account with `cwd` as its working directory
    /// (our own may not be readable by `postgres`).
    pub(crate) fn command(&self, program: &Path, cwd: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(cwd);
        if let Some((uid, gid)) = self.ids {
            // std drops supplementary groups (setgroups) when uid is set as root.
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    /// Hands `path` to this account (chown), when that is not ourselves.
    pub(crate) fn own(&self, path: &Path) -> Result<(), Error> {
        match self.ids {
            None => Ok(()),
            Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(Error::io("chown to postgres", path)),
        }
    }

    /// Makes `dir` and every ancestor searchable by others (adds the `x` bit
    /// for "other" where it is missing, nothing more), so that `postgres`
    /// can reach a data directory we created. Nothing to do when the server
    /// runs as ourselves.
    pub(crate) fn make_reachable(&self, dir: &Path) -> Result<(), Error> {
        if self.ids.is_none() {
            return Ok(());
        }
        for ancestor in dir.ancestors() {
            if ancestor.as_os_str().is_empty() {
                continue;
            }
            let meta = std::fs::metadata(ancestor).map_err(Error::io("stat", ancestor))?;
            let mode = meta.permissions().mode();
            if mode & 0o001 == 0 {
                eprintln!(
                    "sluice-pg-server: making {} searchable (o+x) so the postgres user can reach its data",
                    ancestor.display()
                );
                std::fs::set_permissions(ancestor, std::fs::Permissions::from_mode(mode | 0o001))
                    .map_err(Error::io("chmod o+x", ancestor))?;
            }
        }
        Ok(())
    }
}

/// `(uid, gid)` of the OS user `name`, from the password database.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let name = CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero passwd is a valid value for getpwnam_r to fill.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call, and buf's length is the
    // one passed; getpwnam_r (unlike getpwnam) uses no static storage.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    (rc == 0 && !found.is_null()).then_some((pwd.pw_uid, pwd.pw_gid))
}

/// Whether a process `pid` exists (`kill(pid, 0)`; EPERM also means it does).
pub(crate) fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Sends `signal` to `pid`; false if it is gone (or the pid is invalid).
pub(crate) fn signal(pid: u32, signal: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill has no memory preconditions.
    pid > 0 && unsafe { libc::kill(pid, signal) } == 0
}
