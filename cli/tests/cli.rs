//! The `sluice` binary, run as a user would.

mod support;

use serde_json::{Value, json};
use sluice_artifacts as artifacts;
use support::{PipelineToml, sluice, sluice_in, text, with_stdin};

#[test]
fn spec_works_on_every_connector() {
    for (package, path) in artifacts::COMPONENTS
        .iter()
        .filter(|(_, p)| *p != artifacts::FUTURE_CONTRACT)
    {
        let o = sluice().args(["spec", path, "--json"]).output().unwrap();
        let (out, err) = text(&o);
        assert!(o.status.success(), "{package}: {err}");
        let spec: Value = serde_json::from_str(&out).unwrap();
        assert!(spec["config_schema"].is_object(), "{package}");
    }
    let o = sluice()
        .args(["spec", artifacts::SOURCE_FAKER])
        .output()
        .unwrap();
    let (out, _) = text(&o);
    assert!(
        out.contains("source-faker") && out.contains("batch_size"),
        "{out}"
    );
}

#[test]
fn the_second_run_uses_the_compile_cache() {
    let cache = tempfile::tempdir().unwrap();
    let spec = || {
        sluice_in(cache.path())
            .args(["-v", "spec", artifacts::DEST_FILE])
            .output()
            .unwrap()
    };
    let first = spec();
    let (_, err) = text(&first);
    assert!(first.status.success(), "{err}");
    assert!(err.contains("component compiled"), "{err}");
    let second = spec();
    let (_, err) = text(&second);
    assert!(second.status.success(), "{err}");
    assert!(
        err.contains("component loaded from the compile cache (no compile)"),
        "{err}"
    );
    assert!(!err.contains("component compiled"), "no recompile: {err}");
}

#[test]
fn check_with_a_bad_config_names_the_field_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("faker.json");
    std::fs::write(&config, r#"{"count": "lots", "seed": 1}"#).unwrap();
    let o = sluice()
        .args(["check", artifacts::SOURCE_FAKER, "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("config field `count`") && err.contains("\"lots\" is not of type \"integer\""),
        "{err}"
    );

    std::fs::write(&config, r#"{"count": 5}"#).unwrap();
    let o = sluice()
        .args(["check", artifacts::SOURCE_FAKER, "--json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(text(&o).0.trim(), r#"{"status":"succeeded"}"#);
}

#[test]
fn read_prints_selected_fields_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("faker.toml");
    std::fs::write(&config, "count = 7\nbatch_size = 3\n").unwrap();
    let state_out = dir.path().join("state.json");
    let o = sluice()
        .args([
            "extract",
            artifacts::SOURCE_FAKER,
            "--stream",
            "users",
            "--fields",
            "id,name",
            "--config",
        ])
        .arg(&config)
        .arg("--state-out")
        .arg(&state_out)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 7);
    assert_eq!(rows[0]["id"], 1);
    assert_eq!(
        rows[0].as_object().unwrap().len(),
        2,
        "only id and name: {}",
        rows[0]
    );
    let state: Value = serde_json::from_str(&std::fs::read_to_string(&state_out).unwrap()).unwrap();
    assert_eq!(state[0]["stream"], "users");
    assert_eq!(state[0]["state"]["cursor"], "2024-01-01T00:00:07Z");

    let o = sluice()
        .args(["read", artifacts::SOURCE_FAKER, "--stream", "user"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("offers: users, orders, events"));
}

#[test]
fn read_refuses_fields_a_stream_does_not_have_as_a_sync_does() {
    let dir = tempfile::tempdir().unwrap();
    let state_out = dir.path().join("state.json");
    let read = |args: &[&str]| {
        sluice()
            .args(["read", artifacts::SOURCE_FAKER])
            .args(args)
            .arg("--state-out")
            .arg(&state_out)
            .output()
            .unwrap()
    };
    let o = read(&["--stream", "users", "--fields", "id,nope"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--stream users: field `nope` is not in the stream's schema (fields: id,"),
        "{err}"
    );
    // Without --stream every stream is checked, and the error names the stream.
    let o = read(&["--fields", "nope"]);
    let (out_all, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("stream `users`: field `nope` is not in the stream's schema"),
        "{err}"
    );
    assert!(
        out.is_empty() && out_all.is_empty(),
        "nothing read: {out}{out_all}"
    );
    assert!(!state_out.exists(), "no state written");
}

#[test]
fn load_writes_stdin_into_a_destination_and_rejects_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let config = dir.path().join("dest.json");
    std::fs::write(&config, r#"{"path": "/out"}"#).unwrap();
    let grant = format!("{}:/out:rw", out.display());
    let run = |input: &str, op: &str| {
        with_stdin(
            sluice()
                .args([
                    "load",
                    artifacts::DEST_FILE,
                    "--stream",
                    "people",
                    "--operation",
                    op,
                    "--dir",
                    &grant,
                    "--config",
                ])
                .arg(&config),
            input,
        )
    };
    let o = run("{\"id\":1}\n{\"id\":2}\n", "insert");
    assert!(o.status.success(), "{}", text(&o).1);
    assert_eq!(
        std::fs::read_to_string(out.join("people.jsonl")).unwrap(),
        "{\"id\":1}\n{\"id\":2}\n"
    );
    let o = run("{\"id\":3}\nnot json\n", "insert");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).1.contains("stdin line 2: not valid JSON"),
        "{}",
        text(&o).1
    );
    let o = run("{\"id\":3}\n", "delete");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).1.contains("dest-file only inserts"),
        "{}",
        text(&o).1
    );
}

/// `sluice write` of `input` into dest-file writing to `dir/out`, with `args`.
fn load_into(dir: &std::path::Path, input: &str, args: &[&str]) -> std::process::Output {
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let config = dir.join("dest.json");
    std::fs::write(&config, r#"{"path": "/out"}"#).unwrap();
    let grant = format!("{}:/out:rw", out.display());
    with_stdin(
        sluice()
            .args(["write", artifacts::DEST_FILE, "--dir", &grant, "--config"])
            .arg(&config)
            .args(args),
        input,
    )
}

#[test]
fn write_keeps_only_the_fields_named_and_refuses_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let input = "{\"id\":1,\"name\":\"a\",\"email\":\"a@x\"}\n\n{\"email\":\"b@x\",\"id\":2}\n";
    let o = load_into(
        dir.path(),
        input,
        &["--stream", "people", "--fields", "id,name"],
    );
    assert!(o.status.success(), "{}", text(&o).1);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/people.jsonl")).unwrap(),
        "{\"id\":1,\"name\":\"a\"}\n{\"id\":2}\n"
    );

    // dest-file declares no schema, so the first record decides; nothing
    // is written, not even an empty file.
    let dir = tempfile::tempdir().unwrap();
    let o = load_into(
        dir.path(),
        input,
        &["--stream", "people", "--fields", "id,nmae"],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "--fields: field `nmae` is not in the first record of stream `people` \
             (stdin line 1; its fields: id, name, email)"
        ),
        "{err}"
    );
    assert!(out.is_empty(), "{out}");
    assert_eq!(
        std::fs::read_dir(dir.path().join("out")).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn sync_prints_a_json_summary_and_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = PipelineToml::faker(json!({"count": 1234})).write(dir.path(), "p.toml");
    let o = sluice()
        .arg("sync")
        .arg(&pipeline)
        .arg("--json")
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["pipeline"], "p");
    assert_eq!(summary["run"]["status"], "succeeded");
    let records: u64 = summary["run"]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["records"].as_u64().unwrap())
        .sum();
    assert_eq!(records, 3 * 1234);
    assert!(dir.path().join(".sluice/state.redb").is_file());

    let o = sluice()
        .arg("runs")
        .arg(&pipeline)
        .arg("--json")
        .output()
        .unwrap();
    let runs: Value = serde_json::from_str(&text(&o).0).unwrap();
    assert_eq!(runs[0]["status"], "succeeded");

    let o = sluice()
        .arg("state")
        .arg("reset")
        .arg(&pipeline)
        .output()
        .unwrap();
    assert!(text(&o).0.contains("reset the state of 3 stream(s)"));

    std::fs::write(
        &pipeline,
        "[source]\ncomponent = \"nowhere.wasm\"\n[destination]\ncomponent = \"nowhere.wasm\"\n",
    )
    .unwrap();
    let o = sluice().arg("sync").arg(&pipeline).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("nowhere.wasm"), "{}", text(&o).1);

    std::fs::write(&pipeline, "[source]\ncomponent = 3\n").unwrap();
    let o = sluice().arg("sync").arg(&pipeline).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o).1;
    assert!(err.contains("p.toml") && err.contains("component"), "{err}");
}

#[test]
fn https_trusts_the_systems_roots_and_a_ca_bundle_flag() {
    let server = sluice_http_server::HttpServer::start(sluice_http_server::Options {
        users: 5,
        tls: true,
        ..Default::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, server.ca_pem().unwrap()).unwrap();
    let config = dir.path().join("http.json");
    let streams = json!([{"name": "users", "path": "/page/users", "records_path": "data"}]);
    std::fs::write(
        &config,
        json!({"base_url": server.base_url(), "streams": streams}).to_string(),
    )
    .unwrap();
    let host = format!("127.0.0.1:{}", server.port());
    let check = || {
        let mut c = sluice();
        c.args([
            "check",
            artifacts::SOURCE_HTTP,
            "--allow-host",
            &host,
            "--config",
        ])
        .arg(&config)
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR");
        c
    };
    // The test CA is in no system store: refused, and said why.
    let o = check().output().unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("TLS handshake") && err.contains("ca_bundle"),
        "{err}"
    );
    // As the system's roots (OpenSSL's SSL_CERT_FILE names the store).
    let o = check().env("SSL_CERT_FILE", &ca).output().unwrap();
    assert!(o.status.success(), "{}", text(&o).1);
    // As a bundle granted on the command line.
    let o = check().arg("--ca-bundle").arg(&ca).output().unwrap();
    assert!(o.status.success(), "{}", text(&o).1);
}
