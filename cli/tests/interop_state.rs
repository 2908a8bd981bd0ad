//! `state export` and `state import` in Singer's and Airbyte's forms: a
//! pipeline's state moved into a fresh pipeline (a new state store)
//! resumes exactly where the first left off; every Airbyte form (STREAM,
//! GLOBAL, LEGACY) and Meltano's Singer wrapper import, and round-trip
//! through export.

mod support;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use support::{PipelineToml, json_file, pyenv, run_ok, sluice, text, validate};

/// A faker pipeline (`count` of each stream, batches of 10, every stream
/// incremental by default) in `dir`, writing to `dir/out`.
fn faker_pipeline(dir: &Path, count: u64) -> PathBuf {
    PipelineToml::faker(json!({"count": count, "batch_size": 10}))
        .name("p")
        .write(dir, "p.toml")
}

/// The ids in `dir/out/<stream>.jsonl`.
fn ids(dir: &Path, stream: &str) -> Vec<u64> {
    let text = std::fs::read_to_string(dir.join("out").join(format!("{stream}.jsonl")))
        .unwrap_or_default();
    text.lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

fn sync(pipeline: &Path) {
    let p = pipeline.to_str().unwrap();
    let summary: Value = serde_json::from_str(&run_ok(&["sync", p, "--json"])).unwrap();
    assert_eq!(summary["run"]["status"], "succeeded", "{summary}");
}

/// Sync 30 records of each stream, export the state as `format`, import
/// it into a fresh pipeline of 45 and sync that: it moves 31 to 45 only.
fn resumes_through(format: &str) -> Value {
    let first = tempfile::tempdir().unwrap();
    let p1 = faker_pipeline(first.path(), 30);
    sync(&p1);
    let file = first.path().join(format!("state.{format}.json"));
    run_ok(&[
        "state",
        "export",
        p1.to_str().unwrap(),
        "--format",
        format,
        "--output",
        file.to_str().unwrap(),
    ]);
    let exported: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();

    let second = tempfile::tempdir().unwrap();
    let p2 = faker_pipeline(second.path(), 45);
    let o = sluice()
        .args(["state", "import"])
        .arg(&p2)
        .arg(&file)
        .args(["--format", format])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("imported the state of stream `users`: {\"cursor\":\"2024-01-01T00:00:30Z\"}"),
        "{out}"
    );
    assert!(
        out.contains("imported the state of 3 stream(s) into pipeline `p`"),
        "{out}"
    );
    sync(&p2);
    for stream in ["users", "orders", "events"] {
        assert_eq!(ids(first.path(), stream), (1..=30).collect::<Vec<_>>());
        assert_eq!(
            ids(second.path(), stream),
            (31..=45).collect::<Vec<_>>(),
            "{stream}"
        );
    }
    exported
}

#[test]
fn a_singer_state_moves_a_pipeline_to_a_fresh_one() {
    let exported = resumes_through("singer");
    assert_eq!(
        exported["bookmarks"]["users"],
        json!({"cursor": "2024-01-01T00:00:30Z"})
    );
    // It is the value of a STATE message the singer-sdk loads.
    let message = json!({"type": "STATE", "value": exported}).to_string();
    let summary = validate(pyenv::TAP_JSONL, "validate_singer.py", &[], &message);
    assert_eq!(summary["states"][0], exported);
}

#[test]
fn an_airbyte_state_moves_a_pipeline_to_a_fresh_one() {
    let exported = resumes_through("airbyte");
    let lines: String = exported
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{}\n", json!({"type": "STATE", "state": s})))
        .collect();
    let summary = validate(
        pyenv::AIRBYTE_SOURCE_FAKER,
        "validate_airbyte.py",
        &[],
        &lines,
    );
    assert_eq!(summary["states"], json!(["STREAM", "STREAM", "STREAM"]));
}

/// Import `state` (JSON, or text as it is) as `format` into the pipeline
/// `p`, then export it as `format`.
fn import_export(p: &Path, format: &str, state: &str) -> Value {
    let file = p.parent().unwrap().join("in.json");
    std::fs::write(&file, state).unwrap();
    let p = p.to_str().unwrap();
    run_ok(&[
        "state",
        "import",
        p,
        file.to_str().unwrap(),
        "--format",
        format,
    ]);
    serde_json::from_str(&run_ok(&["state", "export", p, "--format", format])).unwrap()
}

#[test]
fn airbyte_global_and_legacy_state_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let p = faker_pipeline(dir.path(), 1);
    let global = json!([{"type": "GLOBAL", "global": {
    "shared_state": {"lsn": 77},
    "stream_states": [
        {"stream_descriptor": {"name": "orders"}, "stream_state": {"cursor": "b"}},
        {"stream_descriptor": {"name": "users"}, "stream_state": {"cursor": "a"}}
    ]}}]);
    assert_eq!(import_export(&p, "airbyte", &global.to_string()), global);

    let dir = tempfile::tempdir().unwrap();
    let p = faker_pipeline(dir.path(), 1);
    let legacy =
        json!({"type": "LEGACY", "data": {"users": {"cursor": "a"}, "events": {"cursor": "c"}}});
    let back = import_export(&p, "airbyte", &legacy.to_string());
    let stream = |name: &str, cursor: &str| json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": {"cursor": cursor}}});
    assert_eq!(back, json!([stream("events", "c"), stream("users", "a")]));
    // The STATE lines a source printed import too: the latest per stream.
    let lines = format!(
        "{}\n{}\n",
        json!({"type": "STATE", "state": stream("users", "b")}),
        json!({"type": "STATE", "state": stream("orders", "z")})
    );
    let back = import_export(&p, "airbyte", &lines);
    assert_eq!(
        back,
        json!([
            stream("events", "c"),
            stream("orders", "z"),
            stream("users", "b")
        ])
    );

    // Meltano's wrapper of a Singer state.
    let dir = tempfile::tempdir().unwrap();
    let p = faker_pipeline(dir.path(), 1);
    let meltano = json!({"singer_state": {"bookmarks": {"users": {"cursor": "m"}}}});
    let back = import_export(&p, "singer", &meltano.to_string());
    assert_eq!(back, json!({"bookmarks": {"users": {"cursor": "m"}}}));
}

#[test]
fn a_state_file_that_does_not_parse_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = faker_pipeline(dir.path(), 1);
    let p = p.to_str().unwrap();
    let refused = |file: &str, format: &str| {
        let o = sluice()
            .args(["state", "import", p, file, "--format", format])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{file} as {format}");
        text(&o).1
    };
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"bookmarks\": ").unwrap();
    let err = refused(broken.to_str().unwrap(), "singer");
    assert!(err.contains("broken.json is not valid JSON"), "{err}");
    let wrong = json_file(dir.path(), "wrong.json", &json!({"cursor": 1}));
    let err = refused(&wrong, "singer");
    assert!(
        err.contains("wrong.json is not Singer state") && err.contains("bookmarks"),
        "{err}"
    );
    let err = refused(&wrong, "sluice");
    assert!(err.contains("wrong.json is not sluice state"), "{err}");
    let bad_type = json_file(dir.path(), "type.json", &json!([{"type": "NOPE"}]));
    let err = refused(&bad_type, "airbyte");
    assert!(
        err.contains("type.json is not Airbyte state") && err.contains("NOPE"),
        "{err}"
    );
    // Nothing was imported.
    let shown: Value = serde_json::from_str(&run_ok(&["state", "show", p])).unwrap();
    assert_eq!(shown, json!({}));
}
