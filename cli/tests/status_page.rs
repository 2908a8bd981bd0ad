//! The status page of `sluice serve --ui-addr`, in a real headless
//! Chromium: the pipelines with their schedule, last run, per-stream
//! counts, lag, errors and chart; a screenshot saved under `target/`; the
//! "Run now" button refused without the token and running the pipeline
//! with it.

mod support;

use serde_json::{Value, json};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::kill::on_pipeline;
use support::{PipelineToml, browser, sluice, url_from_stderr};

const TOKEN: &str = "ui-token-3f9a";

fn runs(file: &Path) -> Vec<Value> {
    let o = on_pipeline(file, &["runs", "--json"]).output().unwrap();
    serde_json::from_slice(&o.stdout).unwrap_or_default()
}

#[test]
fn the_status_page_shows_every_pipeline_and_runs_one_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let file = PipelineToml::faker(json!({"count": 1234}))
        .name("users-hourly")
        .stream(json!({"name": "users", "sync_mode": "full_refresh", "write_mode": "overwrite"}))
        .extra("\n[schedule]\nevery = \"1h\"\n")
        .write(dir.path(), "users-hourly.toml");
    // A pipeline whose destination writes where it was granted nothing.
    let broken = PipelineToml::faker(json!({"count": 10}))
        .name("nowhere-hourly")
        .destination_config(json!({"path": "/nowhere"}))
        .stream(json!({"name": "users", "sync_mode": "full_refresh", "write_mode": "overwrite"}))
        .extra("\n[schedule]\nevery = \"1h\"\n")
        .write(dir.path(), "nowhere-hourly.toml");
    let mut child = sluice()
        .args([
            "serve",
            "--rescan-secs",
            "0.2",
            "--ui-addr",
            "127.0.0.1:0",
            "--ui-token",
            TOKEN,
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (url, log) = url_from_stderr(&mut child, "sluice: status page on ");
    let waited = Instant::now();
    while runs(&file)
        .first()
        .is_none_or(|r| r["status"] != "succeeded")
        || runs(&broken)
            .first()
            .is_none_or(|r| r["status"] == "running")
    {
        assert!(waited.elapsed() < Duration::from_secs(60), "the first run");
        // Each look opens the store, which the service then finds busy.
        std::thread::sleep(Duration::from_millis(200));
    }

    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/status-page.png");
    let dom = browser::render(&url, &shot, 1280, 800).unwrap_or_else(|e| panic!("{e}"));
    for text in [
        "users-hourly",
        "every 1h",
        "succeeded",
        "1234",
        "Run now",
        "records per run",
        "lag",
        "nowhere-hourly",
        "failed",
        "/nowhere",
    ] {
        assert!(dom.contains(text), "{text} in the page:\n{dom}");
    }
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a screenshot at {}",
        shot.display()
    );

    // Run now: refused without the token, started with it.
    let run = format!("{url}pipelines/users-hourly/run");
    let refused = ureq::post(&run).send_form([("token", "wrong")]);
    assert!(
        matches!(refused, Err(ureq::Error::StatusCode(403))),
        "{refused:?}"
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .build()
        .into();
    let asked = agent.post(&run).send_form([("token", TOKEN)]).unwrap();
    assert_eq!(asked.status().as_u16(), 303);
    let waited = Instant::now();
    while runs(&file).len() < 2 {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "the run asked for"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: signalling our own child, which has not been reaped.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    assert!(child.wait().unwrap().success(), "{:?}", log.join().unwrap());
}
