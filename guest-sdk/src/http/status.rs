//! Which replies are retried, and the connector error of each one that
//! is not a success.

use crate::{ConnectorError, ErrorKind};

/// Whether a reply of `status` is worth sending again: request timeout,
/// too many requests, and every server error.
pub(crate) fn is_retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// Whether a reply of `status` points elsewhere (with a `Location`).
pub(crate) fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The error of a final reply of `status` to `GET {shown}` (a redacted
/// URL), with `body` (already scrubbed of secrets) as a hint where it
/// helps:
/// - 401, 403: auth; the body is left out.
/// - 404, 410: config (the base URL or path is wrong).
/// - 408, 429, 5xx (after the retries): transient.
/// - other 4xx: config (the request the config builds is refused).
/// - anything else that is no success: data (the server answered
///   something a GET of a list cannot use).
pub(crate) fn status_error(status: u16, shown: &str, body: &str) -> ConnectorError {
    let at = format!("GET {shown}: HTTP {status}");
    let hint = snippet(body);
    match status {
        401 | 403 => ConnectorError::new(
            ErrorKind::Auth,
            format!("{at}: the server refused the credentials (check the auth settings)"),
        ),
        404 | 410 => ConnectorError::config(format!(
            "{at}: not found (check the base URL and the path){hint}"
        )),
        _ if is_retryable(status) => ConnectorError::transient(format!("{at}{hint}")),
        400..=499 => ConnectorError::config(format!("{at}{hint}")),
        _ => ConnectorError::data(format!("{at}: not a success{hint}")),
    }
}

/// `: <the body's first 200 characters>`, or nothing for an empty body.
fn snippet(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return String::new();
    }
    let mut cut: String = body.chars().take(200).collect();
    if cut.len() < body.len() {
        cut.push('…');
    }
    format!(": {cut}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_status() {
        let kind = |s| status_error(s, "http://x.test/a", "").kind;
        assert_eq!(kind(401), ErrorKind::Auth);
        assert_eq!(kind(403), ErrorKind::Auth);
        assert_eq!(kind(404), ErrorKind::Config);
        assert_eq!(kind(400), ErrorKind::Config);
        assert_eq!(kind(422), ErrorKind::Config);
        assert_eq!(kind(429), ErrorKind::Transient);
        assert_eq!(kind(503), ErrorKind::Transient);
        assert_eq!(kind(304), ErrorKind::Data);
        assert!(is_retryable(500) && is_retryable(429) && !is_retryable(404));
        assert!(is_redirect(302) && !is_redirect(304));
    }

    #[test]
    fn messages_name_the_url_and_status_and_keep_auth_bodies_out() {
        let e = status_error(
            401,
            "http://x.test/a?api_key=***",
            "{\"error\":\"unauthorized\"}",
        );
        assert_eq!(
            e.message,
            "GET http://x.test/a?api_key=***: HTTP 401: the server refused the credentials (check the auth settings)"
        );
        let e = status_error(400, "http://x.test/a", &"x".repeat(500));
        assert!(e.message.starts_with("GET http://x.test/a: HTTP 400: xxx"));
        assert!(e.message.ends_with('…'));
        assert!(e.message.len() < 300);
    }
}
