//! [`Client`]: GET requests to one API, with credentials, retries,
//! redirects and a rate limit; [`Response`]: what a successful one read.

use super::paginate::{Page, PageRequest};
use super::retry::{Backoff, RateLimit, retry_after};
use super::status::{is_redirect, is_retryable, status_error};
use super::transport::{Reply, Request, Transport, TransportError, first_header};
use super::{Auth, Retry, Timeouts};
use crate::{ConnectorError, Level, Result, log};
use serde_json::Value;
use std::time::{Duration, SystemTime};
use url::Url;

/// The most redirects one request follows.
pub const MAX_REDIRECTS: usize = 5;

/// What stands in for a secret in a URL shown to people.
const HIDDEN: &str = "***";

/// An HTTP client for one API: GET requests relative to a base URL.
///
/// Built with [`Client::new`] and the builder methods; every request goes
/// through the same rate limit. Credentials ([`Auth`]) go only to the base
/// URL's origin.
pub struct Client {
    base: Url,
    headers: Vec<(String, String)>,
    auth: Auth,
    secret_params: Vec<String>,
    timeouts: Timeouts,
    retry: Retry,
    max_body: u64,
    limit: RateLimit,
    transport: Box<dyn Transport>,
}

/// A successful (2xx) reply, after any redirects.
#[derive(Debug, Clone)]
pub struct Response {
    /// The URL that answered, without credentials.
    pub url: Url,
    /// The same URL as messages show it (secrets replaced by `***`).
    pub shown: String,
    /// The status (2xx).
    pub status: u16,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Client {
    /// A client for the API at `base_url` (http or https), sending through
    /// the host's `wasi:http` (natively: the thread's
    /// [`set_native_transport`](super::set_native_transport)). It sends
    /// `accept: application/json` and a `user-agent` unless told otherwise.
    pub fn new(base_url: &str) -> Result<Client> {
        Client::with_transport(base_url, super::transport::default_transport())
    }

    /// A client for `base_url` sending through `transport`.
    pub fn with_transport(base_url: &str, transport: Box<dyn Transport>) -> Result<Client> {
        // The URL is not echoed: it may hold a password.
        let base = Url::parse(base_url.trim())
            .map_err(|e| ConnectorError::config(format!("the base URL is not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ConnectorError::config(format!(
                "the base URL must be http or https, not {}",
                base.scheme()
            )));
        }
        Ok(Client {
            base,
            headers: vec![
                ("accept".into(), "application/json".into()),
                (
                    "user-agent".into(),
                    concat!("sluice-guest/", env!("CARGO_PKG_VERSION")).into(),
                ),
            ],
            auth: Auth::None,
            secret_params: Vec::new(),
            timeouts: Timeouts::default(),
            retry: Retry::default(),
            max_body: 16 << 20,
            limit: RateLimit::new(None),
            transport,
        })
    }

    /// Send header `name: value` with every request (replacing a default
    /// of that name).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.to_string()));
        self
    }

    /// Prove who sends the requests with `auth`.
    pub fn auth(mut self, auth: Auth) -> Self {
        if let Some((name, _)) = auth.query() {
            self.secret_params.push(name.to_string());
        }
        self.auth = auth;
        self
    }

    /// Query parameter `name` holds a secret: shown as `***`.
    pub fn secret_param(mut self, name: &str) -> Self {
        self.secret_params.push(name.to_string());
        self
    }

    /// Ask the host for these timeouts on every request.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Retry within this budget.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// Fail a request whose body is larger than `bytes` (16 MiB unless told).
    pub fn max_body_bytes(mut self, bytes: u64) -> Self {
        self.max_body = bytes;
        self
    }

    /// Send at most `per_second` requests a second (`None`: no limit),
    /// over all the readers the host runs at once ([`crate::readers`]):
    /// each keeps to its share.
    pub fn requests_per_second(mut self, per_second: Option<f64>) -> Self {
        let readers = f64::from(crate::readers());
        self.limit = RateLimit::new(per_second.map(|r| r / readers));
        self
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The URL of `path` with `query` added. `path` is relative to the base
    /// URL's path (`/users` under `http://h/api` is `http://h/api/users`)
    /// and may carry a query of its own; an absolute http(s) URL is taken
    /// as it is.
    ///
    /// ```
    /// use sluice_guest::http::Client;
    /// let client = Client::new("http://127.0.0.1:8080/api/")?;
    /// let url = client.url("/users?active=1", &[("page".into(), "2".into())])?;
    /// assert_eq!(url.as_str(), "http://127.0.0.1:8080/api/users?active=1&page=2");
    /// # Ok::<(), sluice_guest::ConnectorError>(())
    /// ```
    pub fn url(&self, path: &str, query: &[(String, String)]) -> Result<Url> {
        let mut url = if path.starts_with("http://") || path.starts_with("https://") {
            Url::parse(path).map_err(|e| {
                ConnectorError::config(format!(
                    "the path is an absolute URL that does not parse: {e}"
                ))
            })?
        } else {
            self.relative(path)
        };
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    fn relative(&self, path: &str) -> Url {
        let (path, own_query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        let mut url = self.base.clone();
        url.set_fragment(None);
        let trimmed = path.trim_start_matches('/');
        if !trimmed.is_empty() {
            url.set_path(&format!(
                "{}/{trimmed}",
                self.base.path().trim_end_matches('/')
            ));
        }
        if let Some(q) = own_query.filter(|q| !q.is_empty()) {
            let query = match url.query().filter(|b| !b.is_empty()) {
                Some(base) => format!("{base}&{q}"),
                None => q.to_string(),
            };
            url.set_query(Some(&query));
        }
        url
    }

    /// `url` as messages show it: the values of secret query parameters
    /// and any password replaced by `***`.
    ///
    /// ```
    /// use sluice_guest::http::{Auth, Client};
    /// let client = Client::new("http://127.0.0.1:8080")?
    ///     .auth(Auth::Query { name: "api_key".into(), value: "T".into() });
    /// let url = "http://127.0.0.1:8080/users?api_key=T&page=2".parse().unwrap();
    /// assert_eq!(client.redact(&url), "http://127.0.0.1:8080/users?api_key=***&page=2");
    /// # Ok::<(), sluice_guest::ConnectorError>(())
    /// ```
    pub fn redact(&self, url: &Url) -> String {
        let mut shown = url.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some(HIDDEN));
        }
        let secret = |k: &str| self.secret_params.iter().any(|s| s == k);
        if url.query_pairs().any(|(k, _)| secret(&k)) {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let v = if secret(&k) {
                        HIDDEN.into()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            shown.query_pairs_mut().clear().extend_pairs(pairs);
        }
        shown.to_string()
    }

    /// GET `path` (see [`url`](Self::url)) with `query`.
    pub fn get(&mut self, path: &str, query: &[(String, String)]) -> Result<Response> {
        let url = self.url(path, query)?;
        self.get_url(url)
    }

    /// GET the page `next` of the endpoint `path` with `query`: its
    /// parameters added to the endpoint's, or its URL with those of
    /// `query` it lacks added (a next link that dropped a filter keeps it).
    pub fn get_page(
        &mut self,
        path: &str,
        query: &[(String, String)],
        next: &PageRequest,
    ) -> Result<Response> {
        match next {
            PageRequest::Params(params) => {
                let all: Vec<(String, String)> = query.iter().chain(params).cloned().collect();
                self.get(path, &all)
            }
            PageRequest::Url(url) => {
                let mut url = url.clone();
                let missing: Vec<&(String, String)> = query
                    .iter()
                    .filter(|(k, _)| !url.query_pairs().any(|(name, _)| name == *k))
                    .collect();
                if !missing.is_empty() {
                    url.query_pairs_mut().extend_pairs(missing);
                }
                self.get_url(url)
            }
        }
    }

    /// GET `url`, following up to [`MAX_REDIRECTS`] redirects (each a new
    /// request, which the host checks against the connector's grants) and
    /// retrying within the retry budget. Errors, each naming the URL with
    /// its secrets shown as `***`:
    /// - 401 / 403: auth (never with the credentials or the body);
    /// - 429 / 408 / 5xx once the retries are spent, or a transport error
    ///   that may pass: transient;
    /// - the host denied the request (`HttpRequestDenied`): config, saying
    ///   the URL is not granted;
    /// - other 4xx, too many redirects, a body over the size limit, a
    ///   request the transport refuses: config;
    /// - any other status that is no success: data.
    pub fn get_url(&mut self, url: Url) -> Result<Response> {
        let mut url = self.without_secrets(url);
        for _ in 0..=MAX_REDIRECTS {
            let reply = self.send(&url)?;
            let location = reply
                .header("location")
                .filter(|_| is_redirect(reply.status));
            let Some(location) = location else {
                return self.finish(url, reply);
            };
            let next = url.join(location).map_err(|e| {
                ConnectorError::data(format!(
                    "GET {}: HTTP {}: the Location is not a URL: {e}",
                    self.shown(&url),
                    reply.status
                ))
            })?;
            url = self.without_secrets(next);
        }
        Err(ConnectorError::config(format!(
            "GET {}: more than {MAX_REDIRECTS} redirects",
            self.shown(&url)
        )))
    }

    /// `url` without the secret query parameters (the client adds its own
    /// to requests of the base origin, and to no other).
    fn without_secrets(&self, mut url: Url) -> Url {
        let secret = |k: &str| self.secret_params.iter().any(|s| s == k);
        if url.query_pairs().any(|(k, _)| secret(&k)) {
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| !secret(k))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            url.set_query(None);
            if !kept.is_empty() {
                url.query_pairs_mut().extend_pairs(kept);
            }
        }
        url
    }

    /// Whether credentials go to `url`: it is of the base URL's origin.
    fn is_home(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }

    /// `url` as sent: with the credential query parameter, at home.
    fn sent_url(&self, url: &Url) -> Url {
        let mut url = url.clone();
        if let Some((name, value)) = self.auth.query().filter(|_| self.is_home(&url)) {
            url.query_pairs_mut().append_pair(name, value);
        }
        url
    }

    /// `url` as messages show it: as sent, its secrets replaced by `***`.
    fn shown(&self, url: &Url) -> String {
        self.redact(&self.sent_url(url))
    }

    /// The request for `url`: credentials added at home.
    fn request(&self, url: &Url) -> Request {
        let mut headers = self.headers.clone();
        if let Some((name, value)) = self.auth.header().filter(|_| self.is_home(url)) {
            headers.retain(|(n, _)| *n != name);
            headers.push((name, value));
        }
        Request {
            url: self.sent_url(url),
            headers,
            timeouts: self.timeouts,
            max_body: self.max_body,
        }
    }

    /// Send one request to `url` within the retry budget and the rate
    /// limit; the first reply that is not retried (or the last one).
    fn send(&mut self, url: &Url) -> Result<Reply> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConnectorError::config(format!(
                "GET {}: only http and https URLs can be fetched",
                self.shown(url)
            )));
        }
        let request = self.request(url);
        let backoff = Backoff::of(&self.retry);
        let mut attempt = 0;
        loop {
            let pause = self.limit.reserve(self.transport.now());
            if !pause.is_zero() {
                self.transport.sleep(pause);
            }
            let outcome = self.transport.send(&request);
            let (why, asked) = match &outcome {
                Ok(reply) if is_retryable(reply.status) => (
                    format!("HTTP {}", reply.status),
                    reply
                        .header("retry-after")
                        .and_then(|v| retry_after(v, SystemTime::now())),
                ),
                Err(TransportError::Retryable(message)) => (message.clone(), None),
                _ => return self.settle(url, outcome),
            };
            if attempt >= self.retry.max_retries {
                return Err(self.exhausted(url, outcome, attempt));
            }
            let delay = self.delay(url, &backoff, attempt, asked)?;
            log(
                Level::Info,
                &format!(
                    "GET {}: {why}; retry {} of {} in {} ms",
                    self.shown(url),
                    attempt + 1,
                    self.retry.max_retries,
                    delay.as_millis()
                ),
            );
            self.transport.sleep(delay);
            attempt += 1;
        }
    }

    /// How long to wait before retry `attempt`: what the server asked
    /// (`Retry-After`), else the jittered backoff. A server asking for more
    /// than the budget's largest delay fails the request as transient.
    fn delay(
        &mut self,
        url: &Url,
        backoff: &Backoff,
        attempt: u32,
        asked: Option<Duration>,
    ) -> Result<Duration> {
        match asked {
            Some(wait) if wait > backoff.max() => Err(ConnectorError::transient(format!(
                "GET {}: the server asks to retry after {} s, longer than the retry budget's largest delay ({} ms)",
                self.shown(url),
                wait.as_secs(),
                backoff.max().as_millis()
            ))),
            Some(wait) => Ok(wait),
            None => Ok(backoff.delay(attempt, self.transport.random())),
        }
    }

    /// A reply or transport error that is not retried, as the result.
    fn settle(&self, url: &Url, outcome: Result<Reply, TransportError>) -> Result<Reply> {
        let shown = self.shown(url);
        match outcome {
            Ok(reply) => Ok(reply),
            Err(TransportError::Denied) => Err(ConnectorError::config(format!(
                "the host denied the request to {shown}: it is not granted to this connector"
            ))),
            Err(TransportError::BodyTooLarge) => Err(ConnectorError::config(format!(
                "GET {shown}: the response body is larger than the limit of {} bytes",
                self.max_body
            ))),
            Err(TransportError::Fatal(message) | TransportError::Retryable(message)) => Err(
                ConnectorError::config(format!("GET {shown}: {}", self.scrub(&message))),
            ),
        }
    }

    /// The error of a request whose retries are spent.
    fn exhausted(
        &self,
        url: &Url,
        outcome: Result<Reply, TransportError>,
        retries: u32,
    ) -> ConnectorError {
        let shown = self.shown(url);
        let mut error = match outcome {
            Ok(reply) => status_error(reply.status, &shown, &self.body_text(&reply)),
            Err(e) => {
                let message = match e {
                    TransportError::Retryable(m) | TransportError::Fatal(m) => m,
                    other => format!("{other:?}"),
                };
                ConnectorError::transient(format!("GET {shown}: {}", self.scrub(&message)))
            }
        };
        if retries > 0 {
            error
                .message
                .push_str(&format!(" (after {retries} retries)"));
        }
        error
    }

    /// A final reply: the response if it is a success, else its error.
    fn finish(&self, url: Url, reply: Reply) -> Result<Response> {
        let shown = self.shown(&url);
        if !(200..300).contains(&reply.status) {
            return Err(status_error(reply.status, &shown, &self.body_text(&reply)));
        }
        Ok(Response {
            url,
            shown,
            status: reply.status,
            headers: reply.headers,
            body: reply.body,
        })
    }

    /// A reply's body as text for messages, scrubbed of the credentials.
    fn body_text(&self, reply: &Reply) -> String {
        self.scrub(&String::from_utf8_lossy(&reply.body))
    }

    /// `text` with every secret of the credentials replaced by `***`.
    fn scrub(&self, text: &str) -> String {
        self.auth
            .secrets()
            .iter()
            .fold(text.to_string(), |t, s| t.replace(s.as_str(), HIDDEN))
    }
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        first_header(&self.headers, name)
    }

    /// Every `Link` header, joined with `, ` (one value, as RFC 8288 allows).
    pub fn link(&self) -> Option<String> {
        let links: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("link"))
            .map(|(_, v)| v.as_str())
            .collect();
        (!links.is_empty()).then(|| links.join(", "))
    }

    /// The body as JSON; a data error naming the URL if it is not.
    pub fn json(&self) -> Result<Value> {
        serde_json::from_slice(&self.body)
            .map_err(|e| self.data_error(&format!("the body is not JSON: {e}")))
    }

    /// What a [`Pager`](super::Pager) needs of this page: its URL, `Link`
    /// header, parsed `body` and how many `records` it held.
    pub fn page<'a>(&'a self, body: &'a Value, records: usize) -> Page<'a> {
        Page {
            url: &self.url,
            shown: &self.shown,
            link: self.link(),
            body,
            records,
        }
    }

    /// A data error about this response: `GET <url>: <message>`.
    pub fn data_error(&self, message: &str) -> ConnectorError {
        ConnectorError::data(format!("GET {}: {message}", self.shown))
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
