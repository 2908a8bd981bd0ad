//! `sluice-manifest`: the pipeline file. What a pipeline grants each
//! connector (directories, hosts, env vars), its limits, the streams it
//! selects and its run options, parsed and resolved (paths made absolute,
//! `${ENV}` substituted) without an engine, so it can be checked, tested and
//! fuzzed on its own. The runtime turns a [`Manifest`] into a running
//! pipeline.
//!
//! ```
//! use std::path::Path;
//! let text = r#"
//! [source]
//! component = "source-faker.wasm"
//! config = { count = 10 }
//!
//! [destination]
//! component = "dest-file.wasm"
//! dirs = [{ host = "out", guest = "/out", write = true }]
//! "#;
//! let m = sluice_manifest::parse(text, Path::new("/p"), "demo.toml", "demo").unwrap();
//! assert_eq!(m.destination.dirs[0].host, Path::new("/p/out"));
//! assert!(sluice_manifest::parse("[source]", Path::new("/p"), "x.toml", "x").is_err());
//! ```

#![warn(missing_docs)]

mod endpoint;
mod substitute;

use endpoint::resolve_endpoint;
pub use endpoint::{DirGrant, Endpoint, EndpointKind, EnvVar, Grants, Limits, Sandbox};
use serde::{Deserialize, Serialize};
pub use sluice_interop::Protocol;
pub use sluice_protocol::Partition;
use sluice_protocol::{SyncMode, WriteMode};
pub use sluice_schedule::{CatchUp, Schedule, ScheduleError, ScheduleSpec};
pub use sluice_schema::evolve::{Action, Policy};
pub use sluice_transform::{Secret, Step};
use std::path::{Path, PathBuf};
use substitute::substitute;

/// A pipeline file that cannot be used: the file and what is wrong,
/// naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct Error {
    /// The pipeline file (or `pipeline` when built in code).
    pub file: String,
    /// What is wrong, naming the key or stream.
    pub message: String,
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A stream as the pipeline file selects it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSelection {
    /// Stream name, as the source discovers it.
    pub name: String,
    /// `full_refresh` or `incremental` (default: incremental where the
    /// stream has a default cursor, else full refresh).
    #[serde(default)]
    pub sync_mode: Option<SyncMode>,
    /// Cursor for incremental syncs (default: the stream's default cursor).
    #[serde(default)]
    pub cursor_field: Option<String>,
    /// `overwrite`, `append`, `append_dedup` or `history` (default: append
    /// for incremental, overwrite for full refresh).
    #[serde(default)]
    pub write_mode: Option<WriteMode>,
    /// Fields to keep (default: all).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Primary key (default: the stream's).
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// Read only this share of the stream (sources that support it).
    #[serde(default)]
    pub partition: Option<Partition>,
    /// This stream's schema evolution policy, over the pipeline's `[schema]`.
    #[serde(default)]
    pub schema: Option<PolicyOverride>,
    /// Transforms, in order (`[[streams.transforms]]`).
    #[serde(default, skip_serializing)]
    pub transforms: Vec<Step>,
}

/// A stream's evolution policy: each key left out keeps the pipeline's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverride {
    /// What happens to new fields.
    #[serde(default)]
    pub new_fields: Option<Action>,
    /// What happens to changed field types.
    #[serde(default)]
    pub type_changes: Option<Action>,
}

impl PolicyOverride {
    /// The policy `base` with this override's keys.
    pub fn over(&self, base: &Policy) -> Policy {
        Policy {
            new_fields: self.new_fields.unwrap_or(base.new_fields),
            type_changes: self.type_changes.unwrap_or(base.type_changes),
        }
    }
}

impl StreamSelection {
    /// Select stream `name` with every default.
    pub fn new(name: impl Into<String>) -> Self {
        StreamSelection {
            name: name.into(),
            sync_mode: None,
            cursor_field: None,
            write_mode: None,
            fields: Vec::new(),
            primary_key: Vec::new(),
            partition: None,
            schema: None,
            transforms: Vec::new(),
        }
    }
}

/// Run options of a pipeline file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// Commit the destination and persist state at most this often (ms);
    /// a run always commits at its end.
    pub commit_interval_ms: u64,
    /// Batches in flight between source and destination.
    pub buffer_batches: usize,
    /// How many times a run is retried from its last checkpoint after a
    /// `transient` error (0: never).
    pub retries: u32,
    /// Wait before the first retry (ms); it doubles each time, with
    /// jitter, up to `retry_max_ms`.
    pub retry_initial_ms: u64,
    /// The longest wait between retries (ms).
    pub retry_max_ms: u64,
    /// Instances of the source reading at once, the streams dealt out
    /// among them (0: one per core but one, which the destination and the
    /// host keep). A process source runs once.
    pub parallelism: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            commit_interval_ms: 5_000,
            buffer_batches: 16,
            retries: 3,
            retry_initial_ms: 1_000,
            retry_max_ms: 60_000,
            parallelism: 0,
        }
    }
}

impl Options {
    /// How many readers to run at most: `parallelism` (or the number of
    /// cores but one), at least one; the host runs no more than the
    /// streams and partitions to read. On two cores a second reader only
    /// contends with the destination and the host for the last core
    /// (BENCHMARKS.md, "Speed").
    pub fn readers(&self) -> usize {
        let wanted = match self.parallelism {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1)),
            n => n,
        };
        wanted.max(1)
    }
}

/// The pipeline file, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    /// Name of the pipeline: the key of its state (default: the file stem).
    #[serde(default)]
    pub name: Option<String>,
    /// The state store (default: `.sluice/state.redb` beside the file).
    #[serde(default)]
    pub state: Option<PathBuf>,
    /// Where records come from.
    pub source: Endpoint,
    /// Where records go.
    pub destination: Endpoint,
    /// The streams to sync (default: every stream the source offers).
    #[serde(default)]
    pub streams: Vec<StreamSelection>,
    /// Run options.
    #[serde(default)]
    pub options: Options,
    /// The schema evolution policy of every stream (`[schema]`).
    #[serde(default)]
    pub schema: Policy,
    /// When `sluice serve` runs it (`[schedule]`); none: only on demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleSpec>,
}

/// A pipeline file, resolved: relative paths joined to the file's
/// directory, `${ENV}` substituted, defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Its name (the key of its state).
    pub name: String,
    /// The file it came from, for messages.
    pub file: String,
    /// The source.
    pub source: Endpoint,
    /// The destination.
    pub destination: Endpoint,
    /// The selected streams (empty: all).
    pub streams: Vec<StreamSelection>,
    /// Run options.
    pub options: Options,
    /// The schema evolution policy of every stream.
    pub schema: Policy,
    /// When it runs on a schedule, checked.
    pub schedule: Option<Schedule>,
    /// The state store.
    pub state: PathBuf,
    /// The directory relative paths resolve against (the file's); process
    /// endpoints run in it.
    pub dir: PathBuf,
}

/// Read and resolve a pipeline file.
pub fn from_file(path: &Path) -> Result<Manifest> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error {
        file: file.clone(),
        message: format!("cannot read it: {e}"),
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    parse(&text, dir, &file, &stem)
}

/// Parse pipeline TOML; relative paths resolve against `dir`.
pub fn parse(text: &str, dir: &Path, file: &str, default_name: &str) -> Result<Manifest> {
    let parsed: PipelineFile = toml::from_str(text).map_err(|e| Error {
        file: file.into(),
        message: e.to_string().trim_end().to_string(),
    })?;
    if !parsed.source.config.is_object() || !parsed.destination.config.is_object() {
        return Err(Error {
            file: file.into(),
            message: "`source.config` and `destination.config` must be tables".into(),
        });
    }
    let name = parsed.name.unwrap_or_else(|| default_name.to_string());
    if name.is_empty() {
        return Err(Error {
            file: file.into(),
            message: "`name` must not be empty".into(),
        });
    }
    let state = dir.join(
        parsed
            .state
            .unwrap_or_else(|| PathBuf::from(".sluice/state.redb")),
    );
    let schedule = parsed
        .schedule
        .as_ref()
        .map(Schedule::from_spec)
        .transpose()
        .map_err(|e| Error {
            file: file.into(),
            message: e.to_string(),
        })?;
    Ok(Manifest {
        name,
        file: file.into(),
        source: resolve_endpoint(parsed.source, "source", dir, file)?,
        destination: resolve_endpoint(parsed.destination, "destination", dir, file)?,
        streams: resolve_streams(parsed.streams, dir, file)?,
        options: parsed.options,
        schema: parsed.schema,
        schedule,
        state,
        dir: dir.to_path_buf(),
    })
}

/// `${ENV}` in the salts of `hash` transforms; component paths relative
/// to the pipeline file.
fn resolve_streams(
    mut streams: Vec<StreamSelection>,
    dir: &Path,
    file: &str,
) -> Result<Vec<StreamSelection>> {
    for stream in &mut streams {
        for (i, step) in stream.transforms.iter_mut().enumerate() {
            match step {
                Step::Hash { salt, .. } => {
                    let key = format!("streams.{}.transforms[{}].hash.salt", stream.name, i + 1);
                    *salt = Secret::new(substitute(salt.expose(), &key, file)?);
                }
                Step::Component { path, .. } => {
                    *path = dir.join(&*path).display().to_string();
                }
                _ => {}
            }
        }
    }
    Ok(streams)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[source]
component = "a.wasm"
config = { count = 5, token = "${SLUICE_TEST_TOKEN}" }

[destination]
component = "b.wasm"
dirs = [{ host = "out", guest = "/out", write = true }]
"#;

    #[test]
    fn paths_resolve_and_env_substitutes() {
        // SAFETY: tests in this module are the only readers of this variable.
        unsafe { std::env::set_var("SLUICE_TEST_TOKEN", "abc") };
        let p = parse(MINIMAL, Path::new("/p"), "x.toml", "x").unwrap();
        assert_eq!(p.name, "x");
        assert_eq!(p.source.component, PathBuf::from("/p/a.wasm"));
        assert_eq!(p.source.config["token"], "abc");
        assert_eq!(p.destination.dirs[0].host, PathBuf::from("/p/out"));
        assert_eq!(p.state, PathBuf::from("/p/.sluice/state.redb"));
    }

    #[test]
    fn granted_env_is_secret_unless_said_otherwise() {
        let text = MINIMAL.replace(
            "[destination]",
            "env = { TOKEN = \"tok-1234\", REGION = { value = \"eu-west-3\", secret = false } }\nhosts = [\"https://api.example.com/v2/\"]\n\n[destination]",
        );
        // SAFETY: tests in this module are the only readers of this variable.
        unsafe { std::env::set_var("SLUICE_TEST_TOKEN", "abc") };
        let p = parse(&text, Path::new("/p"), "x.toml", "x").unwrap();
        let grants = p.source.sandbox().grants;
        assert_eq!(grants.env["TOKEN"], "tok-1234");
        assert_eq!(grants.env["REGION"], "eu-west-3");
        assert_eq!(grants.secret_env_values(), vec!["tok-1234".to_string()]);
        assert_eq!(
            grants.hosts,
            vec!["https://api.example.com/v2/".to_string()]
        );
    }

    #[test]
    fn a_schedule_is_checked_naming_the_file_and_key() {
        // SAFETY: tests in this module are the only readers of this variable.
        unsafe { std::env::set_var("SLUICE_TEST_TOKEN", "abc") };
        let good =
            format!("{MINIMAL}\n[schedule]\ncron = \"0 */6 * * *\"\ntimezone = \"Europe/Paris\"\n");
        let m = parse(&good, Path::new("/p"), "x.toml", "x").unwrap();
        assert_eq!(
            m.schedule.unwrap().to_string(),
            "cron `0 */6 * * *` (Europe/Paris)"
        );
        let bad = format!("{MINIMAL}\n[schedule]\nevery = \"every now and then\"\n");
        let e = parse(&bad, Path::new("/p"), "x.toml", "x").unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.contains("x.toml") && shown.contains("`schedule.every`"),
            "{shown}"
        );
        assert!(
            parse(MINIMAL, Path::new("/p"), "x.toml", "x")
                .unwrap()
                .schedule
                .is_none()
        );
    }

    #[test]
    fn unknown_keys_and_missing_env_are_named() {
        let bad = MINIMAL.replace("[destination]", "[destination]\ncomponnt = \"x\"");
        let e = parse(&bad, Path::new("/p"), "x.toml", "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.toml") && e.contains("componnt"), "{e}");
        let e = parse(
            &MINIMAL.replace("SLUICE_TEST_TOKEN", "SLUICE_NOT_SET_ANYWHERE"),
            Path::new("/p"),
            "x.toml",
            "x",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("source.config.token") && e.contains("SLUICE_NOT_SET_ANYWHERE"),
            "{e}"
        );
    }

    #[test]
    fn process_endpoints_resolve_and_keys_fit_their_kind() {
        // SAFETY: tests in this module are the only readers of this variable.
        unsafe { std::env::set_var("SLUICE_TEST_TAP_TOKEN", "tok-12345") };
        let text = r#"
[source]
kind = "process"
protocol = "singer"
command = ["venv/bin/tap-jsonl", "--flag"]
config = { path = "in/*.jsonl", token = "${SLUICE_TEST_TAP_TOKEN}" }
env = { TZ = "UTC" }

[destination]
component = "b.wasm"
"#;
        let p = parse(text, Path::new("/p"), "x.toml", "x").unwrap();
        assert!(p.source.is_process());
        assert_eq!(p.source.protocol, Some(Protocol::Singer));
        assert_eq!(p.source.command, ["/p/venv/bin/tap-jsonl", "--flag"]);
        assert_eq!(p.source.secrets, ["tok-12345"]);
        let bare = text.replace("venv/bin/tap-jsonl", "tap-jsonl");
        let p = parse(&bare, Path::new("/p"), "x.toml", "x").unwrap();
        assert_eq!(
            p.source.command[0], "tap-jsonl",
            "a bare name is looked up on PATH"
        );
        for (bad, needle) in [
            (
                text.replace("protocol = \"singer\"\n", ""),
                "source.protocol",
            ),
            (
                text.replace("kind = \"process\"\n", ""),
                "kind = \"process\"",
            ),
            (
                text.replace("env = {", "hosts = [\"a:1\"]\nenv = {"),
                "outside the sandbox",
            ),
            (
                text.replace("command = [", "component = \"a.wasm\"\ncommand = ["),
                "not `component`",
            ),
        ] {
            let e = parse(&bad, Path::new("/p"), "x.toml", "x")
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }

    #[test]
    fn a_policy_override_replaces_only_the_keys_it_sets() {
        let base = Policy {
            new_fields: Action::Freeze,
            type_changes: Action::DiscardRow,
        };
        assert_eq!(PolicyOverride::default().over(&base), base);
        let new_fields = PolicyOverride {
            new_fields: Some(Action::Evolve),
            type_changes: None,
        };
        assert_eq!(
            new_fields.over(&base),
            Policy {
                new_fields: Action::Evolve,
                type_changes: Action::DiscardRow,
            }
        );
        let type_changes = PolicyOverride {
            new_fields: None,
            type_changes: Some(Action::DiscardValue),
        };
        assert_eq!(
            type_changes.over(&base),
            Policy {
                new_fields: Action::Freeze,
                type_changes: Action::DiscardValue,
            }
        );
        let both = PolicyOverride {
            new_fields: Some(Action::DiscardRow),
            type_changes: Some(Action::Evolve),
        };
        assert_eq!(
            both.over(&base),
            Policy {
                new_fields: Action::DiscardRow,
                type_changes: Action::Evolve,
            }
        );
    }

    /// Two streams, the first with a `schema = { ... }` override (`STREAM_SCHEMA`
    /// replaced), under a pipeline `[schema]` that freezes new fields.
    const OVERRIDDEN: &str = r#"
[source]
component = "a.wasm"

[destination]
component = "b.wasm"

[schema]
new_fields = "freeze"

[[streams]]
name = "orders"
schema = STREAM_SCHEMA

[[streams]]
name = "users"
"#;

    #[test]
    fn a_streams_schema_override_reads_from_the_pipeline_file() {
        let text = OVERRIDDEN.replace("STREAM_SCHEMA", "{ type_changes = \"discard_value\" }");
        let m = parse(&text, Path::new("/p"), "x.toml", "x").unwrap();
        let pipeline = Policy {
            new_fields: Action::Freeze,
            type_changes: Action::Evolve,
        };
        assert_eq!(m.schema, pipeline);
        let orders = m.streams[0].schema.expect("orders has an override");
        assert_eq!(
            orders,
            PolicyOverride {
                new_fields: None,
                type_changes: Some(Action::DiscardValue),
            }
        );
        assert_eq!(
            orders.over(&m.schema),
            Policy {
                new_fields: Action::Freeze,
                type_changes: Action::DiscardValue,
            }
        );
        assert_eq!(m.streams[1].schema, None, "users keeps the pipeline's");

        let text = OVERRIDDEN.replace(
            "STREAM_SCHEMA",
            "{ new_fields = \"discard_row\", type_changes = \"freeze\" }",
        );
        let m = parse(&text, Path::new("/p"), "x.toml", "x").unwrap();
        assert_eq!(
            m.streams[0].schema,
            Some(PolicyOverride {
                new_fields: Some(Action::DiscardRow),
                type_changes: Some(Action::Freeze),
            })
        );
        let text = OVERRIDDEN.replace("STREAM_SCHEMA", "{}");
        let m = parse(&text, Path::new("/p"), "x.toml", "x").unwrap();
        assert_eq!(m.streams[0].schema, Some(PolicyOverride::default()));
    }

    #[test]
    fn a_bad_stream_schema_override_is_named() {
        for (value, needle) in [
            ("{ new_field = \"evolve\" }", "unknown field `new_field`"),
            ("{ type_changes = \"drop\" }", "unknown variant `drop`"),
            ("\"evolve\"", "invalid type"),
        ] {
            let text = OVERRIDDEN.replace("STREAM_SCHEMA", value);
            let e = parse(&text, Path::new("/p"), "x.toml", "x")
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("x.toml: "), "{value}: {e}");
            assert!(e.contains(needle), "{value}: {e}");
        }
    }

    #[test]
    fn limits_deserialize_with_defaults() {
        let l: Limits = toml::from_str("memory_mib = 64").unwrap();
        assert_eq!(l.memory_mib, 64);
        assert_eq!(l.timeout_ms, Limits::default().timeout_ms);
        assert!(toml::from_str::<Limits>("memory = 64").is_err());
    }
}
