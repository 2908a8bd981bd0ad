//! Helpers shared by the fuzz targets in `fuzz_targets/`: JSON round trips
//! compared with a float-tolerant equality, a scratch directory on tmpfs,
//! the state-store seed generator, and the switch for strict oracles.
//!
//! Nothing here is fuzzed itself; it is compiled with the same
//! instrumentation as the targets because cargo-fuzz builds the package
//! as a whole.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Whether known, reported divergences are treated as failures too
/// (`SLUICE_FUZZ_STRICT=1`). By default the targets tolerate them so the
/// fuzzer keeps looking for new problems; docs/fuzzing.md lists them.
pub fn strict() -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    *STRICT.get_or_init(|| {
        std::env::var("SLUICE_FUZZ_STRICT").is_ok_and(|v| !v.is_empty() && v != "0")
    })
}

/// JSON equality where floats may differ in the last bits: serde_json
/// (without its `float_roundtrip` feature, as sluice builds it) may parse
/// the shortest representation it printed back one ULP away. Integers and
/// everything else compare exactly; object key order is ignored.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x == y {
                return true;
            }
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) if x.is_finite() && y.is_finite() => {
                    let tolerance = x.abs().max(y.abs()) * 4.0 * f64::EPSILON;
                    (x - y).abs() <= tolerance
                }
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Serialise `value`, parse the text back, and assert that nothing was
/// lost: the typed values are equal, or (floats) their JSON forms are
/// equal up to rounding. Returns the re-parsed value.
pub fn assert_round_trip<T>(what: &str, value: &T) -> T
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let text = serde_json::to_string(value)
        .unwrap_or_else(|e| panic!("{what}: a parsed value does not serialise: {e}: {value:?}"));
    let back: T = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{what}: its own JSON does not parse back: {e}: {text}"));
    if back != *value {
        let a = serde_json::to_value(value).expect("serialises (it did above)");
        let b = serde_json::to_value(&back).expect("serialises (it was parsed)");
        assert!(
            json_eq(&a, &b),
            "{what}: the round trip changed the value\nbefore: {a}\nafter:  {b}\ntext:   {text}"
        );
    }
    back
}

/// A private directory for scratch files, on tmpfs when the machine has
/// one (`/dev/shm`), so the state store's fsyncs cost nothing:
/// `sluice-fuzz-<pid>`. libFuzzer ends with `_exit`, so nothing removes it
/// at the end; instead each process removes those of processes that are
/// gone (`/proc/<pid>` missing) when it makes its own.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        if let Ok(entries) = std::fs::read_dir(&base) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("sluice-fuzz-")) else {
                    continue;
                };
                let gone = pid.parse::<u32>().is_ok_and(|pid| {
                    Path::new("/proc").is_dir()
                        && !Path::new("/proc").join(pid.to_string()).exists()
                });
                if gone {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = base.join(format!("sluice-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        dir
    })
}

/// Two versions of a `users` schema, from their serde form (so that only
/// `Schema` itself is named here).
fn seed_schemas() -> serde_json::Result<Vec<sluice_schema::Schema>> {
    let id = serde_json::json!({"name": "id", "type": "int64", "required": true});
    let email = serde_json::json!({"name": "email", "type": "string", "required": false});
    [vec![id.clone()], vec![id, email]]
        .into_iter()
        .map(|fields| serde_json::from_value(serde_json::json!({ "fields": fields })))
        .collect()
}

/// Write seed state stores into `dir`: a store with checkpoints, runs and
/// schema versions of two pipelines, which share a schema (68 KiB), and
/// an empty file (which `StateStore::open` turns into a new store). A
/// freshly created store is left out: redb makes it 1 MiB, which would
/// raise libFuzzer's input size limit (the largest seed) fifteenfold and
/// slow every mutation. Made by the real `sluice-state` code, so they
/// always match the redb version in use. Returns the files written.
pub fn write_state_seeds(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    use sluice_state::{RunStatus, StateStore, StreamOutcome, StreamRun};
    let io = |e: sluice_state::Error| std::io::Error::other(e.to_string());
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();

    let full = dir.join("seed-store-with-runs.redb");
    let _ = std::fs::remove_file(&full);
    {
        let store = StateStore::open(&full).map_err(io)?;
        for pipeline in ["faker-to-file", "p"] {
            let run = store
                .start_run(pipeline, &["users", "orders"])
                .map_err(io)?;
            let mut checkpoint = BTreeMap::new();
            checkpoint.insert(
                "users".to_string(),
                serde_json::json!({"cursor": "2024-01-01T00:00:00Z", "n": 5}),
            );
            checkpoint.insert("orders".to_string(), serde_json::json!({"id": 42}));
            store
                .commit_checkpoint_for_run(pipeline, run, &checkpoint)
                .map_err(io)?;
            // The record start_run wrote, finished: built from the stored
            // one so that fields added to RunRecord later need no change here.
            let mut record = store
                .runs(pipeline)
                .map_err(io)?
                .into_iter()
                .find(|r| r.id == run)
                .expect("the run just started is listed");
            record.ended_at_ms = Some(record.started_at_ms + 1_000);
            record.status = RunStatus::Succeeded;
            record.streams = vec![
                StreamRun {
                    stream: "users".into(),
                    records: 5,
                    bytes: 120,
                    outcome: StreamOutcome::Succeeded,
                    ..StreamRun::default()
                },
                StreamRun {
                    stream: "orders".into(),
                    records: 1,
                    bytes: 30,
                    outcome: StreamOutcome::failed(true, "the server is busy"),
                    ..StreamRun::default()
                },
            ];
            store.finish_run(pipeline, &record).map_err(io)?;
            // Both versions in the first pipeline, the first (a shared row)
            // in the second: one more version makes redb grow the file
            // past 256 KiB.
            let versions = if pipeline == "p" { 1 } else { 2 };
            for schema in seed_schemas()?.into_iter().take(versions) {
                store
                    .register_schema(pipeline, "users", &schema, Some(run))
                    .map_err(io)?;
            }
            // A second run left `running`, as after a crash.
            store.start_run(pipeline, &["users"]).map_err(io)?;
        }
    }
    written.push(full);

    let empty = dir.join("seed-empty-file");
    std::fs::write(&empty, b"")?;
    written.push(empty);
    Ok(written)
}
