//! `dest-file`: JSON-lines or CSV files in a granted directory.
//!
//! Each stream goes to `<path>/<stream>.jsonl` (or `.csv`). `overwrite`
//! truncates the file when the writer opens; `append` adds to it.
//! JSON-lines batches are appended as they arrive, without re-encoding.
//! `commit()` flushes and fsyncs every file (and, once, the directory that
//! holds new files) before it returns, so the host may persist state right
//! after. A run killed mid-write can leave a torn last record in an
//! appended file; the next writer cuts it off before appending (that record
//! was never committed, so the source sends it again).

use serde::Deserialize;
use serde_json::{Value, json};
use sluice_guest::{
    Batch, Capabilities, Catalog, ConfiguredCatalog, Connector, ConnectorError, Destination,
    Operation, Result, Spec, WriteMode, Writer, io_error,
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
    /// The directory, to fsync once so that new files survive a crash.
    dir: Option<PathBuf>,
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
            if !truncate {
                cut_torn_tail(&path)?;
            }
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
            dir: Some(PathBuf::from(&config.path)),
        })
    }
}

/// Cut a torn last record (bytes after the last newline) off `path`.
fn cut_torn_tail(path: &Path) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error("open", path, e)),
    };
    let len = file
        .metadata()
        .map_err(|e| io_error("stat", path, e))?
        .len();
    let mut end = len;
    let mut chunk = vec![0u8; 64 << 10];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let buf = &mut chunk[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(buf))
            .map_err(|e| io_error("read", path, e))?;
        if let Some(pos) = buf.iter().rposition(|b| *b == b'\n') {
            end = start + pos as u64 + 1;
            break;
        }
        end = start;
    }
    if end < len {
        sluice_guest::log(
            sluice_guest::Level::Warn,
            &format!(
                "cut {} bytes of a torn record off the end of `{}` (left by an interrupted run; it was not committed and is sent again)",
                len - end,
                path.display()
            ),
        );
        file.set_len(end)
            .map_err(|e| io_error("truncate", path, e))?;
        file.sync_all().map_err(|e| io_error("fsync", path, e))?;
    }
    Ok(())
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
        if let Some(dir) = self.dir.take() {
            // New files' directory entries. Not every platform lets a
            // directory be opened for this; the data itself is synced above.
            if let Err(e) = File::open(&dir).and_then(|d| d.sync_all()) {
                sluice_guest::log(
                    sluice_guest::Level::Debug,
                    &format!("cannot fsync directory `{}`: {e}", dir.display()),
                );
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_guest::{ConfiguredStream, SyncMode};

    fn catalog(mode: WriteMode) -> ConfiguredCatalog {
        ConfiguredCatalog {
            streams: vec![ConfiguredStream {
                name: "s".into(),
                fields: vec![],
                sync_mode: SyncMode::Incremental,
                cursor_field: None,
                primary_key: vec![],
                write_mode: mode,
                schema: json!({"type": "object"}),
            }],
        }
    }

    #[test]
    fn a_torn_last_record_is_cut_before_appending() {
        let dir = std::env::temp_dir().join(format!("dest-file-torn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("s.jsonl");
        std::fs::write(&file, b"{\"a\":1}\n{\"a\":2}\n{\"a\":").unwrap();
        let config = Config {
            path: dir.display().to_string(),
            format: Format::Jsonl,
        };
        let mut w = FileDestination::write(config, catalog(WriteMode::Append)).unwrap();
        w.write(
            Batch::json_lines("s", 1, b"{\"a\":3}\n".to_vec()),
            Operation::Insert,
        )
        .unwrap();
        w.commit().unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
