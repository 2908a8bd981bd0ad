//! The roles a server gets, one per password method a client may have to
//! speak, the `pg_hba.conf` that makes each role use its method, and the
//! SQL that creates them.
//!
//! | role | password stored as | `pg_hba.conf` method over TCP |
//! | --- | --- | --- |
//! | `sluice` (superuser, owns database `sluice`) | SCRAM-SHA-256 | `scram-sha-256` |
//! | `sluice_md5` | MD5 | `md5` |
//! | `sluice_cleartext` | SCRAM-SHA-256 | `password` (sent in clear text) |
//!
//! Unix-socket connections are trusted; they are how we bootstrap.

use crate::{Error, random};

/// The superuser `initdb` creates, used only over the unix socket.
pub(crate) const BOOTSTRAP_USER: &str = "postgres";

/// The database every server has, owned by the `sluice` role.
pub(crate) const DATABASE: &str = "sluice";

/// A password authentication method, and so one of the server's roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Auth {
    /// SCRAM-SHA-256, PostgreSQL's default: role `sluice` (a superuser).
    Scram,
    /// MD5 challenge-response: role `sluice_md5`.
    Md5,
    /// The password in clear text (`password` in `pg_hba.conf`): role
    /// `sluice_cleartext`.
    Cleartext,
}

impl Auth {
    /// Every method, `Scram` first.
    pub const ALL: [Auth; 3] = [Auth::Scram, Auth::Md5, Auth::Cleartext];

    /// The role that authenticates with this method.
    pub fn user(self) -> &'static str {
        match self {
            Auth::Scram => "sluice",
            Auth::Md5 => "sluice_md5",
            Auth::Cleartext => "sluice_cleartext",
        }
    }

    /// The method's name in `pg_hba.conf`.
    pub fn hba_method(self) -> &'static str {
        match self {
            Auth::Scram => "scram-sha-256",
            Auth::Md5 => "md5",
            Auth::Cleartext => "password",
        }
    }

    /// The key of this role's password in `server.json`.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Auth::Scram => "scram",
            Auth::Md5 => "md5",
            Auth::Cleartext => "cleartext",
        }
    }
}

/// The three roles' passwords, indexed like [`Auth::ALL`].
#[derive(Clone)]
pub(crate) struct Passwords(pub(crate) [String; 3]);

impl Passwords {
    /// Fresh random passwords (128 bits each, hex, so safe inside SQL
    /// string literals and URLs).
    pub(crate) fn random() -> Self {
        Passwords([random::hex(16), random::hex(16), random::hex(16)])
    }

    /// The password of `auth`'s role.
    pub(crate) fn get(&self, auth: Auth) -> &str {
        &self.0[index(auth)]
    }

    /// `error` with every password in its captured output replaced.
    pub(crate) fn redact_error(&self, error: Error) -> Error {
        match error {
            Error::Failed {
                command,
                status,
                output,
            } => Error::Failed {
                command,
                status,
                output: self.redact(&output),
            },
            other => other,
        }
    }

    /// `text` with every password replaced by `***`.
    pub(crate) fn redact(&self, text: &str) -> String {
        self.0
            .iter()
            .fold(text.to_string(), |t, pw| t.replace(pw.as_str(), "***"))
    }
}

fn index(auth: Auth) -> usize {
    match auth {
        Auth::Scram => 0,
        Auth::Md5 => 1,
        Auth::Cleartext => 2,
    }
}

/// `pg_hba.conf`: trust on the unix socket, one password method per role
/// over TCP from loopback, SCRAM for everyone else.
pub(crate) fn hba_conf() -> String {
    let mut conf = String::from(
        "# Written by sluice-pg-server.\n\
         # TYPE  DATABASE  USER  ADDRESS  METHOD\n\
         local   all  all  trust\n",
    );
    for auth in [Auth::Md5, Auth::Cleartext] {
        conf += &format!(
            "host    all  {}  127.0.0.1/32  {}\n",
            auth.user(),
            auth.hba_method()
        );
    }
    conf += "host    all  all  127.0.0.1/32  scram-sha-256\n";
    conf
}

/// The script (for `psql` as the bootstrap superuser, on stdin) that
/// creates the roles and the `sluice` database.
pub(crate) fn setup_sql(pw: &Passwords) -> String {
    let (scram, md5, clear) = (Auth::Scram.user(), Auth::Md5.user(), Auth::Cleartext.user());
    format!(
        "SET password_encryption = 'scram-sha-256';\n\
         CREATE ROLE {scram} LOGIN SUPERUSER PASSWORD '{}';\n\
         CREATE ROLE {clear} LOGIN CREATEDB PASSWORD '{}';\n\
         SET password_encryption = 'md5';\n\
         CREATE ROLE {md5} LOGIN CREATEDB PASSWORD '{}';\n\
         RESET password_encryption;\n\
         CREATE DATABASE {DATABASE} OWNER {scram};\n\
         GRANT ALL ON DATABASE {DATABASE} TO {md5}, {clear};\n\
         \\connect {DATABASE}\n\
         GRANT ALL ON SCHEMA public TO {md5}, {clear};\n",
        pw.get(Auth::Scram),
        pw.get(Auth::Cleartext),
        pw.get(Auth::Md5),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hba_gives_each_role_its_method_before_the_catch_all() {
        let conf = hba_conf();
        let md5 = conf.find("sluice_md5  127.0.0.1/32  md5").unwrap();
        let clear = conf
            .find("sluice_cleartext  127.0.0.1/32  password")
            .unwrap();
        let all = conf.find("all  all  127.0.0.1/32  scram-sha-256").unwrap();
        assert!(md5 < all && clear < all);
    }

    #[test]
    fn redaction_hides_every_password() {
        let pw = Passwords::random();
        let text = setup_sql(&pw);
        let redacted = pw.redact(&text);
        for p in &pw.0 {
            assert!(text.contains(p.as_str()));
            assert!(!redacted.contains(p.as_str()));
        }
    }
}
