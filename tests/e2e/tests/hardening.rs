//! The sandbox against the ways a connector could still hurt its host:
//! HTTP egress checked on every request, host resources capped per
//! instance, name lookups only of granted names, granted env values
//! scrubbed, and data handed to the host bounded by named limits. Each
//! attack ends in its named error, with the host's descriptors and memory
//! bounded, and another pipeline in the same process still completes.

use serde_json::json;
use sluice_artifacts as artifacts;
use sluice_e2e::{PipelineToml, pipeline, runtime};
use sluice_runtime::pipeline::RunOptions;
use sluice_runtime::state::StateStore;
use sluice_runtime::{Call, Error, Grants, Limit, Limits, Runtime, Sandbox};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Descriptors the test process holds now.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A `/proc/self/status` figure in KiB (`VmRSS`, `VmHWM`).
fn status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(key)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A pipeline of the real dest-file fed by bad-source runs to the end in
/// `rt` and persists its state: the process is still whole.
async fn another_pipeline_completes(rt: &Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let toml = PipelineToml::new(artifacts::BAD_SOURCE, json!({"mode": "none", "batches": 3}))
        .name("other");
    let p = pipeline(&toml, dir.path(), "other.toml", "other");
    let store = StateStore::open(&dir.path().join("state.redb")).unwrap();
    let s = p.run(rt, &store, &RunOptions::default()).await.unwrap();
    assert!(s.succeeded(), "{:?}", s.run);
    assert!(!store.stream_states("other").unwrap().is_empty());
}

/// A loopback HTTP server answering every request `200 hello`, counting them.
fn hello_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            counted.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
            );
        }
    });
    (addr, hits)
}

fn hosts(hosts: &[&str]) -> Sandbox {
    Sandbox {
        grants: Grants {
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn http_requests_reach_only_granted_hosts_and_prefixes() {
    let rt = runtime();
    let c = rt.load(artifacts::HTTP_CLIENT).await.unwrap();
    let (addr, hits) = hello_server();
    let url = format!("http://{addr}/v1/items?page=2");
    // Nothing granted: denied, naming the URL and the grant, nothing sent.
    let err = c
        .check(&Sandbox::default(), &json!({ "url": url }))
        .await
        .unwrap_err();
    let Error::Egress {
        url: denied,
        missing,
        call,
        ..
    } = &err
    else {
        panic!("expected an egress denial, got {err}");
    };
    assert_eq!((denied.as_str(), *call), (url.as_str(), Call::Check));
    assert_eq!(missing, &addr);
    assert!(err.to_string().contains(&url), "{err}");
    // A prefix that does not cover the path, or another port: still denied.
    for sandbox in [
        hosts(&[&format!("http://{addr}/v2/")]),
        hosts(&["127.0.0.1:1"]),
    ] {
        let err = c.check(&sandbox, &json!({ "url": url })).await.unwrap_err();
        assert!(matches!(err, Error::Egress { .. }), "{err}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "a denied request was sent");
    // Granted as host:port and as a covering prefix: the request goes out.
    for sandbox in [hosts(&[&addr]), hosts(&[&format!("http://{addr}/v1/")])] {
        let err = c.check(&sandbox, &json!({ "url": url })).await.unwrap_err();
        let text = err.connector_error().map(|e| e.message.clone());
        assert_eq!(text.as_deref(), Some("outcome: 200 hello"), "{err}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_guest_hoarding_file_handles_is_stopped_at_the_handle_limit() {
    let rt = runtime();
    let c = rt.load(artifacts::HOSTILE).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.txt"), "x").unwrap();
    let sandbox = Sandbox {
        grants: Grants {
            dirs: vec![sluice_runtime::DirGrant {
                host: dir.path().to_path_buf(),
                guest: "/data".into(),
                write: false,
            }],
            ..Default::default()
        },
        limits: Limits {
            handles: 300,
            ..Default::default()
        },
    };
    let before = open_fds();
    let err = c
        .check(
            &sandbox,
            &json!({"attack": "hoard-files", "target": "/data/f.txt"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.limit(), Some(&Limit::Handles { max: 300 }), "{err}");
    assert!(err.to_string().contains("limits.handles"), "{err}");
    // The store is gone with its handles; none of them outlived it.
    assert!(open_fds() <= before + 5, "{} then {}", before, open_fds());
    another_pipeline_completes(&rt).await;
}

#[tokio::test]
async fn data_handed_to_the_host_is_bounded_by_named_limits() {
    let rt = runtime();
    let c = rt.load(artifacts::HOSTILE).await.unwrap();
    let limits = Limits {
        memory_mib: 1024,
        ..Default::default()
    };
    let sandbox = Sandbox {
        limits,
        ..Default::default()
    };
    for attack in ["huge-error", "huge-log"] {
        let rss = status_kib("VmRSS:");
        let err = c
            .check(&sandbox, &json!({ "attack": attack }))
            .await
            .unwrap_err();
        assert_eq!(
            err.limit(),
            Some(&Limit::Data {
                max_bytes: 16 << 20,
                key: "limits.message_mib"
            }),
            "{attack}: {err}"
        );
        assert!(err.to_string().contains("limits.message_mib"), "{err}");
        // The guest's own 300 MiB live in its linear memory; the host copied
        // at most the limit out of it.
        let grown_mib = status_kib("VmHWM:").saturating_sub(rss) >> 10;
        assert!(
            grown_mib < 300 + 128,
            "{attack}: host grew by {grown_mib} MiB"
        );
    }
    another_pipeline_completes(&rt).await;
}

#[tokio::test]
async fn name_lookups_are_limited_to_granted_names() {
    let rt = runtime();
    let c = rt.load(artifacts::HOSTILE).await.unwrap();
    let sandbox = hosts(&["localhost:9"]);
    let outcome = |target: &'static str| {
        let c = &c;
        let sandbox = &sandbox;
        async move {
            let err = c
                .check(sandbox, &json!({"attack": "dns", "target": target}))
                .await
                .unwrap_err();
            err.connector_error().unwrap().message.clone()
        }
    };
    assert!(outcome("localhost").await.contains("resolved"));
    let denied = outcome("data-sent-out.example.com").await;
    assert!(
        denied.starts_with("lookup data-sent-out.example.com:"),
        "{denied}"
    );
    assert!(!denied.contains("resolved"), "{denied}");
}

#[tokio::test]
async fn granted_env_values_are_scrubbed_unless_granted_plain() {
    let rt = runtime();
    let c = rt.load(artifacts::HOSTILE).await.unwrap();
    let mut grants = Grants::default();
    grants
        .env
        .insert("GRANTED_TOKEN".into(), "tok-4f9a2c71e8".into());
    grants
        .env
        .insert("GRANTED_REGION".into(), "eu-west-3".into());
    grants.plain_env.insert("GRANTED_REGION".into());
    let sandbox = Sandbox {
        grants,
        ..Default::default()
    };
    let err = c
        .check(&sandbox, &json!({"attack": "env-error"}))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(!text.contains("tok-4f9a2c71e8"), "{text}");
    assert!(text.contains("GRANTED_TOKEN=**********"), "{text}");
    assert!(text.contains("GRANTED_REGION=eu-west-3"), "{text}");
}
