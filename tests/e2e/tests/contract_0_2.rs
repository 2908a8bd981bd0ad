//! Contract 0.2.0 end to end: 0.1.0 components still sync, the registry
//! gives one id to one schema across pipelines and is fetched once per id
//! by a writer, partitions add up to the whole, deletes reach the
//! destination (which may refuse them), and wasm transforms run sandboxed.

use serde_json::{Value, json};
use sluice_artifacts as artifacts;
use sluice_e2e::{PipelineToml, jsonl, pipeline, run, runtime};
use sluice_protocol::schema::{Field, Schema, Type};
use sluice_protocol::{Batch, ConfiguredCatalog, ConfiguredStream};
use sluice_runtime::pipeline::RunOptions;
use sluice_runtime::state::{StateStore, StreamOutcome};
use sluice_runtime::{Registry, Sandbox};
use std::collections::BTreeSet;

#[tokio::test]
async fn a_0_1_0_component_syncs_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let old = rt.load(artifacts::CONTRACT_0_1_0).await.unwrap();
    assert_eq!(old.contract_version(), "0.1.0");
    // 0.1.0 source -> 0.2.0 destination.
    let toml = PipelineToml::new(artifacts::CONTRACT_0_1_0, json!({"count": 7})).name("old-source");
    let summary = run(&pipeline(&toml, dir.path(), "a.toml", "a")).await;
    assert!(summary.succeeded(), "{summary:?}");
    let items = jsonl(&dir.path().join("out/items.jsonl"));
    let expected: Vec<Value> = (1..=7)
        .map(|n| json!({"id": n, "name": format!("item {n}")}))
        .collect();
    assert_eq!(items, expected);
    // 0.2.0 source -> 0.1.0 destination.
    let toml = PipelineToml::faker(json!({"count": 4}))
        .name("old-destination")
        .stream(json!({"name": "users"}))
        .destination_config(json!({"path": "/out/users-by-old.jsonl"}));
    let toml = toml.destination_component(artifacts::CONTRACT_0_1_0);
    let summary = run(&pipeline(&toml, dir.path(), "b.toml", "b")).await;
    assert!(summary.succeeded(), "{summary:?}");
    let users = jsonl(&dir.path().join("out/users-by-old.jsonl"));
    assert_eq!(users.len(), 4);
    assert_eq!(users[0]["id"], 1);
}

#[tokio::test]
async fn one_schema_has_one_id_across_pipelines_sharing_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for name in ["first", "second"] {
        let toml = PipelineToml::faker(json!({"count": 3}))
            .name(name)
            .stream(json!({"name": "users"}))
            .state("shared.redb");
        let p = pipeline(&toml, dir.path(), &format!("{name}.toml"), name);
        assert!(run(&p).await.succeeded());
        let store = StateStore::open(&p.state_path()).unwrap();
        let versions = store.schema_versions(name, "users").unwrap();
        assert_eq!(versions.len(), 1);
        assert_eq!(versions[0].version, 1);
        assert!(versions[0].first_seen_run.is_some());
        ids.push(versions[0].id.clone());
    }
    assert_eq!(ids[0], ids[1]);
}

#[tokio::test]
async fn a_writer_fetches_each_schema_id_once() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let dest = rt.load(artifacts::DEST_FILE).await.unwrap();
    let mut sandbox = Sandbox::default();
    sandbox.grants.dirs.push(sluice_runtime::DirGrant {
        host: dir.path().to_path_buf(),
        guest: "/out".into(),
        write: true,
    });
    let catalog = ConfiguredCatalog {
        streams: vec![ConfiguredStream::new("a"), ConfiguredStream::new("b")],
    };
    let registry = Registry::memory();
    let schema = Schema::new(vec![Field::required("id", Type::Int64)]);
    let id = registry.register("a", &schema).unwrap();
    let config = json!({"path": "/out"});
    let mut writer = dest
        .write(&sandbox, &config, &catalog, &registry)
        .await
        .unwrap();
    for stream in ["a", "b", "a"] {
        writer.schema(stream, &id).await.unwrap();
        let mut batch = Batch::json_lines(stream, 1, b"{\"id\":1}\n".to_vec());
        batch.schema_id = Some(id.to_string());
        writer.write(batch).await.unwrap();
    }
    writer.commit().await.unwrap();
    assert_eq!(registry.guest_fetches(&id), 1, "fetched once, then cached");
}

#[tokio::test]
async fn the_partitions_of_a_stream_add_up_to_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let config = json!({"count": 100});
    let whole = PipelineToml::faker(config.clone())
        .name("whole")
        .stream(json!({"name": "users"}));
    assert!(
        run(&pipeline(&whole, dir.path(), "whole.toml", "whole"))
            .await
            .succeeded()
    );
    let all = jsonl(&dir.path().join("out/users.jsonl"));
    assert_eq!(all.len(), 100);
    let mut union = Vec::new();
    for index in 0..3 {
        let out = format!("/out/p{index}");
        std::fs::create_dir_all(dir.path().join(format!("out/p{index}"))).unwrap();
        let toml = PipelineToml::faker(config.clone())
            .name(&format!("part{index}"))
            .destination_config(json!({"path": out}))
            .stream(json!({"name": "users", "partition": {"index": index, "count": 3}}));
        let p = pipeline(&toml, dir.path(), &format!("p{index}.toml"), "p");
        let s = run(&p).await;
        assert!(s.succeeded(), "{s:?}");
        let part = jsonl(&dir.path().join(format!("out/p{index}/users.jsonl")));
        assert!(!part.is_empty() && part.len() < 100);
        union.extend(part);
    }
    let key = |v: &Value| v.to_string();
    let union: BTreeSet<String> = union.iter().map(key).collect();
    let whole: BTreeSet<String> = all.iter().map(key).collect();
    assert_eq!(union, whole);
}

#[tokio::test]
async fn deletes_reach_the_destination_which_may_refuse_them() {
    let dir = tempfile::tempdir().unwrap();
    let toml = PipelineToml::faker(json!({"count": 20, "delete_every": 5}))
        .name("deletes")
        .stream(json!({"name": "users"}))
        .stream(json!({"name": "events"}));
    let s = run(&pipeline(&toml, dir.path(), "d.toml", "d")).await;
    let users = s.run.streams.iter().find(|r| r.stream == "users").unwrap();
    let StreamOutcome::Failed { error, .. } = &users.outcome else {
        panic!("dest-file refuses deletes: {s:?}");
    };
    assert!(
        error.contains("users") && error.contains("delete"),
        "{error}"
    );
    let events = s.run.streams.iter().find(|r| r.stream == "events").unwrap();
    assert_eq!(events.outcome, StreamOutcome::Succeeded);
}

#[tokio::test]
async fn a_wasm_transform_rewrites_batches_and_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let steps = format!(
        "[[streams]]\nname = \"users\"\n[[streams.transforms]]\ncomponent = {:?}\n[[streams.transforms]]\nselect = [\"id\", \"domain\"]\n",
        artifacts::TRANSFORM_EXAMPLE
    );
    let toml = PipelineToml::faker(json!({"count": 6}))
        .name("wasm")
        .extra(&steps);
    let s = run(&pipeline(&toml, dir.path(), "w.toml", "w")).await;
    assert!(s.succeeded(), "{s:?}");
    let users = jsonl(&dir.path().join("out/users.jsonl"));
    assert_eq!(users.len(), 6);
    for u in &users {
        let keys: Vec<&String> = u.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "domain"]);
        assert!(u["domain"].as_str().unwrap().contains('.'));
    }
}

#[tokio::test]
async fn a_select_after_a_wasm_transform_is_checked_against_its_output_schema() {
    let dir = tempfile::tempdir().unwrap();
    let steps = format!(
        "[[streams]]\nname = \"users\"\n[[streams.transforms]]\ncomponent = {:?}\n[[streams.transforms]]\nselect = [\"id\", \"domian\"]\n",
        artifacts::TRANSFORM_EXAMPLE
    );
    let toml = PipelineToml::faker(json!({"count": 6}))
        .name("wasm")
        .extra(&steps);
    let p = pipeline(&toml, dir.path(), "w.toml", "w");
    let store = StateStore::in_memory().unwrap();
    let err = p
        .run(&runtime(), &store, &RunOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("w.toml") && err.contains("domian") && err.contains("domain"),
        "{err}"
    );
}

#[tokio::test]
async fn a_looping_transform_is_stopped_naming_it_and_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let steps = format!(
        "[[streams]]\nname = \"users\"\n[[streams.transforms]]\ncomponent = {{ path = {:?}, limits = {{ timeout_ms = 300 }} }}\n",
        artifacts::LOOPING_TRANSFORM
    );
    let toml = PipelineToml::faker(json!({"count": 3}))
        .name("loop")
        .extra(&steps);
    let s = run(&pipeline(&toml, dir.path(), "l.toml", "l")).await;
    let users = &s.run.streams[0];
    let StreamOutcome::Failed { error, .. } = &users.outcome else {
        panic!("the transform must be stopped: {s:?}");
    };
    assert!(error.contains("looping-transform"), "{error}");
    assert!(
        error.contains("timeout") || error.contains("deadline"),
        "{error}"
    );
}
