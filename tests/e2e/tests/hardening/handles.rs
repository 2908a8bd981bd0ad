//! Host resources a guest holds, capped per instance: files, directory
//! streams, sockets, pollables.

use super::*;

/// Run the hostile `attack` on `target` in `sandbox` under a watch: it
/// must be stopped at the handle limit `max` (the error names
/// `limits.handles`); the usage is returned for the caller's bounds.
async fn hoard(rt: &Runtime, attack: &str, target: &str, mut sandbox: Sandbox, max: u32) -> Usage {
    let c = rt.load(artifacts::HOSTILE).await.unwrap();
    sandbox.limits.handles = max;
    let watch = Watch::start();
    let err = c
        .check(&sandbox, &json!({"attack": attack, "target": target}))
        .await
        .unwrap_err();
    drop(c);
    let usage = watch.stop();
    let limit = Limit::Handles { max: max as usize };
    assert_stopped_at(&err, Call::Check, &limit, "limits.handles");
    usage
}

/// `dir` granted read-only as `/data`.
fn data_dir(dir: &std::path::Path) -> Sandbox {
    Sandbox {
        grants: Grants {
            dirs: vec![sluice_runtime::DirGrant {
                host: dir.to_path_buf(),
                guest: "/data".into(),
                write: false,
            }],
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn a_guest_hoarding_file_handles_is_stopped_at_the_handle_limit() {
    let _serial = serial().await;
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.txt"), "x").unwrap();
    let usage = hoard(&rt, "hoard-files", "/data/f.txt", data_dir(dir.path()), 300).await;
    // Each open file is a host descriptor: never more than the limit, and
    // none outlived its store.
    usage.assert_bounded("files", 300 + 16, 64);
    another_pipeline_completes(&rt).await;
}

#[tokio::test]
async fn a_guest_hoarding_directory_streams_is_stopped_at_the_handle_limit() {
    let _serial = serial().await;
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    // Each stream holds the whole listing in the host: 500 long names.
    for n in 0..500 {
        std::fs::write(dir.path().join(format!("{n:0>100}")), "").unwrap();
    }
    let usage = hoard(&rt, "hoard-dirs", "/data", data_dir(dir.path()), 200).await;
    usage.assert_bounded("directory streams", 16, 48);
    another_pipeline_completes(&rt).await;
}

#[tokio::test]
async fn a_guest_hoarding_sockets_is_stopped_at_the_handle_limit() {
    let _serial = serial().await;
    let rt = runtime();
    // A granted listener that takes every connection and lets it go; the
    // guest keeps its end of each open.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = accepted.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    let usage = hoard(&rt, "hoard-sockets", &addr, hosts(&[&addr]), 150).await;
    // Each connection takes several entries (the socket, its two streams,
    // a pollable while it connects): tens of them before the limit.
    let n = accepted.load(Ordering::SeqCst);
    assert!((10..=150).contains(&n), "{n} connections");
    usage.assert_bounded("sockets", 2 * 150 + 16, 64);
    another_pipeline_completes(&rt).await;
}

#[tokio::test]
async fn a_guest_hoarding_pollables_is_stopped_at_the_handle_limit() {
    let _serial = serial().await;
    let rt = runtime();
    let usage = hoard(&rt, "hoard-pollables", "", Sandbox::default(), 500).await;
    usage.assert_bounded("pollables", 16, 64);
    another_pipeline_completes(&rt).await;
}
