//! A source whose `check` sends an HTTP request through
//! `wasi:http/outgoing-handler`, to whatever host its config names. sluice
//! grants no HTTP interface, so the component must be refused on load,
//! naming the import, before it can send anything.

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
    host: String,
}

impl Connector for HttpClient {
    type Config = Config;

    fn spec() -> Spec {
        Spec::source(
            "http-client",
            "0.0.0",
            json!({"type": "object", "required": ["host"], "properties": {"host": {"type": "string"}}}),
        )
    }

    fn check(config: &Config) -> Result<()> {
        let request = OutgoingRequest::new(Fields::new());
        request
            .set_scheme(Some(&Scheme::Http))
            .and_then(|()| request.set_authority(Some(&config.host)))
            .map_err(|()| ConnectorError::config("bad request"))?;
        outgoing_handler::handle(request, None)
            .map(|_| ())
            .map_err(|e| ConnectorError::transient(format!("request failed: {e:?}")))
    }

    fn discover(_: &Config) -> Result<Catalog> {
        Ok(Catalog::default())
    }
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
