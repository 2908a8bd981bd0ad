//! `dest-file`: JSON-lines or CSV files in a granted directory.
//!
//! Each stream goes to `<path>/<stream>.jsonl` (or `.csv`). `overwrite`
//! truncates the file when the writer opens; `append` adds to it.
//! JSON-lines batches are appended as they arrive, without re-encoding, so
//! new fields are simply written. A CSV file's columns are fixed by its
//! header: when a stream's schema brings a different set of field names,
//! the file is closed and the stream goes on in `<stream>.2.csv` (then
//! `.3.csv`, ...) under the new header; an append run continues the first
//! numbered file whose header fits, an overwrite run removes the numbered
//! files first. Only inserts are applied: other operations are refused.
//! With `metadata: true`, every record also gets `_sluice_extracted_at`
//! (RFC 3339) and `_sluice_operation`.
//!
//! `commit()` flushes and fsyncs every file (and the directory that holds
//! new files) before it returns, so the host may persist state right
//! after. A run killed mid-write can leave a torn last record in an
//! appended file; the next writer cuts it off before appending (that record
//! was never committed, so the source sends it again).

mod output;
mod rows;

use output::{Output, file_name, remove_numbered};
use rows::{EXTRACTED_AT, OPERATION, jsonl_with_metadata, op_name, write_csv};
use serde::Deserialize;
use serde_json::json;
use sluice_guest::{
    Batch, Capabilities, Catalog, ConfiguredCatalog, ConfiguredStream, Connector, ConnectorError,
    Destination, Operation, Result, Schema, Spec, WriteMode, Writer, io_error,
};
use std::collections::HashMap;
use std::fs::File;
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

impl Format {
    fn ext(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }
}

/// Config of dest-file.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Directory (as the connector sees it) to write into.
    pub path: String,
    /// Output format.
    pub format: Format,
    /// Add `_sluice_extracted_at` and `_sluice_operation` to every record.
    #[serde(default)]
    pub metadata: bool,
}

/// Writes batches to one file per stream.
pub struct FileWriter {
    format: Format,
    metadata: bool,
    dir: PathBuf,
    outputs: HashMap<String, Output>,
    /// Whether files were created since the directory was last fsynced.
    dir_dirty: bool,
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
                    "format": {"type": "string", "enum": ["jsonl", "csv"], "default": "jsonl"},
                    "metadata": {"type": "boolean", "default": false,
                                 "description": "Add _sluice_extracted_at (RFC 3339) and _sluice_operation to every record."}
                }
            }),
        );
        spec.capabilities = Capabilities {
            dirs: vec!["the directory named by `path` (read-write)".into()],
            ..Capabilities::default()
        };
        spec.operations = vec![Operation::Insert];
        spec.reserved_keys = vec!["".into(), EXTRACTED_AT.into(), OPERATION.into()];
        spec.documentation = Some(
            "One JSON-lines or CSV file per stream; inserts only. When a CSV stream's \
             fields change, it goes on in <stream>.2.csv, <stream>.3.csv, ... under the new header."
                .into(),
        );
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
        let mut writer = FileWriter {
            format: config.format,
            metadata: config.metadata,
            dir: PathBuf::from(&config.path),
            outputs: HashMap::new(),
            dir_dirty: true,
        };
        for stream in catalog.streams {
            let out = writer.open(&stream)?;
            writer.outputs.insert(stream.name, out);
        }
        Ok(writer)
    }
}

impl FileWriter {
    /// The first file of a configured stream.
    fn open(&self, stream: &ConfiguredStream) -> Result<Output> {
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
        let (csv, ext) = (self.format == Format::Csv, self.format.ext());
        if truncate {
            remove_numbered(&self.dir, &stream.name, ext)?;
        }
        let name = file_name(&stream.name, 1, ext);
        let mut out = Output::open(&self.dir, name, 1, truncate, csv)?;
        if out.columns.is_none() {
            out.columns = stream.schema["properties"]
                .as_object()
                .filter(|p| !p.is_empty())
                .map(|p| self.with_metadata(p.keys().cloned().collect()));
        }
        Ok(out)
    }

    /// `columns`, plus the metadata columns when they are written.
    fn with_metadata(&self, mut columns: Vec<String>) -> Vec<String> {
        if self.metadata && self.format == Format::Csv {
            columns.extend([EXTRACTED_AT.to_string(), OPERATION.to_string()]);
        }
        columns
    }

    fn output(&mut self, stream: &str) -> Result<&mut Output> {
        self.outputs.get_mut(stream).ok_or_else(|| {
            ConnectorError::data("stream is not in the configured catalog").in_stream(stream)
        })
    }

    /// Close the current CSV file of `stream` (durable now) and go on in
    /// the next numbered one whose header is `columns` (or that is new).
    fn rotate(&mut self, stream: &str, columns: Vec<String>) -> Result<()> {
        let out = self.output(stream)?;
        out.sync()?;
        let (mut number, truncate) = (out.number + 1, out.truncate);
        loop {
            let name = file_name(stream, number, "csv");
            let mut next = Output::open(&self.dir, name, number, truncate, true)?;
            if next
                .columns
                .as_ref()
                .is_none_or(|c| same_names(c, &columns))
            {
                next.columns.get_or_insert(columns);
                self.outputs.insert(stream.to_string(), next);
                self.dir_dirty = true;
                return Ok(());
            }
            number += 1;
        }
    }
}

/// Whether two column lists hold the same names (in any order).
fn same_names(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

impl Writer for FileWriter {
    fn schema(&mut self, stream: &str, schema: &Schema) -> Result<()> {
        if self.format != Format::Csv {
            return Ok(());
        }
        let columns = self.with_metadata(schema.names().into_iter().map(String::from).collect());
        let out = self.output(stream)?;
        if out
            .columns
            .as_ref()
            .is_some_and(|c| same_names(c, &columns))
        {
            return Ok(());
        }
        if !out.header_written {
            out.columns = Some(columns);
            return Ok(());
        }
        self.rotate(stream, columns)
    }

    fn write(&mut self, batch: Batch) -> Result<()> {
        if batch.operation != Operation::Insert {
            let op = op_name(batch.operation);
            return Err(ConnectorError::data(format!(
                "dest-file only inserts; it cannot apply the {op} batch of stream `{}`. \
                 Sync this stream without {op}s (e.g. turn them off in the source), or write it \
                 to a destination whose spec lists {op} among its operations",
                batch.stream
            ))
            .in_stream(&batch.stream));
        }
        let (format, metadata) = (self.format, self.metadata);
        let out = self.output(&batch.stream)?;
        match (format, metadata) {
            (Format::Jsonl, false) => out.write(&batch.data),
            (Format::Jsonl, true) => out.write(&jsonl_with_metadata(&batch)),
            (Format::Csv, _) => write_csv(out, &batch, metadata),
        }
    }

    fn commit(&mut self) -> Result<()> {
        for out in self.outputs.values_mut() {
            out.sync()?;
        }
        if std::mem::take(&mut self.dir_dirty) {
            // New files' directory entries. Not every platform lets a
            // directory be opened for this; the data itself is synced above.
            if let Err(e) = File::open(&self.dir).and_then(|d| d.sync_all()) {
                sluice_guest::log(
                    sluice_guest::Level::Debug,
                    &format!("cannot fsync directory `{}`: {e}", self.dir.display()),
                );
            }
        }
        Ok(())
    }
}

sluice_guest::export_destination!(FileDestination);

#[cfg(test)]
mod tests;
