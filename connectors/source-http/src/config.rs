//! The config of source-http: the API (base URL, credentials, headers,
//! timeouts, retries, rate limit) and its streams, with the JSON Schema
//! the spec publishes and the checks JSON Schema cannot express (parents
//! that exist, placeholders their parent fills).

use serde::Deserialize;
use serde_json::{Map, Value, json};
use sluice_guest::http::{self, Auth, Client, Pagination, Retry, Timeouts};
use sluice_guest::{ConnectorError, Result, Schema};

/// Config of source-http.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The API's base URL; stream paths are relative to it.
    pub base_url: String,
    /// How requests prove who sends them.
    #[serde(default)]
    pub auth: Auth,
    /// Headers sent with every request.
    #[serde(default)]
    pub headers: Map<String, Value>,
    /// Per-request timeouts.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// The largest response body, in MiB.
    #[serde(default = "default_max_body_mib")]
    pub max_body_mib: u64,
    /// The retry budget of each request.
    #[serde(default)]
    pub retry: Retry,
    /// At most this many requests a second (none: no limit).
    #[serde(default)]
    pub requests_per_second: Option<f64>,
    /// Records per batch.
    #[serde(default = "default_batch_size")]
    pub batch_size: u32,
    /// The streams: one endpoint each.
    pub streams: Vec<StreamConfig>,
}

fn default_max_body_mib() -> u64 {
    16
}

fn default_batch_size() -> u32 {
    1000
}

/// One stream: an endpoint listing records.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// The stream's name.
    pub name: String,
    /// The endpoint's path (relative to the base URL), with `{field}`
    /// placeholders filled from a parent record.
    pub path: String,
    /// Fixed query parameters.
    #[serde(default)]
    pub params: Map<String, Value>,
    /// Where the records are in a response body: a dotted path or a JSON
    /// pointer; empty: the body is the list.
    #[serde(default)]
    pub records_path: String,
    /// The fields identifying a record.
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// How the endpoint pages.
    #[serde(default)]
    pub pagination: Pagination,
    /// How the endpoint reads only what changed.
    #[serde(default)]
    pub incremental: Option<Incremental>,
    /// The records' JSON Schema; inferred from the data when absent.
    #[serde(default)]
    pub schema: Option<Value>,
    /// The stream whose records fill the path's placeholders.
    #[serde(default)]
    pub parent: Option<Parent>,
}

/// An incremental stream: the largest `cursor_field` value seen is the
/// bookmark, sent back as query parameter `param` on the next run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incremental {
    /// The record field (dotted path) whose largest value is the bookmark.
    pub cursor_field: String,
    /// The query parameter carrying the bookmark (records strictly newer).
    pub param: String,
    /// The bookmark of the first run, if any.
    #[serde(default)]
    pub start: Option<String>,
    /// The API returns records in ascending cursor order, so the bookmark
    /// may move after every page (otherwise only at the stream's end).
    #[serde(default)]
    pub sorted: bool,
}

/// A child stream's parent: the endpoint is called once per parent record.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parent {
    /// The parent stream's name.
    pub stream: String,
    /// The parent record fields that fill the path's `{field}` placeholders.
    pub fields: Vec<String>,
}

impl Config {
    /// The stream called `name`.
    pub fn stream(&self, name: &str) -> Option<&StreamConfig> {
        self.streams.iter().find(|s| s.name == name)
    }

    /// Check what the schema cannot: unique names, parents that exist
    /// without cycles, placeholders that match the parent's fields, and
    /// declared schemas with a typed form.
    pub fn validate(&self) -> Result<()> {
        for (i, stream) in self.streams.iter().enumerate() {
            let error = |m: String| ConnectorError::config(m).in_stream(&stream.name);
            if self.streams[..i].iter().any(|s| s.name == stream.name) {
                return Err(error(format!("two streams are named `{}`", stream.name)));
            }
            self.validate_parent(stream)?;
            if let Some(schema) = &stream.schema {
                typed_schema(&stream.name, schema)?;
            }
            let sorted = stream.incremental.as_ref().is_some_and(|i| i.sorted);
            if sorted && stream.parent.is_some() {
                return Err(error(
                    "`incremental.sorted` cannot hold for a child stream: its records come parent by parent".into(),
                ));
            }
        }
        Ok(())
    }

    fn validate_parent(&self, stream: &StreamConfig) -> Result<()> {
        let error = |m: String| ConnectorError::config(m).in_stream(&stream.name);
        let placeholders = placeholders(&stream.path)
            .map_err(|m| error(format!("path `{}`: {m}", stream.path)))?;
        let Some(parent) = &stream.parent else {
            return match placeholders.first() {
                Some(p) => Err(error(format!(
                    "path `{}` has the placeholder `{{{p}}}` but the stream has no parent to fill it",
                    stream.path
                ))),
                None => Ok(()),
            };
        };
        if self.stream(&parent.stream).is_none() {
            return Err(error(format!(
                "parent stream `{}` is not configured",
                parent.stream
            )));
        }
        if let Some(p) = placeholders.iter().find(|p| !parent.fields.contains(p)) {
            return Err(error(format!(
                "placeholder `{{{p}}}` of path `{}` is not one of `parent.fields`",
                stream.path
            )));
        }
        if let Some(f) = parent.fields.iter().find(|f| !placeholders.contains(f)) {
            return Err(error(format!(
                "parent field `{f}` fills no placeholder of path `{}`",
                stream.path
            )));
        }
        let mut seen = vec![stream.name.as_str()];
        let mut at = Some(parent);
        while let Some(p) = at {
            if seen.contains(&p.stream.as_str()) {
                return Err(error(format!(
                    "parents form a cycle: {} -> {}",
                    seen.join(" -> "),
                    p.stream
                )));
            }
            seen.push(&p.stream);
            at = self.stream(&p.stream).and_then(|s| s.parent.as_ref());
        }
        Ok(())
    }

    /// The client for the API this config describes.
    pub fn client(&self) -> Result<Client> {
        let mut client = Client::new(&self.base_url)?
            .auth(self.auth.clone())
            .timeouts(self.timeouts)
            .retry(self.retry)
            .max_body_bytes(self.max_body_mib.saturating_mul(1 << 20))
            .requests_per_second(self.requests_per_second);
        for (name, value) in &self.headers {
            client = client.header(name, &text(value));
        }
        Ok(client)
    }
}

impl StreamConfig {
    /// The fixed query parameters, as text.
    pub fn query(&self) -> Vec<(String, String)> {
        self.params
            .iter()
            .map(|(k, v)| (k.clone(), text(v)))
            .collect()
    }
}

/// A JSON scalar as query or header text (strings without quotes).
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The `{name}` placeholders of `path`, in order.
pub fn placeholders(path: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err("a `{` without its `}`".into());
        };
        let name = &after[..close];
        if name.is_empty() || name.contains('{') {
            return Err("an empty or nested placeholder".into());
        }
        out.push(name.to_string());
        rest = &after[close + 1..];
    }
    Ok(out)
}

/// The typed form of a stream's JSON Schema.
pub fn typed_schema(stream: &str, schema: &Value) -> Result<Schema> {
    Schema::from_json_schema(schema).map_err(|e| {
        ConnectorError::config(format!("the stream's schema has no typed form: {e}"))
            .in_stream(stream)
    })
}

/// The JSON Schema of the config.
pub fn config_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "source-http",
        "type": "object",
        "required": ["base_url", "streams"],
        "additionalProperties": false,
        "properties": {
            "base_url": {"type": "string", "pattern": "^https?://", "description": "The API's base URL; stream paths are relative to it."},
            "auth": http::schema::auth(),
            "headers": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]},
                        "description": "Headers sent with every request (not secret: put credentials in `auth`)."},
            "timeouts": http::schema::timeouts(),
            "max_body_mib": {"type": "integer", "minimum": 1, "maximum": 1024, "default": default_max_body_mib(),
                             "description": "A response body larger than this fails the request."},
            "retry": http::schema::retry(),
            "requests_per_second": {"type": ["number", "null"], "exclusiveMinimum": 0,
                                    "description": "At most this many requests a second (over all streams)."},
            "batch_size": {"type": "integer", "minimum": 1, "maximum": 100_000, "default": default_batch_size(),
                           "description": "Records per batch: pages are read until a batch is full."},
            "streams": {"type": "array", "minItems": 1, "items": stream_schema()}
        }
    })
}

fn stream_schema() -> Value {
    let name = json!({"type": "string", "minLength": 1});
    json!({
        "type": "object",
        "required": ["name", "path"],
        "additionalProperties": false,
        "properties": {
            "name": {"type": "string", "minLength": 1, "description": "The stream's name."},
            "path": {"type": "string", "description": "The endpoint, relative to base_url; `{field}` placeholders are filled from each parent record."},
            "params": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]},
                       "description": "Fixed query parameters."},
            "records_path": {"type": "string", "default": "",
                             "description": "Where the records are in the body: a dotted path (`data`, `result.items`) or a JSON pointer; empty: the body is the list."},
            "primary_key": {"type": "array", "items": name},
            "pagination": http::schema::pagination(),
            "incremental": {
                "type": "object",
                "required": ["cursor_field", "param"],
                "additionalProperties": false,
                "properties": {
                    "cursor_field": {"type": "string", "minLength": 1, "description": "The record field whose largest value is the bookmark."},
                    "param": {"type": "string", "minLength": 1, "description": "The query parameter carrying the bookmark (records strictly newer)."},
                    "start": {"type": "string", "description": "The bookmark of the first run."},
                    "sorted": {"type": "boolean", "default": false,
                               "description": "Records come in ascending cursor order, so the bookmark moves after every page (else at the stream's end)."}
                }
            },
            "schema": {"type": "object", "description": "The records' JSON Schema; inferred from the first page when absent."},
            "parent": {
                "type": "object",
                "required": ["stream", "fields"],
                "additionalProperties": false,
                "properties": {
                    "stream": {"type": "string", "minLength": 1, "description": "The parent stream."},
                    "fields": {"type": "array", "minItems": 1, "items": name,
                               "description": "Parent record fields filling the path's placeholders of the same names."}
                }
            }
        }
    })
}
