//! The sandbox of one connector run: what it is granted (directories,
//! network endpoints, env vars), its limits (memory, fuel, deadline), and
//! the per-store host state built from them. Deny by default: a connector
//! with an empty [`Grants`] sees no file, no network and no environment.

use crate::error::{Error, Limit, Result};
pub use sluice_manifest::{DirGrant, Grants, Limits, Sandbox};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Replaces secret values in text that leaves the sandbox (guest logs,
/// stderr, error messages).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Arc<Vec<String>>,
}

impl Redactor {
    /// A redactor for these secret values (short ones are ignored: a
    /// two-letter secret would blank out ordinary words).
    pub fn new(secrets: Vec<String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 4).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor {
            secrets: Arc::new(secrets),
        }
    }

    /// Whether `text` holds any secret value.
    pub fn contains_secret(&self, text: &str) -> bool {
        self.secrets.iter().any(|s| text.contains(s.as_str()))
    }

    /// `text` with every secret value replaced.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), sluice_protocol::config::REDACTED);
            }
        }
        out
    }
}

/// Records which limit stopped the guest, so a trap can be named.
#[derive(Debug)]
pub(crate) struct Limiter {
    max_memory: usize,
    pub(crate) hit: Option<Limit>,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.hit = Some(Limit::Memory {
                limit: self.max_memory,
                requested: desired,
            });
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// The log output a connector may produce in one call (log calls, stdout
/// and stderr together). Spending past it stops the call with
/// [`Limit::Log`].
#[derive(Debug, Clone)]
pub(crate) struct LogBudget {
    inner: Arc<LogBudgetState>,
}

#[derive(Debug)]
struct LogBudgetState {
    per_call: usize,
    left: AtomicUsize,
    exceeded: AtomicBool,
}

impl LogBudget {
    fn new(per_call: usize) -> Self {
        LogBudget {
            inner: Arc::new(LogBudgetState {
                per_call,
                left: AtomicUsize::new(per_call),
                exceeded: AtomicBool::new(false),
            }),
        }
    }

    /// Refill for a new call.
    pub(crate) fn reset(&self) {
        self.inner
            .left
            .store(self.inner.per_call, Ordering::Relaxed);
        self.inner.exceeded.store(false, Ordering::Relaxed);
    }

    /// Spend `n` bytes; false (and remembered) once the budget is gone.
    fn spend(&self, n: usize) -> bool {
        let ok = self
            .inner
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(n)
            })
            .is_ok();
        if !ok {
            self.inner.exceeded.store(true, Ordering::Relaxed);
        }
        ok
    }

    /// The limit, if this call went past it.
    pub(crate) fn take_exceeded(&self) -> Option<Limit> {
        self.inner
            .exceeded
            .swap(false, Ordering::Relaxed)
            .then_some(Limit::Log {
                per_call_bytes: self.inner.per_call,
            })
    }
}

/// Guest output (stdout/stderr) goes into `tracing`, line by line, within
/// the call's [`LogBudget`]; the tail of stderr is kept to explain a crash.
#[derive(Clone)]
pub(crate) struct GuestOutput {
    inner: Arc<Mutex<OutputState>>,
}

struct OutputState {
    connector: Arc<str>,
    stream: &'static str,
    line: Vec<u8>,
    budget: LogBudget,
    tail: Vec<u8>,
    redactor: Redactor,
}

const TAIL: usize = 2048;

impl GuestOutput {
    fn new(
        connector: Arc<str>,
        stream: &'static str,
        redactor: Redactor,
        budget: LogBudget,
    ) -> Self {
        GuestOutput {
            inner: Arc::new(Mutex::new(OutputState {
                connector,
                stream,
                line: Vec::new(),
                budget,
                tail: Vec::new(),
                redactor,
            })),
        }
    }

    /// The last bytes the guest wrote, scrubbed of secrets.
    pub(crate) fn tail(&self) -> String {
        let state = self.inner.lock().expect("output lock");
        state
            .redactor
            .scrub(String::from_utf8_lossy(&state.tail).trim())
    }

    /// Forward `buf`; an error once the call's log budget is spent (the
    /// guest's write fails and the call is stopped).
    fn write(&self, buf: &[u8]) -> std::io::Result<()> {
        let mut s = self.inner.lock().expect("output lock");
        s.tail.extend_from_slice(buf);
        if s.tail.len() > TAIL {
            let cut = s.tail.len() - TAIL;
            s.tail.drain(..cut);
        }
        if !s.budget.spend(buf.len()) {
            return Err(std::io::Error::other("log budget of this call exceeded"));
        }
        s.line.extend_from_slice(buf);
        while let Some(pos) = s.line.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = s.line.drain(..=pos).collect();
            let text = s.redactor.scrub(String::from_utf8_lossy(&line).trim_end());
            tracing::info!(target: "sluice::guest", connector = %s.connector, stream = s.stream, "{text}");
        }
        Ok(())
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    /// Written synchronously, on the guest's call: no background worker
    /// (wasmtime-wasi's adapter logs raw bytes at debug level, before the
    /// secrets are scrubbed), and a write past the log budget stops the call.
    fn p2_stream(&self) -> Box<dyn wasmtime_wasi::p2::OutputStream> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl wasmtime_wasi::p2::OutputStream for GuestOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> wasmtime_wasi::p2::StreamResult<()> {
        GuestOutput::write(self, &bytes)
            .map_err(|e| wasmtime_wasi::p2::StreamError::Trap(wasmtime::Error::msg(e.to_string())))
    }

    fn flush(&mut self) -> wasmtime_wasi::p2::StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> wasmtime_wasi::p2::StreamResult<usize> {
        Ok(1 << 20)
    }
}

#[async_trait::async_trait]
impl wasmtime_wasi::p2::Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.write(buf).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Host state of one store: WASI context, limits, logs.
pub(crate) struct StoreData {
    pub(crate) connector: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    /// When the current call must end.
    pub(crate) deadline: Option<Instant>,
    pub(crate) deadline_hit: bool,
    pub(crate) stderr: GuestOutput,
    pub(crate) redactor: Redactor,
    pub(crate) log_budget: LogBudget,
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl crate::bindings::host::Host for StoreData {
    fn log(
        &mut self,
        level: crate::bindings::host::Level,
        message: String,
    ) -> wasmtime::Result<()> {
        if !self.log_budget.spend(message.len()) {
            wasmtime::bail!("log budget of this call exceeded");
        }
        let message = self.redactor.scrub(&message);
        let c = &*self.connector;
        match crate::bindings::level_in(level) {
            sluice_protocol::Level::Trace => {
                tracing::trace!(target: "sluice::guest", connector = c, "{message}")
            }
            sluice_protocol::Level::Debug => {
                tracing::debug!(target: "sluice::guest", connector = c, "{message}")
            }
            sluice_protocol::Level::Info => {
                tracing::info!(target: "sluice::guest", connector = c, "{message}")
            }
            sluice_protocol::Level::Warn => {
                tracing::warn!(target: "sluice::guest", connector = c, "{message}")
            }
            sluice_protocol::Level::Error => {
                tracing::error!(target: "sluice::guest", connector = c, "{message}")
            }
        }
        Ok(())
    }
}

/// Resolve granted `host:port` pairs to the socket addresses a connector may
/// connect to.
async fn resolve_hosts(connector: &str, hosts: &[String]) -> Result<HashSet<SocketAddr>> {
    let mut allowed = HashSet::new();
    for host in hosts {
        let addrs = tokio::net::lookup_host(host.as_str())
            .await
            .map_err(|e| Error::Grant {
                connector: connector.to_string(),
                what: format!("network endpoint `{host}` (expected host:port)"),
                message: e.to_string(),
            })?;
        allowed.extend(addrs);
    }
    Ok(allowed)
}

/// Build the host state for one store from `sandbox`.
pub(crate) async fn store_data(
    connector: Arc<str>,
    sandbox: &Sandbox,
    redactor: Redactor,
) -> Result<StoreData> {
    let mut b = WasiCtxBuilder::new();
    b.allow_blocking_current_thread(true);
    let log_budget = LogBudget::new(sandbox.limits.log_bytes());
    let stdout = GuestOutput::new(
        connector.clone(),
        "stdout",
        redactor.clone(),
        log_budget.clone(),
    );
    let stderr = GuestOutput::new(
        connector.clone(),
        "stderr",
        redactor.clone(),
        log_budget.clone(),
    );
    b.stdout(stdout).stderr(stderr.clone());
    for (k, v) in &sandbox.grants.env {
        b.env(k, v);
    }
    for dir in &sandbox.grants.dirs {
        let perms = if dir.write {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        b.preopened_dir(&dir.host, &dir.guest, perms)
            .map_err(|e| Error::Grant {
                connector: connector.to_string(),
                what: format!("directory `{}` as `{}`", dir.host.display(), dir.guest),
                message: e.to_string(),
            })?;
    }
    if !sandbox.grants.hosts.is_empty() {
        let allowed = Arc::new(resolve_hosts(&connector, &sandbox.grants.hosts).await?);
        // Name lookups only when a granted host is a name: a connector
        // granted addresses has nothing to look up (and lookups of made-up
        // names are a way to send data out).
        let names = sandbox.grants.hosts.iter().any(|h| {
            let host = h.rsplit_once(':').map_or(h.as_str(), |(host, _)| host);
            host.trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_err()
        });
        b.allow_tcp(true)
            .allow_udp(false)
            .allow_ip_name_lookup(names);
        let name = connector.clone();
        b.socket_addr_check(move |addr, use_| {
            let ok = match use_ {
                // connect() first binds implicitly to the wildcard address.
                SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
                SocketAddrUse::TcpConnect => allowed.contains(&addr),
                _ => false,
            };
            if !ok {
                tracing::warn!(connector = %name, %addr, ?use_, "network access denied: not granted");
            }
            Box::pin(async move { ok })
        });
    } else {
        b.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
    }
    Ok(StoreData {
        connector,
        wasi: b.build(),
        table: ResourceTable::new(),
        limiter: Limiter {
            max_memory: (sandbox.limits.memory_mib as usize).saturating_mul(1 << 20),
            hit: None,
        },
        deadline: None,
        deadline_hit: false,
        stderr,
        redactor,
        log_budget,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redactor_replaces_long_secrets_only() {
        let r = Redactor::new(vec!["s3cr3t-token".into(), "ab".into()]);
        assert_eq!(
            r.scrub("auth with s3cr3t-token failed for ab"),
            "auth with ********** failed for ab"
        );
    }
}
