//! The sandbox against the ways a connector could still hurt its host:
//! HTTP egress checked on every request, HTTP bodies and timeouts bounded,
//! host resources capped per instance, name lookups only of granted names,
//! granted env values scrubbed, and data handed to the host bounded by
//! named limits. Each attack ends in its named error, with the host's
//! descriptors and memory bounded (sampled from `/proc/self` while the
//! attack runs), and another pipeline in the same process still completes.
//!
//! The tests measure the whole process, so they run one at a time (see
//! [`serial`]). One module per kind of attack: `http` (egress, bodies,
//! timeouts), `handles` (host resources per instance), `messages` (data
//! handed to the host), `grants` (name lookups and env values).

mod grants;
mod handles;
mod http;
mod messages;

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

/// `err` is the sandbox stopping `call` at `limit`, its message naming
/// the pipeline key `key`.
fn assert_stopped_at(err: &Error, call: Call, limit: &Limit, key: &str) {
    assert_eq!(err.limit(), Some(limit), "{err}");
    assert!(err.to_string().contains(key), "{err}");
    assert!(
        matches!(err, Error::Limit { call: c, .. } if *c == call),
        "{err}"
    );
}
