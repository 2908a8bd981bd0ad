//! The transport of a component: `wasi:http/outgoing-handler` for
//! requests, `wasi:clocks/monotonic-clock` for time and sleep,
//! `wasi:random` for jitter.

use super::Timeouts;
use super::transport::{Reply, Request, Transport, TransportError};
use std::time::Duration;
use url::Position;
use wasip2::clocks::monotonic_clock;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, IncomingResponse, Method, OutgoingRequest, RequestOptions,
    Scheme,
};
use wasip2::io::streams::StreamError;

/// Bytes asked of the body stream per read.
const CHUNK: u64 = 64 * 1024;

/// The host's `wasi:http`.
pub(crate) struct WasiHttp;

impl Transport for WasiHttp {
    fn send(&mut self, request: &Request) -> Result<Reply, TransportError> {
        let outgoing = outgoing(request)?;
        let future = outgoing_handler::handle(outgoing, Some(options(&request.timeouts)))
            .map_err(|e| code_error(&e))?;
        future.subscribe().block();
        let response = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(code_error(&code)),
            Some(Err(())) | None => {
                return Err(TransportError::Retryable("the response was lost".into()));
            }
        };
        let status = response.status();
        let headers: Vec<(String, String)> = response
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
            .collect();
        let declared = super::transport::first_header(&headers, "content-length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > request.max_body) {
            return Err(TransportError::BodyTooLarge);
        }
        let body = read_body(&response, request.max_body)?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    fn sleep(&mut self, duration: Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        monotonic_clock::subscribe_duration(nanos).block();
    }

    fn now(&mut self) -> Duration {
        Duration::from_nanos(monotonic_clock::now())
    }

    fn random(&mut self) -> u64 {
        wasip2::random::random::get_random_u64()
    }
}

/// The outgoing request of `request`: GET, its URL's scheme, authority
/// and path with query, its headers.
fn outgoing(request: &Request) -> Result<OutgoingRequest, TransportError> {
    let url = &request.url;
    let entries: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), value.as_bytes().to_vec()))
        .collect();
    let fields = Fields::from_list(&entries)
        .map_err(|e| TransportError::Fatal(format!("the host refused a request header: {e:?}")))?;
    let outgoing = OutgoingRequest::new(fields);
    let scheme = match url.scheme() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_string()),
    };
    let host = url.host_str().unwrap_or_default();
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let path = &url[Position::BeforePath..Position::AfterQuery];
    outgoing
        .set_method(&Method::Get)
        .and_then(|()| outgoing.set_scheme(Some(&scheme)))
        .and_then(|()| outgoing.set_authority(Some(&authority)))
        .and_then(|()| outgoing.set_path_with_query(Some(path)))
        .map_err(|()| TransportError::Fatal("the URL is not one wasi:http can send".into()))?;
    Ok(outgoing)
}

/// Request options carrying the timeouts the config sets (a host that
/// does not support one keeps its own).
fn options(timeouts: &Timeouts) -> RequestOptions {
    let options = RequestOptions::new();
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    if let Some(d) = timeouts.connect() {
        let _ = options.set_connect_timeout(Some(nanos(d)));
    }
    if let Some(d) = timeouts.first_byte() {
        let _ = options.set_first_byte_timeout(Some(nanos(d)));
    }
    if let Some(d) = timeouts.between_bytes() {
        let _ = options.set_between_bytes_timeout(Some(nanos(d)));
    }
    options
}

/// The whole body of `response`, failing once it passes `limit` bytes.
fn read_body(response: &IncomingResponse, limit: u64) -> Result<Vec<u8>, TransportError> {
    let body = response
        .consume()
        .map_err(|()| TransportError::Fatal("the response body was taken already".into()))?;
    let mut data = Vec::new();
    {
        let stream = body
            .stream()
            .map_err(|()| TransportError::Fatal("the response body has no stream".into()))?;
        loop {
            match stream.blocking_read(CHUNK) {
                Ok(chunk) => {
                    if data.len() as u64 + chunk.len() as u64 > limit {
                        return Err(TransportError::BodyTooLarge);
                    }
                    data.extend_from_slice(&chunk);
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(match wasip2::http::types::http_error_code(&e) {
                        Some(code) => code_error(&code),
                        None => TransportError::Retryable(format!(
                            "reading the body failed: {}",
                            e.to_debug_string()
                        )),
                    });
                }
            }
        }
    }
    drop(IncomingBody::finish(body));
    Ok(data)
}

/// The transport error of a `wasi:http` error code.
fn code_error(code: &ErrorCode) -> TransportError {
    use ErrorCode as E;
    let retry = |m: &str| TransportError::Retryable(m.to_string());
    let fatal = |m: &str| TransportError::Fatal(m.to_string());
    match code {
        E::HttpRequestDenied => TransportError::Denied,
        E::HttpResponseBodySize(_) => TransportError::BodyTooLarge,
        E::DnsTimeout => retry("the name lookup timed out"),
        E::DnsError(e) => TransportError::Retryable(format!(
            "the name lookup failed: {}",
            e.rcode.as_deref().unwrap_or("no answer")
        )),
        E::DestinationNotFound => retry("the host was not found"),
        E::DestinationUnavailable => retry("the host is unavailable"),
        E::ConnectionRefused => retry("the connection was refused"),
        E::ConnectionTerminated => retry("the connection was closed"),
        E::ConnectionTimeout => retry("connecting timed out"),
        E::ConnectionReadTimeout | E::HttpResponseTimeout => retry("the response timed out"),
        E::ConnectionWriteTimeout => retry("sending the request timed out"),
        E::ConnectionLimitReached => retry("too many connections"),
        E::HttpResponseIncomplete => retry("the response broke off"),
        E::HttpProtocolError => retry("the server broke the HTTP protocol"),
        E::InternalError(m) => TransportError::Retryable(format!(
            "the host's HTTP client failed: {}",
            m.as_deref().unwrap_or("no detail")
        )),
        E::DestinationIpProhibited | E::DestinationIpUnroutable => {
            fatal("the host may not connect to that address")
        }
        E::TlsProtocolError | E::TlsCertificateError | E::TlsAlertReceived(_) => {
            fatal("the TLS handshake failed")
        }
        other => TransportError::Fatal(format!("the request failed: {other:?}")),
    }
}
