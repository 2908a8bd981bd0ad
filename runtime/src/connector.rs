//! A loaded connector component and typed calls into it.
//!
//! Each operation runs in a fresh store built from the caller's
//! [`Sandbox`]; every call gets its fuel and deadline, and a trap discards
//! the instance (later calls return [`Error::Poisoned`]).

use crate::bindings::{self, base, destination, source};
use crate::engine::{Runtime, classify};
use crate::error::{Call, Error, Result};
use crate::sandbox::{Redactor, Sandbox, StoreData, store_data};
use serde_json::Value;
use sluice_protocol::{
    Batch, Catalog, ConfiguredCatalog, Message, Operation, Role, Spec, StreamState,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::OnceCell;
use wasmtime::component::{InstancePre, ResourceAny};
use wasmtime::{Store, UpdateDeadline};

/// A connector component, compiled and ready to instantiate.
#[derive(Clone)]
pub struct Connector {
    inner: Arc<ConnectorInner>,
}

struct ConnectorInner {
    runtime: Runtime,
    name: String,
    path: PathBuf,
    hash: String,
    pre: InstancePre<StoreData>,
    base: base::BaseIndices,
    source: Option<source::SourceConnectorIndices>,
    destination: Option<destination::DestinationConnectorIndices>,
    spec: OnceCell<Spec>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("name", &self.inner.name)
            .field("path", &self.inner.path)
            .finish()
    }
}

impl Connector {
    pub(crate) fn new(
        runtime: Runtime,
        name: String,
        (path, component, hash): (PathBuf, wasmtime::component::Component, String),
    ) -> Result<Self> {
        let engine = &runtime.inner.engine;
        let ty = component.component_type();
        let names: Vec<String> = ty
            .imports(engine)
            .chain(ty.exports(engine))
            .map(|(name, _)| name.to_string())
            .collect();
        if let Some(foreign) = foreign_contract(&names) {
            return Err(Error::NotAConnector {
                path,
                message: format!(
                    "it was built against `sluice:connector@{foreign}`, and this sluice speaks `sluice:connector@{}`; rebuild the connector against that version (or use a sluice that speaks {foreign})",
                    sluice_protocol::CONTRACT_VERSION
                ),
            });
        }
        let pre = runtime.inner.linker.instantiate_pre(&component).map_err(|e| Error::NotAConnector {
            path: path.clone(),
            message: format!(
                "it imports something the sandbox does not provide: {e:#} (connectors may import WASI 0.2 and sluice:connector/host only)"
            ),
        })?;
        let base = base::BaseIndices::new(&pre).map_err(|e| Error::NotAConnector {
            path: path.clone(),
            message: format!(
                "it does not export `sluice:connector/connector@{}` ({e:#}); was it built against another contract version?",
                sluice_protocol::CONTRACT_VERSION
            ),
        })?;
        let source = source::SourceConnectorIndices::new(&pre).ok();
        let destination = destination::DestinationConnectorIndices::new(&pre).ok();
        Ok(Connector {
            inner: Arc::new(ConnectorInner {
                runtime,
                name,
                path,
                hash,
                pre,
                base,
                source,
                destination,
                spec: OnceCell::new(),
            }),
        })
    }

    /// The connector's name (from its spec once known, else the file name).
    pub fn name(&self) -> &str {
        self.inner
            .spec
            .get()
            .map(|s| s.name.as_str())
            .unwrap_or(&self.inner.name)
    }

    /// The component file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// SHA-256 of the component, hex.
    pub fn hash(&self) -> &str {
        &self.inner.hash
    }

    /// Roles the component exports (not what its spec claims).
    pub fn roles(&self) -> Vec<Role> {
        let mut roles = Vec::new();
        if self.inner.source.is_some() {
            roles.push(Role::Source);
        }
        if self.inner.destination.is_some() {
            roles.push(Role::Destination);
        }
        roles
    }

    async fn instance(&self, sandbox: &Sandbox, redactor: Redactor) -> Result<Instance> {
        let name: Arc<str> = Arc::from(self.name());
        let data = store_data(name.clone(), sandbox, redactor).await?;
        let mut store = Store::new(&self.inner.runtime.inner.engine, data);
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
            connector: name,
            store,
            fuel: self.inner.runtime.inner.fuel,
            limits: sandbox.limits,
            poisoned: false,
            instance: None,
        };
        instance.begin(Call::Instantiate)?;
        let result = deadline(
            instance.limits,
            self.inner.pre.instantiate_async(&mut instance.store),
        )
        .await;
        let inst = instance.finish(Call::Instantiate, result)?;
        instance.instance = Some(inst);
        Ok(instance)
    }

    /// The connector's spec (asked once, then remembered).
    pub async fn spec(&self, sandbox: &Sandbox) -> Result<Spec> {
        self.inner
            .spec
            .get_or_try_init(|| async {
                let mut inst = self.instance(sandbox, Redactor::default()).await?;
                let base = inst.base(&self.inner.base)?;
                inst.begin(Call::Spec)?;
                let r = deadline(
                    inst.limits,
                    base.sluice_connector_connector().call_spec(&mut inst.store),
                )
                .await;
                let spec = inst.finish(Call::Spec, r)?;
                bindings::spec_in(spec).map_err(|message| Error::Protocol {
                    connector: self.inner.name.clone(),
                    call: Call::Spec,
                    message,
                })
            })
            .await
            .cloned()
    }

    /// Validate `config` against the spec's schema, with defaults applied.
    /// The error names the field and never echoes a secret value.
    pub async fn validate_config(&self, sandbox: &Sandbox, config: &Value) -> Result<Value> {
        let spec = self.spec(sandbox).await?;
        sluice_protocol::config::validate_config(&spec.config_schema, config.clone()).map_err(
            |error| Error::Connector {
                connector: self.name().to_string(),
                call: Call::Check,
                error,
            },
        )
    }

    /// The validated config (defaults applied) and a fresh instance whose
    /// logs and errors are scrubbed of the config's secret values.
    async fn configured_instance(
        &self,
        sandbox: &Sandbox,
        config: &Value,
    ) -> Result<(Value, Instance)> {
        let config = self.validate_config(sandbox, config).await?;
        let spec = self.spec(sandbox).await?;
        let redactor = Redactor::new(sluice_protocol::config::secret_values(
            &spec.config_schema,
            &config,
        ));
        let inst = self.instance(sandbox, redactor).await?;
        Ok((config, inst))
    }

    /// `check(config)`: validate the config, then ask the connector whether
    /// it can reach its system.
    pub async fn check(&self, sandbox: &Sandbox, config: &Value) -> Result<()> {
        let (config, mut inst) = self.configured_instance(sandbox, config).await?;
        let base = inst.base(&self.inner.base)?;
        inst.begin(Call::Check)?;
        let r = deadline(
            inst.limits,
            base.sluice_connector_connector()
                .call_check(&mut inst.store, &config.to_string()),
        )
        .await;
        inst.finish_value(Call::Check, r)
    }

    /// `discover(config)`: the streams the connector offers.
    pub async fn discover(&self, sandbox: &Sandbox, config: &Value) -> Result<Catalog> {
        let (config, mut inst) = self.configured_instance(sandbox, config).await?;
        let base = inst.base(&self.inner.base)?;
        inst.begin(Call::Discover)?;
        let r = deadline(
            inst.limits,
            base.sluice_connector_connector()
                .call_discover(&mut inst.store, &config.to_string()),
        )
        .await;
        let catalog = inst.finish_value(Call::Discover, r)?;
        bindings::catalog_in(catalog).map_err(|message| inst.protocol(Call::Discover, message))
    }

    /// Open a reader over `catalog`, resuming from `state`.
    pub async fn read(
        &self,
        sandbox: &Sandbox,
        config: &Value,
        catalog: &ConfiguredCatalog,
        state: &[StreamState],
    ) -> Result<SourceReader> {
        let indices = self.inner.source.as_ref().ok_or_else(|| Error::WrongRole {
            connector: self.name().to_string(),
            path: self.inner.path.clone(),
            expected: "source",
        })?;
        let (config, mut inst) = self.configured_instance(sandbox, config).await?;
        let exports = indices
            .load(
                &mut inst.store,
                inst.instance.as_ref().expect("instantiated"),
            )
            .map_err(|e| inst.protocol(Call::Read, format!("{e:#}")))?;
        let state: Vec<bindings::t::StreamState> = state
            .iter()
            .map(|s| bindings::t::StreamState {
                stream: s.stream.clone(),
                state: s.state.to_string(),
            })
            .collect();
        inst.begin(Call::Read)?;
        let r = deadline(
            inst.limits,
            exports.sluice_connector_source().call_read(
                &mut inst.store,
                &config.to_string(),
                &bindings::configured_catalog_out(catalog),
                &state,
            ),
        )
        .await;
        let reader = inst.finish_value(Call::Read, r)?;
        Ok(SourceReader {
            inst,
            exports,
            reader: Some(reader),
        })
    }

    /// Open a writer for `catalog`.
    pub async fn write(
        &self,
        sandbox: &Sandbox,
        config: &Value,
        catalog: &ConfiguredCatalog,
    ) -> Result<DestinationWriter> {
        let indices = self
            .inner
            .destination
            .as_ref()
            .ok_or_else(|| Error::WrongRole {
                connector: self.name().to_string(),
                path: self.inner.path.clone(),
                expected: "destination",
            })?;
        let (config, mut inst) = self.configured_instance(sandbox, config).await?;
        let exports = indices
            .load(
                &mut inst.store,
                inst.instance.as_ref().expect("instantiated"),
            )
            .map_err(|e| inst.protocol(Call::Write, format!("{e:#}")))?;
        inst.begin(Call::Write)?;
        let r = deadline(
            inst.limits,
            exports.sluice_connector_destination().call_write(
                &mut inst.store,
                &config.to_string(),
                &bindings::configured_catalog_out(catalog),
            ),
        )
        .await;
        let writer = inst.finish_value(Call::Write, r)?;
        Ok(DestinationWriter {
            inst,
            exports,
            writer: Some(writer),
        })
    }
}

/// The `sluice:connector` version a component uses, when it is not ours.
fn foreign_contract(names: &[String]) -> Option<String> {
    names.iter().find_map(|name| {
        let version = name.strip_prefix("sluice:connector/")?.split_once('@')?.1;
        (version != sluice_protocol::CONTRACT_VERSION).then(|| version.to_string())
    })
}

/// Run one call future under the wall-clock deadline. The epoch callback
/// stops guest code; this also stops a guest blocked inside a host call
/// (a sleep, a read that never returns). A timed-out call is abandoned, so
/// the instance is poisoned by the caller's `finish`.
async fn deadline<T>(
    limits: crate::Limits,
    call: impl std::future::Future<Output = wasmtime::Result<T>>,
) -> wasmtime::Result<T> {
    // A little slack so the epoch check, which names the limit from inside
    // the guest, normally fires first.
    let budget = limits.timeout() + crate::engine::EPOCH_TICK * 5;
    match tokio::time::timeout(budget, call).await {
        Ok(result) => result,
        Err(_) => Err(wasmtime::Error::new(crate::engine::DeadlineElapsed)),
    }
}

/// One live instance in its own store.
struct Instance {
    connector: Arc<str>,
    store: Store<StoreData>,
    /// Whether the engine meters fuel.
    fuel: bool,
    limits: crate::Limits,
    poisoned: bool,
    instance: Option<wasmtime::component::Instance>,
}

impl Instance {
    fn base(&mut self, indices: &base::BaseIndices) -> Result<base::Base> {
        let instance = self.instance.as_ref().expect("instantiated");
        indices
            .load(&mut self.store, instance)
            .map_err(|e| self.protocol(Call::Spec, format!("{e:#}")))
    }

    fn protocol(&self, call: Call, message: String) -> Error {
        Error::Protocol {
            connector: self.connector.to_string(),
            call,
            message,
        }
    }

    /// Arm the fuel and the deadline for one call, clearing what the last
    /// call recorded.
    fn begin(&mut self, _call: Call) -> Result<()> {
        if self.poisoned {
            return Err(Error::Poisoned {
                connector: self.connector.to_string(),
            });
        }
        if self.fuel {
            self.store
                .set_fuel(self.limits.fuel)
                .map_err(|e| Error::Engine(e.to_string()))?;
        }
        let data = self.store.data_mut();
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
            let limits = self.limits;
            let err = classify(&self.connector, call, self.store.data_mut(), &limits, e);
            tracing::debug!(connector = %self.connector, %call, "instance discarded: {err}");
            err
        })
    }

    /// [`Self::finish`] for calls that return `result<T, connector-error>`.
    fn finish_value<T>(
        &mut self,
        call: Call,
        result: wasmtime::Result<Result<T, bindings::t::ConnectorError>>,
    ) -> Result<T> {
        let redactor = self.store.data().redactor.clone();
        self.finish(call, result)?.map_err(|e| {
            let mut error = bindings::error_in(e);
            error.message = redactor.scrub(&error.message);
            Error::Connector {
                connector: self.connector.to_string(),
                call,
                error,
            }
        })
    }
}

/// A source's open reader.
pub struct SourceReader {
    inst: Instance,
    exports: source::SourceConnector,
    reader: Option<ResourceAny>,
}

impl std::fmt::Debug for SourceReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceReader")
            .field("connector", &self.inst.connector)
            .finish()
    }
}

impl SourceReader {
    /// The connector's name.
    pub fn connector(&self) -> &str {
        &self.inst.connector
    }

    /// The next messages, or `None` once every stream is done.
    pub async fn next(&mut self) -> Result<Option<Vec<Message>>> {
        let reader = self.reader.ok_or_else(|| Error::Poisoned {
            connector: self.inst.connector.to_string(),
        })?;
        self.inst.begin(Call::Next)?;
        let r = deadline(
            self.inst.limits,
            self.exports
                .sluice_connector_source()
                .reader()
                .call_next(&mut self.inst.store, reader),
        )
        .await;
        let Some(messages) = self.inst.finish_value(Call::Next, r)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(messages.len());
        let max_bytes = self.inst.limits.batch_bytes();
        for m in messages {
            match &m {
                bindings::t::Message::Records(b) if b.data.len() > max_bytes => {
                    self.inst.poisoned = true;
                    return Err(Error::Limit {
                        connector: self.inst.connector.to_string(),
                        call: Call::Next,
                        limit: crate::Limit::Batch {
                            max_bytes,
                            bytes: b.data.len(),
                        },
                    });
                }
                bindings::t::Message::State(st)
                    if self.inst.store.data().redactor.contains_secret(&st.state) =>
                {
                    self.inst.poisoned = true;
                    return Err(self.inst.protocol(
                        Call::Next,
                        format!(
                            "the checkpoint of stream `{}` contains the value of a secret config field; it is not persisted",
                            st.stream
                        ),
                    ));
                }
                _ => {}
            }
            let mut m =
                bindings::message_in(m).map_err(|msg| self.inst.protocol(Call::Next, msg))?;
            if let Message::StreamError(e) = &mut m {
                e.message = self.inst.store.data().redactor.scrub(&e.message);
            }
            out.push(m);
        }
        Ok(Some(out))
    }

    /// Drop the reader resource inside the guest.
    pub async fn close(mut self) -> Result<()> {
        if let Some(reader) = self.reader.take()
            && !self.inst.poisoned
        {
            self.inst.begin(Call::Next)?;
            let r = deadline(
                self.inst.limits,
                reader.resource_drop_async(&mut self.inst.store),
            )
            .await;
            self.inst.finish(Call::Next, r)?;
        }
        Ok(())
    }
}

/// A destination's open writer.
pub struct DestinationWriter {
    inst: Instance,
    exports: destination::DestinationConnector,
    writer: Option<ResourceAny>,
}

impl std::fmt::Debug for DestinationWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DestinationWriter")
            .field("connector", &self.inst.connector)
            .finish()
    }
}

impl DestinationWriter {
    fn writer(&self) -> Result<ResourceAny> {
        self.writer.ok_or_else(|| Error::Poisoned {
            connector: self.inst.connector.to_string(),
        })
    }

    /// Apply one batch.
    pub async fn write(&mut self, batch: Batch, op: Operation) -> Result<()> {
        let writer = self.writer()?;
        self.inst.begin(Call::WriteBatch)?;
        let r = deadline(
            self.inst.limits,
            self.exports
                .sluice_connector_destination()
                .writer()
                .call_write(
                    &mut self.inst.store,
                    writer,
                    &bindings::batch_out(batch),
                    bindings::operation_out(op),
                ),
        )
        .await;
        self.inst.finish_value(Call::WriteBatch, r)
    }

    /// Make everything written so far durable.
    pub async fn commit(&mut self) -> Result<()> {
        let writer = self.writer()?;
        self.inst.begin(Call::Commit)?;
        let r = deadline(
            self.inst.limits,
            self.exports
                .sluice_connector_destination()
                .writer()
                .call_commit(&mut self.inst.store, writer),
        )
        .await;
        self.inst.finish_value(Call::Commit, r)
    }

    /// Drop the writer resource inside the guest (without committing).
    pub async fn close(mut self) -> Result<()> {
        if let Some(writer) = self.writer.take()
            && !self.inst.poisoned
        {
            self.inst.begin(Call::Commit)?;
            let r = deadline(
                self.inst.limits,
                writer.resource_drop_async(&mut self.inst.store),
            )
            .await;
            self.inst.finish(Call::Commit, r)?;
        }
        Ok(())
    }
}
