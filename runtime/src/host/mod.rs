//! The host state of one store: what a connector instance is given (its
//! WASI context built from the grants, deny by default) and what the host
//! keeps about it (its memory limiter, the deadline of the current call,
//! its log budget, its stderr tail, the redactor of its secrets). Also the
//! contract's host imports (`imports`: `log`, the schema `registry`).

#[cfg(test)]
mod capture;
mod descriptors;
mod egress;
mod handler;
mod imports;
mod limiter;
mod lookup;
mod network;
mod output;
mod send;
mod tls;

use crate::error::{Error, Result};
use crate::redact::Redactor;
use crate::registry::Registry;
pub(crate) use egress::{Denied, Egress};
pub(crate) use handler::add_to_linker as add_handler_to_linker;
pub(crate) use limiter::Limiter;
pub(crate) use lookup::add_to_linker as add_lookup_to_linker;
pub(crate) use output::{GuestOutput, LogBudget};
pub(crate) use send::TlsFailure;
use sluice_manifest::Sandbox;
use sluice_schema::SchemaId;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Host state of one store: WASI context, limits, logs.
pub(crate) struct HostState {
    pub(crate) connector: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    /// The wasi:http hooks: the egress check and the sender.
    pub(crate) egress: Egress,
    /// The names the guest may look up (the hosts of granted `host:port`s).
    lookup_names: HashSet<String>,
    /// The most host resources the guest may hold at once.
    pub(crate) max_handles: usize,
    pub(crate) limiter: Limiter,
    /// When the current call must end.
    pub(crate) deadline: Option<Instant>,
    /// Whether the epoch callback stopped the current call at its deadline.
    pub(crate) deadline_hit: bool,
    pub(crate) stderr: GuestOutput,
    pub(crate) redactor: Redactor,
    pub(crate) log_budget: LogBudget,
    /// The schema registry of the run.
    pub(crate) registry: Registry,
    /// The ids this instance registered.
    pub(crate) registered: HashSet<SchemaId>,
}

impl HostState {
    /// The host state for one store of `connector` from `sandbox`.
    pub(crate) async fn new(
        connector: Arc<str>,
        sandbox: &Sandbox,
        redactor: Redactor,
        registry: Registry,
    ) -> Result<Self> {
        // Before the first guest can hold a descriptor: see `descriptors`.
        descriptors::raise_soft_limit();
        let mut b = WasiCtxBuilder::new();
        b.allow_blocking_current_thread(true);
        // Granted env values are secrets too, unless granted `secret = false`.
        let redactor = redactor.with(sandbox.grants.secret_env_values());
        let log_budget = LogBudget::new(sandbox.limits.log_bytes());
        let output = |stream| {
            GuestOutput::new(
                connector.clone(),
                stream,
                redactor.clone(),
                log_budget.clone(),
            )
        };
        let stderr = output("stderr");
        b.stdout(output("stdout")).stderr(stderr.clone());
        for (k, v) in &sandbox.grants.env {
            b.env(k, v);
        }
        grant_dirs(&mut b, &connector, sandbox)?;
        let lookup_names = network::grant(&mut b, &connector, &sandbox.grants).await?;
        let tls = tls::Tls::new(sandbox.grants.ca_bundle.as_deref()).map_err(|e| Error::Grant {
            connector: connector.to_string(),
            what: "`ca_bundle`".into(),
            source: e.into(),
        })?;
        let max_handles = sandbox.limits.handles as usize;
        let mut table = ResourceTable::new();
        table.set_max_capacity(max_handles);
        let egress = Egress::new(
            connector.clone(),
            &sandbox.grants,
            sandbox.limits,
            redactor.clone(),
            tls,
        )
        .map_err(|e| Error::Grant {
            connector: connector.to_string(),
            what: "an HTTP URL prefix".into(),
            source: e.into(),
        })?;
        Ok(HostState {
            egress,
            connector,
            wasi: b.build(),
            table,
            http: WasiHttpCtx::new(),
            lookup_names,
            max_handles,
            limiter: Limiter::new((sandbox.limits.memory_mib as usize).saturating_mul(1 << 20)),
            deadline: None,
            deadline_hit: false,
            stderr,
            redactor,
            log_budget,
            registry,
            registered: HashSet::new(),
        })
    }
}

/// Preopen the granted directories, read-only unless granted `write`.
fn grant_dirs(b: &mut WasiCtxBuilder, connector: &str, sandbox: &Sandbox) -> Result<()> {
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
                source: e.into_boxed_dyn_error(),
            })?;
    }
    Ok(())
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.egress,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
