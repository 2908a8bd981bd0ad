//! An HTTP client for connectors (feature `http`), over
//! `wasi:http/outgoing-handler`.
//!
//! [`Client`] sends GET requests to one API: a base URL, default headers,
//! [`Auth`] (bearer token, header, query parameter or basic), per-request
//! [`Timeouts`] handed to the host as request options, a body size limit,
//! redirects (each hop a new request, so the host checks its egress grant
//! again), retries with exponential backoff and full jitter on 408, 429,
//! 5xx and transport errors honouring `Retry-After` ([`Retry`]), and a
//! client-side rate limit. Its errors are
//! [`ConnectorError`](crate::ConnectorError)s of the kind
//! that fits (see [`Client::get_url`]); a URL shown in any message has its
//! secret query parameters replaced by `***`, and no message holds a
//! token or password.
//!
//! [`Pagination`] and [`Pager`] walk the pages of a list endpoint (page
//! numbers, offsets, cursors, next URLs in the body, `Link` headers);
//! [`records`] and [`select`] pick the records and values out of a JSON
//! body. Everything but the transport is plain Rust that runs natively:
//! a [`Transport`] is where bytes meet the host, and natively a test
//! installs its own with [`set_native_transport`].
//!
//! ```
//! use sluice_guest::http::{Auth, Client, Pager, Pagination, records};
//! # use sluice_guest::http::{Reply, Request, Transport, TransportError};
//! # struct Api;
//! # impl Transport for Api {
//! #     fn send(&mut self, r: &Request) -> Result<Reply, TransportError> {
//! #         assert_eq!(r.header("authorization"), Some("Bearer t0ken"));
//! #         let page: u32 = r.url.query_pairs().find(|(k, _)| k == "page").unwrap().1.parse().unwrap();
//! #         let data = if page < 3 { format!(r#"[{{"id":{page}}}]"#) } else { "[]".into() };
//! #         Ok(Reply { status: 200, headers: vec![], body: format!(r#"{{"data":{data}}}"#).into_bytes() })
//! #     }
//! #     fn sleep(&mut self, _: std::time::Duration) {}
//! #     fn now(&mut self) -> std::time::Duration { std::time::Duration::ZERO }
//! #     fn random(&mut self) -> u64 { 4 }
//! # }
//! # sluice_guest::http::set_native_transport(|| Box::new(Api));
//! let mut client = Client::new("http://127.0.0.1:8080/api")?
//!     .auth(Auth::Bearer { token: "t0ken".into() });
//! let mut pager = Pager::new(Pagination::PageNumber {
//!     page_param: "page".into(),
//!     size_param: Some("per_page".into()),
//!     size: 100,
//!     start: 1,
//! });
//! let mut ids = Vec::new();
//! while let Some(next) = pager.next_request() {
//!     let response = client.get_page("/users", &[], next)?;
//!     let mut body = response.json()?;
//!     let page = records(&mut body, "data").map_err(|e| response.data_error(&e))?;
//!     ids.extend(page.iter().map(|r| r["id"].clone()));
//!     pager.advance(&response.page(&body, page.len()))?;
//! }
//! assert_eq!(ids, [1, 2]);
//! # Ok::<(), sluice_guest::ConnectorError>(())
//! ```

mod client;
mod config;
mod link;
mod paginate;
mod retry;
pub mod schema;
mod status;
mod transport;
#[cfg(target_arch = "wasm32")]
mod wasi;

pub use client::{Client, MAX_REDIRECTS, Response};
pub use config::{Auth, Retry, Timeouts};
pub use link::{Link, next_link, parse_link_header};
pub use paginate::{Page, PageRequest, Pager, Pagination, records, select};
pub use retry::{Backoff, RateLimit, retry_after};
#[cfg(not(target_arch = "wasm32"))]
pub use transport::set_native_transport;
pub use transport::{Reply, Request, Transport, TransportError};
pub use url::Url;
