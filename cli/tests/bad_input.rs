//! Bad input, run as a user would: every mistake gets one clear message
//! that names the file, the key or field, and what was expected; the exit
//! code is non-zero; nothing panics; and nothing is written: no state store
//! is created or changed, no destination file appears.

mod support;

use serde_json::json;
use sluice_artifacts as artifacts;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use support::{PipelineToml, sluice, text};

/// A pipeline directory: `p.toml` and an empty `out/` granted to the
/// destination.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("out")).unwrap();
        Setup { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn pipeline(&self) -> PathBuf {
        self.path().join("p.toml")
    }

    /// The default state store of `p.toml`.
    fn default_store(&self) -> PathBuf {
        self.path().join(".sluice/state.redb")
    }

    fn write(&self, toml: &str) -> &Self {
        std::fs::write(self.pipeline(), toml).unwrap();
        self
    }

    fn sync(&self) -> Output {
        sluice().arg("sync").arg(self.pipeline()).output().unwrap()
    }

    /// Files in `out/` (the destination's directory).
    fn outputs(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    }

    /// Nothing was written: no state store (nor its directory) and no
    /// destination file.
    fn assert_nothing_written(&self) {
        assert!(
            !self.path().join(".sluice").exists(),
            "the state store (or its directory) was created: {}",
            self.default_store().display()
        );
        assert!(
            self.outputs().is_empty(),
            "the destination wrote {:?}",
            self.outputs()
        );
    }
}

/// A pipeline that works: source-faker -> dest-file into `out/`, with
/// `extra` appended (more keys, `[[streams]]`, `[options]`).
fn valid(extra: &str) -> String {
    PipelineToml::faker(json!({"count": 10}))
        .extra(extra)
        .to_string()
}

/// Failed with exit code 1 and exactly one message on stderr (an
/// `error: ` line with no logs before it) that holds every one of
/// `needles`; no panic, nothing on stdout.
fn assert_refused(o: &Output, needles: &[&str]) -> String {
    let (out, err) = text(o);
    assert_eq!(o.status.code(), Some(1), "exit code; stderr: {err}");
    for panic in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        assert!(!err.contains(panic), "panic text `{panic}` in: {err}");
    }
    assert!(
        err.starts_with("error: "),
        "one message, starting with `error: `, and no logs before it: {err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "exactly one message: {err}"
    );
    for needle in needles {
        assert!(err.contains(needle), "`{needle}` is not in: {err}");
    }
    assert!(out.trim().is_empty(), "nothing on stdout on failure: {out}");
    err
}

// --- a. the pipeline file itself ---

#[test]
fn an_unknown_key_in_the_pipeline_file_is_named_with_its_line() {
    let s = Setup::new();
    let toml = valid("").replacen("component = ", "componnt = ", 1);
    s.write(&toml);
    assert_refused(
        &s.sync(),
        &[
            "p.toml",
            "line 2",
            "unknown field `componnt`",
            "expected one of `component`",
        ],
    );
    s.assert_nothing_written();
}

#[test]
fn a_string_where_a_number_belongs_is_named_with_the_expected_type() {
    let s = Setup::new();
    s.write(&valid("[options]\ncommit_interval_ms = \"soon\"\n"));
    assert_refused(
        &s.sync(),
        &[
            "p.toml",
            "line 10",
            "commit_interval_ms",
            "\"soon\"",
            "expected u64",
        ],
    );
    s.assert_nothing_written();
}

#[test]
fn a_negative_limit_is_named_with_the_expected_type() {
    let s = Setup::new();
    let toml = valid("").replacen(
        "config = { count = 10 }",
        "config = { count = 10 }\nlimits = { memory_mib = -1 }",
        1,
    );
    s.write(&toml);
    assert_refused(
        &s.sync(),
        &["p.toml", "line 4", "memory_mib", "-1", "expected u64"],
    );
    s.assert_nothing_written();
}

#[test]
fn invalid_toml_is_named_with_its_line() {
    let s = Setup::new();
    s.write(&valid("[[streams]\nname = \"users\"\n"));
    assert_refused(&s.sync(), &["p.toml", "line 9", "expected `]`"]);
    s.assert_nothing_written();
}

// --- b. connector configs that fail the spec's JSON Schema ---

#[test]
fn a_source_config_that_fails_the_schema_names_the_field_and_the_type() {
    let s = Setup::new();
    s.write(&valid("").replace("count = 10", "count = \"lots\""));
    assert_refused(
        &s.sync(),
        &[
            "p.toml",
            "`source.config`",
            "config field `count`",
            "\"lots\" is not of type \"integer\"",
        ],
    );
    s.assert_nothing_written();
}

#[test]
fn a_destination_config_that_fails_the_schema_names_the_field_and_the_type() {
    let s = Setup::new();
    s.write(&valid("").replace("path = \"/out\"", "path = 5"));
    assert_refused(
        &s.sync(),
        &[
            "p.toml",
            "`destination.config`",
            "config field `path`",
            "5 is not of type \"string\"",
        ],
    );
    s.assert_nothing_written();
}

#[test]
fn check_of_a_config_that_fails_the_schema_names_the_file_field_and_type() {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in [
        ("faker.json", r#"{"count": "lots"}"#),
        ("faker.toml", "count = \"lots\"\n"),
    ] {
        let config = dir.path().join(name);
        std::fs::write(&config, body).unwrap();
        let o = sluice()
            .args(["check", artifacts::SOURCE_FAKER, "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(
            err.contains("config field `count`")
                && err.contains("\"lots\" is not of type \"integer\""),
            "{name}: {err}"
        );
        assert!(out.is_empty(), "{name}: {out}");
        assert!(!err.contains("panicked"), "{err}");

        let o = sluice()
            .args(["check", artifacts::SOURCE_FAKER, "--json", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["status"], "failed", "{out}");
        let message = v["message"].as_str().unwrap();
        assert!(
            message.contains("config field `count`")
                && message.contains("\"lots\" is not of type \"integer\""),
            "{message}"
        );
    }
    // A config file that is not even valid JSON names the file.
    let config = dir.path().join("broken.json");
    std::fs::write(&config, "{\"count\": ").unwrap();
    let o = sluice()
        .args(["check", artifacts::SOURCE_FAKER, "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_refused(&o, &["broken.json", "not valid JSON"]);
}

// --- c. stream selection ---

#[test]
fn an_unknown_stream_is_named_with_what_the_source_offers() {
    let s = Setup::new();
    s.write(&valid("\n[[streams]]\nname = \"user\"\n"));
    assert_refused(
        &s.sync(),
        &[
            "p.toml",
            "streams[0] (`user`)",
            "no such stream",
            "users, orders, events",
        ],
    );
    s.assert_nothing_written();
}

#[test]
fn an_unknown_field_is_named_with_the_fields_of_the_stream() {
    let s = Setup::new();
    s.write(&valid(
        "\n[[streams]]\nname = \"users\"\nfields = [\"id\", \"nope\"]\n",
    ));
    assert_refused(
        &s.sync(),
        &[
            "p.toml",
            "streams[0] (`users`)",
            "field `nope`",
            "id, name, email",
        ],
    );
    s.assert_nothing_written();
}

// --- d. state stores that are not ours ---

/// Deterministic junk (xorshift), so a failure can be reproduced.
fn junk(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Every command that opens the store refuses it, names it, says what is
/// wrong with it, and leaves its bytes alone; the destination is untouched.
fn assert_store_refused(s: &Setup, store: &Path, what: &[&str]) {
    let before = std::fs::read(store).unwrap();
    let shown = store.display().to_string();
    let runs = |args: &[&str]| {
        let mut c = sluice();
        c.args(args).arg(s.pipeline());
        c.output().unwrap()
    };
    for (command, o) in [
        ("sync", s.sync()),
        ("runs", runs(&["runs"])),
        ("state show", runs(&["state", "show"])),
        ("state reset", runs(&["state", "reset"])),
    ] {
        let err = assert_refused(&o, &[shown.as_str()]);
        assert!(
            what.iter().any(|w| err.contains(w)),
            "{command}: the message should say the store is {what:?}: {err}"
        );
        assert!(
            std::fs::read(store).unwrap() == before,
            "{command} changed the bytes of the refused store {shown}"
        );
        assert!(s.outputs().is_empty(), "{command} wrote {:?}", s.outputs());
    }
    let siblings: Vec<_> = std::fs::read_dir(store.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(siblings.len(), 1, "files beside the store: {siblings:?}");
}

#[test]
fn a_corrupt_state_store_is_named_and_left_alone() {
    let s = Setup::new();
    // A custom `state = ...` path this time.
    s.write(&valid("").replacen("[source]", "state = \"stores/custom.redb\"\n\n[source]", 1));
    let store = s.path().join("stores/custom.redb");
    std::fs::create_dir_all(store.parent().unwrap()).unwrap();
    std::fs::write(&store, junk(16 << 10)).unwrap();
    assert_store_refused(
        &s,
        &store,
        &["not a sluice state store", "corrupt", "Not a redb database"],
    );
    assert!(!s.path().join(".sluice").exists());
}

#[test]
fn a_foreign_redb_file_is_named_and_left_alone() {
    let s = Setup::new();
    s.write(&valid(""));
    let store = s.default_store();
    std::fs::create_dir_all(store.parent().unwrap()).unwrap();
    std::fs::write(&store, foreign_redb()).unwrap();
    assert_store_refused(&s, &store, &["not a sluice state store"]);
}

// --- e. a missing component ---

#[test]
fn a_missing_component_is_named_with_its_path() {
    let s = Setup::new();
    let missing = s.path().join("nowhere/source.wasm");
    s.write(&valid("").replacen(artifacts::SOURCE_FAKER, &missing.display().to_string(), 1));
    assert_refused(
        &s.sync(),
        &[
            "p.toml",
            "`source.component`",
            &missing.display().to_string(),
            "No such file",
        ],
    );
    s.assert_nothing_written();

    let missing = s.path().join("nowhere/dest.wasm");
    s.write(&valid("").replacen(artifacts::DEST_FILE, &missing.display().to_string(), 1));
    assert_refused(
        &s.sync(),
        &[
            "p.toml",
            "`destination.component`",
            &missing.display().to_string(),
        ],
    );
    s.assert_nothing_written();

    let o = sluice()
        .arg("spec")
        .arg(s.path().join("nowhere/source.wasm"))
        .output()
        .unwrap();
    assert_refused(&o, &["nowhere/source.wasm", "No such file"]);
}

// --- f. a component of the wrong world ---

#[test]
fn a_destination_as_the_source_of_a_pipeline_is_refused() {
    let s = Setup::new();
    s.write(&valid("").replacen(artifacts::SOURCE_FAKER, artifacts::DEST_FILE, 1));
    assert_refused(
        &s.sync(),
        &[
            "p.toml",
            "`source.component`",
            artifacts::DEST_FILE,
            "is not a source",
        ],
    );
    s.assert_nothing_written();

    s.write(&valid("").replacen(artifacts::DEST_FILE, artifacts::SOURCE_FAKER, 1));
    assert_refused(
        &s.sync(),
        &[
            "p.toml",
            "`destination.component`",
            artifacts::SOURCE_FAKER,
            "is not a destination",
        ],
    );
    s.assert_nothing_written();
}

#[test]
fn a_source_given_to_write_or_load_is_refused() {
    let s = Setup::new();
    let grant = format!("{}:/out:rw", s.path().join("out").display());
    for command in ["write", "load"] {
        let mut child = sluice()
            .args([
                command,
                artifacts::SOURCE_FAKER,
                "--stream",
                "people",
                "--dir",
                &grant,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // It may refuse before reading stdin: a closed pipe is fine.
        let _ = child.stdin.take().unwrap().write_all(b"{\"id\": 1}\n");
        let o = child.wait_with_output().unwrap();
        assert_refused(
            &o,
            &[
                artifacts::SOURCE_FAKER,
                "source-faker",
                "is not a destination",
            ],
        );
        assert!(s.outputs().is_empty(), "{command} wrote {:?}", s.outputs());
    }
    let o = sluice()
        .args(["read", artifacts::DEST_FILE])
        .output()
        .unwrap();
    assert_refused(&o, &[artifacts::DEST_FILE, "dest-file", "is not a source"]);
}

// --- g. a component of another contract version ---

#[test]
fn a_component_of_a_future_contract_names_both_versions() {
    let versions = ["sluice:connector@9.0.0", "sluice:connector@0.1.0"];
    for json in [false, true] {
        let mut c = sluice();
        c.args(["spec", artifacts::FUTURE_CONTRACT]);
        if json {
            c.arg("--json");
        }
        let o = c.output().unwrap();
        let mut needles = vec![artifacts::FUTURE_CONTRACT];
        needles.extend(versions);
        assert_refused(&o, &needles);
    }

    let s = Setup::new();
    s.write(&valid("").replacen(artifacts::SOURCE_FAKER, artifacts::FUTURE_CONTRACT, 1));
    let mut needles = vec!["p.toml", "`source.component`", artifacts::FUTURE_CONTRACT];
    needles.extend(versions);
    assert_refused(&s.sync(), &needles);
    s.assert_nothing_written();
}

/// A valid redb file (redb 4.4, the workspace's version) that holds one
/// table of another program, `someone_elses_table: &str -> u64` with
/// `"answer" -> 42`, written by:
///
/// ```ignore
/// let db = redb::Database::create(path)?;
/// let txn = db.begin_write()?;
/// txn.open_table(redb::TableDefinition::<&str, u64>::new("someone_elses_table"))?
///     .insert("answer", &42)?;
/// txn.commit()?;
/// ```
///
/// Stored run-length encoded in `data/foreign-redb.txt` (`XX*N` is byte XX
/// repeated N times, anything else is hex), because this crate does not
/// depend on redb.
fn foreign_redb() -> Vec<u8> {
    let mut bytes = Vec::new();
    for token in FOREIGN_REDB.split_whitespace() {
        if let Some((byte, n)) = token.split_once('*') {
            let byte = u8::from_str_radix(byte, 16).unwrap();
            bytes.extend(std::iter::repeat_n(byte, n.parse().unwrap()));
        } else {
            assert!(token.len() % 2 == 0, "{token}");
            for i in (0..token.len()).step_by(2) {
                bytes.push(u8::from_str_radix(&token[i..i + 2], 16).unwrap());
            }
        }
    }
    assert_eq!(bytes.len(), 1_056_768);
    assert_eq!(
        &bytes[..9],
        b"redb\x1a\x0a\xa9\x0d\x0a",
        "redb's magic number"
    );
    bytes
}

/// The tokens of [`foreign_redb`], kept beside this file.
const FOREIGN_REDB: &str = include_str!("data/foreign-redb.txt");
