//! A duplex connector written against contract 0.1.0 with the raw
//! bindings, as connectors were before 0.2.0: the host must keep loading
//! and running it unchanged.
//!
//! Source: one stream `items` (`id`, `name`; primary key `id`) of `count`
//! records (config, default 5) `{"id": n, "name": "item n"}`, in one or two
//! batches, then a `{"last": n}` checkpoint and `complete`; a read resumes
//! after the saved `last`. Destination: appends every batch as JSON lines
//! to the file at config `path` (under a granted directory); `commit`
//! flushes and fsyncs it.

wit_bindgen::generate!({ world: "duplex-connector", path: "../../../wit/0.1.0" });

use exports::sluice::connector::connector::Guest as ConnectorGuest;
use exports::sluice::connector::destination::{Guest as DestinationGuest, GuestWriter, Writer};
use exports::sluice::connector::source::{Guest as SourceGuest, GuestReader, Reader};
use serde_json::{Value, json};
use sluice::connector::host::{Level, log};
use sluice::connector::types::*;
use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};

const STREAM: &str = "items";

struct Items;

fn error(kind: ErrorKind, message: String) -> ConnectorError {
    ConnectorError {
        kind,
        message,
        stream: None,
    }
}

fn config(text: &str) -> Result<Value, ConnectorError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| error(ErrorKind::Config, format!("config is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(error(ErrorKind::Config, "config is not an object".into()));
    }
    Ok(v)
}

impl ConnectorGuest for Items {
    fn spec() -> ConnectorSpec {
        ConnectorSpec {
            name: "contract-0-1-0".into(),
            version: "0.1.0".into(),
            roles: vec![ConnectorRole::Source, ConnectorRole::Destination],
            config_schema: json!({
                "type": "object",
                "properties": {
                    "count": {"type": "integer", "minimum": 0, "default": 5,
                              "description": "Records the source emits."},
                    "path": {"type": "string",
                             "description": "File the destination appends to."}
                }
            })
            .to_string(),
            sync_modes: vec![SyncMode::FullRefresh, SyncMode::Incremental],
            write_modes: vec![WriteMode::Append],
            operations: vec![Operation::Insert],
            reserved_keys: vec![],
            capabilities: Capabilities {
                hosts: vec![],
                dirs: vec!["the directory holding `path` (read-write)".into()],
                env: vec![],
            },
            documentation: Some("A connector of contract 0.1.0.".into()),
        }
    }

    fn check(config_text: String) -> Result<(), ConnectorError> {
        config(&config_text).map(|_| ())
    }

    fn discover(config_text: String) -> Result<Catalog, ConnectorError> {
        config(&config_text)?;
        Ok(Catalog {
            streams: vec![StreamInfo {
                name: STREAM.into(),
                schema: json!({
                    "type": "object",
                    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                    "required": ["id", "name"]
                })
                .to_string(),
                primary_key: vec!["id".into()],
                cursor_candidates: vec!["id".into()],
                default_cursor: Some("id".into()),
                sync_modes: vec![SyncMode::FullRefresh, SyncMode::Incremental],
                operation_schemas: vec![],
                relationships: vec![],
            }],
        })
    }
}

/// Where a read is: the ids still to emit, and the calls made.
struct ItemsReader {
    next_id: RefCell<u64>,
    count: u64,
    calls: RefCell<u32>,
    selected: bool,
}

fn batch(from: u64, to: u64) -> Batch {
    let mut data = Vec::new();
    for id in from..=to {
        let line = json!({"id": id, "name": format!("item {id}")}).to_string();
        data.extend_from_slice(line.as_bytes());
        data.push(b'\n');
    }
    Batch {
        stream: STREAM.into(),
        count: (to + 1 - from) as u32,
        format: BatchFormat::JsonLines,
        data,
    }
}

impl GuestReader for ItemsReader {
    /// First call: `started` and the first half; second call: the rest,
    /// the checkpoint and `complete`; then `none`.
    fn next(&self) -> Result<Option<Vec<Message>>, ConnectorError> {
        let call = {
            let mut calls = self.calls.borrow_mut();
            *calls += 1;
            *calls
        };
        if !self.selected || call > 2 {
            return Ok(None);
        }
        let mut next_id = self.next_id.borrow_mut();
        let mut messages = Vec::new();
        let to = match call {
            1 => {
                messages.push(Message::Status((STREAM.into(), StreamStatus::Started)));
                let left = (self.count + 1).saturating_sub(*next_id);
                *next_id + left.div_ceil(2)
            }
            _ => self.count + 1,
        };
        if to > *next_id {
            messages.push(Message::Records(batch(*next_id, to - 1)));
            *next_id = to;
        }
        if call == 2 {
            let last = next_id.saturating_sub(1);
            messages.push(Message::State(StreamState {
                stream: STREAM.into(),
                state: json!({"last": last}).to_string(),
            }));
            messages.push(Message::Status((STREAM.into(), StreamStatus::Complete)));
        }
        Ok(Some(messages))
    }
}

impl SourceGuest for Items {
    type Reader = ItemsReader;

    fn read(
        config_text: String,
        catalog: ConfiguredCatalog,
        state: Vec<StreamState>,
    ) -> Result<Reader, ConnectorError> {
        let config = config(&config_text)?;
        let count = config["count"].as_u64().unwrap_or(5);
        let mut last = 0;
        if let Some(s) = state.iter().find(|s| s.stream == STREAM) {
            let saved: Value = serde_json::from_str(&s.state)
                .map_err(|e| error(ErrorKind::Data, format!("saved state is not JSON: {e}")))?;
            last = saved["last"].as_u64().unwrap_or(0);
        }
        log(Level::Info, &format!("reading `{STREAM}` after id {last}"));
        Ok(Reader::new(ItemsReader {
            next_id: RefCell::new(last + 1),
            count,
            calls: RefCell::new(0),
            selected: catalog.streams.iter().any(|s| s.name == STREAM),
        }))
    }
}

/// Appends batches to one file.
struct FileWriter {
    path: String,
    file: RefCell<BufWriter<File>>,
}

fn io_error(what: &str, path: &str, e: std::io::Error) -> ConnectorError {
    error(ErrorKind::Config, format!("cannot {what} `{path}`: {e}"))
}

impl GuestWriter for FileWriter {
    fn write(&self, batch: Batch, op: Operation) -> Result<(), ConnectorError> {
        if op != Operation::Insert {
            return Err(ConnectorError {
                stream: Some(batch.stream),
                ..error(ErrorKind::Data, "only inserts can be appended".into())
            });
        }
        self.file
            .borrow_mut()
            .write_all(&batch.data)
            .map_err(|e| io_error("write", &self.path, e))
    }

    fn commit(&self) -> Result<(), ConnectorError> {
        let mut file = self.file.borrow_mut();
        file.flush().map_err(|e| io_error("flush", &self.path, e))?;
        file.get_ref()
            .sync_all()
            .map_err(|e| io_error("fsync", &self.path, e))
    }
}

impl DestinationGuest for Items {
    type Writer = FileWriter;

    fn write(config_text: String, _: ConfiguredCatalog) -> Result<Writer, ConnectorError> {
        let config = config(&config_text)?;
        let Some(path) = config["path"].as_str().map(str::to_string) else {
            return Err(error(ErrorKind::Config, "writing needs `path`".into()));
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io_error("open", &path, e))?;
        Ok(Writer::new(FileWriter {
            path,
            file: RefCell::new(BufWriter::new(file)),
        }))
    }
}

export!(Items);
