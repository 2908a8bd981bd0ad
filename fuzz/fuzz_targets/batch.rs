//! `sluice_protocol::batch::check`, which the host runs on every batch a
//! source hands over before forwarding it to the destination.
//!
//! Input: 4 bytes of declared record count (little endian), then the
//! batch's data. `check` must never panic, and it is compared with an
//! independent oracle built on `serde_json::Value`: it accepts a batch
//! exactly when the data is UTF-8, every record is a `\n`-terminated line
//! holding one JSON object, and the count matches; `Ok(n)` means n ==
//! the declared count.
//!
//! Known divergence (docs/fuzzing.md, "Findings"), tolerated unless
//! `SLUICE_FUZZ_STRICT=1`: `check` only scans records (serde's
//! `IgnoredAny`), so it accepts objects that `Value` rejects: numbers out
//! of f64 range (`1e400`) and lone UTF-16 surrogate escapes (`"\ud800"`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sluice_protocol::Batch;
use sluice_protocol::batch::{BatchError, check};

/// What the oracle thinks of a batch.
#[derive(Debug, PartialEq)]
enum Verdict {
    Good(usize),
    Bad(&'static str),
    /// Only `IgnoredAny`'s leniency would accept it.
    Lenient(String),
}

fn oracle(declared: u32, data: &[u8]) -> Verdict {
    let Ok(text) = std::str::from_utf8(data) else {
        return Verdict::Bad("not UTF-8");
    };
    if !text.is_empty() && !text.ends_with('\n') {
        return Verdict::Bad("unterminated");
    }
    let mut records = 0usize;
    let mut lenient = None;
    for line in text.split('\n').filter(|l| !l.is_empty()) {
        records += 1;
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(_)) => {}
            Ok(_) => return Verdict::Bad("not an object"),
            Err(e) => {
                let msg = e.to_string();
                let known = msg.starts_with("number out of range")
                    || msg.starts_with("lone leading surrogate")
                    || msg.starts_with("unexpected end of hex escape")
                    || msg.starts_with("invalid unicode code point");
                // Only a record that is an object in its shape can be
                // accepted by the checker's scan.
                if known && line.trim_start().starts_with('{') {
                    lenient.get_or_insert(msg);
                } else {
                    return Verdict::Bad("not JSON");
                }
            }
        }
    }
    if records != declared as usize {
        return Verdict::Bad("count mismatch");
    }
    match lenient {
        Some(why) => Verdict::Lenient(why),
        None => Verdict::Good(records),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let declared = u32::from_le_bytes(data[..4].try_into().expect("4 bytes"));
    let records = &data[4..];
    let batch = Batch::json_lines("fuzz", declared, records.to_vec());
    let result = check(&batch);
    if let Err(e) = &result {
        // Every error renders, and its positions are inside the batch.
        let _ = e.to_string();
        match e {
            BatchError::NotUtf8 { record, offset } => {
                assert!(*offset < records.len() && *record >= 1, "{e:?}");
            }
            BatchError::NotAnObject { record, .. } => assert!(*record >= 1, "{e:?}"),
            BatchError::CountMismatch {
                declared: d,
                actual,
            } => {
                assert_eq!(*d, declared);
                assert_ne!(*actual, declared as usize);
            }
            _ => {}
        }
    }
    // `lines()` (what the destination side iterates) sees as many records.
    if let Ok(n) = result {
        assert_eq!(n, declared as usize, "Ok(n) with n != the declared count");
        assert_eq!(batch.lines().count(), n);
    }
    match (oracle(declared, records), &result) {
        (Verdict::Good(n), Ok(m)) => assert_eq!(n, *m),
        (Verdict::Bad(_), Err(_)) => {}
        (Verdict::Lenient(why), Ok(_)) => {
            assert!(
                !sluice_fuzz::strict(),
                "check accepted a record serde_json::Value rejects: {why}"
            );
        }
        (Verdict::Lenient(_), Err(_)) => {}
        (verdict, result) => panic!(
            "check and the oracle disagree: check says {result:?}, the oracle {verdict:?}\ndata: {:?}",
            String::from_utf8_lossy(records)
        ),
    }
});
