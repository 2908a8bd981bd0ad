//! Whole pipelines, real components, exact results.

use serde_json::{Value, json};
use sluice_artifacts as artifacts;
use sluice_e2e::{PipelineToml, pipeline, runtime};
use sluice_guest::{
    ConfiguredCatalog, ConfiguredStream, Message, Reader, StreamState, SyncMode, native,
};
use sluice_runtime::pipeline::{Pipeline, RunOptions};
use sluice_runtime::state::{RunStatus, StateStore, StreamOutcome};
use sluice_source_faker::Faker;
use std::path::Path;

fn faker_pipeline(dir: &Path, config: Value, streams: &str) -> Pipeline {
    let toml = PipelineToml::faker(config)
        .name("faker-to-file")
        .extra(&format!("\n{streams}\n"));
    pipeline(&toml, dir, "test.toml", "test")
}

/// What the same connector, built natively, emits for `streams`.
fn native_records(
    config: &Value,
    streams: &[(&str, SyncMode)],
    state: Vec<StreamState>,
) -> Vec<(String, Vec<u8>)> {
    let catalog = ConfiguredCatalog {
        streams: streams
            .iter()
            .map(|(n, m)| ConfiguredStream {
                sync_mode: *m,
                cursor_field: Some("updated_at".into()),
                ..ConfiguredStream::new(*n)
            })
            .collect(),
    };
    let mut reader = native::read::<Faker>(&config.to_string(), catalog, state).unwrap();
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    while let Some(messages) = reader.next().unwrap() {
        for m in messages {
            if let Message::Records(b) = m {
                match out.iter_mut().find(|(s, _)| *s == b.stream) {
                    Some((_, data)) => data.extend_from_slice(&b.data),
                    None => out.push((b.stream.clone(), b.data.clone())),
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn a_full_sync_puts_exactly_the_source_records_in_the_destination() {
    let dir = tempfile::tempdir().unwrap();
    let config = json!({"count": 2500, "orders_per_user": 2, "batch_size": 333});
    let p = faker_pipeline(dir.path(), config.clone(), "");
    let store = StateStore::open(&p.state_path()).unwrap();
    let summary = p
        .run(&runtime(), &store, &RunOptions::default())
        .await
        .unwrap();
    assert!(summary.succeeded(), "{summary:?}");
    assert_eq!(summary.records(), 2500 + 5000 + 2500);

    let expected = native_records(
        &config,
        &[
            ("users", SyncMode::FullRefresh),
            ("orders", SyncMode::FullRefresh),
            ("events", SyncMode::FullRefresh),
        ],
        vec![],
    );
    for (stream, data) in &expected {
        let written =
            std::fs::read(dir.path().join("out").join(format!("{stream}.jsonl"))).unwrap();
        assert_eq!(written.len(), data.len(), "{stream}");
        assert!(
            written == *data,
            "{stream}: the destination holds exactly the source's records"
        );
        let run = summary
            .run
            .streams
            .iter()
            .find(|s| s.stream == *stream)
            .unwrap();
        assert_eq!(run.bytes, data.len() as u64);
        assert_eq!(run.outcome, StreamOutcome::Succeeded);
    }
    // Default selection: every stream incremental (they have cursors), so
    // state is saved for each.
    let states = store.saved_states("faker-to-file").unwrap();
    assert_eq!(states.len(), 3);
    assert_eq!(
        states["users"].state,
        json!({"cursor": "2024-01-01T00:41:40Z"})
    );
    assert_eq!(
        store.runs("faker-to-file").unwrap()[0].status,
        RunStatus::Succeeded
    );
}

#[tokio::test]
async fn three_readers_at_once_move_exactly_what_one_does() {
    let config = json!({"count": 3000, "orders_per_user": 2, "batch_size": 250});
    let mut outcomes = Vec::new();
    for parallelism in [1, 3] {
        let dir = tempfile::tempdir().unwrap();
        let options = format!("[options]\nparallelism = {parallelism}\n");
        let p = faker_pipeline(dir.path(), config.clone(), &options);
        assert_eq!(p.options.parallelism, parallelism);
        let store = StateStore::open(&p.state_path()).unwrap();
        let summary = p
            .run(&runtime(), &store, &RunOptions::default())
            .await
            .unwrap();
        assert!(summary.succeeded(), "{summary:?}");
        let files: Vec<Vec<u8>> = ["users", "orders", "events"]
            .iter()
            .map(|s| std::fs::read(dir.path().join(format!("out/{s}.jsonl"))).unwrap())
            .collect();
        let states: Vec<(String, Value)> = store
            .saved_states("faker-to-file")
            .unwrap()
            .into_iter()
            .map(|(s, saved)| (s, saved.state))
            .collect();
        outcomes.push((summary.records(), files, states));
    }
    assert_eq!(outcomes[0].0, 3000 + 6000 + 3000);
    assert!(
        outcomes[0] == outcomes[1],
        "the same records, in stream order, and the same state"
    );
}

#[tokio::test]
async fn a_second_incremental_sync_adds_only_new_and_changed_records() {
    let dir = tempfile::tempdir().unwrap();
    let streams = r#"
[[streams]]
name = "users"
sync_mode = "incremental"
write_mode = "append"

[[streams]]
name = "orders"
sync_mode = "incremental"
cursor_field = "updated_at"
"#;
    let rt = runtime();
    let first = json!({"count": 1000});
    let p = faker_pipeline(dir.path(), first.clone(), streams);
    let store = StateStore::open(&p.state_path()).unwrap();
    let s1 = p.run(&rt, &store, &RunOptions::default()).await.unwrap();
    assert_eq!(s1.records(), 2000);
    let state_after_first = store.stream_states("faker-to-file").unwrap();

    // Generation 1: 200 more users/orders, and every id ending in 01 changed.
    let second = json!({"count": 1200, "generation": 1});
    let p2 = faker_pipeline(dir.path(), second.clone(), streams);
    let s2 = p2.run(&rt, &store, &RunOptions::default()).await.unwrap();
    let expected = native_records(
        &second,
        &[
            ("users", SyncMode::Incremental),
            ("orders", SyncMode::Incremental),
        ],
        state_after_first,
    );
    for (stream, data) in &expected {
        let n = data.iter().filter(|b| **b == b'\n').count();
        assert_eq!(n, 198 + 12, "{stream}: 198 new and 12 changed records");
        let written =
            std::fs::read(dir.path().join("out").join(format!("{stream}.jsonl"))).unwrap();
        let lines = written.iter().filter(|b| **b == b'\n').count();
        assert_eq!(lines, 1000 + 210, "{stream}");
        assert!(
            written.ends_with(data),
            "{stream}: the second run appended exactly the delta"
        );
    }
    assert_eq!(s2.records(), 420);

    // Nothing changed since: a third run moves nothing.
    let s3 = p2.run(&rt, &store, &RunOptions::default()).await.unwrap();
    assert_eq!(s3.records(), 0);
    assert!(s3.succeeded());
    assert_eq!(store.runs("faker-to-file").unwrap().len(), 3);
}

#[tokio::test]
async fn csv_files_round_trip_and_sync_incrementally_on_a_column() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    std::fs::write(
        input.join("people.csv"),
        "id,name,score,active\n1,ada,9.5,true\n2,alan,7,false\n3,grace,,true\n",
    )
    .unwrap();
    std::fs::write(input.join("ignored.txt"), "not a stream").unwrap();
    let toml = PipelineToml::new(artifacts::SOURCE_FILE, json!({"path": "/in"}))
        .name("files")
        .source_dirs(json!([{"host": "in", "guest": "/in"}]))
        .destination_config(json!({"path": "/out", "format": "csv"}))
        .stream(json!({"name": "people", "sync_mode": "incremental", "cursor_field": "id", "write_mode": "append"}));
    let p = pipeline(&toml, dir.path(), "files.toml", "files");
    let rt = runtime();
    let store = StateStore::open(&p.state_path()).unwrap();
    let s = p.run(&rt, &store, &RunOptions::default()).await.unwrap();
    assert!(s.succeeded(), "{s:?}");
    assert_eq!(s.records(), 3);
    let out = dir.path().join("out/people.csv");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "id,name,score,active\n1,ada,9.5,true\n2,alan,7.0,false\n3,grace,,true\n"
    );
    std::fs::write(
        input.join("people.csv"),
        "id,name,score,active\n1,ada,9.5,true\n2,alan,7,false\n3,grace,,true\n4,edsger,8,true\n",
    )
    .unwrap();
    let s = p.run(&rt, &store, &RunOptions::default()).await.unwrap();
    assert_eq!(s.records(), 1);
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .ends_with("3,grace,,true\n4,edsger,8.0,true\n")
    );
    assert_eq!(
        store.saved_states("files").unwrap()["people"].state,
        json!({"cursor_field": "id", "cursor": 4})
    );
}

#[tokio::test]
async fn catalog_mistakes_are_named_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    for (streams, expect) in [
        (
            "[[streams]]\nname = \"user\"",
            "offers no such stream; it offers: users, orders, events",
        ),
        (
            "[[streams]]\nname = \"users\"\nfields = [\"id\", \"nme\"]",
            "field `nme` is not in the stream's schema",
        ),
        (
            "[[streams]]\nname = \"users\"\nsync_mode = \"incremental\"\ncursor_field = \"name\"",
            "`name` cannot be a cursor",
        ),
        (
            "[[streams]]\nname = \"users\"\nwrite_mode = \"append_dedup\"",
            "does not support write_mode AppendDedup",
        ),
    ] {
        let p = faker_pipeline(dir.path(), json!({"count": 10}), streams);
        let store = StateStore::in_memory().unwrap();
        let err = p
            .run(&rt, &store, &RunOptions::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("test.toml") && err.contains(expect), "{err}");
        assert!(
            store.runs("faker-to-file").unwrap().is_empty(),
            "no run was started"
        );
    }
    assert!(
        std::fs::read_dir(dir.path().join("out"))
            .unwrap()
            .next()
            .is_none(),
        "nothing written"
    );
}

#[tokio::test]
async fn a_source_that_cannot_start_leaves_an_overwrite_destination_alone() {
    let dir = tempfile::tempdir().unwrap();
    let streams =
        "[[streams]]\nname = \"users\"\nsync_mode = \"incremental\"\nwrite_mode = \"overwrite\"";
    let p = faker_pipeline(dir.path(), json!({"count": 10}), streams);
    let kept = dir.path().join("out/users.jsonl");
    std::fs::write(&kept, "{\"kept\":true}\n").unwrap();
    let store = StateStore::open(&p.state_path()).unwrap();
    let mut bad = std::collections::BTreeMap::new();
    bad.insert("users".to_string(), json!({"cursor": "not a time"}));
    store.commit_checkpoint("faker-to-file", &bad).unwrap();
    let summary = p
        .run(&runtime(), &store, &RunOptions::default())
        .await
        .unwrap();
    assert!(!summary.succeeded());
    assert!(summary.run.streams[0].outcome.is_failed());
    let err = summary.run.error.unwrap();
    assert!(
        err.contains("stream `users`") && err.contains("not a time"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "{\"kept\":true}\n");
    assert_eq!(
        store.stream_states("faker-to-file").unwrap()[0].state,
        json!({"cursor": "not a time"})
    );
}

#[tokio::test]
async fn json_lines_pass_through_unchanged_and_bad_lines_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    let rows =
        "{\"id\":1,\"tags\":[\"a\",\"b\"],\"n\":1.50}\n\n{\"id\":2,\"nested\":{\"x\":null}}\n";
    std::fs::write(input.join("things.jsonl"), rows).unwrap();
    let toml = PipelineToml::new(
        artifacts::SOURCE_FILE,
        json!({"path": "/in", "infer_rows": 1}),
    )
    .name("jsonl")
    .source_dirs(json!([{"host": "in", "guest": "/in"}]))
    .stream(json!({"name": "things", "sync_mode": "full_refresh", "write_mode": "overwrite"}));
    let p = pipeline(&toml, dir.path(), "jsonl.toml", "jsonl");
    let rt = runtime();
    let store = StateStore::in_memory().unwrap();
    let s = p.run(&rt, &store, &RunOptions::default()).await.unwrap();
    assert!(s.succeeded(), "{s:?}");
    assert_eq!(s.records(), 2);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/things.jsonl")).unwrap(),
        "{\"id\":1,\"tags\":[\"a\",\"b\"],\"n\":1.50}\n{\"id\":2,\"nested\":{\"x\":null}}\n",
        "rows pass through byte for byte"
    );
    std::fs::write(input.join("things.jsonl"), "{\"id\":1}\n{\"id\": oops}\n").unwrap();
    let s = p.run(&rt, &store, &RunOptions::default()).await.unwrap();
    assert!(!s.succeeded());
    let err = s.run.error.unwrap();
    assert!(
        err.contains("stream `things`") && err.contains("line 2"),
        "{err}"
    );
}

/// The lines of `out/{stream}.jsonl`, sorted.
fn sorted_lines(dir: &Path, stream: &str) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join(format!("out/{stream}.jsonl"))).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn one_stream_read_in_two_partitions_moves_and_resumes_exactly_like_one_reader() {
    let streams =
        "[[streams]]\nname = \"orders\"\nsync_mode = \"incremental\"\nwrite_mode = \"append\"\n";
    let rt = runtime();
    let mut outcomes = Vec::new();
    for parallelism in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let run = async |config: Value, parallelism: usize| {
            let options = format!("[options]\nparallelism = {parallelism}\n{streams}");
            let p = faker_pipeline(dir.path(), config, &options);
            let store = StateStore::open(&p.state_path()).unwrap();
            let s = p.run(&rt, &store, &RunOptions::default()).await.unwrap();
            assert!(s.succeeded(), "{s:?}");
            (
                s.records(),
                store.saved_states("faker-to-file").unwrap()["orders"]
                    .state
                    .clone(),
            )
        };
        let (first, state) = run(json!({"count": 1000, "batch_size": 64}), parallelism).await;
        assert_eq!(first, 1000);
        let parts = sluice_runtime::pipeline::partition_states(&state);
        // The second run has one reader either way: a stream saved in
        // partitions stays in them.
        let (second, after) = run(json!({"count": 1200, "generation": 1}), 1).await;
        assert_eq!(second, 198 + 12, "new and changed orders");
        let parts_after = sluice_runtime::pipeline::partition_states(&after);
        match parallelism {
            1 => assert!(parts.is_none() && parts_after.is_none(), "{state}"),
            _ => {
                let parts = parts.unwrap_or_else(|| panic!("not partitioned: {state}"));
                assert_eq!(parts.len(), 2);
                assert!(parts.iter().all(Option::is_some), "{state}");
                assert_eq!(parts_after.map(|p| p.len()), Some(2), "{after}");
            }
        }
        outcomes.push(sorted_lines(dir.path(), "orders"));
    }
    assert_eq!(outcomes[0].len(), 1000 + 210);
    assert!(
        outcomes[0] == outcomes[1],
        "the same records, read in two partitions"
    );
}
