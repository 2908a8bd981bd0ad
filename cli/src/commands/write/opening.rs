//! Before `write --format singer|airbyte` opens the destination: stdin
//! decoded line by line, read ahead to the first RECORD, and the streams
//! the writer is opened with. A destination is opened with its whole
//! catalog, so the streams come from a `--catalog` file, else from the
//! SCHEMA messages before the first RECORD (Singer) or from the first
//! RECORD, its schema inferred (Airbyte).

use super::WriteArgs;
use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use sluice_interop::{BatcherError, Event, Protocol, catalog};
use sluice_protocol::{ConfiguredCatalog, ConfiguredStream};
use std::collections::BTreeSet;
use std::path::Path;
use tokio::io::{AsyncBufReadExt, BufReader, Lines, Stdin};

/// One decoded line of stdin.
pub struct Line {
    /// Its number, from 1.
    pub no: u64,
    /// Its text, trimmed.
    pub text: String,
    /// What it says.
    pub event: Event,
}

/// The messages on stdin, one a line; blank lines are skipped.
pub struct Input {
    lines: Lines<BufReader<Stdin>>,
    line: u64,
    protocol: Protocol,
}

impl Input {
    /// Stdin, read as messages of `protocol`.
    pub fn stdin(protocol: Protocol) -> Self {
        Input {
            lines: BufReader::with_capacity(1 << 20, tokio::io::stdin()).lines(),
            line: 0,
            protocol,
        }
    }

    /// The next message; `None` at the end. A line that is not a message
    /// is an error naming the line and how it starts. Cancel-safe: a
    /// line is taken only when it is returned.
    pub async fn next(&mut self) -> Result<Option<Line>> {
        loop {
            let next = self.lines.next_line().await;
            let text =
                next.with_context(|| format!("stdin line {}: cannot read it", self.line + 1))?;
            let Some(text) = text else {
                return Ok(None);
            };
            self.line += 1;
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let event = self
                .protocol
                .decode(self.line, text)
                .map_err(|e| anyhow!("stdin {e}"))?;
            return Ok(Some(Line {
                no: self.line,
                text: text.to_string(),
                event,
            }));
        }
    }
}

/// What was read before the destination opens.
pub struct Opening {
    /// The streams to open the writer with.
    pub catalog: ConfiguredCatalog,
    /// The lines read ahead, to handle once it is open.
    pub held: Vec<Line>,
}

/// Read stdin up to and including the first RECORD; the streams the
/// writer is opened with, and the lines read.
pub async fn read_ahead(input: &mut Input, a: &WriteArgs, protocol: Protocol) -> Result<Opening> {
    let from_file = a.catalog.is_some();
    let mut streams = match &a.catalog {
        Some(path) => from_catalog_file(path, protocol)?,
        None => Vec::new(),
    };
    let mut schemas = BTreeSet::new();
    let mut held = Vec::new();
    while let Some(line) = input.next().await? {
        match &line.event {
            Event::Schema(s) => {
                schemas.insert(s.stream.clone());
                let known = streams.iter().any(|c| c.name == s.stream);
                if from_file && !known {
                    return Err(unknown_stream(protocol, &line, &s.stream, &streams));
                }
                if !from_file {
                    streams.retain(|c| c.name != s.stream);
                    streams.push(ConfiguredStream {
                        schema: s.schema.clone(),
                        primary_key: s.key_properties.clone(),
                        ..ConfiguredStream::new(s.stream.clone())
                    });
                }
            }
            Event::Record(r) => {
                if protocol == Protocol::Singer && !schemas.contains(&r.stream) {
                    let e = BatcherError::RecordBeforeSchema {
                        stream: r.stream.clone(),
                        line: line.no,
                    };
                    return Err(anyhow!("stdin {e}"));
                }
                if !streams.iter().any(|c| c.name == r.stream) {
                    if from_file {
                        return Err(unknown_stream(protocol, &line, &r.stream, &streams));
                    }
                    streams.push(ConfiguredStream {
                        schema: super::infer_schema(&r.data, &[]),
                        ..ConfiguredStream::new(r.stream.clone())
                    });
                }
                held.push(line);
                break;
            }
            _ => {}
        }
        held.push(line);
    }
    let catalog = configure(streams, a)?;
    Ok(Opening { catalog, held })
}

/// The error for a message of a stream the writer was not opened with.
pub fn unknown_stream(
    protocol: Protocol,
    line: &Line,
    stream: &str,
    streams: &[ConfiguredStream],
) -> anyhow::Error {
    let names: Vec<&str> = streams.iter().map(|s| s.name.as_str()).collect();
    let (kind, file) = match (&line.event, protocol) {
        (Event::Schema(_), _) => ("a SCHEMA", "a Singer catalog"),
        (_, Protocol::Singer) => ("a RECORD", "a Singer catalog"),
        (_, Protocol::Airbyte) => ("a RECORD", "a configured Airbyte catalog"),
    };
    anyhow!(
        "stdin line {}: {kind} of stream `{stream}`, which the destination was not opened with \
         (it was opened with: {}). A destination is opened with every stream before the first \
         RECORD; give --catalog FILE ({file}) to name every stream up front",
        line.no,
        names.join(", ")
    )
}

/// The streams of a `--catalog` file: a Singer catalog (the streams it
/// selects, or all when it selects none) or a configured Airbyte catalog.
fn from_catalog_file(path: &Path, protocol: Protocol) -> Result<Vec<ConfiguredStream>> {
    let value: Value = crate::args::read_json(path, "catalog")?;
    let streams = match protocol {
        Protocol::Singer => catalog::configured_from_singer(&value).and_then(|c| {
            if !c.streams.is_empty() {
                return Ok(c.streams);
            }
            let all = catalog::from_singer(&value)?;
            Ok(all
                .streams
                .into_iter()
                .map(|s| ConfiguredStream {
                    schema: s.schema,
                    primary_key: s.primary_key,
                    ..ConfiguredStream::new(s.name)
                })
                .collect())
        }),
        Protocol::Airbyte => catalog::configured_from_airbyte(&value).map(|c| c.streams),
    };
    streams.map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// The catalog the writer is opened with: each stream with `--fields`
/// (checked against its schema), `--write-mode` and `--primary-key`
/// where they are given.
fn configure(streams: Vec<ConfiguredStream>, a: &WriteArgs) -> Result<ConfiguredCatalog> {
    let mut out = Vec::new();
    for mut s in streams {
        if !a.fields.is_empty() {
            s.schema = only_fields(&s.name, s.schema, &a.fields)?;
        }
        s.fields = a.fields.clone();
        if let Some(mode) = a.write_mode {
            s.write_mode = mode.into();
        }
        if !a.primary_key.is_empty() {
            s.primary_key = a.primary_key.clone();
        }
        out.push(s);
    }
    Ok(ConfiguredCatalog { streams: out })
}

/// `schema` with only the properties `fields`, each of which it must
/// have (when it lists properties).
pub fn only_fields(stream: &str, mut schema: Value, fields: &[String]) -> Result<Value> {
    let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return Ok(schema);
    };
    if let Some(f) = fields.iter().find(|f| !props.contains_key(*f)) {
        let names: Vec<&str> = props.keys().map(String::as_str).collect();
        bail!(
            "--fields: field `{f}` is not in the schema of stream `{stream}` (fields: {})",
            names.join(", ")
        );
    }
    props.retain(|k, _| fields.contains(k));
    if let Some(Value::Array(required)) = schema.get_mut("required") {
        required.retain(|r| r.as_str().is_some_and(|r| fields.iter().any(|f| f == r)));
    }
    Ok(schema)
}
