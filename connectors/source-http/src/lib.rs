//! `source-http`: a declarative REST source. Each configured stream is one
//! list endpoint of an HTTP API (JSON bodies), read through the host's
//! `wasi:http` with the SDK's client ([`sluice_guest::http`]): credentials
//! (bearer, header, query parameter, basic), timeouts, retries with
//! backoff and `Retry-After`, redirects, a rate limit.
//!
//! - Pagination: page numbers, offsets, cursors in the body, next URLs in
//!   the body, `Link` headers, or none; every style stops at an empty page.
//! - Records are found at `records_path` in each body.
//! - A child stream (`parent`) calls its endpoint once per record of its
//!   parent stream, filling the path's `{field}` placeholders from it.
//! - Incremental streams send their bookmark (the largest `cursor_field`
//!   value seen) as a query parameter and save it in the stream's state;
//!   a child's bookmark is one value over all its parents. See
//!   [`bookmark`](crate::bookmark) for when it moves.
//! - A stream without a declared `schema` has one inferred from its
//!   records (from the first page in `discover`, widened as pages arrive
//!   in `read`) and registered before the records it covers.
//!
//! `check` fetches the first page of the first stream, so wrong
//! credentials or an ungranted host surface there.

pub mod bookmark;
pub mod config;
pub mod infer;
pub mod pages;
pub mod stream;

use config::{Config, typed_schema};
use infer::Inferred;
use pages::Walk;
use sluice_guest::http::Client;
use sluice_guest::{
    Capabilities, Catalog, ConfiguredCatalog, Connector, ConnectorError, Result, Source, Spec,
    State, StreamInfo, Streams, SyncMode,
};
use std::cell::RefCell;
use std::rc::Rc;
pub use stream::HttpStream;

/// Pages `discover` looks at for records to infer a schema from.
const INFER_PAGES: usize = 10;

/// The source-http connector.
pub struct HttpSource;

/// Reads the configured streams one after another.
pub type HttpReader = Streams<HttpStream>;

impl Connector for HttpSource {
    type Config = Config;

    fn spec() -> Spec {
        let mut spec = Spec::source(
            "source-http",
            env!("CARGO_PKG_VERSION"),
            config::config_schema(),
        );
        spec.sync_modes = vec![SyncMode::FullRefresh, SyncMode::Incremental];
        spec.capabilities = Capabilities {
            hosts: vec![
                "the host:port of `base_url` (and of any URL a redirect or a next link leads to)"
                    .into(),
            ],
            ..Capabilities::default()
        };
        spec.documentation = Some(
            "A declarative REST source: one stream per list endpoint; page-number, offset, cursor, \
             next-URL and Link-header pagination; bearer, header, query and basic auth; child \
             streams per parent record; incremental reads by a bookmark query parameter."
                .into(),
        );
        spec
    }

    fn check(config: &Config) -> Result<()> {
        config.validate()?;
        let mut client = config.client()?;
        let Some(first) = config.streams.first() else {
            return Err(ConnectorError::config("no stream is configured"));
        };
        Walk::new(config, &first.name, None)?.next_page(&mut client)?;
        Ok(())
    }

    fn discover(config: &Config) -> Result<Catalog> {
        config.validate()?;
        let mut client = config.client()?;
        let streams = config
            .streams
            .iter()
            .map(|s| stream_info(config, s, &mut client))
            .collect::<Result<_>>()?;
        Ok(Catalog { streams })
    }
}

/// What discover says of one stream: its schema (declared, or inferred
/// from its first records), key and cursor.
fn stream_info(
    config: &Config,
    stream: &config::StreamConfig,
    client: &mut Client,
) -> Result<StreamInfo> {
    let schema = match &stream.schema {
        Some(schema) => schema.clone(),
        None => infer_first_records(config, &stream.name, client)?,
    };
    typed_schema(&stream.name, &schema)?;
    let mut info = StreamInfo::new(&stream.name, schema);
    info.primary_key = stream.primary_key.clone();
    info.sync_modes = vec![SyncMode::FullRefresh];
    if let Some(inc) = &stream.incremental {
        info.sync_modes.push(SyncMode::Incremental);
        info.cursor_candidates = vec![inc.cursor_field.clone()];
        info.default_cursor = Some(inc.cursor_field.clone());
    }
    Ok(info)
}

/// The schema of the first page with records (among the first few).
fn infer_first_records(
    config: &Config,
    name: &str,
    client: &mut Client,
) -> Result<serde_json::Value> {
    let mut walk = Walk::new(config, name, None)?;
    let mut inferred = Inferred::default();
    for _ in 0..INFER_PAGES {
        let Some(page) = walk.next_page(client)? else {
            break;
        };
        inferred.observe(&page.records);
        if !inferred.is_empty() {
            break;
        }
    }
    Ok(inferred.json_schema())
}

impl Source for HttpSource {
    type Reader = HttpReader;

    fn read(config: Config, catalog: ConfiguredCatalog, state: State) -> Result<HttpReader> {
        config.validate()?;
        // One client for every stream: one rate limit over all requests.
        let client = Rc::new(RefCell::new(config.client()?));
        Streams::open(catalog, |stream| {
            HttpStream::open(&config, client.clone(), stream, &state)
        })
    }
}

sluice_guest::export_source!(HttpSource);

// Natively only: they install a fake API as the transport.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod example_tests;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod fake_api;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
