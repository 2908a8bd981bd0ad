//! The request log: what each request asked and what it was answered,
//! without the secret it carried.

use crate::auth::API_KEY_PARAM;
use std::time::SystemTime;

/// What the replacement of a secret reads in the log.
pub const REDACTED: &str = "REDACTED";

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The query string as received, without `?`; every `api_key` value and
    /// every occurrence of the token read [`REDACTED`]. `None` when the URL
    /// had no `?`.
    pub query: Option<String>,
    /// The names of the headers received, lower case, each once; never
    /// their values.
    pub header_names: Vec<String>,
    /// The status answered.
    pub status: u16,
    /// When the request arrived.
    pub at: SystemTime,
}

/// `text` with the token (as is and percent-encoded) replaced.
pub fn redact_token(text: &str, token: Option<&str>) -> String {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return text.to_owned();
    };
    let encoded: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
    text.replace(token, REDACTED).replace(&encoded, REDACTED)
}

/// The query string with every `api_key` value and the token redacted.
pub fn redact_query(query: &str, token: Option<&str>) -> String {
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key == API_KEY_PARAM => format!("{key}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect();
    redact_token(&pairs.join("&"), token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_stay() {
        assert_eq!(
            redact_query("page=2&api_key=wrong&x=s3cret&y=a%2Bb", Some("s3cret")),
            "page=2&api_key=REDACTED&x=REDACTED&y=a%2Bb"
        );
        assert_eq!(redact_query("y=a+b", Some("a b")), "y=REDACTED");
        assert_eq!(redact_query("page=1", None), "page=1");
        assert_eq!(redact_token("/p/s3cret", Some("s3cret")), "/p/REDACTED");
    }
}
