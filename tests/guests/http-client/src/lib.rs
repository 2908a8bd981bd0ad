//! A source whose `check` sends one HTTP GET through
//! `wasi:http/outgoing-handler` to whatever URL its config names, and
//! reports the status and body as its error value (so tests can read it).
//! The host must refuse any URL the pipeline did not grant, before
//! anything is sent.

use serde::Deserialize;
use serde_json::json;
use sluice_guest::{
    Catalog, ConfiguredCatalog, Connector, ConnectorError, Message, Reader, Result, Source, Spec,
    State,
};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, OutgoingRequest, Scheme};

pub struct HttpClient;

#[derive(Deserialize)]
pub struct Config {
    /// `http://host:port/path`.
    url: String,
}

impl Connector for HttpClient {
    type Config = Config;

    fn spec() -> Spec {
        Spec::source(
            "http-client",
            "0.0.0",
            json!({"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}}),
        )
    }

    fn check(config: &Config) -> Result<()> {
        let outcome = get(&config.url)?;
        Err(ConnectorError::data(format!("outcome: {outcome}")))
    }

    fn discover(_: &Config) -> Result<Catalog> {
        Ok(Catalog::default())
    }
}

/// GET `url`: `"<status> <body>"`, or the error the host gave.
fn get(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| ConnectorError::config("only http:// URLs"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let request = OutgoingRequest::new(Fields::new());
    let path = format!("/{path}");
    request
        .set_scheme(Some(&Scheme::Http))
        .and_then(|()| request.set_authority(Some(authority)))
        .and_then(|()| request.set_path_with_query(Some(&path)))
        .map_err(|()| ConnectorError::config("bad request"))?;
    let failed = |e: String| ConnectorError::transient(format!("request failed: {e}"));
    let future = outgoing_handler::handle(request, None).map_err(|e| failed(format!("{e:?}")))?;
    future.subscribe().block();
    let response = future
        .get()
        .ok_or_else(|| failed("no response".into()))?
        .map_err(|()| failed("response taken twice".into()))?
        .map_err(|e| failed(format!("{e:?}")))?;
    let status = response.status();
    let body = response.consume().map_err(|()| failed("no body".into()))?;
    let stream = body
        .stream()
        .map_err(|()| failed("no body stream".into()))?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => bytes.extend(chunk),
            Err(wasip2::io::streams::StreamError::Closed) => break,
            Err(e) => return Err(failed(format!("body: {e:?}"))),
        }
    }
    Ok(format!("{status} {}", String::from_utf8_lossy(&bytes)))
}

pub struct Nothing;

impl Reader for Nothing {
    fn next(&mut self) -> Result<Option<Vec<Message>>> {
        Ok(None)
    }
}

impl Source for HttpClient {
    type Reader = Nothing;
    fn read(_: Config, _: ConfiguredCatalog, _: State) -> Result<Nothing> {
        Ok(Nothing)
    }
}

sluice_guest::export_source!(HttpClient);
