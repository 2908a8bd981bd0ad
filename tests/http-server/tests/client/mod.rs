//! A plain HTTP/1.1 client for the tests: hyper's client side, one
//! connection per request, nothing of the server's code.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::{HeaderMap, Request, Uri};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// `GET url` with `headers`, from async code.
pub async fn get_async(url: &str, headers: &[(&str, &str)]) -> Reply {
    let uri: Uri = url.parse().expect("a URL");
    let host = uri.host().expect("a host").to_owned();
    let port = uri.port_u16().expect("a port");
    let stream = TcpStream::connect((host.as_str(), port))
        .await
        .expect("the server accepts");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = Request::get(target).header("host", format!("{host}:{port}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Empty::<Bytes>::new()).expect("a request");
    let response = sender.send_request(request).await.expect("a response");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

/// `GET url` with `headers`, from sync code.
pub fn get_with(url: &str, headers: &[(&str, &str)]) -> Reply {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(get_async(url, headers))
}

/// `GET url`.
pub fn get(url: &str) -> Reply {
    get_with(url, &[])
}
