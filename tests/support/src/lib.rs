//! What the CLI tests (`cli/tests/`) and the end-to-end tests
//! (`tests/e2e/`) share: the compile cache every test process uses, the
//! `sluice` command run against it, pipeline files written from parts, and
//! JSON values as inline TOML.
//!
//! The binary's path (`CARGO_BIN_EXE_sluice`) exists only inside the CLI's
//! integration tests, so they pass it in (see `cli/tests/support/mod.rs`).

/// A real headless browser (Debian's Chromium, installed when missing).
pub mod browser;

/// A real PostgreSQL server for tests (`pg_server::shared()`), see the
/// `sluice-pg-server` crate.
pub use sluice_pg_server as pg_server;
/// The Singer and Airbyte packages from PyPI (`pyenv::ensure(pyenv::TAP_JSONL)`),
/// see the `sluice-pyenv` crate.
pub use sluice_pyenv as pyenv;

use serde_json::Value;
use sluice_artifacts as artifacts;
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The compile cache shared by every test process (`target/test-cache`),
/// so each component compiles once per build.
pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-cache")
}

/// The `sluice` binary at `bin`, with its compile cache in `cache` and no
/// `RUST_LOG` from the caller's environment.
pub fn sluice_command(bin: impl AsRef<OsStr>, cache: &Path) -> Command {
    let mut c = Command::new(bin);
    c.env("SLUICE_CACHE_DIR", cache).env_remove("RUST_LOG");
    c
}

/// A command's stdout and stderr, as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `v` as a TOML value: objects as inline tables (`{ a = 1, b = "x" }`),
/// arrays as arrays; strings, numbers and booleans are the same in JSON and
/// TOML. Panics on `null`, which TOML has not.
pub fn toml_inline(v: &Value) -> String {
    match v {
        Value::Object(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{} = {}", toml_key(k), toml_inline(v)))
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(toml_inline).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Null => panic!("TOML has no null"),
        scalar => scalar.to_string(),
    }
}

/// A key, bare where TOML allows it, else quoted.
fn toml_key(k: &str) -> String {
    let bare = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        k.to_string()
    } else {
        Value::from(k).to_string()
    }
}

/// One side of a pipeline: a component, its config, its directory grants.
#[derive(Debug, Clone)]
struct Side {
    component: String,
    config: Value,
    dirs: Option<Value>,
    hosts: Vec<String>,
}

impl Side {
    fn write(&self, f: &mut fmt::Formatter<'_>, table: &str) -> fmt::Result {
        writeln!(f, "[{table}]")?;
        writeln!(f, "component = {:?}", self.component)?;
        writeln!(f, "config = {}", toml_inline(&self.config))?;
        if let Some(dirs) = &self.dirs {
            writeln!(f, "dirs = {}", toml_inline(dirs))?;
        }
        if !self.hosts.is_empty() {
            writeln!(f, "hosts = {}", toml_inline(&serde_json::json!(self.hosts)))?;
        }
        Ok(())
    }

    /// The host directories it is granted, relative to the pipeline file.
    fn host_dirs(&self) -> Vec<&str> {
        self.dirs
            .as_ref()
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| d["host"].as_str())
            .collect()
    }
}

/// A pipeline file: a source and a destination (by default dest-file
/// writing to `out/`, granted as `/out`), an optional name and
/// `[options]`, then any TOML appended as it is. `Display` gives the text:
///
/// ```text
/// name = "..."            (with .name())
///
/// [source]
/// component = "..."
/// config = { ... }
/// dirs = [...]            (with .source_dirs())
///
/// [destination]
/// component = "..."
/// config = { path = "/out" }
/// dirs = [{ host = "out", guest = "/out", write = true }]
///
/// [options]               (with .options())
/// ...
///
/// [[streams]]             (each .stream())
/// ...
/// EXTRA
/// ```
#[derive(Debug, Clone)]
pub struct PipelineToml {
    name: Option<String>,
    state: Option<String>,
    source: Side,
    destination: Side,
    options: Option<Value>,
    streams: Vec<Value>,
    extra: String,
}

impl PipelineToml {
    /// `source` (a component path) with `config`, into dest-file.
    pub fn new(source: &str, config: Value) -> Self {
        PipelineToml {
            name: None,
            state: None,
            source: Side {
                component: source.to_string(),
                config,
                dirs: None,
                hosts: Vec::new(),
            },
            destination: Side {
                component: artifacts::DEST_FILE.to_string(),
                config: serde_json::json!({"path": "/out"}),
                dirs: Some(serde_json::json!([{"host": "out", "guest": "/out", "write": true}])),
                hosts: Vec::new(),
            },
            options: None,
            streams: Vec::new(),
            extra: String::new(),
        }
    }

    /// source-faker with `config`, into dest-file.
    pub fn faker(config: Value) -> Self {
        Self::new(artifacts::SOURCE_FAKER, config)
    }

    /// The pipeline's `name`.
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// The source's directory grants, e.g. `[{"host": "in", "guest": "/in"}]`.
    pub fn source_dirs(mut self, dirs: Value) -> Self {
        self.source.dirs = Some(dirs);
        self
    }

    /// The destination's component instead of dest-file.
    pub fn destination_component(mut self, component: &str) -> Self {
        self.destination.component = component.to_string();
        self
    }

    /// The source's network grants (`host:port`).
    pub fn source_hosts(mut self, hosts: &[&str]) -> Self {
        self.source.hosts = hosts.iter().map(|h| h.to_string()).collect();
        self
    }

    /// The destination's component, config and network grants, replacing
    /// dest-file (and its directory grant).
    pub fn destination(mut self, component: &str, config: Value, hosts: &[&str]) -> Self {
        self.destination = Side {
            component: component.to_string(),
            config,
            dirs: None,
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
        };
        self
    }

    /// The state store's path (top-level `state`).
    pub fn state(mut self, path: &str) -> Self {
        self.state = Some(path.to_string());
        self
    }

    /// The destination's config instead of `{ path = "/out" }`.
    pub fn destination_config(mut self, config: Value) -> Self {
        self.destination.config = config;
        self
    }

    /// An `[options]` table, one key per field of `options`.
    pub fn options(mut self, options: Value) -> Self {
        self.options = Some(options);
        self
    }

    /// A `[[streams]]` entry, one key per field of `stream`.
    pub fn stream(mut self, stream: Value) -> Self {
        self.streams.push(stream);
        self
    }

    /// TOML appended at the end (`[[streams]]`, `[source.limits]`, ...).
    pub fn extra(mut self, toml: &str) -> Self {
        self.extra = toml.to_string();
        self
    }

    /// Create the host directories of every grant below `dir`.
    pub fn create_dirs(&self, dir: &Path) {
        for host in self
            .source
            .host_dirs()
            .into_iter()
            .chain(self.destination.host_dirs())
        {
            std::fs::create_dir_all(dir.join(host)).unwrap();
        }
    }

    /// Create `dir` and the granted directories and write the file as `dir/file`;
    /// returns its path.
    pub fn write(&self, dir: &Path, file: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        self.create_dirs(dir);
        let path = dir.join(file);
        std::fs::write(&path, self.to_string()).unwrap();
        path
    }
}

impl fmt::Display for PipelineToml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.name {
            writeln!(f, "name = {:?}\n", name)?;
        }
        if let Some(state) = &self.state {
            writeln!(f, "state = {:?}\n", state)?;
        }
        self.source.write(f, "source")?;
        writeln!(f)?;
        self.destination.write(f, "destination")?;
        if let Some(options) = &self.options {
            write_table(f, "[options]", options)?;
        }
        for stream in &self.streams {
            write_table(f, "[[streams]]", stream)?;
        }
        f.write_str(&self.extra)
    }
}

/// `header` after a blank line, then a `key = value` line per field.
fn write_table(f: &mut fmt::Formatter<'_>, header: &str, fields: &Value) -> fmt::Result {
    writeln!(f, "\n{header}")?;
    for (k, v) in fields.as_object().expect("a table is a JSON object") {
        writeln!(f, "{} = {}", toml_key(k), toml_inline(v))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_becomes_inline_toml() {
        let v = json!({"count": 10, "name": "a \"b\"", "on": true, "x-y": 1.5,
            "dirs": [{"host": "out", "write": true}], "a b": "${X}"});
        assert_eq!(
            toml_inline(&v),
            r#"{ count = 10, name = "a \"b\"", on = true, x-y = 1.5, dirs = [{ host = "out", write = true }], "a b" = "${X}" }"#
        );
    }

    #[test]
    fn the_default_pipeline_is_faker_into_dest_file() {
        let text = PipelineToml::faker(json!({"count": 10}))
            .extra("EXTRA")
            .to_string();
        assert_eq!(
            text,
            format!(
                "[source]\ncomponent = {:?}\nconfig = {{ count = 10 }}\n\n[destination]\ncomponent = {:?}\nconfig = {{ path = \"/out\" }}\ndirs = [{{ host = \"out\", guest = \"/out\", write = true }}]\nEXTRA",
                artifacts::SOURCE_FAKER,
                artifacts::DEST_FILE
            )
        );
    }

    #[test]
    fn name_source_dirs_and_options_have_their_places() {
        let text = PipelineToml::new("s.wasm", json!({"path": "/in"}))
            .name("files")
            .source_dirs(json!([{"host": "in", "guest": "/in"}]))
            .destination_config(json!({"path": "/out", "format": "csv"}))
            .options(json!({"retries": 0}))
            .stream(json!({"name": "people", "cursor_field": "id"}))
            .to_string();
        assert!(text.starts_with("name = \"files\"\n\n[source]\ncomponent = \"s.wasm\"\nconfig = { path = \"/in\" }\ndirs = [{ host = \"in\", guest = \"/in\" }]\n\n[destination]\n"), "{text}");
        assert!(
            text.contains("config = { path = \"/out\", format = \"csv\" }\n"),
            "{text}"
        );
        assert!(
            text.ends_with(
                "\n\n[options]\nretries = 0\n\n[[streams]]\nname = \"people\"\ncursor_field = \"id\"\n"
            ),
            "{text}"
        );
    }
}
