//! Client and server failures as connector errors: the kind tells the host
//! whether to retry, the message says what was being done to which table.

use sluice_guest::{ConnectorError, ErrorKind};
use sluice_pg_client::Error;

/// `e`, which happened while doing `what` (e.g. "cannot load stream `users`
/// into `public.users`"), as a connector error of the right kind, tied to
/// `stream` when known.
///
/// Rejected credentials are `auth` (the message names the user, never the
/// password); a connection the sandbox refuses is `config` (its message
/// names the address to grant); connection failures and server errors of
/// classes 08, 40, 53 and 57 are `transient`; data exceptions (22) and
/// integrity violations (23) are `data`; any other server error is
/// `config` (a missing privilege, an object in the way); a protocol
/// surprise is `internal`.
pub(crate) fn pg_error(e: &Error, stream: Option<&str>, what: &str) -> ConnectorError {
    let kind = kind_of(e);
    let message = match e {
        Error::Server(s) => {
            let mut text = format!("{what}: {e}");
            if let Some(table) = &s.table {
                text += &format!(" [table {table}");
                if let Some(column) = &s.column {
                    text += &format!(", column {column}");
                }
                if let Some(constraint) = &s.constraint {
                    text += &format!(", constraint {constraint}");
                }
                text += "]";
            }
            text
        }
        Error::Connect { addr, source } if unresolvable(source) => format!(
            "{what}: {e}; inside the sandbox a host name resolves only when the pipeline \
             grants it by name (hosts = [\"{addr}\"]), or connect to an address instead"
        ),
        _ => format!("{what}: {e}"),
    };
    let error = ConnectorError::new(kind, message);
    match stream {
        Some(s) => error.in_stream(s),
        None => error,
    }
}

fn kind_of(e: &Error) -> ErrorKind {
    match e {
        Error::Auth { .. } => ErrorKind::Auth,
        Error::Connect { source, .. } if denied(source) || unresolvable(source) => {
            ErrorKind::Config
        }
        Error::Protocol(_) => ErrorKind::Internal,
        _ if e.is_transient() => ErrorKind::Transient,
        Error::Server(s) if s.code.starts_with("28") => ErrorKind::Auth,
        Error::Server(s) if s.code.starts_with("22") || s.code.starts_with("23") => ErrorKind::Data,
        _ => ErrorKind::Config,
    }
}

/// Whether a connect failure is the sandbox refusing the address.
fn denied(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::PermissionDenied
}

/// Whether a name lookup failed for good (`EAI_FAIL`: the sandbox refuses
/// lookups of names it was not granted), not for now (`EAI_AGAIN`).
fn unresolvable(e: &std::io::Error) -> bool {
    e.to_string().contains("Non-recoverable")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_pg_client::ServerError;

    fn server(code: &str) -> Error {
        Error::Server(Box::new(ServerError {
            severity: "ERROR".into(),
            code: code.into(),
            message: "m".into(),
            table: Some("users".into()),
            column: Some("age".into()),
            ..ServerError::default()
        }))
    }

    #[test]
    fn server_errors_map_by_class() {
        let of = |code| pg_error(&server(code), Some("s"), "doing").kind;
        assert_eq!(of("23505"), ErrorKind::Data);
        assert_eq!(of("22P02"), ErrorKind::Data);
        assert_eq!(of("28P01"), ErrorKind::Auth);
        assert_eq!(of("40001"), ErrorKind::Transient);
        assert_eq!(of("42501"), ErrorKind::Config);
        let e = pg_error(&server("23502"), Some("s"), "cannot load stream `s`");
        assert_eq!(e.stream.as_deref(), Some("s"));
        assert_eq!(
            e.message,
            "cannot load stream `s`: ERROR 23502: m [table users, column age]"
        );
    }

    #[test]
    fn a_refused_connection_is_a_config_error_naming_the_address() {
        let e = Error::Connect {
            addr: "10.0.0.1:5432".into(),
            source: std::io::ErrorKind::PermissionDenied.into(),
        };
        let e = pg_error(&e, None, "cannot connect");
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.contains("10.0.0.1:5432"), "{}", e.message);
        let refused = Error::Connect {
            addr: "10.0.0.1:5432".into(),
            source: std::io::ErrorKind::ConnectionRefused.into(),
        };
        assert_eq!(pg_error(&refused, None, "x").kind, ErrorKind::Transient);
        let lookup = Error::Connect {
            addr: "db:5432".into(),
            source: std::io::Error::other(
                "failed to lookup address information: Non-recoverable error",
            ),
        };
        let e = pg_error(&lookup, None, "cannot connect");
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.contains("hosts = [\"db:5432\"]"), "{}", e.message);
    }
}
