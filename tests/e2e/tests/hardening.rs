//! The sandbox against the ways a connector could still hurt its host:
//! HTTP egress checked on every request, HTTP bodies and timeouts bounded,
//! host resources capped per instance, name lookups only of granted names,
//! granted env values scrubbed, and data handed to the host bounded by
//! named limits. Each attack ends in its named error, with the host's
//! descriptors and memory bounded (sampled from `/proc/self` while the
//! attack runs), and another pipeline in the same process still completes.
//!
//! The tests of this file measure the whole process, so they run one at a
//! time (see [`serial`]).

use serde_json::json;
use sluice_artifacts as artifacts;
use sluice_e2e::{PipelineToml, pipeline, runtime};
use sluice_http_server::{HttpServer, Options};
use sluice_runtime::pipeline::RunOptions;
use sluice_runtime::state::StateStore;
use sluice_runtime::{Call, Error, Grants, Limit, Limits, Runtime, Sandbox};
use std::io::{Read, Write};
use std::net::{TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One test of this file at a time: each reads the process's descriptors
/// and memory, which another test running beside it would move.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

/// Descriptors the test process holds now.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A `/proc/self/status` figure in KiB (`VmRSS`).
fn status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(key)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The process's open descriptors and resident memory at one moment.
#[derive(Debug, Clone, Copy)]
struct Sample {
    fds: usize,
    rss_kib: u64,
}

fn sample() -> Sample {
    Sample {
        fds: open_fds(),
        rss_kib: status_kib("VmRSS:"),
    }
}

/// Samples the process every 2 ms while an attack runs. Peaks of `VmRSS`
/// taken here, unlike `VmHWM`, belong to this attack alone: no earlier
/// test's high-water mark hides them.
struct Watch {
    before: Sample,
    stop: Arc<AtomicBool>,
    sampler: std::thread::JoinHandle<Sample>,
}

impl Watch {
    fn start() -> Watch {
        let before = sample();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let sampler = std::thread::spawn(move || {
            let mut peak = sample();
            while !stopping.load(Ordering::SeqCst) {
                let now = sample();
                peak.fds = peak.fds.max(now.fds);
                peak.rss_kib = peak.rss_kib.max(now.rss_kib);
                std::thread::sleep(Duration::from_millis(2));
            }
            peak
        });
        Watch {
            before,
            stop,
            sampler,
        }
    }

    /// Stop sampling, once the attack's store is gone.
    fn stop(self) -> Usage {
        self.stop.store(true, Ordering::SeqCst);
        let peak = self.sampler.join().unwrap();
        Usage {
            before: self.before,
            peak,
            after: sample(),
        }
    }
}

/// What the process held before an attack, at its peak, and after it.
#[derive(Debug)]
struct Usage {
    before: Sample,
    peak: Sample,
    after: Sample,
}

/// Memory the process may keep after an attack's store is gone (the
/// allocator keeps some freed memory for reuse).
const KEPT_MIB: u64 = 64;

impl Usage {
    /// Descriptors opened beyond the start, at the peak.
    fn peak_fds(&self) -> usize {
        self.peak.fds.saturating_sub(self.before.fds)
    }

    /// MiB grown beyond the start, at the peak.
    fn peak_mib(&self) -> u64 {
        self.peak.rss_kib.saturating_sub(self.before.rss_kib) >> 10
    }

    /// At most `fds` more descriptors and `mib` more MiB at the peak, and
    /// both given back once the attack's store was gone.
    fn assert_bounded(&self, what: &str, fds: usize, mib: u64) {
        assert!(self.peak_fds() <= fds, "{what}: {self:?}");
        assert!(
            self.peak_mib() <= mib,
            "{what}: grew {} MiB, {self:?}",
            self.peak_mib()
        );
        assert!(self.after.fds <= self.before.fds + 5, "{what}: {self:?}");
        let kept = self.after.rss_kib.saturating_sub(self.before.rss_kib) >> 10;
        assert!(kept <= KEPT_MIB, "{what}: kept {kept} MiB, {self:?}");
    }
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
    let _serial = serial().await;
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
    assert_eq!(
        err.limit(),
        Some(&Limit::Handles { max: max as usize }),
        "{attack}: {err}"
    );
    assert!(err.to_string().contains("limits.handles"), "{err}");
    assert!(
        matches!(
            err,
            Error::Limit {
                call: Call::Check,
                ..
            }
        ),
        "{err}"
    );
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

/// The message limit, as errors name it.
const MESSAGE_LIMIT: Limit = Limit::Data {
    max_bytes: 16 << 20,
    key: "limits.message_mib",
};

#[tokio::test]
async fn data_handed_to_the_host_is_bounded_by_named_limits() {
    let _serial = serial().await;
    let rt = runtime();
    let c = rt.load(artifacts::HOSTILE).await.unwrap();
    let sandbox = Sandbox {
        limits: Limits {
            memory_mib: 1024,
            ..Default::default()
        },
        ..Default::default()
    };
    for attack in ["huge-error", "huge-log"] {
        let watch = Watch::start();
        let err = c
            .check(&sandbox, &json!({ "attack": attack }))
            .await
            .unwrap_err();
        let usage = watch.stop();
        assert_eq!(err.limit(), Some(&MESSAGE_LIMIT), "{attack}: {err}");
        assert!(err.to_string().contains("limits.message_mib"), "{err}");
        // The guest's own 300 MiB live in its linear memory (and are seen
        // here); the host copied at most the limit out of it.
        assert!(usage.peak_mib() >= 250, "{attack}: {usage:?}");
        usage.assert_bounded(attack, 16, 300 + 32);
    }
    another_pipeline_completes(&rt).await;
}

#[tokio::test]
async fn a_huge_spec_or_catalog_is_stopped_at_the_message_limit() {
    let _serial = serial().await;
    let rt = runtime();
    for (call, attack) in [("spec", "huge-spec"), ("discover", "huge-catalog")] {
        let mut sandbox = Sandbox::default();
        sandbox
            .grants
            .env
            .insert("HOSTILE_CALL".into(), call.into());
        sandbox
            .grants
            .env
            .insert("HOSTILE_ATTACK".into(), attack.into());
        sandbox.grants.plain_env = ["HOSTILE_CALL", "HOSTILE_ATTACK"].map(String::from).into();
        // A fresh connector: the spec is asked for once per load.
        let c = rt.load(artifacts::HOSTILE).await.unwrap();
        let watch = Watch::start();
        let err = match call {
            "spec" => c.spec(&sandbox).await.map(drop),
            _ => c
                .discover(&sandbox, &json!({"attack": "none"}))
                .await
                .map(drop),
        }
        .unwrap_err();
        drop(c);
        let usage = watch.stop();
        assert_eq!(err.limit(), Some(&MESSAGE_LIMIT), "{attack}: {err}");
        assert!(err.to_string().contains("limits.message_mib"), "{err}");
        let named = if call == "spec" {
            Call::Spec
        } else {
            Call::Discover
        };
        assert!(
            matches!(err, Error::Limit { call, .. } if call == named),
            "{err}"
        );
        assert!(usage.peak_mib() >= 250, "{attack}: {usage:?}");
        usage.assert_bounded(attack, 16, 300 + 32);
    }
    another_pipeline_completes(&rt).await;
}

/// A name other than `localhost` that resolves on this machine without
/// any help from sluice: from `/etc/hosts`, or the host's own name.
fn another_resolvable_name() -> String {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let listed = hosts
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .flat_map(|l| l.split_whitespace().skip(1).map(str::to_string))
        .collect::<Vec<_>>();
    let own = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    listed
        .into_iter()
        .chain([own.trim().to_string()])
        .filter(|name| !name.is_empty() && !name.eq_ignore_ascii_case("localhost"))
        .find(|name| resolves(name))
        .expect("a name besides localhost that resolves here (in /etc/hosts)")
}

/// Whether `name` resolves in this process, outside any sandbox.
fn resolves(name: &str) -> bool {
    (name, 9)
        .to_socket_addrs()
        .is_ok_and(|mut a| a.next().is_some())
}

#[tokio::test]
async fn name_lookups_are_limited_to_granted_names() {
    let _serial = serial().await;
    let rt = runtime();
    let c = rt.load(artifacts::HOSTILE).await.unwrap();
    assert!(resolves("localhost"));
    let other = another_resolvable_name();
    let outcome = |sandbox: Sandbox, attack: &'static str, target: &str| {
        let (c, target) = (&c, target.to_string());
        async move {
            let err = c
                .check(&sandbox, &json!({"attack": attack, "target": target}))
                .await
                .unwrap_err();
            let Error::Connector { error, call, .. } = &err else {
                panic!("expected the guest's own error, got {err}");
            };
            assert_eq!(*call, Call::Check);
            error.message.clone()
        }
    };
    // Granted, `localhost` resolves in the sandbox, as it does outside it.
    let granted = hosts(&["localhost:9"]);
    let resolved = outcome(granted, "dns-raw", "localhost").await;
    assert!(resolved.starts_with("outcome: resolved"), "{resolved}");

    // With only another name granted, the very same lookup is refused by
    // the host, as access denied; the granted name still resolves.
    let watch = Watch::start();
    let only_other = || hosts(&[&format!("{other}:9")]);
    let denied = outcome(only_other(), "dns-raw", "localhost").await;
    assert!(
        denied.starts_with("lookup localhost: access-denied"),
        "{denied}"
    );
    let resolved = outcome(only_other(), "dns-raw", &other).await;
    assert!(
        resolved.starts_with("outcome: resolved"),
        "{other}: {resolved}"
    );
    // A made-up name carrying data out, and the same through std's resolver.
    let leak = "data-sent-out.example.com";
    let denied = outcome(only_other(), "dns-raw", leak).await;
    assert!(
        denied.starts_with(&format!("lookup {leak}: access-denied")),
        "{denied}"
    );
    let denied = outcome(only_other(), "dns", "localhost").await;
    assert!(denied.starts_with("lookup localhost:"), "{denied}");
    assert!(!denied.contains("resolved"), "{denied}");
    let usage = watch.stop();
    usage.assert_bounded("lookups", 16, 64);
    another_pipeline_completes(&rt).await;
}

#[tokio::test]
async fn granted_env_values_are_scrubbed_unless_granted_plain() {
    let _serial = serial().await;
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
    let watch = Watch::start();
    let mut texts = Vec::new();
    // An error value built of them, after logging them at two levels and
    // printing them to stdout and stderr (the logs are checked where they
    // are written: the host's unit tests of its log and output streams).
    for attack in ["env-error", "env-leak"] {
        let err = c
            .check(&sandbox, &json!({ "attack": attack }))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Connector { .. }), "{attack}: {err}");
        texts.push(err.to_string());
    }
    // A panic whose message holds them, after printing them to stderr: the
    // crash names both, and the tail of stderr it quotes.
    let err = c
        .check(&sandbox, &json!({"attack": "env-panic"}))
        .await
        .unwrap_err();
    let Error::Trap { message, .. } = &err else {
        panic!("expected a crash, got {err}");
    };
    assert!(message.contains("about to panic with"), "{message}");
    assert!(message.contains("panicked with"), "{message}");
    texts.push(err.to_string());
    let usage = watch.stop();
    for text in &texts {
        assert!(!text.contains("tok-4f9a2c71e8"), "{text}");
        assert!(!text.contains("4f9a2c"), "{text}");
        assert!(text.contains("GRANTED_TOKEN=**********"), "{text}");
        // `secret = false` opts out: that value stays readable.
        assert!(text.contains("GRANTED_REGION=eu-west-3"), "{text}");
    }
    assert!(texts[1].contains("failed with"), "{}", texts[1]);
    usage.assert_bounded("env", 16, 64);
    another_pipeline_completes(&rt).await;
}

/// The http-client guest granted `server`, within `limits`.
fn http_sandbox(server: &HttpServer, limits: Limits) -> Sandbox {
    Sandbox {
        limits,
        ..hosts(&[&format!("127.0.0.1:{}", server.port())])
    }
}

#[tokio::test]
async fn an_http_body_over_its_limit_is_stopped_naming_limits_http_body_mib() {
    let _serial = serial().await;
    let rt = runtime();
    let c = rt.load(artifacts::HTTP_CLIENT).await.unwrap();
    let server = HttpServer::start(Options::default()).unwrap();
    let limits = Limits {
        http_body_mib: 1,
        ..Default::default()
    };
    let url = format!("{}/big?mib=512", server.base_url());
    let watch = Watch::start();
    let err = c
        .check(&http_sandbox(&server, limits), &json!({ "url": url }))
        .await
        .unwrap_err();
    let usage = watch.stop();
    assert_eq!(
        err.limit(),
        Some(&Limit::HttpBody { max_bytes: 1 << 20 }),
        "{err}"
    );
    assert!(err.to_string().contains("limits.http_body_mib"), "{err}");
    assert!(
        matches!(
            err,
            Error::Limit {
                call: Call::Check,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(server.requests().len(), 1);
    // 512 MiB were on offer; the host took in about the limit.
    usage.assert_bounded("body", 16, 32);
    another_pipeline_completes(&rt).await;
}

#[tokio::test]
async fn a_server_that_stalls_is_stopped_by_the_http_timeouts_naming_them() {
    let _serial = serial().await;
    let rt = runtime();
    let c = rt.load(artifacts::HTTP_CLIENT).await.unwrap();
    let server = HttpServer::start(Options::default()).unwrap();
    let base = server.base_url();
    let first_byte = Limits {
        http_first_byte_timeout_ms: 300,
        ..Default::default()
    };
    let between_bytes = Limits {
        http_between_bytes_timeout_ms: 300,
        ..Default::default()
    };
    for (path, limits, key) in [
        ("/stall", first_byte, "limits.http_first_byte_timeout_ms"),
        (
            "/gap",
            between_bytes,
            "limits.http_between_bytes_timeout_ms",
        ),
    ] {
        // Silent for a minute: long past the limit, within the call's deadline.
        let url = format!("{base}{path}?ms=60000");
        let watch = Watch::start();
        let started = Instant::now();
        let err = c
            .check(&http_sandbox(&server, limits), &json!({ "url": url }))
            .await
            .unwrap_err();
        let took = started.elapsed();
        let usage = watch.stop();
        assert_eq!(
            err.limit(),
            Some(&Limit::HttpTimeout { millis: 300, key }),
            "{path}: {err}"
        );
        assert!(err.to_string().contains(key), "{err}");
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(10),
            "{path}: {took:?}"
        );
        usage.assert_bounded(path, 16, 64);
    }
    assert_eq!(server.requests().len(), 2, "both were asked");
    // Within its timeouts, the same request completes.
    let url = format!("{base}/gap?ms=100");
    let err = c
        .check(
            &http_sandbox(&server, between_bytes),
            &json!({ "url": url }),
        )
        .await
        .unwrap_err();
    let text = err.connector_error().map(|e| e.message.clone());
    assert_eq!(text.as_deref(), Some("outcome: 200 {\"data\":[]}"), "{err}");
    another_pipeline_completes(&rt).await;
}

#[tokio::test]
async fn a_connect_that_never_completes_is_stopped_by_the_connect_timeout() {
    let _serial = serial().await;
    // A listener that accepts nothing, its backlog filled: the next
    // connection's handshake is never answered.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    let full = loop {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(filler) if fillers.len() < 16 => fillers.push(filler),
            Ok(_) => break false,
            Err(_) => break true,
        }
    };
    // Linux drops the SYNs a full backlog cannot queue: the handshake
    // stalls, as it does towards a host that drops packets.
    assert!(
        full,
        "a listener with a full backlog still completed {} connections",
        fillers.len()
    );
    let rt = runtime();
    let c = rt.load(artifacts::HTTP_CLIENT).await.unwrap();
    let sandbox = Sandbox {
        limits: Limits {
            http_connect_timeout_ms: 300,
            ..Default::default()
        },
        ..hosts(&[&addr.to_string()])
    };
    let watch = Watch::start();
    let started = Instant::now();
    let err = c
        .check(&sandbox, &json!({ "url": format!("http://{addr}/") }))
        .await
        .unwrap_err();
    let took = started.elapsed();
    let usage = watch.stop();
    assert_eq!(
        err.limit(),
        Some(&Limit::HttpTimeout {
            millis: 300,
            key: "limits.http_connect_timeout_ms"
        }),
        "{err}"
    );
    assert!(
        err.to_string().contains("limits.http_connect_timeout_ms"),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    usage.assert_bounded("connect", 16, 64);
    drop((fillers, listener));
    another_pipeline_completes(&rt).await;
}
