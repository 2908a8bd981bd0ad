//! `dest-file`: JSON-lines or CSV files in a granted directory.
//!
//! Each stream goes to `<path>/<stream>.jsonl` (or `.csv`). `overwrite`
//! truncates the file when the writer opens; `append` adds to it.
//! JSON-lines batches are appended as they arrive, without re-encoding.
//! `commit()` flushes and fsyncs every file before it returns, so the host
//! may persist state right after.

use serde::Deserialize;
use serde_json::{Value, json};
use sluice_guest::{
    Batch, Capabilities, Catalog, ConfiguredCatalog, Connector, ConnectorError, Destination,
    Operation, Result, Spec, WriteMode, Writer,
};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The dest-file connector.
pub struct FileDestination;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
}

/// Config of dest-file.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Directory (as the connector sees it) to write into.
    pub path: String,
    /// Output format.
    pub format: Format,
}

struct Output {
    path: PathBuf,
    file: BufWriter<File>,
    /// CSV columns: the configured schema's, else the first record's.
    columns: Option<Vec<String>>,
    /// Whether the CSV header is in the file.
    header_written: bool,
    dirty: bool,
}

/// Writes batches to one file per stream.
pub struct FileWriter {
    format: Format,
    outputs: HashMap<String, Output>,
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> ConnectorError {
    ConnectorError::config(format!("cannot {what} `{}`: {e}", path.display()))
}

impl Connector for FileDestination {
    type Config = Config;

    fn spec() -> Spec {
        let mut spec = Spec::destination(
            "dest-file",
            env!("CARGO_PKG_VERSION"),
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "dest-file",
                "type": "object",
                "required": ["path"],
                "additionalProperties": false,
                "properties": {
                    "path": {"type": "string", "minLength": 1,
                             "description": "Directory to write into, as granted (with write) to the connector."},
                    "format": {"type": "string", "enum": ["jsonl", "csv"], "default": "jsonl"}
                }
            }),
        );
        spec.capabilities = Capabilities {
            dirs: vec!["the directory named by `path` (read-write)".into()],
            ..Capabilities::default()
        };
        spec.documentation = Some("One JSON-lines or CSV file per stream.".into());
        spec
    }

    fn check(config: &Config) -> Result<()> {
        let probe = Path::new(&config.path).join(".sluice-check");
        File::create(&probe).map_err(|e| io_error("write into", Path::new(&config.path), e))?;
        std::fs::remove_file(&probe).map_err(|e| io_error("remove", &probe, e))
    }

    fn discover(_config: &Config) -> Result<Catalog> {
        // Any stream can be written; there is nothing to list up front.
        Ok(Catalog::default())
    }
}

impl Destination for FileDestination {
    type Writer = FileWriter;

    fn write(config: Config, catalog: ConfiguredCatalog) -> Result<FileWriter> {
        let ext = match config.format {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        };
        let mut outputs = HashMap::new();
        for stream in catalog.streams {
            let truncate = match stream.write_mode {
                WriteMode::Overwrite => true,
                WriteMode::Append => false,
                other => {
                    return Err(ConnectorError::config(format!(
                        "dest-file supports write modes overwrite and append, not {other:?}"
                    ))
                    .in_stream(&stream.name));
                }
            };
            let path = Path::new(&config.path).join(format!("{}.{ext}", stream.name));
            let file = OpenOptions::new()
                .create(true)
                .write(true)
                .append(!truncate)
                .truncate(truncate)
                .open(&path)
                .map_err(|e| io_error("open", &path, e))?;
            let existing = file.metadata().map(|m| m.len()).unwrap_or(0);
            let header_written = config.format == Format::Csv && existing > 0;
            let columns = if header_written {
                Some(read_csv_header(&path)?)
            } else {
                stream.schema["properties"]
                    .as_object()
                    .filter(|p| !p.is_empty())
                    .map(|p| p.keys().cloned().collect())
            };
            outputs.insert(
                stream.name.clone(),
                Output {
                    path,
                    file: BufWriter::with_capacity(1 << 20, file),
                    columns,
                    header_written,
                    dirty: false,
                },
            );
        }
        Ok(FileWriter {
            format: config.format,
            outputs,
        })
    }
}

fn read_csv_header(path: &Path) -> Result<Vec<String>> {
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| ConnectorError::config(format!("cannot read `{}`: {e}", path.display())))?;
    let headers = reader
        .headers()
        .map_err(|e| ConnectorError::config(format!("cannot read `{}`: {e}", path.display())))?;
    Ok(headers.iter().map(str::to_string).collect())
}

fn csv_cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

impl Writer for FileWriter {
    fn write(&mut self, batch: Batch, op: Operation) -> Result<()> {
        if op != Operation::Insert {
            return Err(ConnectorError::data(format!(
                "dest-file only inserts; it cannot apply {op:?}"
            ))
            .in_stream(&batch.stream));
        }
        let Some(out) = self.outputs.get_mut(&batch.stream) else {
            return Err(
                ConnectorError::data("stream is not in the configured catalog")
                    .in_stream(&batch.stream),
            );
        };
        out.dirty = true;
        match self.format {
            Format::Jsonl => out
                .file
                .write_all(&batch.data)
                .map_err(|e| io_error("write", &out.path, e)),
            Format::Csv => write_csv(out, &batch),
        }
    }

    fn commit(&mut self) -> Result<()> {
        for out in self.outputs.values_mut().filter(|o| o.dirty) {
            out.file
                .flush()
                .map_err(|e| io_error("flush", &out.path, e))?;
            out.file
                .get_ref()
                .sync_all()
                .map_err(|e| io_error("fsync", &out.path, e))?;
            out.dirty = false;
        }
        Ok(())
    }
}

fn write_csv(out: &mut Output, batch: &Batch) -> Result<()> {
    let mut lines = Vec::with_capacity(batch.count as usize);
    for (i, line) in batch.lines().enumerate() {
        match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(row)) => lines.push(row),
            _ => {
                return Err(ConnectorError::data(format!(
                    "record {} of the batch is not a JSON object",
                    i + 1
                ))
                .in_stream(&batch.stream));
            }
        }
    }
    if lines.is_empty() {
        return Ok(());
    }
    let mut csv = csv::Writer::from_writer(Vec::new());
    if out.columns.is_none() {
        out.columns = Some(lines[0].keys().cloned().collect());
    }
    if !out.header_written {
        csv.write_record(out.columns.as_ref().expect("set above"))
            .map_err(|e| ConnectorError::internal(e.to_string()))?;
        out.header_written = true;
    }
    let columns = out.columns.as_ref().expect("set above");
    for row in &lines {
        if let Some(extra) = row.keys().find(|k| !columns.contains(k)) {
            return Err(ConnectorError::data(format!(
                "field `{extra}` is not a column of `{}`",
                out.path.display()
            ))
            .in_stream(&batch.stream));
        }
        csv.write_record(columns.iter().map(|c| csv_cell(row.get(c))))
            .map_err(|e| ConnectorError::internal(e.to_string()))?;
    }
    let bytes = csv
        .into_inner()
        .map_err(|e| ConnectorError::internal(e.to_string()))?;
    out.file
        .write_all(&bytes)
        .map_err(|e| io_error("write", &out.path, e))
}

sluice_guest::export_destination!(FileDestination);
