//! `write` (alias `load`): JSON lines from stdin into a destination, in
//! batches, committed at the end; optionally only some fields of each.
//! With `--format singer|airbyte`, the messages of a Singer tap or an
//! Airbyte source instead ([`messages`]).

mod commits;
mod messages;
mod opening;

use super::require_role;
use crate::args::{self, ComponentArgs, Format, SandboxArgs};
use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Map, Value};
use sluice_protocol::{
    Batch, Catalog, ConfiguredCatalog, ConfiguredStream, Operation, Role, WriteMode,
};
use sluice_runtime::{DestinationWriter, Registry, Runtime};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `write`.
#[derive(Args)]
pub struct WriteArgs {
    #[command(flatten)]
    component: ComponentArgs,
    #[command(flatten)]
    sandbox: SandboxArgs,
    /// Stream to write (required with --format jsonl; Singer and Airbyte
    /// messages name their streams).
    #[arg(long)]
    stream: Option<String>,
    /// What stdin holds: JSON lines of records; Singer messages (SCHEMA,
    /// RECORD, STATE), as a Singer target reads them; or Airbyte messages
    /// (RECORD, STATE, TRACE), as an Airbyte destination reads them. With
    /// singer or airbyte, every STATE is printed on stdout once the
    /// destination has committed every record before it.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,
    /// The streams up front (--format singer: a Singer catalog, its
    /// selected streams or else all; --format airbyte: a configured Airbyte
    /// catalog, with each stream's destination sync mode). Without it the
    /// streams are those of the SCHEMAs before the first RECORD (Singer)
    /// or the first RECORD's (Airbyte).
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// Commit at most this often (ms) while a state waits to be printed;
    /// the end of stdin always commits (--format singer|airbyte).
    #[arg(long, default_value_t = 1000)]
    commit_interval_ms: u64,
    /// What the records do.
    #[arg(long, value_enum, default_value = "insert")]
    operation: args::OperationArg,
    /// How the destination applies the streams [default: append, or an
    /// Airbyte catalog's destination sync mode].
    #[arg(long, value_enum)]
    write_mode: Option<args::WriteModeArg>,
    /// The streams' primary key (comma-separated fields), which
    /// `append-dedup`, `history` and deletes apply by [default: a Singer
    /// SCHEMA's key_properties, or the catalog's].
    #[arg(long, value_delimiter = ',')]
    primary_key: Vec<String>,
    /// Records per batch.
    #[arg(long, default_value_t = 1000)]
    batch_size: u32,
    /// Only these fields of each record (comma-separated). Each must be in
    /// the destination's schema of the stream when it declares one, else
    /// in the first record.
    #[arg(long, value_delimiter = ',')]
    fields: Vec<String>,
}

/// `sluice write`.
pub async fn write(rt: &Runtime, a: WriteArgs) -> Result<ExitCode> {
    if let Some(protocol) = a.format.protocol() {
        if a.stream.is_some() {
            bail!("--stream is for --format jsonl: {protocol} messages name their streams");
        }
        return messages::write(rt, &a, protocol).await;
    }
    if a.catalog.is_some() {
        bail!("--catalog is for --format singer|airbyte; with jsonl, name the --stream");
    }
    let Some(stream) = a.stream.clone() else {
        bail!("--stream is required with --format jsonl (the stream the records belong to)");
    };
    write_jsonl(rt, a, &stream).await
}

/// `sluice write --format jsonl`: the records of `stream`.
async fn write_jsonl(rt: &Runtime, a: WriteArgs, stream: &str) -> Result<ExitCode> {
    let connector = rt.load(&a.component.component).await?;
    require_role(&connector, Role::Destination)?;
    let sandbox = a.sandbox.sandbox()?;
    let config = a.component.config()?;
    let mut records = Records::new(std::io::stdin().lock());
    // The first record is read before the writer opens, so a `--fields`
    // error leaves the destination untouched.
    let first = records.next()?;
    let discovered = connector.discover(&sandbox, &config).await?;
    if !a.fields.is_empty() {
        check_fields(&discovered, stream, &a.fields, first.as_ref())?;
    }
    // The destination's own schema of the stream when it has one (a table
    // that exists), else one read off the first record.
    let schema = match discovered.stream(stream) {
        Some(s) if !s.schema.is_null() => s.schema.clone(),
        _ => first
            .as_ref()
            .map_or(Value::Null, |r| infer_schema(&r.fields, &a.fields)),
    };
    let catalog = ConfiguredCatalog {
        streams: vec![ConfiguredStream {
            write_mode: a.write_mode.map_or(WriteMode::Append, Into::into),
            fields: a.fields.clone(),
            primary_key: a.primary_key.clone(),
            schema,
            ..ConfiguredStream::new(stream.to_string())
        }],
    };
    let registry = Registry::memory();
    let mut writer = connector
        .write(&sandbox, &config, &catalog, &registry)
        .await?;
    let mut batches = Batcher {
        writer: &mut writer,
        stream,
        operation: a.operation.into(),
        size: a.batch_size.max(1),
        data: Vec::new(),
        count: 0,
        total: 0,
    };
    let mut next = first;
    while let Some(record) = next {
        batches.push(record.bytes(&a.fields)?).await?;
        next = records.next()?;
    }
    let total = batches.finish().await?;
    // stdin ended: the stream is complete (an overwrite swaps in here).
    writer.complete(stream).await?;
    writer.commit().await?;
    writer.close().await?;
    eprintln!(
        "wrote {total} records to stream `{}` of {} (committed)",
        stream,
        connector.name()
    );
    Ok(ExitCode::SUCCESS)
}

/// Fail unless every one of `fields` is in the destination's schema of
/// `stream`, when its catalog has one, else in the `first` record.
fn check_fields(
    destination: &Catalog,
    stream: &str,
    fields: &[String],
    first: Option<&Record>,
) -> Result<()> {
    let declared = destination
        .stream(stream)
        .and_then(|s| s.schema.get("properties"))
        .and_then(Value::as_object);
    if let Some(props) = declared {
        if let Some(f) = fields.iter().find(|f| !props.contains_key(*f)) {
            let names: Vec<&str> = props.keys().map(String::as_str).collect();
            bail!(
                "--fields: field `{f}` is not in the destination's schema of stream `{stream}` (fields: {})",
                names.join(", ")
            );
        }
        return Ok(());
    }
    let Some(first) = first else {
        return Ok(());
    };
    if let Some(f) = fields.iter().find(|f| !first.fields.contains_key(*f)) {
        let names: Vec<&str> = first.fields.keys().map(String::as_str).collect();
        bail!(
            "--fields: field `{f}` is not in the first record of stream `{stream}` (stdin line {}; its fields: {})",
            first.line,
            names.join(", ")
        );
    }
    Ok(())
}

/// A JSON Schema for rows like `first` (only `fields`, when given): every
/// field optional, typed by its value (whole numbers `integer`, others
/// `number`; objects and arrays as JSON; a null as unconstrained).
pub(super) fn infer_schema(first: &Map<String, Value>, fields: &[String]) -> Value {
    let properties: Map<String, Value> = first
        .iter()
        .filter(|(k, _)| fields.is_empty() || fields.contains(k))
        .map(|(k, v)| {
            let ty = match v {
                Value::Null => return (k.clone(), serde_json::json!({})),
                Value::Bool(_) => "boolean",
                Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            };
            (k.clone(), serde_json::json!({"type": [ty, "null"]}))
        })
        .collect();
    serde_json::json!({"type": "object", "properties": properties})
}

/// One JSON object read from stdin.
struct Record {
    /// Its line number.
    line: u64,
    /// The line as it was, trimmed.
    text: String,
    /// Its fields.
    fields: Map<String, Value>,
}

impl Record {
    /// The record as a JSON line, with only `fields` when any are given.
    fn bytes(mut self, fields: &[String]) -> Result<Vec<u8>> {
        let mut out = if fields.is_empty() {
            self.text.into_bytes()
        } else {
            self.fields.retain(|k, _| fields.contains(k));
            serde_json::to_vec(&self.fields)
                .with_context(|| format!("stdin line {}: cannot re-encode the record", self.line))?
        };
        out.push(b'\n');
        Ok(out)
    }
}

/// The JSON objects of a reader's lines; blank lines are skipped, and a
/// line that is not a JSON object is an error naming the line.
struct Records<R> {
    lines: std::io::Lines<R>,
    line: u64,
}

impl<R: BufRead> Records<R> {
    fn new(input: R) -> Self {
        Records {
            lines: input.lines(),
            line: 0,
        }
    }

    /// The next record, `None` at the end.
    fn next(&mut self) -> Result<Option<Record>> {
        for text in self.lines.by_ref() {
            self.line += 1;
            let text = text.context("cannot read stdin")?;
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let line = self.line;
            return match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(fields)) => Ok(Some(Record {
                    line,
                    text: text.to_string(),
                    fields,
                })),
                Ok(_) => bail!("stdin line {line}: not a JSON object"),
                Err(e) => bail!("stdin line {line}: not valid JSON: {e}"),
            };
        }
        Ok(None)
    }
}

/// Records gathered into batches of `size` and written to `stream`.
struct Batcher<'a> {
    writer: &'a mut DestinationWriter,
    stream: &'a str,
    operation: Operation,
    size: u32,
    data: Vec<u8>,
    count: u32,
    total: u64,
}

impl Batcher<'_> {
    /// Add one JSON line; a full batch is written.
    async fn push(&mut self, line: Vec<u8>) -> Result<()> {
        self.data.extend_from_slice(&line);
        self.count += 1;
        if self.count >= self.size {
            self.flush().await?;
        }
        Ok(())
    }

    /// Write what is gathered.
    async fn flush(&mut self) -> Result<()> {
        if self.count == 0 {
            return Ok(());
        }
        let data = std::mem::take(&mut self.data);
        let mut batch = Batch::json_lines(self.stream, self.count, data);
        batch.operation = self.operation;
        self.writer.write(batch).await?;
        self.total += u64::from(self.count);
        self.count = 0;
        Ok(())
    }

    /// Write the rest; returns how many records were written.
    async fn finish(mut self) -> Result<u64> {
        self.flush().await?;
        Ok(self.total)
    }
}
