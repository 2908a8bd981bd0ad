//! `write --format singer|airbyte` into dest-file: the records exactly,
//! a state printed only once the records before it are committed, and a
//! bad line that stops the run with nothing committed after the last
//! printed state.

mod support;

use serde_json::{Value, json};
use sluice_artifacts as artifacts;
use std::path::Path;
use support::{json_file, run_ok, sluice, text, write_into};

/// A file of `dir/out`, empty when it is not there.
fn written(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join("out").join(file)).unwrap_or_default()
}

/// The lines of `text` that are STATE messages.
fn states(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("{\"type\":\"STATE\""))
        .collect()
}

/// An incremental read of source-faker (`count` of each stream, batches
/// of 10) as `format`; its stdout.
fn read_faker(dir: &Path, format: &str, count: u64) -> String {
    let config = json_file(
        dir,
        "faker.json",
        &json!({"count": count, "batch_size": 10}),
    );
    run_ok(&[
        "read",
        artifacts::SOURCE_FAKER,
        "--incremental",
        "--config",
        &config,
        "--format",
        format,
    ])
}

#[test]
fn singer_read_piped_into_singer_write_moves_every_record_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let messages = read_faker(dir.path(), "singer", 25);
    let jsonl = read_faker(dir.path(), "jsonl", 25);
    let o = write_into(
        dir.path(),
        "singer",
        &messages,
        &["--commit-interval-ms", "0"],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("wrote 75 records to 3 stream(s) of dest-file"),
        "{err}"
    );
    // Every record, exactly as read, each stream in its own file.
    let mut files = String::new();
    for stream in ["users", "orders", "events"] {
        files.push_str(&written(dir.path(), &format!("{stream}.jsonl")));
    }
    assert_eq!(files, jsonl);
    // Committing on every state, write prints every state read emitted.
    assert_eq!(states(&out), states(&messages));
    assert_eq!(out.lines().count(), 9, "only states on stdout: {out}");

    // With the default interval fewer may be printed, but the last is the last.
    let dir = tempfile::tempdir().unwrap();
    let o = write_into(dir.path(), "singer", &messages, &[]);
    let out = text(&o).0;
    assert!(o.status.success());
    assert_eq!(states(&out).last(), states(&messages).last());
    assert_eq!(written(dir.path(), "users.jsonl").lines().count(), 25);
}

/// Singer input: a SCHEMA of `users`, records 1 to 3, a STATE, records 4
/// and 5, then `last`.
fn singer_input(last: &str) -> String {
    let schema = json!({"type": "SCHEMA", "stream": "users", "key_properties": ["id"],
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}});
    let record = |id: u64| json!({"type": "RECORD", "stream": "users", "record": {"id": id}});
    let state = json!({"type": "STATE", "value": {"bookmarks": {"users": {"id": 3}}}});
    let mut lines = vec![schema, record(1), record(2), record(3), state];
    lines.extend([record(4), record(5)]);
    let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    text.push_str(last);
    text.push('\n');
    text
}

#[test]
fn a_malformed_line_stops_the_write_at_the_last_printed_state() {
    let dir = tempfile::tempdir().unwrap();
    let bad = r#"{"type": "RECORD", "stream": "users", "record": {"id": 6"#;
    let o = write_into(
        dir.path(),
        "singer",
        &singer_input(bad),
        &["--commit-interval-ms", "0"],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("stdin line 8: not valid JSON"), "{err}");
    assert!(
        err.contains(
            r#"(the line starts `{"type": "RECORD", "stream": "users", "record": {"id": 6`)"#
        ),
        "{err}"
    );
    assert_eq!(
        out,
        "{\"type\":\"STATE\",\"value\":{\"bookmarks\":{\"users\":{\"id\":3}}}}\n"
    );
    // Records 4 and 5 came after the last printed state: not written.
    assert_eq!(
        written(dir.path(), "users.jsonl"),
        "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n"
    );

    // A line of an unknown type is refused the same way.
    let dir = tempfile::tempdir().unwrap();
    let o = write_into(
        dir.path(),
        "singer",
        &singer_input(r#"{"type": "NOPE"}"#),
        &["--commit-interval-ms", "0"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o)
            .1
            .contains("stdin line 8: `NOPE` is not a Singer message type"),
        "{}",
        text(&o).1
    );
    assert_eq!(written(dir.path(), "users.jsonl").lines().count(), 3);
}

#[test]
fn a_record_before_its_schema_is_refused_naming_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let orders = r#"{"type": "RECORD", "stream": "orders", "record": {"id": 1}}"#;
    let o = write_into(
        dir.path(),
        "singer",
        &singer_input(orders),
        &["--commit-interval-ms", "0"],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("stdin line 8: a RECORD of stream `orders` came before any SCHEMA of it"),
        "{err}"
    );
    assert_eq!(states(&out).len(), 1);
    assert_eq!(written(dir.path(), "users.jsonl").lines().count(), 3);

    // As the very first message: refused before the destination opens.
    let dir = tempfile::tempdir().unwrap();
    let o = write_into(dir.path(), "singer", &format!("{orders}\n"), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o)
            .1
            .contains("stdin line 1: a RECORD of stream `orders`"),
        "{}",
        text(&o).1
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("out")).unwrap().count(),
        0
    );
}

#[test]
fn a_schema_of_a_stream_not_opened_asks_for_a_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let schema = |s: &str| json!({"type": "SCHEMA", "stream": s, "key_properties": [], "schema": {"type": "object"}});
    let record = |s: &str| json!({"type": "RECORD", "stream": s, "record": {"n": 1}});
    let input = [schema("a"), record("a"), schema("b"), record("b")]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    let o = write_into(dir.path(), "singer", &input, &[]);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("stdin line 3: a SCHEMA of stream `b`, which the destination was not opened with (it was opened with: a)")
            && err.contains("--catalog"),
        "{err}"
    );
    // A Singer catalog names both up front.
    let catalog = json!({"streams": [
        {"tap_stream_id": "a", "schema": {"type": "object"}, "metadata": []},
        {"tap_stream_id": "b", "schema": {"type": "object"}, "metadata": []}
    ]});
    let catalog = json_file(dir.path(), "catalog.json", &catalog);
    let o = write_into(dir.path(), "singer", &input, &["--catalog", &catalog]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert_eq!(written(dir.path(), "b.jsonl"), "{\"n\":1}\n");
}

#[test]
fn airbyte_read_piped_into_airbyte_write_with_a_configured_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let messages = read_faker(dir.path(), "airbyte", 12);
    let jsonl = read_faker(dir.path(), "jsonl", 12);
    let discovered = run_ok(&["discover", artifacts::SOURCE_FAKER, "--format", "airbyte"]);
    let discovered: Value = serde_json::from_str(&discovered).unwrap();
    let streams: Vec<Value> = discovered["catalog"]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(
            |s| json!({"stream": s, "sync_mode": "incremental", "destination_sync_mode": "append"}),
        )
        .collect();
    let configured = json!({"streams": streams});
    let configured_text = configured.to_string();
    support::validate(
        support::pyenv::AIRBYTE_SOURCE_FAKER,
        "validate_airbyte.py",
        &["--configured-catalog"],
        &configured_text,
    );
    let catalog = json_file(dir.path(), "configured.json", &configured);
    let args = ["--catalog", catalog.as_str(), "--commit-interval-ms", "0"];
    let o = write_into(dir.path(), "airbyte", &messages, &args);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let mut files = String::new();
    for stream in ["users", "orders", "events"] {
        files.push_str(&written(dir.path(), &format!("{stream}.jsonl")));
    }
    assert_eq!(files, jsonl);
    assert_eq!(states(&out), states(&messages));

    // Without a catalog only the first record's stream is known.
    let dir = tempfile::tempdir().unwrap();
    let o = write_into(
        dir.path(),
        "airbyte",
        &messages,
        &["--commit-interval-ms", "0"],
    );
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("a RECORD of stream `orders`") && err.contains("configured Airbyte catalog"),
        "{err}"
    );
    assert_eq!(
        written(dir.path(), "users.jsonl").lines().count(),
        12,
        "users were committed"
    );
}

#[test]
fn a_waiting_state_is_committed_and_printed_while_stdin_is_quiet() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    let config = json_file(dir.path(), "dest.json", &json!({"path": "/out"}));
    let grant = format!("{}:/out:rw", dir.path().join("out").display());
    let mut child = sluice()
        .args([
            "write",
            artifacts::DEST_FILE,
            "--dir",
            &grant,
            "--config",
            &config,
        ])
        .args(["--format", "singer", "--commit-interval-ms", "200"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let first = singer_input("");
    let head: String = first.lines().take(5).map(|l| format!("{l}\n")).collect();
    stdin.write_all(head.as_bytes()).unwrap();
    stdin.flush().unwrap();
    // stdin stays open: the state is printed once its records are committed.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    let line = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("a state while stdin is open");
    assert_eq!(
        line,
        "{\"type\":\"STATE\",\"value\":{\"bookmarks\":{\"users\":{\"id\":3}}}}"
    );
    assert_eq!(
        written(dir.path(), "users.jsonl").lines().count(),
        3,
        "committed before it"
    );
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success());
}
