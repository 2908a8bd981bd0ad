//! Where a [`Client`](super::Client) meets the host: one request out, one
//! reply in, plus the clock and randomness retries need.
//!
//! In a component the transport is `wasi:http/outgoing-handler`, sleeping
//! on `wasi:clocks/monotonic-clock` and drawing from `wasi:random`.
//! Natively there is no `wasi:http`: tests install a transport of their
//! own for the thread ([`set_native_transport`]); without one, requests
//! fail with a config error saying so.

use super::Timeouts;
use std::time::Duration;
use url::Url;

/// One GET request as the transport sends it: the URL (credentials
/// already in it, if they travel in the query), the headers, the
/// timeouts, and the largest body to accept.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// The URL, query included.
    pub url: Url,
    /// Header names (lower-case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// Timeouts for the host.
    pub timeouts: Timeouts,
    /// Stop reading a body past this many bytes.
    pub max_body: u64,
}

impl Request {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        first_header(&self.headers, name)
    }
}

/// What came back: the status, the headers and the whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status code.
    pub status: u16,
    /// Header names and values, in order (names as the host gives them).
    pub headers: Vec<(String, String)>,
    /// The body, read to its end.
    pub body: Vec<u8>,
}

impl Reply {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        first_header(&self.headers, name)
    }
}

pub(crate) fn first_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Why a request got no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The host refused to send it: the URL is not granted to the connector.
    Denied,
    /// It may pass: the connection failed, timed out or broke off.
    Retryable(String),
    /// It will not pass: the request is malformed, TLS failed, or the
    /// destination is prohibited.
    Fatal(String),
    /// The body grew past the request's `max_body`.
    BodyTooLarge,
}

/// Sends requests and keeps time: the host's `wasi:http` in a component,
/// anything a test likes natively.
pub trait Transport {
    /// Send `request` and read its reply's body to the end (failing with
    /// [`TransportError::BodyTooLarge`] past `request.max_body` bytes).
    fn send(&mut self, request: &Request) -> Result<Reply, TransportError>;

    /// Block for `duration`.
    fn sleep(&mut self, duration: Duration);

    /// Monotonic time since some fixed start.
    fn now(&mut self) -> Duration;

    /// A random number (for jitter).
    fn random(&mut self) -> u64;
}

/// The transport of a new client: the host's `wasi:http` in a component.
#[cfg(target_arch = "wasm32")]
pub(crate) fn default_transport() -> Box<dyn Transport> {
    Box::new(super::wasi::WasiHttp)
}

/// The transport of a new client: natively, the one this thread installed
/// with [`set_native_transport`], else one that refuses every request.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn default_transport() -> Box<dyn Transport> {
    native::make()
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::set_native_transport;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::Instant;

    type Factory = Rc<dyn Fn() -> Box<dyn Transport>>;

    thread_local! {
        static FACTORY: RefCell<Option<Factory>> = const { RefCell::new(None) };
    }

    /// Natively, every [`Client`](crate::http::Client) this thread creates
    /// from now on sends through a transport `factory` makes (a fake API
    /// in tests). There is no `wasi:http` outside a component.
    pub fn set_native_transport(factory: impl Fn() -> Box<dyn Transport> + 'static) {
        FACTORY.with(|f| *f.borrow_mut() = Some(Rc::new(factory)));
    }

    pub(super) fn make() -> Box<dyn Transport> {
        match FACTORY.with(|f| f.borrow().clone()) {
            Some(factory) => factory(),
            None => Box::new(Unavailable {
                start: Instant::now(),
                seed: 0x9e37_79b9_7f4a_7c15,
            }),
        }
    }

    /// No `wasi:http` natively: every request is refused; time and
    /// randomness are the process's.
    struct Unavailable {
        start: Instant,
        seed: u64,
    }

    impl Transport for Unavailable {
        fn send(&mut self, _: &Request) -> Result<Reply, TransportError> {
            Err(TransportError::Fatal(
                "wasi:http is only there inside a component (natively, install a transport with set_native_transport)".into(),
            ))
        }

        fn sleep(&mut self, duration: Duration) {
            std::thread::sleep(duration);
        }

        fn now(&mut self) -> Duration {
            self.start.elapsed()
        }

        fn random(&mut self) -> u64 {
            // splitmix64: jitter needs spread, not secrecy.
            self.seed = self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
    }
}
