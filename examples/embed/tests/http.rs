//! The example service, on a real socket: list the pipelines, start a
//! sync over HTTP, read its progress lines and its summary.

use serde_json::{Value, json};
use sluice_embed_example::App;
use sluice_runtime::Runtime;
use sluice_test_support::PipelineToml;

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_triggered_over_http_streams_progress_and_its_summary() {
    let dir = tempfile::tempdir().unwrap();
    PipelineToml::faker(json!({"count": 5000}))
        .name("demo")
        .stream(json!({"name": "users", "write_mode": "overwrite"}))
        .write(dir.path(), "demo.toml");
    let runtime = Runtime::builder()
        .cache_dir(Some(sluice_test_support::cache_dir()))
        .build()
        .unwrap();
    let app = App::load(runtime, dir.path()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app.router()).await });

    let (list, lines) = tokio::task::spawn_blocking(move || {
        let list = ureq::get(format!("{base}/pipelines"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        let lines = ureq::post(format!("{base}/pipelines/demo/sync"))
            .send_empty()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        (list, lines)
    })
    .await
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&list).unwrap(),
        json!(["demo"])
    );
    let lines: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (last, progress) = lines.split_last().unwrap();
    assert!(!progress.is_empty(), "progress lines: {lines:?}");
    assert!(progress.iter().all(|p| p["progress"]["stream"] == "users"));
    assert_eq!(last["summary"]["run"]["status"], "succeeded", "{last}");
    assert_eq!(last["summary"]["run"]["streams"][0]["records"], 5000);
    let written = std::fs::read_to_string(dir.path().join("out/users.jsonl")).unwrap();
    assert_eq!(written.lines().count(), 5000);
}
