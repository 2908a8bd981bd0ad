//! Reading a file's rows: JSON lines as they are (checked, with a few
//! fields read out) or as objects, CSV records with cells typed by the
//! inferred schema.

use crate::Format;
use serde_json::{Map, Value};
use sluice_guest::{ConnectorError, Result, io_error};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Rows of a file as JSON objects, with CSV cells typed by `schema`.
pub(crate) struct Rows {
    stream: String,
    inner: RowsInner,
    /// The line (or CSV record) last read, from 1.
    pub(crate) line: u64,
}

enum RowsInner {
    Csv {
        reader: csv::Reader<BufReader<File>>,
        headers: Vec<String>,
        types: Vec<&'static str>,
    },
    Json(std::io::Lines<BufReader<File>>),
}

fn column_type(schema: &Value, column: &str) -> &'static str {
    let types = &schema["properties"][column]["type"];
    let has = |t: &str| types == t || types.as_array().is_some_and(|a| a.iter().any(|x| x == t));
    if has("integer") {
        "integer"
    } else if has("number") {
        "number"
    } else if has("boolean") {
        "boolean"
    } else {
        "string"
    }
}

pub(crate) fn typed_cell(cell: &str, ty: &str) -> Value {
    if cell.is_empty() {
        return Value::Null;
    }
    let parsed = match ty {
        "integer" => cell.parse::<i64>().ok().map(Value::from),
        "number" => cell.parse::<f64>().ok().map(Value::from),
        "boolean" => cell.parse::<bool>().ok().map(Value::from),
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::String(cell.to_string()))
}

impl Rows {
    pub(crate) fn open(stream: &str, path: &Path, format: Format, schema: &Value) -> Result<Rows> {
        let file = File::open(path).map_err(|e| io_error("open", path, e))?;
        let reader = BufReader::with_capacity(1 << 20, file);
        let inner = match format {
            Format::Csv => {
                let mut reader = csv::Reader::from_reader(reader);
                let headers: Vec<String> = reader
                    .headers()
                    .map_err(|e| data_error(stream, 1, e))?
                    .iter()
                    .map(str::to_string)
                    .collect();
                let types = headers.iter().map(|h| column_type(schema, h)).collect();
                RowsInner::Csv {
                    reader,
                    headers,
                    types,
                }
            }
            Format::JsonLines => RowsInner::Json(reader.lines()),
        };
        Ok(Rows {
            stream: stream.into(),
            inner,
            line: 0,
        })
    }

    /// The next JSON-lines row as it is in the file, checked to be one JSON
    /// object but not decoded, with the values of its top-level fields
    /// `pick` (a cursor): the fast path when nothing else needs reading out
    /// of the row. `None` at the end, or for CSV files.
    pub(crate) fn next_raw_line(
        &mut self,
        pick: &[&str],
    ) -> Result<Option<(String, Vec<Option<Value>>)>> {
        let RowsInner::Json(lines) = &mut self.inner else {
            return Ok(None);
        };
        loop {
            self.line += 1;
            let Some(line) = lines.next() else {
                return Ok(None);
            };
            let line = line.map_err(|e| data_error(&self.stream, self.line, e))?;
            let text = line.trim();
            if text.is_empty() {
                continue;
            }
            if !text.starts_with('{') {
                return Err(data_error(&self.stream, self.line, "not a JSON object"));
            }
            let picked = sluice_guest::json::pick(text.as_bytes(), pick)
                .map_err(|e| data_error(&self.stream, self.line, e))?;
            return Ok(Some((line, picked)));
        }
    }

    pub(crate) fn next_row(&mut self) -> Result<Option<Map<String, Value>>> {
        loop {
            self.line += 1;
            match &mut self.inner {
                RowsInner::Csv {
                    reader,
                    headers,
                    types,
                } => {
                    let mut record = csv::StringRecord::new();
                    let more = reader
                        .read_record(&mut record)
                        .map_err(|e| data_error(&self.stream, self.line + 1, e))?;
                    if !more {
                        return Ok(None);
                    }
                    let row = headers
                        .iter()
                        .zip(types.iter())
                        .zip(record.iter())
                        .map(|((h, t), cell)| (h.clone(), typed_cell(cell, t)))
                        .collect();
                    return Ok(Some(row));
                }
                RowsInner::Json(lines) => {
                    let Some(line) = lines.next() else {
                        return Ok(None);
                    };
                    let line = line.map_err(|e| data_error(&self.stream, self.line, e))?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    return match serde_json::from_str::<Value>(&line) {
                        Ok(Value::Object(row)) => Ok(Some(row)),
                        Ok(_) => Err(data_error(&self.stream, self.line, "not a JSON object")),
                        Err(e) => Err(data_error(&self.stream, self.line, e)),
                    };
                }
            }
        }
    }
}

pub(crate) fn data_error(stream: &str, line: u64, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::data(format!("line {line}: {e}")).in_stream(stream)
}
