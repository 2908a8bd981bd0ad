//! A real HTTP/1.1 REST API on loopback, for testing and benchmarking HTTP
//! source connectors: the same deterministic users served through five
//! pagination styles, one user's orders, incremental `updated_since`
//! filters, four ways to carry a token, and rate limits (429 with
//! `Retry-After`) and failures (503) on a fixed cadence.
//!
//! [`HttpServer::start`] binds `127.0.0.1` and serves on a thread of its
//! own with its own tokio runtime, so sync and async tests use it alike;
//! dropping the value stops it. The dataset is computed, not stored
//! ([`HttpServer::users`] and [`HttpServer::orders`] return it exactly), so
//! a million users cost no memory.
//!
//! | endpoint | answer |
//! |---|---|
//! | `GET /page/users?page=N&per_page=K` | `{"data":[...],"page":N}` |
//! | `GET /offset/users?offset=O&limit=L` | `{"data":[...],"total":T}` |
//! | `GET /cursor/users?cursor=C&limit=L` | `{"data":[...],"next_cursor":C\|null}` |
//! | `GET /next/users?page=N&per_page=K` | `{"results":[...],"next":URL\|null}` |
//! | `GET /link/users?page=N&per_page=K` | `[...]`, `Link: <URL>; rel="next"` while more remain |
//! | `GET /users/{id}/orders` | `{"data":[...]}`, 404 for an unknown user |
//! | `GET /redirect?to=URL` | 302, `Location: URL` |
//! | `GET /big?mib=M` | about M MiB of `{"data":[...]}`, streamed |
//! | `GET /stall?ms=N` | `{"data":[]}`, after N ms of silence (no first byte) |
//! | `GET /gap?ms=N` | `{"data":[]}` in two parts, N ms of silence between them |
//!
//! Every list takes `updated_since=<RFC 3339>` and keeps only records
//! updated strictly after it, in `updated_at` order. Pages count from 1;
//! a page past the end is empty. A bad parameter is a 400, anything else a
//! 404, both as `{"error": ...}`.
//!
//! ```no_run
//! use sluice_http_server::{HttpServer, Options};
//!
//! let server = HttpServer::start(Options {
//!     users: 10,
//!     token: Some("s3cret".into()),
//!     ..Options::default()
//! })?;
//! println!("GET {}/page/users?per_page=5 with Authorization: Bearer s3cret", server.base_url());
//! assert_eq!(server.users().len(), 10);
//! # Ok::<(), sluice_http_server::Error>(())
//! ```

mod auth;
mod big;
mod dataset;
mod error;
mod log;
mod query;
mod routes;
mod server;
mod service;
mod stall;
mod tls;

pub use auth::{API_KEY_PARAM, BASIC_USER};
pub use dataset::{EPOCH_MS, MAX_ORDERS_PER_USER};
pub use error::Error;
pub use log::{LoggedRequest, REDACTED};
pub use server::HttpServer;

/// What a server serves and how it misbehaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// How many users there are at start (ids `1..=users`).
    pub users: usize,
    /// How many orders each user has, at most [`MAX_ORDERS_PER_USER`].
    pub orders_per_user: usize,
    /// When set, every request must carry this token in one of the forms
    /// [`HttpServer`] documents, or is answered 401 `{"error":"unauthorized"}`.
    pub token: Option<String>,
    /// Every n-th request (counting all requests, from 1) is answered 429
    /// with `Retry-After: retry_after_secs`.
    pub rate_limit_every: Option<u32>,
    /// Every m-th request is answered 503 (unless it is also rate limited).
    pub fail_every: Option<u32>,
    /// The `Retry-After` of a 429, in seconds.
    pub retry_after_secs: u64,
    /// The page size (`per_page`, `limit`) when a request names none.
    pub per_page: usize,
    /// The loopback port to listen on; 0 picks a free one.
    pub port: u16,
    /// Whether to keep every request in the log [`HttpServer::requests`]
    /// returns; a long-running server may turn it off.
    pub keep_log: bool,
    /// Serve HTTPS (`https://127.0.0.1:PORT`) with a certificate for
    /// `127.0.0.1` and `localhost` signed by a CA made at start, whose
    /// certificate [`HttpServer::ca_pem`] returns.
    pub tls: bool,
}

impl Default for Options {
    /// 250 users with 3 orders each, no token, no faults, pages of 100,
    /// any free port, a log kept, plain HTTP.
    fn default() -> Self {
        Options {
            users: 250,
            orders_per_user: 3,
            token: None,
            rate_limit_every: None,
            fail_every: None,
            retry_after_secs: 1,
            per_page: 100,
            port: 0,
            keep_log: true,
            tls: false,
        }
    }
}
