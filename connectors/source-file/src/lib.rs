//! `source-file`: CSV and JSON-lines files of a granted directory.
//!
//! Every `*.csv`, `*.jsonl` or `*.ndjson` file directly inside `path` is a
//! stream named after the file's stem. `discover` infers each stream's
//! schema from its first rows. Full refresh reads every row; incremental
//! reads rows whose cursor column is greater than the saved cursor and
//! checkpoints once the file is done (files need not be sorted). Every
//! batch carries the registry id of the typed form of the inferred schema
//! (every column optional: integer, number, boolean or string; nested
//! JSON values as `Schema::from_json_schema` reads them).

use rows::{Rows, data_error};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sluice_guest::{
    BatchBuilder, Capabilities, Catalog, ConfiguredCatalog, ConfiguredStream, Connector,
    ConnectorError, Result, Schema, Source, Spec, State, Step, StreamInfo, StreamOutput,
    StreamRead, Streams, SyncMode, io_error,
};
use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

mod rows;

/// The source-file connector.
pub struct FileSource;

/// Config of source-file.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Directory (as the connector sees it) holding the files.
    pub path: String,
    /// Rows read to infer a schema.
    pub infer_rows: usize,
    /// Records per batch.
    pub batch_size: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Csv,
    JsonLines,
}

fn format_of(path: &Path) -> Option<Format> {
    match path.extension()?.to_str()? {
        "csv" => Some(Format::Csv),
        "jsonl" | "ndjson" => Some(Format::JsonLines),
        _ => None,
    }
}

/// The stream files of `dir`, sorted by stream name.
fn stream_files(dir: &Path) -> Result<Vec<(String, PathBuf, Format)>> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_error("read directory", dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| io_error("read directory", dir, e))?
            .path();
        let (Some(format), Some(stem)) = (format_of(&path), path.file_stem()) else {
            continue;
        };
        files.push((stem.to_string_lossy().into_owned(), path, format));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// The JSON Schema type of one value.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The narrowest type covering both `a` and `b`.
fn widen(a: &'static str, b: &'static str) -> &'static str {
    match (a, b) {
        _ if a == b => a,
        ("null", x) | (x, "null") => x,
        ("integer", "number") | ("number", "integer") => "number",
        _ => "string",
    }
}

/// A CSV cell's type: integer, number, boolean or string.
fn cell_type(cell: &str) -> &'static str {
    if cell.is_empty() {
        "null"
    } else if cell.parse::<i64>().is_ok() {
        "integer"
    } else if cell.parse::<f64>().is_ok() {
        "number"
    } else if cell == "true" || cell == "false" {
        "boolean"
    } else {
        "string"
    }
}

fn infer_schema(stream: &str, path: &Path, format: Format, rows: usize) -> Result<Value> {
    let mut columns: Vec<(String, &'static str)> = Vec::new();
    let mut note = |name: &str, ty: &'static str| match columns.iter_mut().find(|(n, _)| n == name)
    {
        Some((_, t)) => *t = widen(t, ty),
        None => columns.push((name.to_string(), ty)),
    };
    let file = File::open(path).map_err(|e| io_error("open", path, e))?;
    match format {
        Format::Csv => {
            let mut reader = csv::Reader::from_reader(BufReader::new(file));
            let headers = reader
                .headers()
                .map_err(|e| data_error(stream, 1, e))?
                .clone();
            for h in headers.iter() {
                note(h, "null");
            }
            for (i, record) in reader.records().take(rows).enumerate() {
                let record = record.map_err(|e| data_error(stream, i as u64 + 2, e))?;
                for (h, cell) in headers.iter().zip(record.iter()) {
                    note(h, cell_type(cell));
                }
            }
        }
        Format::JsonLines => {
            let mut rows_seen = 0;
            for (i, line) in BufReader::new(file).lines().enumerate() {
                let line = line.map_err(|e| data_error(stream, i as u64 + 1, e))?;
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(&line) {
                    Ok(Value::Object(row)) => {
                        for (k, v) in &row {
                            note(k, json_type(v));
                        }
                    }
                    Ok(_) => return Err(data_error(stream, i as u64 + 1, "not a JSON object")),
                    Err(e) => return Err(data_error(stream, i as u64 + 1, e)),
                }
                rows_seen += 1;
                if rows_seen >= rows {
                    break;
                }
            }
        }
    }
    let properties: Map<String, Value> = columns
        .into_iter()
        .map(|(name, ty)| {
            let ty = if ty == "null" { "string" } else { ty };
            (name, json!({"type": [ty, "null"]}))
        })
        .collect();
    Ok(json!({"type": "object", "properties": properties}))
}

/// The typed schema of an inferred JSON Schema, registered for the batches.
fn typed_schema(stream: &str, inferred: &Value) -> Result<Schema> {
    Schema::from_json_schema(inferred).map_err(|e| {
        ConnectorError::internal(format!("the inferred schema has no typed form: {e}"))
            .in_stream(stream)
    })
}

/// Order of two cursor values: numbers numerically, anything else as text.
fn compare(a: &Value, b: &Value) -> Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => text(a).cmp(&text(b)),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Serialize, Deserialize)]
struct Bookmark {
    cursor_field: String,
    cursor: Value,
}

/// One configured stream of source-file: the rows of its file.
pub struct FileStream {
    stream: ConfiguredStream,
    path: PathBuf,
    format: Format,
    infer_rows: usize,
    after: Option<Value>,
    max_cursor: Option<Value>,
    rows: Option<Rows>,
    batch: BatchBuilder,
}

/// Reads the configured files one after another.
pub type FileReader = Streams<FileStream>;

impl Connector for FileSource {
    type Config = Config;

    fn spec() -> Spec {
        let mut spec = Spec::source(
            "source-file",
            env!("CARGO_PKG_VERSION"),
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "source-file",
                "type": "object",
                "required": ["path"],
                "additionalProperties": false,
                "properties": {
                    "path": {"type": "string", "minLength": 1,
                             "description": "Directory holding *.csv / *.jsonl files, as granted to the connector."},
                    "infer_rows": {"type": "integer", "minimum": 1, "default": 1000},
                    "batch_size": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1000}
                }
            }),
        );
        spec.capabilities = Capabilities {
            dirs: vec!["the directory named by `path` (read-only)".into()],
            ..Capabilities::default()
        };
        spec.documentation = Some("CSV and JSON-lines files; one stream per file.".into());
        // Each stream is its own file: several readers may take them.
        spec.reads_streams_in_parallel()
    }

    fn check(config: &Config) -> Result<()> {
        stream_files(Path::new(&config.path)).map(|_| ())
    }

    fn discover(config: &Config) -> Result<Catalog> {
        let mut streams = Vec::new();
        for (name, path, format) in stream_files(Path::new(&config.path))? {
            let schema = infer_schema(&name, &path, format, config.infer_rows)?;
            let cursor_candidates: Vec<String> = schema["properties"]
                .as_object()
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            let mut info = StreamInfo::new(&name, schema);
            info.sync_modes = vec![SyncMode::FullRefresh, SyncMode::Incremental];
            if cursor_candidates.iter().any(|c| c == "id") {
                info.primary_key = vec!["id".into()];
            }
            info.default_cursor = ["updated_at", "modified_at", "id"]
                .iter()
                .find(|c| cursor_candidates.iter().any(|x| x == *c))
                .map(|c| c.to_string());
            info.cursor_candidates = cursor_candidates;
            streams.push(info);
        }
        Ok(Catalog { streams })
    }
}

impl Source for FileSource {
    type Reader = FileReader;

    fn read(config: Config, catalog: ConfiguredCatalog, state: State) -> Result<FileReader> {
        let files = stream_files(Path::new(&config.path))?;
        Streams::open(catalog, |stream| {
            let Some((_, path, format)) = files.iter().find(|(n, _, _)| *n == stream.name) else {
                return Err(ConnectorError::config(format!(
                    "no file for stream `{}` in `{}`",
                    stream.name, config.path
                ))
                .in_stream(&stream.name));
            };
            let after = if stream.sync_mode == SyncMode::Incremental {
                let Some(field) = &stream.cursor_field else {
                    return Err(
                        ConnectorError::config("incremental sync needs a cursor field")
                            .in_stream(&stream.name),
                    );
                };
                match state.get::<Bookmark>(&stream.name)? {
                    Some(b) if &b.cursor_field == field => Some(b.cursor),
                    _ => None,
                }
            } else {
                None
            };
            Ok(FileStream {
                path: path.clone(),
                format: *format,
                infer_rows: config.infer_rows,
                max_cursor: after.clone(),
                after,
                rows: None,
                batch: BatchBuilder::for_stream(&stream, config.batch_size),
                stream,
            })
        })
    }
}

impl FileStream {
    /// Fill the batch from the file (opened on the first call); whether the
    /// file is done.
    fn fill_batch(&mut self) -> Result<bool> {
        let name = self.stream.name.as_str();
        if self.rows.is_none() {
            // Type cells as discover does, from the file itself: the
            // configured schema may leave out unselected columns.
            let schema = infer_schema(name, &self.path, self.format, self.infer_rows)?;
            self.batch.set_schema(&typed_schema(name, &schema)?)?;
            self.rows = Some(Rows::open(name, &self.path, self.format, &schema)?);
        }
        let rows = self.rows.as_mut().expect("opened above");
        let incremental = self.stream.sync_mode == SyncMode::Incremental;
        let cursor_field = self.stream.cursor_field.as_deref().unwrap_or_default();
        // Every field of a JSON-lines file: rows go through as they are,
        // only checked, with just the cursor read out of them.
        let pass_through = self.format == Format::JsonLines && self.stream.fields.is_empty();
        let pick: &[&str] = if incremental { &[cursor_field] } else { &[] };
        while pass_through && !self.batch.is_full() {
            let Some((line, picked)) = rows.next_raw_line(pick)? else {
                return Ok(true);
            };
            if incremental {
                let cursor = picked.into_iter().next().flatten();
                let cursor = present(name, cursor_field, cursor, rows.line)?;
                if !advance(&self.after, &mut self.max_cursor, cursor) {
                    continue;
                }
            }
            self.batch.push_json_line(line.trim().as_bytes());
        }
        while !pass_through && !self.batch.is_full() {
            let Some(row) = rows.next_row()? else {
                return Ok(true);
            };
            if incremental {
                let cursor = present(
                    name,
                    cursor_field,
                    row.get(cursor_field).cloned(),
                    rows.line,
                )?;
                if !advance(&self.after, &mut self.max_cursor, cursor) {
                    continue;
                }
            }
            self.batch.push(&row)?;
        }
        Ok(false)
    }
}

/// A row's cursor value, or the error naming the line that has none.
fn present(stream: &str, field: &str, cursor: Option<Value>, line: u64) -> Result<Value> {
    cursor.filter(|v| !v.is_null()).ok_or_else(|| {
        data_error(
            stream,
            line,
            format!("row has no value in cursor field `{field}`"),
        )
    })
}

/// Whether a row with `cursor` comes after the saved bookmark `after`;
/// the stream's new bookmark `max` moves up to it.
fn advance(after: &Option<Value>, max: &mut Option<Value>, cursor: Value) -> bool {
    if after
        .as_ref()
        .is_some_and(|a| compare(&cursor, a) != Ordering::Greater)
    {
        return false;
    }
    if max
        .as_ref()
        .is_none_or(|m| compare(&cursor, m) == Ordering::Greater)
    {
        *max = Some(cursor);
    }
    true
}

impl StreamRead for FileStream {
    fn read_batch(&mut self, out: &mut StreamOutput<'_>) -> Result<Step> {
        let done = self.fill_batch()?;
        out.records(&mut self.batch);
        if !done {
            return Ok(Step::More);
        }
        if self.stream.sync_mode == SyncMode::Incremental
            && let Some(cursor) = self.max_cursor.clone()
        {
            out.checkpoint(&Bookmark {
                cursor_field: self.stream.cursor_field.clone().unwrap_or_default(),
                cursor,
            })?;
        }
        Ok(Step::Done)
    }
}

sluice_guest::export_source!(FileSource);

#[cfg(test)]
mod tests {
    use super::*;
    use rows::typed_cell;

    #[test]
    fn widening_and_cells() {
        assert_eq!(widen("integer", "number"), "number");
        assert_eq!(widen("null", "boolean"), "boolean");
        assert_eq!(widen("integer", "string"), "string");
        assert_eq!(cell_type("12"), "integer");
        assert_eq!(cell_type("1.5"), "number");
        assert_eq!(typed_cell("7", "integer"), json!(7));
        assert_eq!(typed_cell("", "integer"), Value::Null);
    }

    #[test]
    fn batches_carry_the_typed_inferred_schema() {
        use sluice_guest::{Message, Reader, Type, native};
        let dir = std::env::temp_dir().join(format!("source-file-typed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("people.csv"), "id,name,score\n1,a,1.5\n2,b,\n").unwrap();
        let config = json!({"path": dir.display().to_string()}).to_string();
        let catalog = ConfiguredCatalog {
            streams: vec![ConfiguredStream::new("people")],
        };
        let mut reader = native::read::<FileSource>(&config, catalog, vec![]).unwrap();
        let mut batches = Vec::new();
        while let Some(messages) = reader.next().unwrap() {
            batches.extend(messages.into_iter().filter_map(|m| match m {
                Message::Records(b) => Some(b),
                _ => None,
            }));
        }
        std::fs::remove_dir_all(&dir).unwrap();
        let id = batches[0].schema_id.as_deref().unwrap();
        let schema = sluice_guest::registry::fetch(id).unwrap().unwrap();
        assert_eq!(schema.names(), ["id", "name", "score"]);
        assert_eq!(schema.field("id").unwrap().ty, Type::Int64);
        assert_eq!(schema.field("score").unwrap().ty, Type::Float64);
        assert!(schema.fields.iter().all(|f| !f.required));
    }

    #[test]
    fn cursor_order_is_numeric_for_numbers() {
        assert_eq!(compare(&json!(10), &json!(9)), Ordering::Greater);
        assert_eq!(
            compare(&json!("2024-02-01"), &json!("2024-01-31")),
            Ordering::Greater
        );
    }
}
