//! Sending one request the egress check let through: TCP within the
//! connect timeout, TLS for `https` with the instance's trust ([`Tls`]:
//! the system's roots and the pipeline's CA bundle), HTTP/1.1 over hyper,
//! the first byte and every gap between body bytes within their timeouts
//! (each reported as the [`Timeout`] that ran out, so the error can name
//! its limit). One connection per request; a guest that follows a redirect
//! makes a new request, checked again.

use super::tls::Tls;
use bytes::Bytes;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

/// The connection's own work, driven by wasi:http after the response.
pub(crate) type Io = Box<dyn Future<Output = Result<(), HttpError>> + Send>;

/// A TLS handshake that failed: the server and why, for the error the
/// connector's call ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsFailure {
    /// `host:port`.
    pub(crate) server: String,
    /// What rustls said.
    pub(crate) reason: String,
}

/// A timeout of one request, as wasi:http's request options hold them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timeout {
    /// TCP connect, the TLS handshake and the HTTP handshake.
    Connect,
    /// From the request sent to the response's head.
    FirstByte,
    /// Between two parts of the response body.
    BetweenBytes,
}

impl Timeout {
    /// What wasi:http tells the guest.
    pub(crate) fn error(self) -> HttpError {
        match self {
            Timeout::Connect => HttpError::ConnectionTimeout,
            Timeout::FirstByte | Timeout::BetweenBytes => HttpError::ConnectionReadTimeout,
        }
    }
}

/// A byte stream of either kind.
trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// Send `request` (absolute URI) within `options`' timeouts. A failed TLS
/// handshake and a timeout are returned as their own errors so the caller
/// can name them.
pub(crate) async fn send(
    mut request: http::Request<WasiBody>,
    options: RequestOptions,
    tls: &Tls,
) -> Result<(http::Response<ResponseBody>, Io), SendError> {
    let uri = request.uri().clone();
    let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let host = uri.host().ok_or(HttpError::HttpRequestUriInvalid)?;
    let host = host.trim_matches(['[', ']']).to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let connect = options.connect_timeout.unwrap_or(Duration::from_secs(10));
    let tcp = tokio::time::timeout(connect, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| SendError::Timeout(Timeout::Connect))?
        .map_err(HttpError::Connect)?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Stream> = if https {
        Box::new(handshake_tls(tcp, &host, port, connect, tls).await?)
    } else {
        Box::new(tcp)
    };
    let (mut sender, conn) = tokio::time::timeout(
        connect,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| SendError::Timeout(Timeout::Connect))?
    .map_err(HttpError::from)?;
    let conn = tokio::spawn(conn);
    // The request line carries the path only (no proxy in between).
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = path.parse().map_err(|_| HttpError::HttpRequestUriInvalid)?;
    let first_byte = options
        .first_byte_timeout
        .unwrap_or(Duration::from_secs(60));
    let response = tokio::time::timeout(first_byte, sender.send_request(request))
        .await
        .map_err(|_| SendError::Timeout(Timeout::FirstByte))?
        .map_err(HttpError::from)?;
    let gap = options
        .between_bytes_timeout
        .unwrap_or(Duration::from_secs(60))
        .max(Duration::from_nanos(1));
    let io: Io = Box::new(async move {
        match conn.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) if e.is_timeout() => Err(HttpError::HttpResponseTimeout),
            Ok(Err(e)) => Err(HttpError::from(e)),
            Err(e) => Err(HttpError::InternalError(Some(e.to_string()))),
        }
    });
    Ok((
        response.map(|incoming| ResponseBody::new(incoming, gap)),
        io,
    ))
}

/// Why a send failed.
#[derive(Debug)]
pub(crate) enum SendError {
    /// Anything before or after the handshake, as wasi:http reports it.
    Http(HttpError),
    /// The TLS handshake failed.
    Tls(TlsFailure),
    /// A timeout ran out before the response's head came.
    Timeout(Timeout),
}

impl From<HttpError> for SendError {
    fn from(e: HttpError) -> Self {
        SendError::Http(e)
    }
}

/// The TLS handshake with `host`, verified against `tls`'s roots.
async fn handshake_tls(
    tcp: TcpStream,
    host: &str,
    port: u16,
    within: Duration,
    tls: &Tls,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, SendError> {
    let failure = |reason: String| {
        SendError::Tls(TlsFailure {
            server: format!("{host}:{port}"),
            reason,
        })
    };
    let config = tls.config().map_err(failure)?;
    let name = rustls::pki_types::ServerName::try_from(host)
        .map_err(|e| failure(format!("`{host}` is not a valid server name: {e}")))?
        .to_owned();
    let connector = tokio_rustls::TlsConnector::from(config);
    tokio::time::timeout(within, connector.connect(name, tcp))
        .await
        .map_err(|_| SendError::Timeout(Timeout::Connect))?
        .map_err(|e| failure(e.to_string()))
}

/// A response body whose every gap between frames is bounded: a gap that
/// runs out is the body's only `ConnectionReadTimeout` (hyper's own errors
/// are `HttpError::Hyper`), which is how [`super::egress`] tells it apart.
pub(crate) struct ResponseBody {
    incoming: hyper::body::Incoming,
    gap: tokio::time::Interval,
}

impl ResponseBody {
    fn new(incoming: hyper::body::Incoming, gap: Duration) -> Self {
        let mut gap = tokio::time::interval(gap);
        gap.reset();
        ResponseBody { incoming, gap }
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, HttpError>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) if e.is_timeout() => {
                Poll::Ready(Some(Err(HttpError::HttpResponseTimeout)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(HttpError::from(e)))),
            Poll::Ready(Some(Ok(frame))) => {
                self.gap.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(self.gap.poll_tick(cx));
                Poll::Ready(Some(Err(Timeout::BetweenBytes.error())))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}
