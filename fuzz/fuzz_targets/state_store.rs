//! `sluice_state::StateStore` on an arbitrary file: a state store may be
//! truncated, corrupted or something else entirely, and `sluice sync`,
//! `sluice state show` and `sluice runs` open it. Opening it, reading the
//! states, runs and schema versions of a few pipelines, and writing a
//! checkpoint, a run and a schema (then fetching it) may fail, but must
//! never panic.
//!
//! Also the JSON records the store keeps (`SavedState`, `RunRecord`,
//! `SchemaVersion`s, `Schema`), decoded from the same bytes: whatever
//! decodes survives a round trip; a schema that decodes is the one
//! registered (else an empty one).
//!
//! Panics inside redb: redb (4.4) panics on some corrupted files instead of
//! returning an error (docs/fuzzing.md, "Findings"). If sluice-state
//! catches such panics (`catch_unwind`) and turns them into errors, that is
//! a fix, so this target lets a panic raised inside redb unwind instead of
//! aborting at once (libfuzzer-sys's panic hook aborts on every panic,
//! caught or not). Inside redb means located in redb, or located in the
//! standard library (an arithmetic overflow, a slice index, `unwrap`) and
//! called from redb (a frame of redb in the backtrace). A redb panic that
//! unwinds out of sluice-state is still a crash: it is reported with
//! redb's message and backtrace. Any other panic aborts immediately, as
//! usual.
//!
//! Seeds are made by the real code: with `SLUICE_FUZZ_SEED_DIR=<dir>` set,
//! the target's init writes seed stores into `<dir>` before libFuzzer reads
//! its corpus (`cargo xtask fuzz` does this when the corpus has none).

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_fuzz::assert_round_trip;
use sluice_schema::Schema;
use sluice_state::{RunRecord, SavedState, SchemaVersion, StateStore};
use std::backtrace::Backtrace;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

const PIPELINES: [&str; 3] = ["faker-to-file", "p", ""];

thread_local! {
    /// The first panic raised inside redb during the current input: where,
    /// what, and the backtrace.
    static REDB_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Whether `file` (a panic's location) is in redb's sources.
fn in_redb_source(file: &str) -> bool {
    file.contains("/redb-") || file.starts_with("redb-")
}

/// Whether `file` (a panic's location) is in the standard library: core's
/// overflow checks, slice indexing, `Option::unwrap` and the like.
fn in_std_source(file: &str) -> bool {
    file.starts_with("/rustc/") || file.contains("library/core/") || file.contains("library/std/")
}

/// Whether a frame of `backtrace` (as `Backtrace` prints it: an `N: name`
/// line, then an `at file:line` line) is redb's: a function or method of
/// redb by name, or (inlined frames print only the function's own name,
/// `resize`) by its file.
fn called_from_redb(backtrace: &str) -> bool {
    backtrace.lines().map(str::trim_start).any(|line| {
        if let Some(file) = line.strip_prefix("at ") {
            return in_redb_source(file);
        }
        line.split_once(": ").is_some_and(|(n, name)| {
            n.bytes().all(|b| b.is_ascii_digit())
                && (name.starts_with("redb::") || name.starts_with("<redb::"))
        })
    })
}

/// Let panics raised inside redb unwind (sluice-state may catch them); any
/// other panic goes to libfuzzer-sys's hook, which prints it and aborts.
fn install_panic_hook() {
    let fuzzer_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let file = info.location().map(|l| l.file()).unwrap_or_default();
        // Captured only when it decides or is reported.
        let mut backtrace = None;
        let in_redb = in_redb_source(file)
            || (in_std_source(file) && {
                let trace = Backtrace::force_capture().to_string();
                let from_redb = called_from_redb(&trace);
                backtrace = Some(trace);
                from_redb
            });
        if !in_redb {
            return fuzzer_hook(info);
        }
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let location = info.location().map(|l| l.to_string()).unwrap_or_default();
        let backtrace = backtrace.unwrap_or_else(|| Backtrace::force_capture().to_string());
        let report = format!("thread '<fuzz>' panicked at {location}:\n{message}\n{backtrace}");
        // Keep the first: a panic while unwinding would be a second one.
        REDB_PANIC.with(|p| {
            p.borrow_mut().get_or_insert(report);
        });
    }));
}

fn exercise(data: &[u8]) {
    if let Ok(saved) = serde_json::from_slice::<SavedState>(data) {
        assert_round_trip("SavedState", &saved);
    }
    if let Ok(run) = serde_json::from_slice::<RunRecord>(data) {
        assert_round_trip("RunRecord", &run);
    }
    if let Ok(versions) = serde_json::from_slice::<Vec<SchemaVersion>>(data) {
        assert_round_trip("SchemaVersion", &versions);
    }
    let schema = serde_json::from_slice::<Schema>(data).unwrap_or_default();
    assert_round_trip("Schema", &schema);

    let path = sluice_fuzz::scratch_dir().join("state.redb");
    // A new file for each input: a store an earlier input left open
    // (anything of redb that outlives its input keeps the file locked)
    // would otherwise make every later input fail as "already open".
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, data).expect("writing the scratch store");
    let Ok(store) = StateStore::open(&path) else {
        return;
    };
    for pipeline in PIPELINES {
        let saved = store.saved_states(pipeline);
        let states = store.stream_states(pipeline);
        if let (Ok(saved), Ok(states)) = (&saved, &states) {
            assert_eq!(saved.len(), states.len());
        }
        let _ = store.runs(pipeline);
        let _ = store.schema_streams(pipeline);
        let _ = store.schema_versions(pipeline, "users");
    }
    // Writing to a damaged store may fail, but not panic.
    if let Ok(id) = store.start_run("p", &["users"]) {
        let mut checkpoint = BTreeMap::new();
        checkpoint.insert("users".to_string(), serde_json::json!({"cursor": 1}));
        let _ = store.commit_checkpoint_for_run("p", id, &checkpoint);
        let _ = store.reset("p", None);
        exercise_schemas(&store, &schema, id);
    }
}

/// Register `schema` for a stream of `p` during run `run`, then read it
/// and the stream's versions back.
fn exercise_schemas(store: &StateStore, schema: &Schema, run: u64) {
    let Ok(id) = store.register_schema("p", "users", schema, Some(run)) else {
        return;
    };
    assert_eq!(id, schema.id(), "register_schema returns the schema's id");
    // A damaged store may hold other bytes under the id: no equality here.
    let _ = store.fetch_schema(&id);
    if let Ok(versions) = store.schema_versions("p", "users") {
        assert!(
            versions.iter().any(|v| v.id == id),
            "a registered schema is among the stream's versions: {versions:?}"
        );
    }
}

fuzz_target!(
    init: {
        install_panic_hook();
        if let Some(dir) = std::env::var_os("SLUICE_FUZZ_SEED_DIR") {
            let written = sluice_fuzz::write_state_seeds(std::path::Path::new(&dir))
                .expect("writing the state store seeds");
            eprintln!("state_store: wrote {} seed(s) to {}", written.len(), dir.display());
        }
    },
    |data: &[u8]| {
        REDB_PANIC.with(|p| p.borrow_mut().take());
        if catch_unwind(AssertUnwindSafe(|| exercise(data))).is_err() {
            // Only a redb panic gets here (any other aborted in the hook),
            // and it escaped sluice-state.
            let report = REDB_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default();
            eprintln!("{report}");
            eprintln!("a panic inside redb escaped sluice-state (see above)");
            std::process::abort();
        }
    }
);
