//! One live connector instance in its own store, and the one way to call
//! into it: [`Instance::call`] arms the call's fuel and deadline, runs it
//! under the wall-clock deadline, and turns a trap or a limit hit into an
//! [`Error`] naming the connector, the call and the limit. A trap poisons
//! the instance: later calls return [`Error::Poisoned`].

use crate::bindings;
use crate::engine::{EPOCH_TICK, Runtime};
use crate::error::{Call, Error, Limit, Result};
use crate::host::{Denied, HostState, TlsFailure};
use crate::redact::Redactor;
use crate::registry::Registry;
use sluice_manifest::{Limits, Sandbox};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::InstancePre;
use wasmtime::{Store, UpdateDeadline};

/// The future of one call into the guest, borrowing its store.
pub(crate) type CallFuture<'a, T> = Pin<Box<dyn Future<Output = wasmtime::Result<T>> + Send + 'a>>;

/// One live instance in its own store.
pub(crate) struct Instance {
    connector: Arc<str>,
    store: Store<HostState>,
    /// Whether the engine meters fuel.
    fuel: bool,
    limits: Limits,
    poisoned: bool,
    instance: Option<wasmtime::component::Instance>,
}

impl Instance {
    /// Instantiate `pre` in a fresh store built from `sandbox`.
    pub(crate) async fn new(
        runtime: &Runtime,
        pre: &InstancePre<HostState>,
        connector: Arc<str>,
        sandbox: &Sandbox,
        redactor: Redactor,
        registry: Registry,
    ) -> Result<Self> {
        let data = HostState::new(connector.clone(), sandbox, redactor, registry).await?;
        let mut store = Store::new(runtime.engine(), data);
        store.limiter(|d| &mut d.limiter);
        store.epoch_deadline_callback(|mut ctx| {
            let data = ctx.data_mut();
            match data.deadline {
                Some(deadline) if Instant::now() >= deadline => {
                    data.deadline_hit = true;
                    Err(wasmtime::Error::msg("deadline reached"))
                }
                // Let other tasks of the executor run, then check again next tick.
                _ => Ok(UpdateDeadline::Yield(1)),
            }
        });
        let mut instance = Instance {
            connector,
            store,
            fuel: runtime.consumes_fuel(),
            limits: sandbox.limits,
            poisoned: false,
            instance: None,
        };
        let pre = pre.clone();
        let inst = instance
            .call(Call::Instantiate, |store| {
                Box::pin(async move { pre.instantiate_async(store).await })
            })
            .await?;
        instance.instance = Some(inst);
        Ok(instance)
    }

    /// The connector's name.
    pub(crate) fn connector(&self) -> &str {
        &self.connector
    }

    /// The limits of every call.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The redactor of the connector's secret config values.
    pub(crate) fn redactor(&self) -> &Redactor {
        &self.store.data().redactor
    }

    /// Whether a trap or a limit hit ended this instance.
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Discard the instance after the host refused what it returned.
    pub(crate) fn poison(&mut self) {
        self.poisoned = true;
    }

    /// Load typed exports (`indices.load(store, instance)` of the bindings).
    pub(crate) fn exports<E>(
        &mut self,
        call: Call,
        load: impl FnOnce(&mut Store<HostState>, &wasmtime::component::Instance) -> wasmtime::Result<E>,
    ) -> Result<E> {
        let instance = self.instance.as_ref().expect("instantiated");
        load(&mut self.store, instance).map_err(|e| self.protocol(call, format!("{e:#}")))
    }

    /// A contract violation in `call`.
    pub(crate) fn protocol(&self, call: Call, message: String) -> Error {
        Error::Protocol {
            connector: self.connector.to_string(),
            call,
            message,
        }
    }

    /// Text that should have been JSON, in `call`.
    pub(crate) fn invalid_json(&self, call: Call, e: bindings::InvalidJson) -> Error {
        Error::InvalidJson {
            connector: self.connector.to_string(),
            call,
            what: e.what,
            source: e.source,
        }
    }

    /// Run one call into the guest: arm its fuel and deadline, await it
    /// under the wall-clock deadline, and map its outcome.
    pub(crate) async fn call<T>(
        &mut self,
        call: Call,
        f: impl for<'a> FnOnce(&'a mut Store<HostState>) -> CallFuture<'a, T>,
    ) -> Result<T> {
        self.begin(call)?;
        let result = deadline(self.limits, f(&mut self.store)).await;
        self.finish(call, result)
    }

    /// [`Self::call`] for calls that return `result<T, connector-error>`:
    /// the connector's error becomes [`Error::Connector`], scrubbed of
    /// secrets.
    pub(crate) async fn call_value<T, E: Into<sluice_protocol::ConnectorError>>(
        &mut self,
        call: Call,
        f: impl for<'a> FnOnce(&'a mut Store<HostState>) -> CallFuture<'a, Result<T, E>>,
    ) -> Result<T> {
        let value = self.call(call, f).await?;
        let seen = self.store.data().egress.take_seen();
        value.map_err(|e| {
            // What the host refused explains the connector's error best.
            let connector = self.connector.to_string();
            if let Some(limit) = seen.body_limit {
                return Error::Limit {
                    connector,
                    call,
                    limit,
                };
            }
            if let Some(TlsFailure { server, reason }) = seen.tls {
                return Error::Tls {
                    connector,
                    call,
                    server,
                    reason,
                };
            }
            if let Some(Denied { url, missing }) = seen.denied {
                return Error::Egress {
                    connector,
                    call,
                    url,
                    missing,
                };
            }
            let mut error: sluice_protocol::ConnectorError = e.into();
            error.message = self.redactor().scrub(&error.message);
            Error::Connector {
                connector,
                call,
                error,
            }
        })
    }

    /// Arm the fuel, the deadline and the data limit for one call,
    /// clearing what the last call recorded.
    fn begin(&mut self, call: Call) -> Result<()> {
        if self.poisoned {
            return Err(Error::Poisoned {
                connector: self.connector.to_string(),
            });
        }
        if self.fuel {
            self.store
                .set_fuel(self.limits.fuel)
                .map_err(|e| Error::wasmtime("setting the fuel of a call", e))?;
        }
        // wasmtime's hostcall fuel caps what the host copies out of the
        // guest in one go; set to sluice's own limit so a hit can be named.
        let (max_bytes, _) = data_limit(&self.limits, call);
        self.store.set_hostcall_fuel(max_bytes);
        let data = self.store.data_mut();
        data.egress.take_seen();
        data.deadline = Some(Instant::now() + self.limits.timeout());
        data.deadline_hit = false;
        data.limiter.hit = None;
        data.log_budget.reset();
        self.store.set_epoch_deadline(1);
        Ok(())
    }

    /// Map a call's outcome; a trap poisons the instance.
    fn finish<T>(&mut self, call: Call, result: wasmtime::Result<T>) -> Result<T> {
        self.store.data_mut().deadline = None;
        if result.is_ok()
            && let Some(limit) = self.store.data().log_budget.take_exceeded()
        {
            // The guest ignored its failed writes and went on: still a limit hit.
            self.poisoned = true;
            return Err(Error::Limit {
                connector: self.connector.to_string(),
                call,
                limit,
            });
        }
        result.map_err(|e| {
            self.poisoned = true;
            let err = classify(
                &self.connector,
                call,
                self.store.data_mut(),
                &self.limits,
                e,
            );
            tracing::debug!(connector = %self.connector, %call, "instance discarded: {err}");
            err
        })
    }
}

/// Run one call future under the wall-clock deadline. The epoch callback
/// stops guest code; this also stops a guest blocked inside a host call
/// (a sleep, a read that never returns). A timed-out call is abandoned, so
/// the instance is poisoned by [`Instance::finish`].
async fn deadline<T>(
    limits: Limits,
    call: impl Future<Output = wasmtime::Result<T>>,
) -> wasmtime::Result<T> {
    // A little slack so the epoch check, which names the limit from inside
    // the guest, normally fires first.
    let budget = limits.timeout() + EPOCH_TICK * 5;
    match tokio::time::timeout(budget, call).await {
        Ok(result) => result,
        Err(_) => Err(wasmtime::Error::new(DeadlineElapsed)),
    }
}

/// A call ran past its deadline while the guest waited in a host call.
#[derive(Debug)]
struct DeadlineElapsed;

impl std::fmt::Display for DeadlineElapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline reached while the guest waited in a host call")
    }
}

impl std::error::Error for DeadlineElapsed {}

/// Classify a wasmtime error raised during `call` into a runtime error.
fn classify(
    connector: &str,
    call: Call,
    data: &mut HostState,
    limits: &Limits,
    err: wasmtime::Error,
) -> Error {
    let limit = |limit| Error::Limit {
        connector: connector.to_string(),
        call,
        limit,
    };
    let memory = data.limiter.hit.take();
    if let Some(hit) = data.log_budget.take_exceeded() {
        return limit(hit);
    }
    let deadline = Limit::Deadline {
        millis: limits.timeout_ms,
    };
    if std::mem::take(&mut data.deadline_hit) || err.downcast_ref::<DeadlineElapsed>().is_some() {
        return limit(deadline);
    }
    if let Some(wasmtime::component::ResourceTableError::Full) = err.downcast_ref() {
        return limit(Limit::Handles {
            max: data.max_handles,
        });
    }
    // wasmtime's error type for this is private: its text is all there is.
    if format!("{err:#}").contains("fuel allocated for hostcalls has been exhausted") {
        let (max_bytes, key) = data_limit(limits, call);
        return limit(Limit::Data { max_bytes, key });
    }
    let trap = err.downcast_ref::<wasmtime::Trap>();
    if let (Some(hit), None | Some(wasmtime::Trap::UnreachableCodeReached)) = (memory, trap) {
        // A refused memory.grow makes a Rust guest abort (unreachable).
        return limit(hit);
    }
    match trap {
        Some(wasmtime::Trap::OutOfFuel) => limit(Limit::Fuel {
            per_call: limits.fuel,
        }),
        Some(wasmtime::Trap::Interrupt) => limit(deadline),
        Some(wasmtime::Trap::StackOverflow) => limit(Limit::Stack),
        other => {
            let what = match other {
                Some(trap) => trap.to_string(),
                None => data.redactor.scrub(&format!("{err:#}")),
            };
            Error::Trap {
                connector: connector.to_string(),
                call,
                message: with_stderr_tail(what, &data.stderr.tail()),
            }
        }
    }
}

/// The most data the guest may hand the host in one go during `call`, and
/// the pipeline key that sets it: a batch (plus its envelope) in calls that
/// return batches, a message (spec, catalog, error, log line) otherwise.
fn data_limit(limits: &Limits, call: Call) -> (usize, &'static str) {
    match call {
        Call::Next | Call::Transform => (
            limits.batch_bytes().saturating_add(limits.message_bytes()),
            "limits.batch_mib",
        ),
        _ => (limits.message_bytes(), "limits.message_mib"),
    }
}

/// A trap's text with the last lines the guest wrote to stderr.
fn with_stderr_tail(what: String, tail: &str) -> String {
    if tail.is_empty() {
        return what;
    }
    let lines: Vec<&str> = tail.lines().collect();
    let last = lines[lines.len().saturating_sub(5)..].join(" | ");
    format!("{what}; connector stderr: {last}")
}
