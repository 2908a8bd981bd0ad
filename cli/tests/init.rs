//! `init --from-catalog`: a Singer catalog or a configured Airbyte catalog
//! becomes a pipeline file that parses and that `sync` runs.

mod support;

use serde_json::{Value, json};
use sluice_artifacts as artifacts;
use std::path::Path;
use support::{json_file, pyenv, run_ok, sluice, text, validate};

/// `sluice init --from-catalog CATALOG` from faker into dest-file writing
/// to `dir/out`, as `dir/pipeline.toml`; the command's output.
fn init(dir: &Path, catalog: &str) -> std::process::Output {
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let faker = json_file(dir, "faker.json", &json!({"count": 20}));
    let dest = json_file(dir, "dest.json", &json!({"path": "/out"}));
    let out = dir.join("out");
    let grant = format!("{}:/out:rw", out.display());
    let pipeline = dir.join("pipeline.toml");
    sluice()
        .args(["init", "--from-catalog", catalog])
        .args([
            "--source",
            artifacts::SOURCE_FAKER,
            "--source-config",
            &faker,
        ])
        .args([
            "--destination",
            artifacts::DEST_FILE,
            "--destination-config",
            &dest,
        ])
        .args(["--destination-dir", &grant, "--output"])
        .arg(&pipeline)
        .output()
        .unwrap()
}

/// `sync --json` of `dir/pipeline.toml`: the records of each stream.
fn sync(dir: &Path) -> Value {
    let pipeline = dir.join("pipeline.toml");
    let summary: Value =
        serde_json::from_str(&run_ok(&["sync", pipeline.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(summary["run"]["status"], "succeeded", "{summary}");
    let records: serde_json::Map<String, Value> = summary["run"]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stream"].as_str().unwrap().to_string(),
                s["records"].clone(),
            )
        })
        .collect();
    Value::Object(records)
}

fn first_line(dir: &Path, stream: &str) -> Value {
    let text = std::fs::read_to_string(dir.join("out").join(format!("{stream}.jsonl"))).unwrap();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

#[test]
fn a_singer_catalog_becomes_a_pipeline_that_syncs() {
    let dir = tempfile::tempdir().unwrap();
    // A tap's catalog with users selected (incremental) and, as a user
    // would mark it, orders selected in full with three fields.
    let out = run_ok(&[
        "discover",
        artifacts::SOURCE_FAKER,
        "--format",
        "singer",
        "--stream",
        "users",
    ]);
    let mut catalog: Value = serde_json::from_str(&out).unwrap();
    let full = run_ok(&["discover", artifacts::SOURCE_FAKER, "--format", "singer"]);
    let full: Value = serde_json::from_str(&full).unwrap();
    let mut orders = full["streams"][1].clone();
    for entry in orders["metadata"].as_array_mut().unwrap() {
        let field = entry["breadcrumb"]
            .get(1)
            .and_then(Value::as_str)
            .map(str::to_string);
        let m = &mut entry["metadata"];
        match field.as_deref() {
            None => {
                m["selected"] = json!(true);
                m["replication-method"] = json!("FULL_TABLE");
            }
            Some(f) => m["selected"] = json!(["id", "user_id", "amount_cents"].contains(&f)),
        }
    }
    catalog["streams"].as_array_mut().unwrap().push(orders);
    let catalog_text = catalog.to_string();
    validate(
        pyenv::TAP_JSONL,
        "validate_singer.py",
        &["--catalog"],
        &catalog_text,
    );
    let file = json_file(dir.path(), "catalog.json", &catalog);

    let o = init(dir.path(), &file);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("with 2 stream(s) from the Singer catalog"),
        "{out}"
    );
    assert!(out.contains("next: sluice sync "), "{out}");
    let written = std::fs::read_to_string(dir.path().join("pipeline.toml")).unwrap();
    let parsed: toml::Value = toml::from_str(&written).unwrap();
    let streams = parsed["streams"].as_array().unwrap();
    assert_eq!(streams[0]["name"].as_str(), Some("users"));
    assert_eq!(streams[0]["sync_mode"].as_str(), Some("incremental"));
    assert_eq!(streams[0]["cursor_field"].as_str(), Some("updated_at"));
    assert_eq!(streams[1]["sync_mode"].as_str(), Some("full_refresh"));
    assert!(
        streams[1].get("write_mode").is_none(),
        "Singer has no write modes: {written}"
    );

    assert_eq!(sync(dir.path()), json!({"users": 20, "orders": 20}));
    let order = first_line(dir.path(), "orders");
    let mut fields: Vec<&String> = order.as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(fields, ["amount_cents", "id", "user_id"]);

    // The file is never overwritten.
    let o = init(dir.path(), &file);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).1.contains("pipeline.toml exists already"),
        "{}",
        text(&o).1
    );
}

#[test]
fn a_configured_airbyte_catalog_becomes_a_pipeline_that_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let discovered = run_ok(&["discover", artifacts::SOURCE_FAKER, "--format", "airbyte"]);
    let discovered: Value = serde_json::from_str(&discovered).unwrap();
    let stream = |name: &str| {
        discovered["catalog"]["streams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };
    let configured = json!({"streams": [
        {"stream": stream("users"), "sync_mode": "incremental", "cursor_field": ["updated_at"],
         "destination_sync_mode": "append", "primary_key": [["id"]]},
        {"stream": stream("events"), "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
    ]});
    let loaded = validate(
        pyenv::AIRBYTE_SOURCE_FAKER,
        "validate_airbyte.py",
        &["--configured-catalog"],
        &configured.to_string(),
    );
    assert_eq!(loaded["streams"][1]["destination_sync_mode"], "overwrite");
    let file = json_file(dir.path(), "configured.json", &configured);

    let o = init(dir.path(), &file);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("with 2 stream(s) from the configured Airbyte catalog"),
        "{out}"
    );
    let written = std::fs::read_to_string(dir.path().join("pipeline.toml")).unwrap();
    let parsed: toml::Value = toml::from_str(&written).unwrap();
    let streams = parsed["streams"].as_array().unwrap();
    assert_eq!(
        streams[0]["write_mode"].as_str(),
        Some("append"),
        "{written}"
    );
    assert_eq!(streams[0]["primary_key"].as_array().unwrap().len(), 1);
    assert_eq!(
        streams[1]["write_mode"].as_str(),
        Some("overwrite"),
        "{written}"
    );
    assert!(streams[1].get("cursor_field").is_none(), "{written}");

    assert_eq!(sync(dir.path()), json!({"users": 20, "events": 20}));
    // Overwrite: a second sync leaves one copy of the events.
    sync(dir.path());
    let events = std::fs::read_to_string(dir.path().join("out/events.jsonl")).unwrap();
    assert_eq!(events.lines().count(), 20);
    assert_eq!(first_line(dir.path(), "users")["id"], 1);

    // An Airbyte catalog that is not configured is refused, saying so.
    let plain = json_file(dir.path(), "plain.json", &discovered["catalog"]);
    let other = tempfile::tempdir().unwrap();
    let o = init(other.path(), &plain);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).1.contains("not a configured one"),
        "{}",
        text(&o).1
    );
}
