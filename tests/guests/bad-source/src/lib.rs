//! A source that breaks the contract on purpose, built on the raw bindings
//! (the SDK would not let it). It reads two streams, `good` and `bad`, in
//! steps of one batch each, with a checkpoint after every batch; at step
//! `at` the `bad` stream misbehaves as `mode` says. Tests assert that the
//! host names the rule, keeps `good` going where it can, and persists
//! nothing of `bad` past its last good checkpoint.

wit_bindgen::generate!({ world: "source-connector", path: "../../../wit/0.1.0" });

use exports::sluice::connector::connector::Guest as ConnectorGuest;
use exports::sluice::connector::source::{Guest as SourceGuest, GuestReader, Reader};
use serde_json::{Value, json};
use sluice::connector::host::{Level, log};
use sluice::connector::types::*;
use std::cell::RefCell;

const RECORDS_PER_BATCH: u64 = 100;

struct BadSource;

fn error(kind: ErrorKind, message: String, stream: Option<&str>) -> ConnectorError {
    ConnectorError {
        kind,
        message,
        stream: stream.map(str::to_string),
    }
}

struct Config {
    mode: String,
    at: u64,
    batches: u64,
    token: String,
    fail_times: u64,
}

fn config(text: &str) -> Result<Config, ConnectorError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| error(ErrorKind::Config, format!("config: {e}"), None))?;
    Ok(Config {
        mode: v["mode"].as_str().unwrap_or("none").to_string(),
        at: v["at"].as_u64().unwrap_or(3),
        batches: v["batches"].as_u64().unwrap_or(10),
        token: v["token"].as_str().unwrap_or_default().to_string(),
        fail_times: v["fail_times"].as_u64().unwrap_or(1),
    })
}

fn stream(name: &str) -> StreamInfo {
    StreamInfo {
        name: name.into(),
        schema: json!({
            "type": "object",
            "properties": {"id": {"type": "integer"}, "step": {"type": "integer"}, "stream": {"type": "string"}}
        })
        .to_string(),
        primary_key: vec!["id".into()],
        cursor_candidates: vec!["step".into()],
        default_cursor: Some("step".into()),
        sync_modes: vec![SyncMode::FullRefresh, SyncMode::Incremental],
        operation_schemas: vec![],
        relationships: vec![],
    }
}

impl ConnectorGuest for BadSource {
    fn spec() -> ConnectorSpec {
        ConnectorSpec {
            name: "bad-source".into(),
            version: "0.0.0".into(),
            roles: vec![ConnectorRole::Source],
            config_schema: json!({
                "type": "object",
                "properties": {
                    "mode": {"type": "string"},
                    "at": {"type": "integer", "minimum": 1},
                    "batches": {"type": "integer", "minimum": 1},
                    "fail_times": {"type": "integer", "minimum": 0},
                    "token": {"type": "string", "secret": true}
                }
            })
            .to_string(),
            sync_modes: vec![SyncMode::FullRefresh, SyncMode::Incremental],
            write_modes: vec![],
            operations: vec![],
            reserved_keys: vec![],
            capabilities: Capabilities {
                hosts: vec![],
                dirs: vec!["/scratch".into()],
                env: vec![],
            },
            documentation: None,
        }
    }

    fn check(config_text: String) -> Result<(), ConnectorError> {
        config(&config_text).map(|_| ())
    }

    fn discover(_: String) -> Result<Catalog, ConnectorError> {
        Ok(Catalog {
            streams: vec![stream("good"), stream("bad")],
        })
    }
}

struct BadReader {
    config: Config,
    /// Next step per stream (`good`, `bad`), from the saved state.
    next: RefCell<[u64; 2]>,
    selected: [bool; 2],
    /// The attempt this is (counted in a granted directory, if any).
    attempt: u64,
}

fn batch(name: &str, step: u64) -> Batch {
    let mut data = Vec::new();
    for i in 0..RECORDS_PER_BATCH {
        let id = step * RECORDS_PER_BATCH + i;
        data.extend_from_slice(
            json!({"id": id, "step": step, "stream": name})
                .to_string()
                .as_bytes(),
        );
        data.push(b'\n');
    }
    Batch {
        stream: name.into(),
        count: RECORDS_PER_BATCH as u32,
        format: BatchFormat::JsonLines,
        data,
    }
}

fn checkpoint(name: &str, step: u64) -> Message {
    Message::State(StreamState {
        stream: name.into(),
        state: json!({"step": step}).to_string(),
    })
}

impl BadReader {
    /// What the `bad` stream sends at step `at`.
    fn misbehave(&self, step: u64) -> Vec<Message> {
        let token = &self.config.token;
        let good = batch("bad", step);
        let mut wrong = good.clone();
        match self.config.mode.as_str() {
            "oversize" => {
                let mut data = Vec::new();
                let mut count = 0;
                while data.len() < 3 << 20 {
                    data.extend_from_slice(
                        json!({"id": count, "pad": "x".repeat(1000)})
                            .to_string()
                            .as_bytes(),
                    );
                    data.push(b'\n');
                    count += 1;
                }
                wrong.data = data;
                wrong.count = count;
            }
            "lying-count" => wrong.count += 5,
            "invalid-utf8" => wrong.data.splice(10..11, [0xff, 0xfe]).for_each(drop),
            "invalid-json" => {
                wrong.data.truncate(wrong.data.len() - 3);
                wrong.data.push(b'\n');
            }
            "not-an-object" => {
                wrong.data = b"[1, 2, 3]\n".repeat(RECORDS_PER_BATCH as usize);
            }
            "state-not-json" => {
                return vec![
                    Message::Records(good),
                    Message::State(StreamState {
                        stream: "bad".into(),
                        state: format!("step={step}"),
                    }),
                ];
            }
            "secret-state" => {
                return vec![
                    Message::Records(good),
                    Message::State(StreamState {
                        stream: "bad".into(),
                        state: json!({"step": step, "auth": token}).to_string(),
                    }),
                ];
            }
            "unknown-stream" => wrong.stream = "nope".into(),
            "transient" if self.attempt <= self.config.fail_times => {
                return vec![Message::StreamError(error(
                    ErrorKind::Transient,
                    format!("the server is busy (attempt {})", self.attempt),
                    Some("bad"),
                ))];
            }
            "fail-stream" => {
                return vec![Message::StreamError(error(
                    ErrorKind::Data,
                    "row 7 cannot be read".into(),
                    Some("bad"),
                ))];
            }
            "leak" => {
                log(Level::Error, &format!("connecting with token {token}"));
                println!("stdout: token={token}");
                eprintln!("stderr: token={token}");
                return vec![Message::StreamError(error(
                    ErrorKind::Auth,
                    format!("the server refused token {token}"),
                    Some("bad"),
                ))];
            }
            "leak-panic" => panic!("cannot use token {token}"),
            "log-flood" => loop {
                log(Level::Info, &"flood ".repeat(100));
            },
            _ => return vec![Message::Records(good), checkpoint("bad", step)],
        }
        // After breaking the rules, it claims to be further along: the host
        // must not persist this checkpoint.
        vec![Message::Records(wrong), checkpoint("bad", 999_999)]
    }
}

impl GuestReader for BadReader {
    fn next(&self) -> Result<Option<Vec<Message>>, ConnectorError> {
        let mut next = self.next.borrow_mut();
        let mut out = Vec::new();
        for (i, name) in ["good", "bad"].into_iter().enumerate() {
            if !self.selected[i] || next[i] > self.config.batches {
                continue;
            }
            let step = next[i];
            next[i] += 1;
            if name == "bad" && step == self.config.at {
                out.extend(self.misbehave(step));
            } else {
                out.push(Message::Records(batch(name, step)));
                out.push(checkpoint(name, step));
            }
            if next[i] > self.config.batches {
                out.push(Message::Status((name.into(), StreamStatus::Complete)));
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }
}

/// Count attempts in `/scratch/attempts` when a directory is granted.
fn count_attempt() -> u64 {
    let path = "/scratch/attempts";
    let n = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    let _ = std::fs::write(path, n.to_string());
    n
}

impl SourceGuest for BadSource {
    type Reader = BadReader;

    fn read(
        config_text: String,
        catalog: ConfiguredCatalog,
        state: Vec<StreamState>,
    ) -> Result<Reader, ConnectorError> {
        let config = config(&config_text)?;
        let mut next = [1, 1];
        let mut selected = [false, false];
        for (i, name) in ["good", "bad"].into_iter().enumerate() {
            selected[i] = catalog.streams.iter().any(|s| s.name == name);
            if let Some(saved) = state.iter().find(|s| s.stream == name) {
                let v: Value = serde_json::from_str(&saved.state)
                    .map_err(|e| error(ErrorKind::Data, format!("state: {e}"), Some(name)))?;
                next[i] = v["step"].as_u64().unwrap_or(0) + 1;
            }
        }
        Ok(Reader::new(BadReader {
            attempt: count_attempt(),
            config,
            next: RefCell::new(next),
            selected,
        }))
    }
}

export!(BadSource);
