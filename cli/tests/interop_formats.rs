//! `--format singer|airbyte` of `read`, `spec`, `check` and `discover`:
//! every line loads in the protocols' own Python packages (the
//! airbyte-cdk's models, the singer-sdk's message and catalog classes),
//! and says what the read did.

mod support;

use serde_json::{Value, json};
use sluice_artifacts as artifacts;
use support::{json_file, pyenv, run_ok, sluice, text, validate};

/// Every stream of source-faker.
const STREAMS: [&str; 3] = ["users", "orders", "events"];

/// An incremental read of source-faker (25 users, orders and events, in
/// batches of 10) in `format`, with `extra` flags; its stdout.
fn read_faker(dir: &std::path::Path, format: &str, extra: &[&str]) -> String {
    let config = json_file(dir, "faker.json", &json!({"count": 25, "batch_size": 10}));
    let mut args = vec!["read", artifacts::SOURCE_FAKER, "--incremental", "--config"];
    args.extend([config.as_str(), "--format", format]);
    args.extend(extra);
    run_ok(&args)
}

#[test]
fn read_as_airbyte_is_every_message_an_airbyte_source_prints() {
    let dir = tempfile::tempdir().unwrap();
    let out = read_faker(dir.path(), "airbyte", &[]);
    let summary = validate(
        pyenv::AIRBYTE_SOURCE_FAKER,
        "validate_airbyte.py",
        &[],
        &out,
    );
    for stream in STREAMS {
        assert_eq!(summary["records"][stream], 25, "{summary}");
    }
    // Three checkpoints per stream (after records 10, 20 and 25), each a
    // STREAM state; a status before and after each stream; one closing log.
    assert_eq!(summary["types"]["RECORD"], 75, "{summary}");
    assert_eq!(summary["types"]["STATE"], 9, "{summary}");
    assert_eq!(summary["types"]["TRACE"], 6, "{summary}");
    assert_eq!(summary["types"]["LOG"], 1, "{summary}");
    assert_eq!(summary["types"].as_object().unwrap().len(), 4, "{summary}");
    assert!(
        summary["states"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s == "STREAM")
    );
    assert_eq!(
        summary["state_records"], 75.0,
        "each record counted by one state"
    );
    let statuses: Vec<Value> = STREAMS
        .iter()
        .flat_map(|s| [json!([s, "STARTED"]), json!([s, "COMPLETE"])])
        .collect();
    assert_eq!(summary["statuses"], json!(statuses));
    assert_eq!(summary["logs"], json!(["read finished: 75 records"]));
    // The STARTED of a stream comes before its first record.
    let first_record = out.lines().position(|l| l.contains("\"RECORD\"")).unwrap();
    let started = out.lines().position(|l| l.contains("STARTED")).unwrap();
    assert!(started < first_record, "{out}");
    let last_state: Value = serde_json::from_str(
        out.lines()
            .rfind(|l| l.starts_with("{\"type\":\"STATE\""))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        last_state["state"]["stream"]["stream_state"]["cursor"],
        "2024-01-01T00:00:25Z"
    );
}

#[test]
fn read_as_singer_is_what_a_singer_tap_prints() {
    let dir = tempfile::tempdir().unwrap();
    let out = read_faker(dir.path(), "singer", &[]);
    let summary = validate(pyenv::TAP_JSONL, "validate_singer.py", &[], &out);
    for stream in STREAMS {
        assert_eq!(summary["records"][stream], 25, "{summary}");
        assert_eq!(summary["schemas"][stream], json!(["id"]), "{summary}");
    }
    assert_eq!(summary["types"]["SCHEMA"], 3, "{summary}");
    assert_eq!(summary["types"]["RECORD"], 75, "{summary}");
    assert_eq!(summary["types"]["STATE"], 9, "{summary}");
    // Every STATE holds every stream's latest bookmark.
    let states = summary["states"].as_array().unwrap();
    assert_eq!(
        states[3]["bookmarks"],
        json!({"users": {"cursor": "2024-01-01T00:00:25Z"}, "orders": {"cursor": "2024-01-01T00:00:10Z"}})
    );
    let last = &states[8]["bookmarks"];
    for stream in STREAMS {
        assert_eq!(last[stream]["cursor"], "2024-01-01T00:00:25Z", "{last}");
    }
    let schema: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(schema["stream"], "users");
    assert_eq!(schema["bookmark_properties"], json!(["updated_at"]));
}

#[test]
fn read_resumes_from_singer_and_airbyte_state_files() {
    let dir = tempfile::tempdir().unwrap();
    let bookmark = json!({"cursor": "2024-01-01T00:00:20Z"});
    let singer = json_file(
        dir.path(),
        "singer.json",
        &json!({"bookmarks": {"users": bookmark}}),
    );
    let airbyte = json_file(
        dir.path(),
        "airbyte.json",
        &json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": bookmark}}]),
    );
    let out_state = dir.path().join("out-state.json");
    let out_state = out_state.to_str().unwrap();
    for (format, file, package, script) in [
        ("singer", &singer, pyenv::TAP_JSONL, "validate_singer.py"),
        (
            "airbyte",
            &airbyte,
            pyenv::AIRBYTE_SOURCE_FAKER,
            "validate_airbyte.py",
        ),
    ] {
        let args = [
            "--stream",
            "users",
            "--state",
            file,
            "--state-out",
            out_state,
        ];
        let out = read_faker(dir.path(), format, &args);
        let summary = validate(package, script, &[], &out);
        assert_eq!(
            summary["records"],
            json!({"users": 5}),
            "{format}: {summary}"
        );
        let saved: Value =
            serde_json::from_str(&std::fs::read_to_string(out_state).unwrap()).unwrap();
        let cursor = match format {
            "singer" => &saved["bookmarks"]["users"]["cursor"],
            _ => &saved[0]["stream"]["stream_state"]["cursor"],
        };
        assert_eq!(cursor, "2024-01-01T00:00:25Z", "{format}: {saved}");
    }
    // sluice's own list still works in every format.
    let own = json_file(
        dir.path(),
        "own.json",
        &json!([{"stream": "users", "state": bookmark}]),
    );
    let out = read_faker(
        dir.path(),
        "singer",
        &["--stream", "users", "--state", &own],
    );
    assert_eq!(out.lines().filter(|l| l.contains("\"RECORD\"")).count(), 5);
    // A file in neither form names the file.
    let bad = json_file(dir.path(), "bad.json", &json!({"users": 3}));
    let config = json_file(dir.path(), "faker.json", &json!({"count": 5}));
    let o = sluice()
        .args([
            "read",
            artifacts::SOURCE_FAKER,
            "--format",
            "singer",
            "--state",
            &bad,
        ])
        .args(["--config", &config])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o).1;
    assert!(
        err.contains("bad.json is not Singer state") && err.contains("bookmarks"),
        "{err}"
    );
}

#[test]
fn spec_check_and_discover_as_airbyte_load_in_the_cdk() {
    let dir = tempfile::tempdir().unwrap();
    let load = |args: &[&str]| {
        let out = run_ok(args);
        validate(
            pyenv::AIRBYTE_SOURCE_FAKER,
            "validate_airbyte.py",
            &[],
            &out,
        )
    };
    let spec = load(&["spec", artifacts::SOURCE_FAKER, "--format", "airbyte"]);
    assert_eq!(spec["types"], json!({"SPEC": 1}));
    assert!(
        spec["spec"].as_array().unwrap().contains(&json!("count")),
        "{spec}"
    );
    let config = json_file(dir.path(), "faker.json", &json!({"count": 5}));
    let check = load(&[
        "check",
        artifacts::SOURCE_FAKER,
        "--format",
        "airbyte",
        "--config",
        &config,
    ]);
    assert_eq!(check["connection_status"], json!(["SUCCEEDED"]));
    let catalog = load(&["discover", artifacts::SOURCE_FAKER, "--format", "airbyte"]);
    assert_eq!(catalog["catalog"], json!(STREAMS));

    // A failed check is a FAILED status, and still exit code 1.
    let bad = json_file(dir.path(), "bad.json", &json!({"count": "lots"}));
    let o = sluice()
        .args([
            "check",
            artifacts::SOURCE_FAKER,
            "--format",
            "airbyte",
            "--config",
            &bad,
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o).0;
    let failed = validate(
        pyenv::AIRBYTE_SOURCE_FAKER,
        "validate_airbyte.py",
        &[],
        &out,
    );
    assert_eq!(failed["connection_status"], json!(["FAILED"]));
    // Singer has no spec message: a clear refusal.
    let o = sluice()
        .args(["spec", artifacts::SOURCE_FAKER, "--format", "singer"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).1.contains("Singer has no spec message"),
        "{}",
        text(&o).1
    );
}

#[test]
fn discover_as_singer_is_a_catalog_the_singer_sdk_loads() {
    let out = run_ok(&["discover", artifacts::SOURCE_FAKER, "--format", "singer"]);
    let catalog = validate(pyenv::TAP_JSONL, "validate_singer.py", &["--catalog"], &out);
    let streams = catalog["streams"].as_array().unwrap();
    let names: Vec<&str> = streams
        .iter()
        .map(|s| s["tap_stream_id"].as_str().unwrap())
        .collect();
    assert_eq!(names, STREAMS);
    assert!(
        streams
            .iter()
            .all(|s| s["key_properties"] == json!(["id"]) && s["selected"] == false)
    );

    // With --stream, that stream is selected, as a sync would read it.
    let out = run_ok(&[
        "discover",
        artifacts::SOURCE_FAKER,
        "--format",
        "singer",
        "--stream",
        "users",
        "--fields",
        "id,name,updated_at",
    ]);
    let catalog = validate(pyenv::TAP_JSONL, "validate_singer.py", &["--catalog"], &out);
    let users = &catalog["streams"][0];
    assert_eq!(users["selected"], true, "{catalog}");
    assert_eq!(users["replication_method"], "INCREMENTAL");
    assert_eq!(users["replication_key"], "updated_at");
    assert_eq!(users["fields"], json!(["id", "name", "updated_at"]));
}

#[test]
fn read_as_airbyte_reports_failures_as_traces() {
    let dir = tempfile::tempdir().unwrap();
    let read = |mode: &str| {
        let config = json_file(
            dir.path(),
            "bad.json",
            &json!({"mode": mode, "at": 2, "batches": 4}),
        );
        let o = sluice()
            .args([
                "read",
                artifacts::BAD_SOURCE,
                "--format",
                "airbyte",
                "--config",
                &config,
            ])
            .output()
            .unwrap();
        let (out, err) = text(&o);
        let summary = validate(
            pyenv::AIRBYTE_SOURCE_FAKER,
            "validate_airbyte.py",
            &[],
            &out,
        );
        (o.status.code(), summary, out, err)
    };
    // A failed stream: its TRACE ERROR, then INCOMPLETE; the read goes on.
    let (code, summary, _, err) = read("fail-stream");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        summary["errors"],
        json!(["row 7 cannot be read"]),
        "{summary}"
    );
    let statuses = summary["statuses"].as_array().unwrap();
    assert!(
        statuses.contains(&json!(["bad", "INCOMPLETE"])),
        "{summary}"
    );
    assert!(
        summary["records"]["good"].as_u64().unwrap() > 0,
        "{summary}"
    );
    // A failure that stops the read: a TRACE ERROR last, and exit code 1.
    let (code, summary, out, err) = read("invalid-json");
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(summary["errors"].as_array().unwrap().len(), 1, "{summary}");
    let last: Value = serde_json::from_str(out.lines().next_back().unwrap()).unwrap();
    assert_eq!(last["trace"]["type"], "ERROR");
    assert!(
        err.contains("not a JSON object") || err.contains("JSON"),
        "{err}"
    );
}
