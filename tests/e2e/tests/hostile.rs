//! Hostile and broken connectors in whole pipelines: every one ends in a
//! typed error naming the connector, the call and the limit or rule; other
//! streams and other pipelines keep going; nothing past the last good
//! checkpoint is persisted; transient errors are retried from it.

use serde_json::{Value, json};
use sluice_artifacts as artifacts;
use sluice_e2e::{PipelineToml, pipeline, runtime};
use sluice_protocol::{Batch, ConfiguredCatalog, ConfiguredStream, SyncMode, WriteMode};
use sluice_runtime::pipeline::{Pipeline, RunOptions, RunSummary};
use sluice_runtime::state::{StateStore, StreamOutcome};
use sluice_runtime::{Call, Error, Limit, Registry, Runtime, Sandbox};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// bad-source -> dest-file, with `config` for the source and extra TOML.
fn bad_pipeline(dir: &Path, config: Value, extra: &str) -> Pipeline {
    let toml = PipelineToml::new(artifacts::BAD_SOURCE, config)
        .name("bad")
        .source_dirs(json!([{"host": "scratch", "guest": "/scratch", "write": true}]))
        .options(json!({"retry_initial_ms": 10, "retry_max_ms": 50}))
        .extra(&format!("\n{extra}\n"));
    pipeline(&toml, dir, "bad.toml", "bad")
}

/// `bad_pipeline` in a fresh directory, run once with an in-memory store.
async fn sync_bad(
    rt: &Runtime,
    config: Value,
    extra: &str,
) -> (tempfile::TempDir, StateStore, RunSummary) {
    let dir = tempfile::tempdir().unwrap();
    let p = bad_pipeline(dir.path(), config, extra);
    let store = StateStore::in_memory().unwrap();
    let s = run(rt, &p, &store).await;
    (dir, store, s)
}

async fn run(rt: &Runtime, p: &Pipeline, store: &StateStore) -> RunSummary {
    p.run(rt, store, &RunOptions::default()).await.unwrap()
}

fn stream<'a>(s: &'a RunSummary, name: &str) -> &'a sluice_runtime::state::StreamRun {
    s.run.streams.iter().find(|x| x.stream == name).unwrap()
}

/// Persisted step per stream.
fn steps(store: &StateStore) -> BTreeMap<String, u64> {
    store
        .stream_states("bad")
        .unwrap()
        .into_iter()
        .map(|s| (s.stream, s.state["step"].as_u64().unwrap()))
        .collect()
}

/// Steps of the records of `stream` in the destination.
fn written_steps(dir: &Path, stream: &str) -> Vec<u64> {
    let text = std::fs::read_to_string(dir.join("out").join(format!("{stream}.jsonl")))
        .unwrap_or_default();
    let mut steps: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    steps.dedup();
    steps
}

#[tokio::test]
async fn a_broken_batch_fails_its_stream_only_and_nothing_past_its_last_checkpoint_is_kept() {
    let rt = runtime();
    for (mode, rule) in [
        ("lying-count", "it declares 105 records but holds 100"),
        ("invalid-utf8", "is not UTF-8"),
        ("invalid-json", "is not a JSON object: EOF"),
        ("not-an-object", "does not start with `{`"),
    ] {
        let (dir, store, s) = sync_bad(&rt, json!({"mode": mode, "at": 3, "batches": 6}), "").await;
        assert!(!s.succeeded(), "{mode}");
        assert_eq!(
            stream(&s, "good").outcome,
            StreamOutcome::Succeeded,
            "{mode}"
        );
        let bad = stream(&s, "bad");
        assert!(bad.outcome.is_failed(), "{mode}");
        let why = bad.outcome.error().unwrap();
        assert!(
            why.contains("connector `bad-source`")
                && why.contains("reader.next")
                && why.contains("stream `bad`")
                && why.contains(rule),
            "{mode}: {why}"
        );
        assert!(s.run.error.as_deref().unwrap().contains("bad"), "{mode}");
        // The broken batch and the checkpoint sent after it are not kept.
        assert_eq!(
            steps(&store),
            BTreeMap::from([("bad".into(), 2), ("good".into(), 6)]),
            "{mode}"
        );
        assert_eq!(written_steps(dir.path(), "bad"), [1, 2], "{mode}");
        assert_eq!(written_steps(dir.path(), "good"), [1, 2, 3, 4, 5, 6]);
    }
}

#[tokio::test]
async fn contract_breaks_of_the_whole_source_stop_the_run_at_the_last_good_checkpoint() {
    let rt = runtime();
    let cases: [(&str, &str, Value); 4] = [
        ("state-not-json", "the state of stream `bad`", json!({})),
        (
            "secret-state",
            "contains the value of a secret config field",
            json!({"token": "s3cr3t-value-123"}),
        ),
        (
            "unknown-stream",
            "stream `nope`, which is not in the catalog",
            json!({}),
        ),
        ("oversize", "batch size limit of 1 MiB", json!({})),
    ];
    for (mode, rule, more) in cases {
        let mut config = json!({"mode": mode, "at": 3, "batches": 6});
        config
            .as_object_mut()
            .unwrap()
            .extend(more.as_object().unwrap().clone());
        let (dir, store, s) = sync_bad(&rt, config, "[source.limits]\nbatch_mib = 1").await;
        assert!(!s.succeeded(), "{mode}");
        let why = s.run.error.as_deref().unwrap();
        assert!(
            why.contains("connector `bad-source`")
                && why.contains("reader.next")
                && why.contains(rule),
            "{mode}: {why}"
        );
        assert!(!why.contains("s3cr3t-value-123"), "{why}");
        let saved = steps(&store);
        assert!(
            saved.get("bad").copied().unwrap_or(0) <= 2,
            "{mode}: {saved:?}"
        );
        for (stream, step) in &saved {
            let written = written_steps(dir.path(), stream);
            assert!(
                written.last().copied().unwrap_or(0) >= *step,
                "{mode}: state of {stream} at {step} is ahead of the destination {written:?}"
            );
        }
        let states = serde_json::to_string(&store.stream_states("bad").unwrap()).unwrap();
        assert!(!states.contains("s3cr3t-value-123"), "{states}");
    }
}

#[tokio::test]
async fn one_failing_stream_does_not_stop_the_others() {
    let rt = runtime();
    let (_dir, store, s) = sync_bad(
        &rt,
        json!({"mode": "fail-stream", "at": 2, "batches": 5}),
        "",
    )
    .await;
    assert!(!s.succeeded());
    assert_eq!(s.run.attempts, 1, "a data error is not retried");
    assert_eq!(stream(&s, "good").outcome, StreamOutcome::Succeeded);
    assert_eq!(stream(&s, "good").records, 500);
    let bad = stream(&s, "bad");
    assert!(bad.outcome.is_failed());
    assert!(
        bad.outcome
            .error()
            .unwrap()
            .contains("row 7 cannot be read")
    );
    assert_eq!(s.run.error.as_deref(), Some("1 of 2 streams failed: bad"));
    assert_eq!(
        steps(&store),
        BTreeMap::from([("bad".into(), 1), ("good".into(), 5)])
    );
}

#[tokio::test]
async fn transient_errors_are_retried_from_the_last_checkpoint() {
    let rt = runtime();
    let (dir, store, s) = sync_bad(
        &rt,
        json!({"mode": "transient", "at": 3, "batches": 5, "fail_times": 2}),
        "",
    )
    .await;
    assert!(s.succeeded(), "{:?}", s.run);
    assert_eq!(s.run.attempts, 3);
    // `good` finished in the first attempt and was not read again; `bad`
    // resumed after its step 2 each time: every record exactly once.
    assert_eq!(written_steps(dir.path(), "good"), [1, 2, 3, 4, 5]);
    let bad = std::fs::read_to_string(dir.path().join("out/bad.jsonl")).unwrap();
    assert_eq!(bad.lines().count(), 500);
    assert_eq!(written_steps(dir.path(), "bad"), [1, 2, 3, 4, 5]);
    assert_eq!(
        steps(&store),
        BTreeMap::from([("bad".into(), 5), ("good".into(), 5)])
    );

    // More failures than retries: the run gives up, naming the stream.
    let dir = tempfile::tempdir().unwrap();
    let p = bad_pipeline(
        dir.path(),
        json!({"mode": "transient", "at": 3, "batches": 5, "fail_times": 9}),
        "",
    );
    let mut p = p;
    p.options.retries = 2;
    let store = StateStore::in_memory().unwrap();
    let started = Instant::now();
    let s = run(&rt, &p, &store).await;
    assert!(!s.succeeded());
    assert_eq!(s.run.attempts, 3, "1 + options.retries");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "backoff is bounded"
    );
    let bad = stream(&s, "bad");
    assert!(bad.outcome.is_failed());
    assert!(
        bad.outcome
            .error()
            .unwrap()
            .contains("the server is busy (attempt 3)")
    );
    assert_eq!(stream(&s, "good").outcome, StreamOutcome::Succeeded);
    assert_eq!(steps(&store)["bad"], 2);
}

fn items() -> ConfiguredCatalog {
    ConfiguredCatalog {
        streams: vec![ConfiguredStream {
            sync_mode: SyncMode::FullRefresh,
            write_mode: WriteMode::Append,
            ..ConfiguredStream::new("items")
        }],
    }
}

/// Run the hostile connector's `call` with `attack` in it (granted through
/// env vars), the way a pipeline would reach that call.
async fn attack_in(
    rt: &Runtime,
    call: &str,
    attack: &str,
    limits: sluice_runtime::Limits,
) -> Error {
    let mut sandbox = Sandbox {
        limits,
        ..Sandbox::default()
    };
    sandbox
        .grants
        .env
        .insert("HOSTILE_CALL".into(), call.into());
    sandbox
        .grants
        .env
        .insert("HOSTILE_ATTACK".into(), attack.into());
    // Control values, not secrets: keep them readable in errors.
    sandbox.grants.plain_env = ["HOSTILE_CALL", "HOSTILE_ATTACK"].map(String::from).into();
    let c = rt.load(artifacts::HOSTILE).await.unwrap();
    let config = json!({"attack": "none"});
    let result = match call {
        "spec" => c.spec(&sandbox).await.map(drop),
        "check" => c.check(&sandbox, &config).await,
        "discover" => c.discover(&sandbox, &config).await.map(drop),
        "read" => c
            .read(&sandbox, &config, &items(), &[], &Registry::memory())
            .await
            .map(drop),
        "next" => match c
            .read(&sandbox, &config, &items(), &[], &Registry::memory())
            .await
        {
            Ok(mut r) => r.next().await.map(drop),
            Err(e) => Err(e),
        },
        "write" => c
            .write(&sandbox, &config, &items(), &Registry::memory())
            .await
            .map(drop),
        "write_batch" | "commit" => match c
            .write(&sandbox, &config, &items(), &Registry::memory())
            .await
        {
            Ok(mut w) => {
                let batch = Batch::json_lines("items", 1, b"{\"id\":1}\n".to_vec());
                match w.write(batch).await {
                    Ok(()) => w.commit().await,
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        },
        other => panic!("no call {other}"),
    };
    result.expect_err("the attack must be stopped")
}

#[tokio::test]
async fn an_endless_loop_in_any_call_is_stopped_naming_that_call() {
    let rt = runtime();
    let limits = sluice_runtime::Limits {
        timeout_ms: 300,
        ..Default::default()
    };
    for (call, named) in [
        ("spec", Call::Spec),
        ("check", Call::Check),
        ("discover", Call::Discover),
        ("read", Call::Read),
        ("next", Call::Next),
        ("write", Call::Write),
        ("write_batch", Call::WriteBatch),
        ("commit", Call::Commit),
    ] {
        let started = Instant::now();
        let err = attack_in(&rt, call, "loop", limits).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{call}: stopped promptly"
        );
        match &err {
            Error::Limit {
                connector,
                call: c,
                limit,
            } => {
                // Before its spec is known, a connector is named by its file.
                let name = if call == "spec" {
                    "test-hostile"
                } else {
                    "hostile"
                };
                assert_eq!(connector, name);
                assert_eq!(*c, named, "{err}");
                assert_eq!(*limit, Limit::Deadline { millis: 300 });
            }
            other => panic!("{call}: expected a deadline, got {other}"),
        }
        assert!(err.to_string().contains(&format!("in {named}:")), "{err}");
    }
}

#[tokio::test]
async fn memory_stack_and_panic_attacks_outside_check_are_contained_too() {
    let rt = runtime();
    let limits = sluice_runtime::Limits {
        memory_mib: 48,
        ..Default::default()
    };
    let err = attack_in(&rt, "next", "memory", limits).await;
    assert!(
        matches!(
            err,
            Error::Limit {
                call: Call::Next,
                limit: Limit::Memory { .. },
                ..
            }
        ),
        "{err}"
    );
    let err = attack_in(&rt, "write_batch", "stack", limits).await;
    assert!(
        matches!(
            err,
            Error::Limit {
                call: Call::WriteBatch,
                limit: Limit::Stack,
                ..
            }
        ),
        "{err}"
    );
    let err = attack_in(&rt, "commit", "panic", limits).await;
    assert!(
        matches!(
            err,
            Error::Trap {
                call: Call::Commit,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("panicked on purpose"), "{err}");
}

#[tokio::test]
async fn a_log_flood_is_stopped_at_the_log_limit() {
    let rt = runtime();
    let limits = sluice_runtime::Limits {
        log_kib: 64,
        ..Default::default()
    };
    for attack in ["log-flood", "print-flood"] {
        let err = attack_in(&rt, "discover", attack, limits).await;
        match &err {
            Error::Limit {
                connector,
                call,
                limit,
            } => {
                assert_eq!(connector, "hostile");
                assert_eq!(*call, Call::Discover);
                assert_eq!(
                    *limit,
                    Limit::Log {
                        per_call_bytes: 64 << 10
                    }
                );
            }
            other => panic!("{attack}: expected the log limit, got {other}"),
        }
        assert!(
            err.to_string().contains("log limit of 64 KiB per call"),
            "{err}"
        );
    }
    // In a pipeline: the run fails naming the limit, earlier checkpoints stay.
    let (_dir, store, s) = sync_bad(
        &rt,
        json!({"mode": "log-flood", "at": 2, "batches": 4}),
        "[source.limits]\nlog_kib = 64",
    )
    .await;
    assert!(!s.succeeded());
    assert!(
        s.run
            .error
            .as_deref()
            .unwrap()
            .contains("log limit of 64 KiB"),
        "{:?}",
        s.run.error
    );
    assert_eq!(steps(&store)["bad"], 1);
}

#[tokio::test]
async fn name_lookups_are_denied_without_a_host_grant() {
    let rt = runtime();
    let c = rt.load(artifacts::HOSTILE).await.unwrap();
    let err = c
        .check(
            &Sandbox::default(),
            &json!({"attack": "dns", "target": "localhost"}),
        )
        .await
        .unwrap_err();
    let Error::Connector { error, call, .. } = &err else {
        panic!("expected the guest's own error, got {err}");
    };
    assert_eq!(*call, Call::Check);
    assert!(error.message.starts_with("lookup localhost:"), "{err}");
    assert!(!error.message.contains("resolved"), "{err}");
    // Granted an address (not a name), it still cannot look names up.
    let sandbox = Sandbox {
        grants: sluice_runtime::Grants {
            hosts: vec!["127.0.0.1:9".into()],
            ..Default::default()
        },
        ..Default::default()
    };
    let err = c
        .check(&sandbox, &json!({"attack": "dns", "target": "localhost"}))
        .await
        .unwrap_err();
    let Error::Connector { error, .. } = &err else {
        panic!("expected the guest's own error, got {err}");
    };
    assert!(error.message.starts_with("lookup localhost:"), "{err}");
}

#[tokio::test]
async fn a_hostile_pipeline_does_not_stop_another_one_in_the_same_process() {
    let rt = runtime();
    let good_dir = tempfile::tempdir().unwrap();
    let bad_dir = tempfile::tempdir().unwrap();
    let good = bad_pipeline(good_dir.path(), json!({"mode": "none", "batches": 20}), "");
    // The hostile one floods its log until it is stopped.
    let hostile = bad_pipeline(
        bad_dir.path(),
        json!({"mode": "log-flood", "at": 1, "batches": 20}),
        "[source.limits]\nlog_kib = 4096",
    );
    let (gs, hs) = (
        StateStore::in_memory().unwrap(),
        StateStore::in_memory().unwrap(),
    );
    let (g, h) = tokio::join!(run(&rt, &good, &gs), run(&rt, &hostile, &hs));
    assert!(g.succeeded(), "{:?}", g.run);
    assert_eq!(g.records(), 4_000);
    assert!(!h.succeeded());
    assert!(
        h.run.error.as_deref().unwrap().contains("log limit"),
        "{:?}",
        h.run
    );
}

#[tokio::test]
async fn a_guest_cannot_flood_the_schema_registry() {
    let rt = runtime();
    let c = rt.load(artifacts::HOSTILE).await.unwrap();
    let err = c
        .check(&Sandbox::default(), &json!({"attack": "schema-flood"}))
        .await
        .unwrap_err();
    let Error::Connector { error, call, .. } = &err else {
        panic!("expected the registry's refusal as the guest's error, got {err}");
    };
    assert_eq!(*call, Call::Check);
    assert!(
        error.message.contains("more than 10000 distinct schemas"),
        "{err}"
    );
    // An id the registry does not hold is simply not there.
    let err = c
        .check(&Sandbox::default(), &json!({"attack": "bad-schema-fetch"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("outcome: None"), "{err}");
}
