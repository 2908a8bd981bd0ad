//! Process endpoints with the real packages from PyPI: Singer's tap-jsonl
//! and target-jsonl, Airbyte's source-faker, each in any mix with sluice's
//! own components, under the same commit rule as the sandboxed ones.
//! Programs that misbehave are small shell scripts: real processes that
//! print exactly the bad output under test.

use serde_json::{Value, json};
use sluice_e2e::{run, run_ok};
use sluice_runtime::pipeline::Pipeline;
use sluice_runtime::state::StateStore;
use sluice_test_support::{pyenv, toml_inline};
use std::path::{Path, PathBuf};

/// The `bin/` of `package`, installed from PyPI on first use.
fn bin(package: pyenv::Package) -> PathBuf {
    pyenv::ensure(package).unwrap_or_else(|e| panic!("set-up: {e}"))
}

/// A process side of a pipeline file.
fn process(table: &str, protocol: &str, command: &[String], config: Value) -> String {
    format!(
        "[{table}]\nkind = \"process\"\nprotocol = \"{protocol}\"\ncommand = {}\nconfig = {}\n",
        toml_inline(&json!(command)),
        toml_inline(&config)
    )
}

/// dest-file writing to `out/` (granted as `/out`).
fn dest_file() -> String {
    format!(
        "[destination]\ncomponent = {:?}\nconfig = {{ path = \"/out\" }}\ndirs = [{{ host = \"out\", guest = \"/out\", write = true }}]\n",
        sluice_artifacts::DEST_FILE
    )
}

/// source-faker with `config`.
fn faker(config: Value) -> String {
    format!(
        "[source]\ncomponent = {:?}\nconfig = {}\n",
        sluice_artifacts::SOURCE_FAKER,
        toml_inline(&config)
    )
}

/// The pipeline file `dir/p.toml` of `parts`.
fn pipeline(dir: &Path, parts: &[&str]) -> Pipeline {
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let text = parts.join("\n");
    std::fs::write(dir.join("p.toml"), &text).unwrap();
    Pipeline::from_file(&dir.join("p.toml")).unwrap()
}

fn saved(p: &Pipeline) -> Value {
    let store = StateStore::open(&p.state_path()).unwrap();
    let states = store.stream_states(&p.name).unwrap();
    Value::Object(states.into_iter().map(|s| (s.stream, s.state)).collect())
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A wrapper around `program` that keeps a copy of every state file it
/// is handed (`state-in-N.json`) and of its stdout (`stdout.jsonl`; not
/// of a Singer `--discover`).
fn recording(dir: &Path, program: &Path) -> String {
    let script = dir.join("record.sh");
    let text = format!(
        "#!/usr/bin/env bash\ncase \"$*\" in *--discover*) exec {p} \"$@\";; esac\nn=$(ls {d}/state-in-*.json 2>/dev/null | wc -l)\nfor a in \"$@\"; do case \"$a\" in */state.json) cp \"$a\" {d}/state-in-$n.json;; esac; done\nset -o pipefail\n{p} \"$@\" | tee -a {d}/stdout.jsonl\n",
        d = dir.display(),
        p = program.display()
    );
    std::fs::write(&script, text).unwrap();
    make_executable(&script);
    script.display().to_string()
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The last STATE value among Singer messages.
fn last_singer_state(path: &Path) -> Value {
    lines(path)
        .into_iter()
        .rev()
        .find(|m| m["type"] == "STATE")
        .map(|m| m["value"].clone())
        .expect("a STATE message")
}

fn tap_jsonl(dir: &Path, command: String) -> String {
    process(
        "source",
        "singer",
        &[command],
        json!({"path": format!("{}/in/*.jsonl", dir.display()), "stream_name": "items", "primary_keys": ["id"]}),
    )
}

#[tokio::test]
async fn singer_tap_into_a_sluice_destination_with_its_state_round_tripped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("in")).unwrap();
    let first: Vec<Value> = (1..=3)
        .map(|i| json!({"id": i, "name": format!("n{i}")}))
        .collect();
    let text: String = first.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(d.join("in/a.jsonl"), text).unwrap();
    let tap = recording(d, &bin(pyenv::TAP_JSONL).join("tap-jsonl"));
    let p = pipeline(d, &[&tap_jsonl(d, tap), &dest_file()]);

    let s = run_ok(&p).await;
    assert_eq!(s.records(), 3);
    let rows = lines(&d.join("out/items.jsonl"));
    for (row, want) in rows.iter().zip(&first) {
        assert_eq!((&row["id"], &row["name"]), (&want["id"], &want["name"]));
        assert!(row["_sdc_last_modified"].is_string(), "{row}");
    }
    // What sluice keeps is exactly the tap's last bookmark of the stream ...
    let emitted = last_singer_state(&d.join("stdout.jsonl"));
    assert_eq!(saved(&p)["items"], emitted["bookmarks"]["items"]);

    // ... and the next run hands the tap exactly its own state back.
    std::fs::write(d.join("in/b.jsonl"), "{\"id\": 4, \"name\": \"n4\"}\n").unwrap();
    let s = run_ok(&p).await;
    let handed: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("state-in-0.json")).unwrap()).unwrap();
    assert_eq!(
        handed, emitted,
        "the state file of run 2 is the tap's last STATE of run 1"
    );
    // tap-jsonl 0.3.1 re-reads every file on every run: it looks its
    // bookmark up under `_sdc_last_modified`, while the singer-sdk stores it
    // as `replication_key_value`. So run 2 moves all four records.
    assert_eq!(s.records(), 4);
    let mut ids: Vec<i64> = lines(&d.join("out/items.jsonl"))
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, [1, 1, 2, 2, 3, 3, 4]);
}

#[tokio::test]
async fn sluice_source_into_a_singer_target_persists_only_what_it_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let target = recording(d, &bin(pyenv::TARGET_JSONL).join("target-jsonl"));
    let config = json!({"destination_path": d.join("out").display().to_string(), "do_timestamp_file": false});
    let p = pipeline(
        d,
        &[
            &faker(json!({"count": 40, "seed": 3})),
            &process("destination", "singer", &[target], config),
            "[[streams]]\nname = \"users\"\n",
        ],
    );
    let s = run_ok(&p).await;
    assert_eq!(s.records(), 40);
    let rows = lines(&d.join("out/users.jsonl"));
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, (1..=40).collect::<Vec<_>>());
    assert!(
        rows.iter()
            .all(|r| r["email"].is_string() && r["updated_at"].is_string())
    );
    // target-jsonl prints the last state it received once it has written
    // every record before it; that line is all sluice persisted.
    let echoed = lines(&d.join("stdout.jsonl"));
    assert_eq!(echoed.len(), 1, "{echoed:?}");
    assert_eq!(saved(&p)["users"], echoed[0]["bookmarks"]["users"]);
    assert_eq!(
        run_ok(&p).await.records(),
        0,
        "the echoed state resumes the source"
    );
}

#[tokio::test]
async fn airbyte_source_faker_incremental_into_dest_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let faker = bin(pyenv::AIRBYTE_SOURCE_FAKER).join("source-faker");
    let config = json!({"count": 60, "seed": 42, "records_per_slice": 25, "parallelism": 1, "always_updated": false});
    let p = pipeline(
        d,
        &[
            &process("source", "airbyte", &[faker.display().to_string()], config),
            &dest_file(),
            "[[streams]]\nname = \"users\"\nsync_mode = \"incremental\"\n",
        ],
    );
    let s = run_ok(&p).await;
    assert_eq!(s.records(), 60);
    let rows = lines(&d.join("out/users.jsonl"));
    let mut ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, (1..=60).collect::<Vec<_>>());
    assert_eq!(saved(&p)["users"]["loop_offset"], 60);
    assert_eq!(
        run_ok(&p).await.records(),
        0,
        "the saved state reads 0 new records"
    );
}

#[tokio::test]
async fn singer_tap_into_singer_target_and_airbyte_source_into_singer_target() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("in")).unwrap();
    std::fs::write(d.join("in/a.jsonl"), "{\"id\": 1}\n{\"id\": 2}\n").unwrap();
    let target = bin(pyenv::TARGET_JSONL)
        .join("target-jsonl")
        .display()
        .to_string();
    let out = |sub: &str| json!({"destination_path": d.join(sub).display().to_string(), "do_timestamp_file": false});
    let tap = bin(pyenv::TAP_JSONL)
        .join("tap-jsonl")
        .display()
        .to_string();
    let p = pipeline(
        d,
        &[
            &tap_jsonl(d, tap),
            &process(
                "destination",
                "singer",
                std::slice::from_ref(&target),
                out("singer"),
            ),
        ],
    );
    assert_eq!(run_ok(&p).await.records(), 2);
    assert_eq!(lines(&d.join("singer/items.jsonl")).len(), 2);
    assert!(saved(&p)["items"]["partitions"].is_array(), "{}", saved(&p));

    let e = d.join("airbyte");
    let faker = bin(pyenv::AIRBYTE_SOURCE_FAKER)
        .join("source-faker")
        .display()
        .to_string();
    let config = json!({"count": 15, "seed": 1, "records_per_slice": 5, "parallelism": 1, "always_updated": false});
    let p = pipeline(
        &e,
        &[
            &process("source", "airbyte", &[faker], config),
            &process("destination", "singer", &[target], out("airbyte-out")),
            "[[streams]]\nname = \"users\"\nsync_mode = \"incremental\"\n",
        ],
    );
    assert_eq!(run_ok(&p).await.records(), 15);
    assert_eq!(lines(&d.join("airbyte-out/users.jsonl")).len(), 15);
    assert_eq!(saved(&p)["users"]["loop_offset"], 15);
    assert_eq!(run_ok(&p).await.records(), 0);
}

/// A Singer "tap" that prints `body` (shell) and nothing else: a catalog
/// of one stream `s` for `--discover`.
fn script_tap(dir: &Path, body: &str) -> String {
    let catalog = json!({"streams": [{"tap_stream_id": "s", "stream": "s",
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
        "key_properties": ["id"],
        "metadata": [{"breadcrumb": [], "metadata": {"valid-replication-keys": ["id"], "replication-key": "id"}}]}]});
    let script = dir.join("tap.sh");
    let text = format!(
        "#!/bin/sh\ncase \"$*\" in *--discover*) echo '{catalog}'; exit 0;; esac\n{body}\n"
    );
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(&script, text).unwrap();
    make_executable(&script);
    process(
        "source",
        "singer",
        &[script.display().to_string()],
        json!({}),
    )
}

const SCHEMA: &str = r#"{"type":"SCHEMA","stream":"s","schema":{"type":"object","properties":{"id":{"type":"integer"}}},"key_properties":["id"]}"#;

fn record(id: u32) -> String {
    format!(r#"{{"type":"RECORD","stream":"s","record":{{"id":{id}}}}}"#)
}

fn state(id: u32) -> String {
    format!(r#"{{"type":"STATE","value":{{"bookmarks":{{"s":{{"id":{id}}}}}}}}}"#)
}

/// The tap's stdout as shell `echo`s.
fn echoes(lines: &[String]) -> String {
    lines.iter().map(|l| format!("echo '{l}'\n")).collect()
}

#[tokio::test]
async fn a_malformed_message_names_its_line_and_nothing_after_the_last_state_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let body = echoes(&[
        SCHEMA.into(),
        record(1),
        record(2),
        state(2),
        record(3),
        "{\"type\": \"RECORD\", \"stream\"".into(),
    ]);
    let p = pipeline(d, &[&script_tap(d, &body), &dest_file()]);
    let s = run(&p).await;
    assert!(!s.succeeded());
    let error = s.run.error.clone().unwrap_or_default();
    assert!(
        error.contains("line 6: not valid JSON")
            && error.contains("`{\"type\": \"RECORD\", \"stream\"`"),
        "{error}"
    );
    assert_eq!(
        saved(&p)["s"],
        json!({"id": 2}),
        "the last state before the bad line"
    );
}

#[tokio::test]
async fn a_tap_exiting_non_zero_fails_with_its_code_and_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let body = format!(
        "{}echo 'connection reset by peer' >&2\nexit 3",
        echoes(&[SCHEMA.into(), record(1), state(1), record(2)])
    );
    let p = pipeline(d, &[&script_tap(d, &body), &dest_file()]);
    let s = run(&p).await;
    assert!(!s.succeeded());
    let error = s.run.error.clone().unwrap_or_default();
    assert!(
        error.contains("exit code 3") && error.contains("connection reset by peer"),
        "{error}"
    );
    assert!(
        s.run.streams[0].outcome.is_failed(),
        "{:?}",
        s.run.streams[0].outcome
    );
    assert_eq!(saved(&p)["s"], json!({"id": 1}));
}

#[tokio::test]
async fn a_record_before_its_schema_is_an_error_naming_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let body = echoes(&[record(1), SCHEMA.into(), state(1)]);
    let p = pipeline(d, &[&script_tap(d, &body), &dest_file()]);
    let s = run(&p).await;
    assert!(!s.succeeded());
    let error = s.run.error.clone().unwrap_or_default();
    assert!(
        error.contains("line 1: a RECORD of stream `s` came before any SCHEMA of it"),
        "{error}"
    );
    assert_eq!(saved(&p), json!({}), "nothing persisted");
    assert_eq!(lines(&d.join("out/s.jsonl")).len(), 0);
}

#[tokio::test]
async fn the_tap_jsonl_example_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let example = std::fs::read_to_string(root.join("examples/tap-jsonl-to-file.toml")).unwrap();
    let tap = bin(pyenv::TAP_JSONL).join("tap-jsonl");
    let text = example
        .replace("../.venv/bin/tap-jsonl", &tap.display().to_string())
        .replace(
            "../target/components/dest-file.wasm",
            sluice_artifacts::DEST_FILE,
        )
        .replace(
            "data/*.jsonl",
            &root.join("examples/data/*.jsonl").display().to_string(),
        );
    assert_ne!(
        text, example,
        "the example names the tap, dest-file and its data"
    );
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &[&text]);
    assert_eq!(run_ok(&p).await.records(), 3);
    let names: Vec<Value> = lines(&dir.path().join("out/people.jsonl"))
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(names, ["Ada Lovelace", "Grace Hopper", "Edsger Dijkstra"]);
}

#[tokio::test]
async fn a_process_sees_only_its_env_and_its_secrets_are_scrubbed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // SAFETY: only this test reads these variables.
    unsafe {
        std::env::set_var("SLUICE_TEST_TAP_TOKEN", "tok-7f3a9c1e");
        std::env::set_var("SLUICE_TEST_NOT_GRANTED", "leaked");
    }
    let body = format!(
        "env > {d}/env.txt\necho \"auth failed for token $TAP_TOKEN and $(grep -o 'tok-[0-9a-f]*' \"$2\")\" >&2\nexit 1",
        d = d.display()
    );
    let tap = script_tap(d, &body);
    assert!(tap.contains("config = {  }"), "{tap}");
    let tap = tap.replace(
        "config = {  }",
        "config = { token = \"${SLUICE_TEST_TAP_TOKEN}\" }\nenv = { TAP_TOKEN = \"${SLUICE_TEST_TAP_TOKEN}\", TZ = \"UTC\" }",
    );
    let p = pipeline(d, &[&tap, &dest_file()]);
    let s = run(&p).await;
    let error = s.run.error.clone().unwrap_or_default();
    assert!(error.contains("auth failed for token"), "{error}");
    assert!(
        !error.contains("tok-7f3a9c1e"),
        "a secret in the error: {error}"
    );
    let env = std::fs::read_to_string(d.join("env.txt")).unwrap();
    let names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
    for name in &names {
        assert!(
            [
                "PATH",
                "HOME",
                "TAP_TOKEN",
                "TZ",
                "PWD",
                "SHLVL",
                "_",
                "OLDPWD"
            ]
            .contains(name),
            "the process saw {name}: {names:?}"
        );
    }
    assert!(
        names.contains(&"TAP_TOKEN") && names.contains(&"PATH"),
        "{names:?}"
    );
}

#[tokio::test]
async fn sluice_source_into_an_airbyte_destination_built_on_the_cdk() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let python = bin(pyenv::AIRBYTE_SOURCE_FAKER).join("python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pyenv/python/destination_jsonl.py");
    let program = PathBuf::from(format!("{} {}", python.display(), script.display()));
    let destination = recording(d, &program);
    let config = json!({"destination_path": d.join("out").display().to_string()});
    let p = pipeline(
        d,
        &[
            &faker(json!({"count": 25, "seed": 5})),
            &process("destination", "airbyte", &[destination], config),
            "[[streams]]\nname = \"users\"\n",
        ],
    );
    let s = run_ok(&p).await;
    assert_eq!(s.records(), 25);
    let ids: Vec<i64> = lines(&d.join("out/users.jsonl"))
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (1..=25).collect::<Vec<_>>());
    // The destination echoes each STATE after fsyncing the records before
    // it; what sluice keeps is the last one it echoed.
    let echoed: Vec<Value> = lines(&d.join("stdout.jsonl"))
        .into_iter()
        .filter(|m| m["type"] == "STATE")
        .collect();
    let last = echoed.last().expect("an echoed STATE");
    assert_eq!(
        last["state"]["stream"]["stream_descriptor"]["name"],
        "users"
    );
    assert_eq!(saved(&p)["users"], last["state"]["stream"]["stream_state"]);
    assert_eq!(
        run_ok(&p).await.records(),
        0,
        "the echoed state resumes the source"
    );
}
