//! The server value: the listening socket, the thread and runtime serving
//! it, and what tests read back (the dataset, the request log).

use crate::dataset::MAX_ORDERS_PER_USER;
use crate::log::LoggedRequest;
use crate::service::Shared;
use crate::stall::Stall;
use crate::{Error, Options, tls};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

/// A running server on `127.0.0.1`, stopped when dropped.
///
/// With [`Options::token`] set to `T`, a request gets in when it carries
/// `T` in any one of: `Authorization: Bearer T`; `X-Api-Key: T`; the query
/// parameter `api_key=T`; `Authorization: Basic base64("sluice:T")`.
#[derive(Debug)]
pub struct HttpServer {
    shared: Arc<Shared>,
    port: u16,
    /// The CA a client must trust, when serving HTTPS.
    ca_pem: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Binds `127.0.0.1:options.port` (0: a free port) and starts serving on
    /// a background thread with its own tokio runtime.
    pub fn start(options: Options) -> Result<HttpServer, Error> {
        check(&options)?;
        let bind = |source| Error::Bind {
            port: options.port,
            source,
        };
        let listener =
            std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, options.port)))
                .map_err(bind)?;
        listener.set_nonblocking(true).map_err(bind)?;
        let port = listener.local_addr().map_err(bind)?.port();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| Error::Runtime {
                what: "runtime",
                source,
            })?;
        let listener = {
            let _context = runtime.enter();
            TcpListener::from_std(listener).map_err(bind)?
        };
        let identity = options.tls.then(tls::identity).transpose()?;
        let scheme = if options.tls { "https" } else { "http" };
        let ca_pem = identity.as_ref().map(|i| i.ca_pem.clone());
        let acceptor = identity.map(|i| i.acceptor);
        let shared = Arc::new(Shared {
            base_url: format!("{scheme}://127.0.0.1:{port}"),
            users: AtomicU64::new(options.users as u64),
            count: AtomicU64::new(0),
            log: Default::default(),
            options,
        });
        let (stop, stopped) = oneshot::channel();
        let serving = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("sluice-http-server-{port}"))
            .spawn(move || runtime.block_on(serve(listener, acceptor, serving, stopped)))
            .map_err(|source| Error::Runtime {
                what: "thread",
                source,
            })?;
        Ok(HttpServer {
            shared,
            port,
            ca_pem,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT` (`https://` with [`Options::tls`]), without
    /// a trailing slash.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The PEM certificate of the CA that signed the server's certificate,
    /// when it serves HTTPS: what a client must trust.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request so far, in arrival order (empty when
    /// [`Options::keep_log`] is off).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.log().clone()
    }

    /// Forgets the requests logged so far. The fault cadence keeps
    /// counting: it counts every request since start.
    pub fn clear_log(&self) {
        self.shared.log().clear();
    }

    /// Appends `k` users (with their orders), each updated after every
    /// user before it: what an incremental second run should find.
    pub fn add_users(&self, k: usize) {
        self.shared.users.fetch_add(k as u64, Ordering::SeqCst);
    }

    /// Every user the server now serves, in `updated_at` order.
    pub fn users(&self) -> Vec<Value> {
        self.shared.dataset().all_users()
    }

    /// Every order the server now serves, in `updated_at` order.
    pub fn orders(&self) -> Vec<Value> {
        self.shared.dataset().all_orders()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Rejects options the server cannot honour.
fn check(options: &Options) -> Result<(), Error> {
    let invalid = |reason: &str| {
        Err(Error::InvalidOptions {
            reason: reason.to_owned(),
        })
    };
    if options.orders_per_user > MAX_ORDERS_PER_USER {
        return invalid("orders_per_user is at most 99 (an order's id is user * 100 + k)");
    }
    if options.per_page == 0 {
        return invalid("per_page must be at least 1");
    }
    if options.rate_limit_every == Some(0) || options.fail_every == Some(0) {
        return invalid("rate_limit_every and fail_every must be at least 1");
    }
    Ok(())
}

/// Accepts connections until told to stop; dropping the runtime afterwards
/// ends the connections still open.
async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let shared = shared.clone();
                    match tls.clone() {
                        None => tokio::spawn(connection(stream, shared)),
                        Some(tls) => tokio::spawn(async move {
                            // A client that does not trust us hangs up here.
                            if let Ok(stream) = tls.accept(stream).await {
                                connection(stream, shared).await;
                            }
                        }),
                    };
                }
                // Out of file descriptors, or a connection reset before
                // accept: wait a moment rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

/// Serves one connection (keep-alive: many requests) until the client
/// closes it.
async fn connection<S>(stream: S, shared: Arc<Shared>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let service = service_fn(move |request| {
        let mut answer = shared.handle(&request);
        let stall = answer.extensions_mut().remove::<Stall>();
        async move {
            if let Some(Stall(wait)) = stall {
                tokio::time::sleep(wait).await;
            }
            Ok::<_, Infallible>(answer)
        }
    });
    // A client that hangs up mid-request is its own business.
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}
