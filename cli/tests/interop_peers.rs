//! Real Singer and Airbyte connectors from PyPI with sluice: tap-jsonl
//! (singer-sdk) into `sluice write --format singer`, Airbyte's
//! source-faker (airbyte-cdk) into `sluice write --format airbyte`, and
//! `sluice read --format singer` into target-jsonl. The records land
//! exactly and the states printed are the sender's own.

mod support;

use serde_json::{Value, json};
use sluice_artifacts as artifacts;
use std::path::Path;
use std::process::Command;
use support::{json_file, pyenv, text, validate, with_stdin};

/// A peer's stdout, after asserting it succeeded.
fn run_peer(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{cmd:?}: {err}");
    out
}

/// `sluice write --format FORMAT` (committing at every state) of `input`
/// into dest-file at `dir/out`; its stdout and stderr, once it succeeded.
fn write_ok(dir: &Path, format: &str, input: &str, args: &[&str]) -> (String, String) {
    let mut all = vec!["--commit-interval-ms", "0"];
    all.extend_from_slice(args);
    let o = support::write_into(dir, format, input, &all);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    (out, err)
}

fn state_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("{\"type\":\"STATE\""))
        .collect()
}

#[test]
fn a_singer_tap_writes_through_sluice() {
    let dir = tempfile::tempdir().unwrap();
    let people = dir.path().join("people.jsonl");
    std::fs::write(
        &people,
        "{\"id\":1,\"name\":\"a\"}\n{\"id\":2,\"name\":\"b\"}\n",
    )
    .unwrap();
    let config = json!({"path": people, "stream_name": "people", "primary_keys": ["id"]});
    let config = json_file(dir.path(), "tap.json", &config);
    let bin = pyenv::ensure(pyenv::TAP_JSONL).unwrap_or_else(|e| panic!("{e}"));
    let messages = run_peer(Command::new(bin.join("tap-jsonl")).args(["--config", &config]));
    let (out, err) = write_ok(dir.path(), "singer", &messages, &["--fields", "id,name"]);
    assert!(err.contains("wrote 2 records to 1 stream(s)"), "{err}");
    let written = std::fs::read_to_string(dir.path().join("out/people.jsonl")).unwrap();
    assert_eq!(
        written,
        "{\"id\":1,\"name\":\"a\"}\n{\"id\":2,\"name\":\"b\"}\n"
    );
    assert_eq!(state_lines(&out), state_lines(&messages));
    assert!(!state_lines(&out).is_empty(), "{messages}");
}

#[test]
fn an_airbyte_source_writes_through_sluice() {
    let dir = tempfile::tempdir().unwrap();
    let bin = pyenv::ensure(pyenv::AIRBYTE_SOURCE_FAKER).unwrap_or_else(|e| panic!("{e}"));
    let faker = bin.join("source-faker");
    let config = json!({"count": 10, "seed": 1, "records_per_slice": 5});
    let config = json_file(dir.path(), "faker.json", &config);
    let discovered = run_peer(Command::new(&faker).args(["discover", "--config", &config]));
    let catalog: Value = discovered
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["type"] == "CATALOG")
        .unwrap();
    let users = catalog["catalog"]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "users")
        .unwrap();
    let configured = json!({"streams": [{"stream": users, "sync_mode": "full_refresh",
        "destination_sync_mode": "overwrite"}]});
    let configured = json_file(dir.path(), "configured.json", &configured);
    let messages = run_peer(Command::new(&faker).args([
        "read",
        "--config",
        &config,
        "--catalog",
        &configured,
    ]));

    let (out, _) = write_ok(
        dir.path(),
        "airbyte",
        &messages,
        &["--catalog", &configured],
    );
    let written = std::fs::read_to_string(dir.path().join("out/users.jsonl")).unwrap();
    let ids: Vec<u64> = written
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, (1..=10).collect::<Vec<_>>());
    // The source's own STATE messages, each once its records are committed.
    assert_eq!(state_lines(&out), state_lines(&messages));
    let summary = validate(
        pyenv::AIRBYTE_SOURCE_FAKER,
        "validate_airbyte.py",
        &[],
        &out,
    );
    assert_eq!(summary["types"]["STATE"], state_lines(&messages).len());
}

#[test]
fn sluice_read_feeds_a_singer_target() {
    let dir = tempfile::tempdir().unwrap();
    let faker = json_file(
        dir.path(),
        "faker.json",
        &json!({"count": 25, "batch_size": 10}),
    );
    let read = |format: &str| {
        support::run_ok(&[
            "read",
            artifacts::SOURCE_FAKER,
            "--incremental",
            "--config",
            &faker,
            "--format",
            format,
        ])
    };
    let messages = read("singer");
    let out = dir.path().join("target");
    std::fs::create_dir_all(&out).unwrap();
    let config = json!({"destination_path": out, "do_timestamp_file": false});
    let config = json_file(dir.path(), "target.json", &config);
    let bin = pyenv::ensure(pyenv::TARGET_JSONL).unwrap_or_else(|e| panic!("{e}"));
    let o = with_stdin(
        Command::new(bin.join("target-jsonl")).args(["--config", &config]),
        &messages,
    );
    let (printed, err) = text(&o);
    assert!(o.status.success(), "target-jsonl: {err}");
    // The target wrote every record (it checks each against its SCHEMA).
    let parse = |text: &str| -> Vec<Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let mut received = Vec::new();
    for stream in ["users", "orders", "events"] {
        let file = std::fs::read_to_string(out.join(format!("{stream}.jsonl"))).unwrap();
        received.extend(parse(&file));
    }
    assert_eq!(received, parse(&read("jsonl")));
    // What it prints last is the last STATE's value.
    let last: Value = serde_json::from_str(state_lines(&messages).last().unwrap()).unwrap();
    let echoed: Value = serde_json::from_str(printed.lines().last().unwrap()).unwrap();
    assert_eq!(echoed, last["value"]);
}
