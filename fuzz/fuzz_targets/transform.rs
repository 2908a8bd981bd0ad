//! `sluice_transform::Plan`: a stream's transform steps checked against
//! its schema, then run on a JSON-lines batch.
//!
//! Input: `<head JSON> 0xFF <batch bytes>` (0xFF never occurs in UTF-8;
//! without it there is no batch). The head is a list of steps, planned
//! against a fixed `users` schema, or `{"schema": S, "steps": [...]}`
//! with S a JSON Schema (`null` for a schemaless stream).
//!
//! Nothing may panic. When `apply` succeeds, `count + dropped` is the
//! number of lines of the batch and the output is `count` lines, each a
//! JSON object ending in `\n`. No error, nor the plan's `Debug`, depends
//! on the hash salts: the same steps with other salts give the same
//! messages (so no salt, nor a part of one, can be in them), and
//! `secret_values` lists the steps' salts. A batch that
//! `sluice_protocol::batch::check` accepts (which the host runs before the
//! transforms) is accepted by `apply` too, with as many records.
//!
//! Known divergence (docs/fuzzing.md, "Findings"), tolerated unless
//! `SLUICE_FUZZ_STRICT=1`: `check` accepts numbers out of f64 range and
//! lone surrogate escapes, which `apply` cannot parse (the stream then
//! fails naming the line). Blank lines, once a divergence too, are skipped
//! by both now.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use sluice_protocol::Batch;
use sluice_schema::Schema;
use sluice_transform::{Plan, Secret, Step};
use std::sync::OnceLock;

/// The schema a bare list of steps is planned against.
fn users() -> &'static Schema {
    static USERS: OnceLock<Schema> = OnceLock::new();
    USERS.get_or_init(|| {
        let schema = json!({
            "type": "object",
            "properties": {
                "id": {"type": "integer", "format": "int64"},
                "name": {"type": ["string", "null"]},
                "email": {"type": ["string", "null"]},
                "age": {"type": "integer", "format": "int32"},
                "score": {"type": "number"},
                "price": {"type": "string", "format": "decimal", "precision": 10, "scale": 2},
                "active": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "address": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "zip": {"type": "string"}}
                },
                "created_at": {"type": "string", "format": "date-time"}
            },
            "required": ["id", "age"]
        });
        Schema::from_json_schema(&schema).expect("the fixed schema reads")
    })
}

/// The steps and the input schema from the head of the input.
fn read_head(head: &[u8]) -> Option<(Vec<Step>, Option<Schema>)> {
    if head.trim_ascii_start().starts_with(b"[") {
        let steps = serde_json::from_slice::<Vec<Step>>(head).ok()?;
        return Some((steps, Some(users().clone())));
    }
    let Value::Object(mut head) = serde_json::from_slice::<Value>(head).ok()? else {
        return None;
    };
    let steps = serde_json::from_value(head.remove("steps")?).ok()?;
    let schema = match head.remove("schema")? {
        Value::Null => None,
        schema => Some(Schema::from_json_schema(&schema).ok()?),
    };
    Some((steps, schema))
}

/// The steps with every non-empty salt replaced by another value that has
/// nothing in common with it.
fn other_salts(steps: &[Step]) -> Vec<Step> {
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| match step {
            Step::Hash { field, salt } if !salt.expose().is_empty() => {
                let other = if salt.expose().starts_with('\u{1}') {
                    "\u{2}"
                } else {
                    "\u{1}"
                };
                Step::Hash {
                    field: field.clone(),
                    salt: Secret::new(format!("{other}{i}")),
                }
            }
            other => other.clone(),
        })
        .collect()
}

/// The non-empty salts of the steps, in order.
fn salts(steps: &[Step]) -> Vec<&str> {
    steps.iter().flat_map(Step::secret_values).collect()
}

/// How many records `batch::check` counts, and `apply` reads: the
/// non-empty lines.
fn record_count(data: &[u8]) -> usize {
    data.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count()
}

/// Whether `check` accepted `data` only thanks to a known divergence.
fn known_divergence(data: &[u8]) -> bool {
    data.split(|b| *b == b'\n').any(|line| {
        serde_json::from_slice::<Value>(line).is_err_and(|e| {
            let msg = e.to_string();
            msg.starts_with("number out of range")
                || msg.starts_with("lone leading surrogate")
                || msg.starts_with("unexpected end of hex escape")
                || msg.starts_with("invalid unicode code point")
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let (head, batch) = match data.iter().position(|b| *b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Some((steps, schema)) = read_head(head) else {
        return;
    };
    let others = other_salts(&steps);

    let planned = Plan::new("s", &steps, schema.as_ref());
    let planned_others = Plan::new("s", &others, schema.as_ref());
    let plan = match (planned, planned_others) {
        (Ok(plan), Ok(other)) => {
            assert_eq!(
                format!("{plan:?}"),
                format!("{other:?}"),
                "the plan's Debug depends on the salts"
            );
            assert_eq!(plan.secret_values(), salts(&steps));
            plan
        }
        (Err(e), Err(other)) => {
            assert_eq!(e.to_string(), other.to_string(), "an error shows a salt");
            assert_eq!(
                format!("{e:?}"),
                format!("{other:?}"),
                "an error shows a salt"
            );
            return;
        }
        (a, b) => panic!("the salts decide whether a plan builds: {a:?} / {b:?}"),
    };

    let checked = sluice_protocol::batch::check(&Batch::json_lines(
        "s",
        record_count(batch).try_into().unwrap_or(u32::MAX),
        batch.to_vec(),
    ));
    match plan.apply(batch) {
        Ok(applied) => {
            let lines = record_count(batch);
            assert_eq!(
                applied.count as usize + applied.dropped as usize,
                lines,
                "count {} + dropped {} is not the number of lines",
                applied.count,
                applied.dropped
            );
            assert!(applied.data.is_empty() || applied.data.ends_with(b"\n"));
            let written: Vec<&[u8]> = applied.data.split_inclusive(|b| *b == b'\n').collect();
            assert_eq!(written.len(), applied.count as usize);
            for line in written {
                let record = line.strip_suffix(b"\n").expect("each line ends in \\n");
                match serde_json::from_slice::<Value>(record) {
                    Ok(Value::Object(_)) => {}
                    other => panic!(
                        "an output line is not a JSON object: {other:?}: {:?}",
                        String::from_utf8_lossy(record)
                    ),
                }
            }
            if let Ok(n) = checked {
                assert_eq!(n, lines, "check and apply count different records");
            }
        }
        Err(e) => {
            let other = Plan::new("s", &others, schema.as_ref())
                .expect("it built above")
                .apply(batch)
                .expect_err("the salts decide whether a batch applies");
            assert_eq!(e.to_string(), other.to_string(), "an error shows a salt");
            assert_eq!(
                format!("{e:?}"),
                format!("{other:?}"),
                "an error shows a salt"
            );
            if checked.is_ok() {
                assert!(
                    known_divergence(batch) && !sluice_fuzz::strict(),
                    "batch::check accepts a batch that apply rejects: {e}\nbatch: {:?}",
                    String::from_utf8_lossy(batch)
                );
            }
        }
    }
});
