//! The sandbox at its edges: each limit obeyed and violated, each grant
//! honoured and each non-granted access denied, and the host unharmed.

use serde_json::json;
use sluice_artifacts as artifacts;
use sluice_e2e::{faker_catalog, runtime};
use sluice_runtime::{Call, DirGrant, Error, Grants, Limit, Limits, Runtime, Sandbox};
use std::path::Path;
use std::time::{Duration, Instant};

async fn attack(rt: &Runtime, sandbox: &Sandbox, attack: &str, target: &str) -> Error {
    let hostile = rt.load(artifacts::HOSTILE).await.unwrap();
    hostile
        .check(sandbox, &json!({"attack": attack, "target": target}))
        .await
        .unwrap_err()
}

/// The message a hostile check returns when its attack "worked" or was
/// refused by the OS layer (not a trap).
fn outcome(err: &Error) -> String {
    match err {
        Error::Connector { error, .. } => error.message.clone(),
        other => panic!("expected a connector error value, got: {other}"),
    }
}

async fn host_still_works(rt: &Runtime) {
    let catalog = faker_catalog(rt).await;
    assert_eq!(catalog.streams.len(), 3);
}

/// A sandbox granted `host` as `/data`, writable or not.
fn data_grant(host: &Path, write: bool) -> Sandbox {
    Sandbox {
        grants: Grants {
            dirs: vec![DirGrant {
                host: host.to_path_buf(),
                guest: "/data".into(),
                write,
            }],
            ..Grants::default()
        },
        ..Sandbox::default()
    }
}

fn limits(f: impl FnOnce(&mut Limits)) -> Sandbox {
    let mut s = Sandbox::default();
    f(&mut s.limits);
    s
}

#[tokio::test]
async fn an_endless_loop_is_stopped_by_the_deadline() {
    let rt = runtime();
    let started = Instant::now();
    let err = attack(&rt, &limits(|l| l.timeout_ms = 300), "loop", "").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped promptly"
    );
    assert_eq!(err.limit(), Some(&Limit::Deadline { millis: 300 }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("connector `hostile`")
            && text.contains("check")
            && text.contains("deadline of 300 ms"),
        "{text}"
    );
    host_still_works(&rt).await;
}

#[tokio::test]
async fn a_guest_blocked_in_a_host_call_is_stopped_by_the_deadline() {
    let rt = runtime();
    let started = Instant::now();
    let err = attack(&rt, &limits(|l| l.timeout_ms = 300), "sleep", "").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped promptly"
    );
    assert_eq!(err.limit(), Some(&Limit::Deadline { millis: 300 }), "{err}");
    host_still_works(&rt).await;
}

#[tokio::test]
async fn an_endless_loop_is_stopped_by_fuel() {
    let rt = runtime();
    let err = attack(&rt, &limits(|l| l.fuel = 50_000_000), "loop", "").await;
    assert_eq!(
        err.limit(),
        Some(&Limit::Fuel {
            per_call: 50_000_000
        }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("fuel limit of 50000000 units per call"),
        "{err}"
    );
    host_still_works(&rt).await;
}

#[tokio::test]
async fn one_component_runs_unmetered_or_metered_as_its_fuel_limit_says() {
    let rt = runtime();
    let hostile = rt.load(artifacts::HOSTILE).await.unwrap();
    let endless = json!({"attack": "loop", "target": ""});
    let unmetered = limits(|l| l.timeout_ms = 300);
    let metered = limits(|l| {
        l.timeout_ms = 60_000;
        l.fuel = 50_000_000;
    });
    // No fuel limit (the default): nothing counts; the deadline stops it.
    let err = hostile.check(&unmetered, &endless).await.unwrap_err();
    assert_eq!(err.limit(), Some(&Limit::Deadline { millis: 300 }), "{err}");
    // A fuel limit: the same component on the engine that meters, long
    // before the deadline.
    let started = Instant::now();
    let err = hostile.check(&metered, &endless).await.unwrap_err();
    assert_eq!(
        err.limit(),
        Some(&Limit::Fuel {
            per_call: 50_000_000
        }),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(30), "{err}");
    // And back: each call runs on the engine its limits ask for.
    let err = hostile.check(&unmetered, &endless).await.unwrap_err();
    assert_eq!(err.limit(), Some(&Limit::Deadline { millis: 300 }), "{err}");
    host_still_works(&rt).await;
}

#[tokio::test]
async fn a_memory_bomb_is_stopped_at_the_memory_limit() {
    let rt = runtime();
    let err = attack(&rt, &limits(|l| l.memory_mib = 48), "memory", "").await;
    match err.limit() {
        Some(Limit::Memory { limit, requested }) => {
            assert_eq!(*limit, 48 << 20);
            assert!(*requested > *limit);
        }
        _ => panic!("expected the memory limit, got: {err}"),
    }
    assert!(err.to_string().contains("memory limit of 48 MiB"), "{err}");
    host_still_works(&rt).await;
}

#[tokio::test]
async fn deep_recursion_hits_the_stack_limit() {
    let rt = runtime();
    let err = attack(&rt, &Sandbox::default(), "stack", "").await;
    assert_eq!(err.limit(), Some(&Limit::Stack), "{err}");
    host_still_works(&rt).await;
}

#[tokio::test]
async fn a_panic_is_a_crash_naming_the_connector_and_the_panic() {
    let rt = runtime();
    let err = attack(&rt, &Sandbox::default(), "panic", "").await;
    assert!(
        matches!(
            err,
            Error::Trap {
                call: Call::Check,
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("connector `hostile` crashed in check"),
        "{text}"
    );
    assert!(
        text.contains("panicked on purpose"),
        "the guest's panic message is kept: {text}"
    );
    host_still_works(&rt).await;
}

#[tokio::test]
async fn files_outside_the_grants_cannot_be_read_or_written() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let granted = dir.path().join("granted");
    std::fs::create_dir_all(&granted).unwrap();
    std::fs::write(granted.join("ok.txt"), "inside").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "outside").unwrap();
    let ro = data_grant(&granted, false);
    // Granted: readable.
    assert_eq!(
        outcome(&attack(&rt, &ro, "read", "/data/ok.txt").await),
        "outcome: inside"
    );
    // Escapes: `..`, absolute host paths, paths never granted.
    for target in [
        "/data/../secret.txt",
        &dir.path().join("secret.txt").display().to_string(),
        "/etc/passwd",
    ] {
        let msg = outcome(&attack(&rt, &ro, "read", target).await);
        assert!(msg.starts_with(&format!("read {target}: ")), "{msg}");
        assert!(
            !msg.contains("outside") && !msg.contains("root:"),
            "denied: {msg}"
        );
    }
    // A symlink pointing out of the grant is not followed.
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), granted.join("link.txt")).unwrap();
    let msg = outcome(&attack(&rt, &ro, "read", "/data/link.txt").await);
    assert!(!msg.contains("outside"), "{msg}");
    // Read-only grant: writes are refused and create nothing.
    let msg = outcome(&attack(&rt, &ro, "write", "/data/new.txt").await);
    assert!(msg.starts_with("write /data/new.txt: "), "{msg}");
    assert!(!granted.join("new.txt").exists());
    // Read-write grant: writes land.
    let rw = data_grant(&granted, true);
    assert_eq!(
        outcome(&attack(&rt, &rw, "write", "/data/new.txt").await),
        "outcome: written"
    );
    assert_eq!(
        std::fs::read_to_string(granted.join("new.txt")).unwrap(),
        "escaped"
    );
    host_still_works(&rt).await;
}

#[tokio::test]
async fn only_granted_addresses_can_be_connected_to() {
    let rt = runtime();
    let allowed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let allowed_addr = allowed.local_addr().unwrap().to_string();
    let other_addr = other.local_addr().unwrap().to_string();
    // No network grant at all.
    let msg = outcome(&attack(&rt, &Sandbox::default(), "connect", &allowed_addr).await);
    assert!(
        msg.starts_with(&format!("connect {allowed_addr}: ")),
        "{msg}"
    );
    // Granted one endpoint: it connects, the other (listening too) is refused.
    let sandbox = Sandbox {
        grants: Grants {
            hosts: vec![allowed_addr.clone()],
            ..Grants::default()
        },
        ..Sandbox::default()
    };
    assert_eq!(
        outcome(&attack(&rt, &sandbox, "connect", &allowed_addr).await),
        "outcome: connected"
    );
    let msg = outcome(&attack(&rt, &sandbox, "connect", &other_addr).await);
    assert!(
        msg.starts_with(&format!("connect {other_addr}: ")) && !msg.contains("connected"),
        "{msg}"
    );
    host_still_works(&rt).await;
}

#[tokio::test]
async fn only_granted_env_vars_are_visible() {
    let rt = runtime();
    let msg = outcome(&attack(&rt, &Sandbox::default(), "env", "").await);
    assert_eq!(msg, "outcome: ", "no environment by default");
    let mut sandbox = Sandbox::default();
    sandbox.grants.env.insert("REGION".into(), "eu".into());
    assert_eq!(
        outcome(&attack(&rt, &sandbox, "env", "").await),
        "outcome: REGION=eu"
    );
}

#[tokio::test]
async fn a_stuck_connector_does_not_stall_another_one() {
    let rt = runtime();
    let stuck = {
        let rt = rt.clone();
        tokio::spawn(
            async move { attack(&rt, &limits(|l| l.timeout_ms = 3_000), "loop", "").await },
        )
    };
    // While the loop spins, other connectors on the same runtime work.
    let started = Instant::now();
    host_still_works(&rt).await;
    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "not blocked behind the loop"
    );
    let err = stuck.await.unwrap();
    assert!(err.limit().is_some(), "{err}");
}
