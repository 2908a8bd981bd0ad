//! Guest output: the log budget of a call and the stdout/stderr streams
//! that forward guest lines into `tracing`, scrubbed of secrets.

use crate::error::Limit;
use crate::redact::Redactor;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

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
    pub(crate) fn new(per_call: usize) -> Self {
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
    pub(crate) fn spend(&self, n: usize) -> bool {
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
    /// Whether older output was dropped from the front of `tail`.
    cut: bool,
    redactor: Redactor,
}

const TAIL: usize = 2048;

impl GuestOutput {
    pub(crate) fn new(
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
                cut: false,
                redactor,
            })),
        }
    }

    /// The last bytes the guest wrote, scrubbed of secrets. Once older
    /// output was dropped, the tail may begin inside a secret, where no
    /// whole value is left to find: so its first bytes, up to one short of
    /// the longest secret, are dropped too.
    pub(crate) fn tail(&self) -> String {
        let state = self.inner.lock().expect("output lock");
        let mut tail = &state.tail[..];
        if state.cut {
            let longest = state.redactor.values().first().map_or(0, String::len);
            tail = &tail[longest.saturating_sub(1).min(tail.len())..];
        }
        state.redactor.scrub(String::from_utf8_lossy(tail).trim())
    }

    /// Forward `buf`; an error once the call's log budget is spent (the
    /// guest's write fails and the call is stopped).
    fn write(&self, buf: &[u8]) -> std::io::Result<()> {
        let mut s = self.inner.lock().expect("output lock");
        s.tail.extend_from_slice(buf);
        if s.tail.len() > TAIL {
            let cut = s.tail.len() - TAIL;
            s.tail.drain(..cut);
            s.cut = true;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::capture;

    const SECRET: &str = "tok-4f9a2c71e8";

    fn output(stream: &'static str) -> GuestOutput {
        let redactor = Redactor::new(vec![SECRET.into()]);
        GuestOutput::new("c".into(), stream, redactor, LogBudget::new(1 << 20))
    }

    #[test]
    fn printed_lines_are_logged_scrubbed_even_when_a_secret_spans_writes() {
        let out = output("stdout");
        let events = capture::events(|| {
            out.write(b"token=tok-4f9a").unwrap();
            out.write(b"2c71e8 region=eu-west-3\n").unwrap();
            out.write(format!("{SECRET}\n").as_bytes()).unwrap();
        });
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(events.iter().all(|e| !e.contains("4f9a")), "{events:?}");
        assert!(
            events[0].contains("token=********** region=eu-west-3"),
            "{events:?}"
        );
        assert!(events[0].contains("stream=stdout"), "{events:?}");
    }

    #[test]
    fn a_tail_cut_inside_a_secret_keeps_none_of_it() {
        let out = output("stderr");
        // The last TAIL bytes begin with the secret's last 5 bytes: a piece
        // of it that no scrub would find.
        let text = format!("{}{SECRET}{}", "a".repeat(100), "b".repeat(TAIL - 5));
        let _ = capture::events(|| out.write(text.as_bytes()).unwrap());
        let tail = out.tail();
        assert!(!tail.contains("71e8"), "{tail}");
        assert!(tail.starts_with('b') && tail.ends_with('b'), "{tail}");
        let whole = output("stderr");
        let _ = capture::events(|| whole.write(format!("x {SECRET} y").as_bytes()).unwrap());
        assert_eq!(whole.tail(), "x ********** y");
    }
}
