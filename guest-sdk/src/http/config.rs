//! What a [`Client`](super::Client) is configured with: credentials,
//! timeouts and the retry budget. Each deserialises from the config shape
//! [`schema`](super::schema) describes, so a connector can take them from
//! its config as they are.

use base64::Engine;
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// How requests prove who sends them. Credentials go only to the origin
/// (scheme, host and port) of the client's base URL; a redirect or a next
/// link to another origin is followed without them. `Debug` never shows a
/// secret.
///
/// ```
/// use sluice_guest::http::Auth;
/// let auth: Auth = serde_json::from_str(r#"{"type": "basic", "username": "sluice", "password": "pw"}"#).unwrap();
/// assert_eq!(auth.header(), Some(("authorization".into(), "Basic c2x1aWNlOnB3".into())));
/// assert_eq!(format!("{auth:?}"), r#"Basic { username: "sluice", password: *** }"#);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token (a secret).
        token: String,
    },
    /// A header of its own, such as `X-Api-Key: <value>`.
    Header {
        /// The header's name.
        name: String,
        /// Its value (a secret).
        value: String,
    },
    /// A query parameter, such as `?api_key=<value>`; shown as `***` in
    /// every URL a message holds.
    Query {
        /// The parameter's name.
        name: String,
        /// Its value (a secret).
        value: String,
    },
    /// `Authorization: Basic base64(<username>:<password>)`.
    Basic {
        /// The user name.
        username: String,
        /// The password (a secret).
        password: String,
    },
}

impl Auth {
    /// The header the credentials travel in, as (lower-case name, value).
    pub fn header(&self) -> Option<(String, String)> {
        match self {
            Auth::Bearer { token } => Some(("authorization".into(), format!("Bearer {token}"))),
            Auth::Header { name, value } => Some((name.to_ascii_lowercase(), value.clone())),
            Auth::Basic { username, password } => {
                let pair = format!("{username}:{password}");
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                Some(("authorization".into(), format!("Basic {encoded}")))
            }
            Auth::None | Auth::Query { .. } => None,
        }
    }

    /// The query parameter the credentials travel in, as (name, value).
    pub fn query(&self) -> Option<(&str, &str)> {
        match self {
            Auth::Query { name, value } => Some((name, value)),
            _ => None,
        }
    }

    /// Every secret text the credentials put on the wire (the secret
    /// values, and the whole header value), so that text can be scrubbed
    /// of them.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = match self {
            Auth::None => Vec::new(),
            Auth::Bearer { token } => vec![token.clone()],
            Auth::Header { value, .. } | Auth::Query { value, .. } => vec![value.clone()],
            Auth::Basic { password, .. } => vec![password.clone()],
        };
        out.extend(self.header().map(|(_, v)| v));
        out.retain(|s| !s.is_empty());
        out
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Hidden;
        impl fmt::Debug for Hidden {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("***")
            }
        }
        match self {
            Auth::None => f.write_str("None"),
            Auth::Bearer { .. } => f.debug_struct("Bearer").field("token", &Hidden).finish(),
            Auth::Header { name, .. } => f
                .debug_struct("Header")
                .field("name", name)
                .field("value", &Hidden)
                .finish(),
            Auth::Query { name, .. } => f
                .debug_struct("Query")
                .field("name", name)
                .field("value", &Hidden)
                .finish(),
            Auth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &Hidden)
                .finish(),
        }
    }
}

/// How long the host waits for each request, in milliseconds; `0` leaves
/// it to the host. Sent as `wasi:http` request options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// For the connection to be set up.
    pub connect_ms: u64,
    /// From sending the request to the first byte of the response.
    pub first_byte_ms: u64,
    /// Between two bytes of the response.
    pub between_bytes_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect_ms: 10_000,
            first_byte_ms: 30_000,
            between_bytes_ms: 30_000,
        }
    }
}

impl Timeouts {
    /// The connect timeout, unless left to the host.
    pub fn connect(&self) -> Option<Duration> {
        millis(self.connect_ms)
    }

    /// The first-byte timeout, unless left to the host.
    pub fn first_byte(&self) -> Option<Duration> {
        millis(self.first_byte_ms)
    }

    /// The between-bytes timeout, unless left to the host.
    pub fn between_bytes(&self) -> Option<Duration> {
        millis(self.between_bytes_ms)
    }
}

fn millis(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// The retry budget of one request: at most `max_retries` retries, the
/// `n`-th after a delay drawn uniformly from `[0, min(max, base * 2^n)]`
/// (exponential backoff with full jitter) unless the server said how long
/// to wait (`Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retry {
    /// Retries after the first attempt (`0`: never retry).
    pub max_retries: u32,
    /// The first backoff's upper bound, in milliseconds.
    pub base_ms: u64,
    /// The largest delay, in milliseconds; also the longest `Retry-After`
    /// honoured (a server asking for more fails the request as transient).
    pub max_ms: u64,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_retries: 5,
            base_ms: 500,
            max_ms: 30_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_travel_where_their_kind_says() {
        let bearer = Auth::Bearer { token: "T".into() };
        assert_eq!(
            bearer.header(),
            Some(("authorization".into(), "Bearer T".into()))
        );
        let header: Auth =
            serde_json::from_str(r#"{"type":"header","name":"X-Api-Key","value":"T"}"#).unwrap();
        assert_eq!(header.header(), Some(("x-api-key".into(), "T".into())));
        let query: Auth =
            serde_json::from_str(r#"{"type":"query","name":"api_key","value":"T"}"#).unwrap();
        assert_eq!(query.header(), None);
        assert_eq!(query.query(), Some(("api_key", "T")));
        assert_eq!(
            serde_json::from_str::<Auth>(r#"{"type":"none"}"#).unwrap(),
            Auth::None
        );
    }

    #[test]
    fn debug_and_secrets() {
        let auth = Auth::Header {
            name: "X-Api-Key".into(),
            value: "s3cret".into(),
        };
        let shown = format!("{auth:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(auth.secrets(), ["s3cret", "s3cret"]);
        let basic = Auth::Basic {
            username: "u".into(),
            password: "p".into(),
        };
        assert_eq!(basic.secrets(), ["p", "Basic dTpw"]);
    }

    #[test]
    fn defaults_and_zero_timeouts() {
        let t: Timeouts = serde_json::from_str(r#"{"connect_ms": 0}"#).unwrap();
        assert_eq!(t.connect(), None);
        assert_eq!(t.first_byte(), Some(Duration::from_secs(30)));
        let r: Retry = serde_json::from_str("{}").unwrap();
        assert_eq!(r, Retry::default());
        assert!(serde_json::from_str::<Retry>(r#"{"retries": 1}"#).is_err());
    }
}
