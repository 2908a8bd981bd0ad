//! One request from arrival to answer: count it, answer the faults due on
//! this count, check the token, route it, log it.
//!
//! The order is fixed: the n-th request is rate limited (429) when
//! `rate_limit_every` divides n, otherwise failed (503) when `fail_every`
//! divides n, otherwise refused (401) without the token, otherwise routed.

use crate::auth;
use crate::log::{LoggedRequest, redact_query, redact_token};
use crate::query::Query;
use crate::routes::{self, Body, Ctx};
use crate::{Options, dataset::Dataset};
use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

/// What every request of one server shares.
#[derive(Debug)]
pub struct Shared {
    /// The options it was started with.
    pub options: Options,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// How many users there are now.
    pub users: AtomicU64,
    /// How many requests have arrived.
    pub count: AtomicU64,
    /// Every request so far (when the options keep a log).
    pub log: Mutex<Vec<LoggedRequest>>,
}

impl Shared {
    /// The dataset as it is now.
    pub fn dataset(&self) -> Dataset {
        Dataset {
            users: self.users.load(Ordering::SeqCst),
            orders_per_user: self.options.orders_per_user as u64,
        }
    }

    /// The log, even if a thread panicked holding it.
    pub fn log(&self) -> std::sync::MutexGuard<'_, Vec<LoggedRequest>> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer to `request`, logged.
    pub fn handle<B>(&self, request: &Request<B>) -> Response<Body> {
        let at = SystemTime::now();
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let response = self.answer(n, request);
        if self.options.keep_log {
            let entry = self.entry(request, response.status(), at);
            self.log().push(entry);
        }
        response
    }

    fn answer<B>(&self, n: u64, request: &Request<B>) -> Response<Body> {
        let due =
            |every: Option<u32>| every.is_some_and(|e| e > 0 && n.is_multiple_of(u64::from(e)));
        if due(self.options.rate_limit_every) {
            let mut response = routes::error(StatusCode::TOO_MANY_REQUESTS, "rate limited");
            let retry = HeaderValue::from(self.options.retry_after_secs);
            response.headers_mut().insert(RETRY_AFTER, retry);
            return response;
        }
        if due(self.options.fail_every) {
            return routes::error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
        }
        let query = Query::parse(request.uri().query());
        if let Some(token) = &self.options.token
            && !auth::authorized(token, request.headers(), &query)
        {
            return routes::error(StatusCode::UNAUTHORIZED, "unauthorized");
        }
        if request.method() != Method::GET {
            return routes::error(StatusCode::METHOD_NOT_ALLOWED, "only GET is served");
        }
        let ctx = Ctx {
            data: self.dataset(),
            base_url: &self.base_url,
            per_page: self.options.per_page as u64,
        };
        routes::route(&ctx, request.uri().path(), &query)
    }

    fn entry<B>(&self, request: &Request<B>, status: StatusCode, at: SystemTime) -> LoggedRequest {
        let token = self.options.token.as_deref();
        LoggedRequest {
            method: request.method().to_string(),
            path: redact_token(request.uri().path(), token),
            query: request.uri().query().map(|q| redact_query(q, token)),
            header_names: request.headers().keys().map(|k| k.to_string()).collect(),
            status: status.as_u16(),
            at,
        }
    }
}
