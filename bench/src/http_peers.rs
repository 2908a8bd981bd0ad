//! The HTTP peers of `source-http`: the Singer SDK's generic REST tap
//! (`tap-rest-api-msdk`) and Airbyte's low-code connector
//! (`source-declarative-manifest`, the manifest injected in its config),
//! installed from PyPI into virtual environments of their own. Both read
//! every user of the test REST API (`sluice-http-server`) through
//! `/page/users`, [`PER_PAGE`] a page, the token sent as a bearer token.
//!
//! The Singer tap stops at the first empty page, Airbyte's at the first
//! page that is not full, so `n` users (a multiple of 100) take `n / 100 +
//! 1` requests from either.

use crate::peers::{PeerRun, venv};
use crate::proc::{median, run_counting};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The two peers' packages.
pub use sluice_pyenv::{
    AIRBYTE_DECLARATIVE_MANIFEST as AIRBYTE_HTTP, TAP_REST_API_MSDK as SINGER_HTTP,
};

/// Records a page.
pub const PER_PAGE: u64 = 100;

/// Where the API is and the token it wants.
#[derive(Debug, Clone, Copy)]
pub struct Api<'a> {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: &'a str,
    /// The token (`Authorization: Bearer TOKEN`).
    pub token: &'a str,
}

/// The JSON Schema of the server's users.
fn users_schema() -> Value {
    let text = json!({"type": "string"});
    json!({
        "type": "object",
        "properties": {
            "id": {"type": "integer"}, "name": text, "email": text,
            "updated_at": {"type": "string", "format": "date-time"},
        }
    })
}

/// `tap-rest-api-msdk`'s config: page numbers from 1 in `page`, until a
/// page has no `$.data[0]`; the schema given, so it sends no discovery
/// request.
pub fn singer_config(api: Api<'_>) -> Value {
    json!({
        "api_url": api.base_url,
        "auth_method": "bearer_token",
        "bearer_token": api.token,
        "pagination_request_style": "page_number_paginator",
        "pagination_response_style": "page",
        "pagination_initial_offset": 1,
        "next_page_token_path": "$.data[0]",
        "streams": [{
            "name": "users",
            "path": "/page/users",
            "params": {"per_page": PER_PAGE},
            "records_path": "$.data[*]",
            "primary_keys": ["id"],
            "schema": users_schema(),
        }],
    })
}

/// The low-code manifest: `PageIncrement` from page 1, `per_page` and
/// `page` as query parameters, records at `data`; the base URL and the
/// token come from the config.
pub fn airbyte_manifest() -> Value {
    let param = |name: &str| json!({"type": "RequestOption", "inject_into": "request_parameter", "field_name": name});
    let spec_properties = json!({
        "base_url": {"type": "string"},
        "api_key": {"type": "string", "airbyte_secret": true},
    });
    json!({
        "version": "6.5.2",
        "type": "DeclarativeSource",
        "check": {"type": "CheckStream", "stream_names": ["users"]},
        "spec": {"type": "Spec", "connection_specification": {
            "type": "object", "required": ["base_url", "api_key"], "properties": spec_properties,
        }},
        "streams": [{
            "type": "DeclarativeStream",
            "name": "users",
            "primary_key": ["id"],
            "schema_loader": {"type": "InlineSchemaLoader", "schema": users_schema()},
            "retriever": {
                "type": "SimpleRetriever",
                "requester": {
                    "type": "HttpRequester",
                    "url_base": "{{ config['base_url'] }}",
                    "path": "/page/users",
                    "http_method": "GET",
                    "authenticator": {
                        "type": "BearerAuthenticator",
                        "api_token": "{{ config['api_key'] }}",
                    },
                },
                "record_selector": {
                    "type": "RecordSelector",
                    "extractor": {"type": "DpathExtractor", "field_path": ["data"]},
                },
                "paginator": {
                    "type": "DefaultPaginator",
                    "page_token_option": param("page"),
                    "page_size_option": param("per_page"),
                    "pagination_strategy": {
                        "type": "PageIncrement",
                        "page_size": PER_PAGE,
                        "start_from_page": 1,
                        "inject_on_first_request": true,
                    },
                },
            },
        }],
    })
}

/// `source-declarative-manifest`'s config: the API and the manifest.
pub fn airbyte_config(api: Api<'_>) -> Value {
    json!({
        "base_url": api.base_url,
        "api_key": api.token,
        "__injected_declarative_manifest": airbyte_manifest(),
    })
}

/// The configured catalog: `users`, full refresh.
pub fn airbyte_catalog() -> Value {
    json!({"streams": [{
        "stream": {"name": "users", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
        "sync_mode": "full_refresh",
        "destination_sync_mode": "overwrite",
    }]})
}

/// Writes `value` to `path`, readable by us only (it may hold the token).
fn write_json(path: &Path, value: &Value) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(value.to_string().as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// `dir/config.json` for the Singer tap.
pub fn write_singer(dir: &Path, api: Api<'_>) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let config = dir.join("config.json");
    write_json(&config, &singer_config(api))?;
    Ok(config)
}

/// `dir/config.json` and `dir/catalog.json` for the Airbyte source.
pub fn write_airbyte(dir: &Path, api: Api<'_>) -> Result<(PathBuf, PathBuf), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (config, catalog) = (dir.join("config.json"), dir.join("catalog.json"));
    write_json(&config, &airbyte_config(api))?;
    write_json(&catalog, &airbyte_catalog())?;
    Ok((config, catalog))
}

/// Median seconds of `program arg`, the cheapest command: start-up.
fn startup(program: &Path, arg: &str, runs: usize) -> Result<f64, String> {
    let mut secs = Vec::new();
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let out = Command::new(program)
            .arg(arg)
            .output()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        if !out.status.success() {
            return Err(format!("{} {arg} failed", program.display()));
        }
        secs.push(started.elapsed().as_secs_f64());
    }
    Ok(median(&mut secs))
}

/// Runs `command()` `runs` times, each one to print `records` RECORD
/// messages on stdout.
fn measure(
    name: &str,
    command: impl Fn() -> Command,
    records: u64,
    runs: usize,
    startup_secs: f64,
) -> Result<PeerRun, String> {
    let mut secs = Vec::new();
    let mut peak_rss_kib = 0;
    for _ in 0..runs.max(1) {
        let outcome = run_counting(&mut command(), "\"RECORD\"")?;
        if outcome.lines != records {
            return Err(format!(
                "{name} emitted {} records, expected {records}",
                outcome.lines
            ));
        }
        secs.push(outcome.secs);
        peak_rss_kib = outcome.peak_rss_kib;
    }
    Ok(PeerRun {
        records,
        secs: median(&mut secs),
        startup_secs,
        peak_rss_kib,
    })
}

/// `tap-rest-api-msdk --config` reading the `records` users of `api`,
/// `runs` times; its files go in `work/singer-http`.
pub fn tap_rest_api(
    work: &Path,
    api: Api<'_>,
    records: u64,
    runs: usize,
) -> Result<PeerRun, String> {
    let tap = venv(work, SINGER_HTTP)?.join("tap-rest-api-msdk");
    let config = write_singer(&work.join("singer-http"), api)?;
    let startup_secs = startup(&tap, "--about", runs)?;
    let command = || {
        let mut cmd = Command::new(&tap);
        cmd.arg("--config").arg(&config);
        cmd
    };
    measure("tap-rest-api-msdk", command, records, runs, startup_secs)
}

/// `source-declarative-manifest read --config --catalog` reading the
/// `records` users of `api`, `runs` times; its files go in
/// `work/airbyte-http`.
pub fn airbyte_declarative(
    work: &Path,
    api: Api<'_>,
    records: u64,
    runs: usize,
) -> Result<PeerRun, String> {
    let source = venv(work, AIRBYTE_HTTP)?.join("source-declarative-manifest");
    let (config, catalog) = write_airbyte(&work.join("airbyte-http"), api)?;
    let startup_secs = startup(&source, "spec", runs)?;
    let command = || {
        let mut cmd = Command::new(&source);
        cmd.arg("read")
            .arg("--config")
            .arg(&config)
            .arg("--catalog")
            .arg(&catalog);
        cmd
    };
    measure(
        "source-declarative-manifest",
        command,
        records,
        runs,
        startup_secs,
    )
}
