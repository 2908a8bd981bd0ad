//! A loaded connector component and typed calls into it.
//!
//! Each operation runs in a fresh [`Instance`] built from the caller's
//! [`Sandbox`]; every call gets its fuel and deadline, and a trap discards
//! the instance (later calls return [`Error::Poisoned`]).

mod reader;
mod writer;

use crate::bindings::{self, base, destination, source};
use crate::engine::{Compiled, Runtime};
use crate::error::{Call, Error, Result};
use crate::host::HostState;
use crate::instance::Instance;
use crate::redact::Redactor;
pub use reader::SourceReader;
use serde_json::Value;
use sluice_manifest::Sandbox;
use sluice_protocol::{Catalog, ConfiguredCatalog, Role, Spec, StreamState};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::OnceCell;
use wasmtime::component::InstancePre;
pub use writer::DestinationWriter;

impl Runtime {
    /// Load the component at `path`, compiling it on first use and mapping
    /// the cached artifact afterwards.
    pub async fn load(&self, path: impl AsRef<Path>) -> Result<Connector> {
        let path = path.as_ref();
        let name = path
            .file_stem()
            .map(|s| {
                s.to_string_lossy()
                    .trim_start_matches("sluice_")
                    .replace('_', "-")
            })
            .unwrap_or_else(|| "connector".into());
        let compiled = self.compile(path).await?;
        Connector::new(self.clone(), name, compiled)
    }
}

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
    pre: InstancePre<HostState>,
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
    fn new(runtime: Runtime, name: String, compiled: Compiled) -> Result<Self> {
        let Compiled {
            path,
            component,
            hash,
        } = compiled;
        let engine = runtime.engine();
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
        let pre = runtime.linker().instantiate_pre(&component).map_err(|e| Error::NotAConnector {
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
        Instance::new(
            &self.inner.runtime,
            &self.inner.pre,
            name,
            sandbox,
            redactor,
        )
        .await
    }

    /// The connector's spec (asked once, then remembered).
    pub async fn spec(&self, sandbox: &Sandbox) -> Result<Spec> {
        self.inner
            .spec
            .get_or_try_init(|| async {
                let mut inst = self.instance(sandbox, Redactor::default()).await?;
                let base = inst.exports(Call::Spec, |store, i| self.inner.base.load(store, i))?;
                let spec = inst
                    .call(Call::Spec, |store| {
                        Box::pin(
                            async move { base.sluice_connector_connector().call_spec(store).await },
                        )
                    })
                    .await?;
                bindings::spec_in(spec).map_err(|e| inst.invalid_json(Call::Spec, e))
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
        let base = inst.exports(Call::Check, |store, i| self.inner.base.load(store, i))?;
        let config = config.to_string();
        inst.call_value(Call::Check, |store| {
            Box::pin(async move {
                base.sluice_connector_connector()
                    .call_check(store, &config)
                    .await
            })
        })
        .await
    }

    /// `discover(config)`: the streams the connector offers.
    pub async fn discover(&self, sandbox: &Sandbox, config: &Value) -> Result<Catalog> {
        let (config, mut inst) = self.configured_instance(sandbox, config).await?;
        let base = inst.exports(Call::Discover, |store, i| self.inner.base.load(store, i))?;
        let config = config.to_string();
        let catalog = inst
            .call_value(Call::Discover, |store| {
                Box::pin(async move {
                    base.sluice_connector_connector()
                        .call_discover(store, &config)
                        .await
                })
            })
            .await?;
        bindings::catalog_in(catalog).map_err(|e| inst.invalid_json(Call::Discover, e))
    }

    /// The error for a call this component's role does not offer.
    fn wrong_role(&self, expected: Role) -> Error {
        Error::WrongRole {
            connector: self.name().to_string(),
            path: self.inner.path.clone(),
            expected,
        }
    }

    /// Open a reader over `catalog`, resuming from `state`.
    pub async fn read(
        &self,
        sandbox: &Sandbox,
        config: &Value,
        catalog: &ConfiguredCatalog,
        state: &[StreamState],
    ) -> Result<SourceReader> {
        let indices = self
            .inner
            .source
            .as_ref()
            .ok_or_else(|| self.wrong_role(Role::Source))?;
        let (config, mut inst) = self.configured_instance(sandbox, config).await?;
        let exports = Arc::new(inst.exports(Call::Read, |store, i| indices.load(store, i))?);
        let state: Vec<bindings::t::StreamState> = state
            .iter()
            .map(|s| bindings::t::StreamState {
                stream: s.stream.clone(),
                state: s.state.to_string(),
            })
            .collect();
        let (config, catalog) = (
            config.to_string(),
            bindings::configured_catalog_out(catalog),
        );
        let source = exports.clone();
        let reader = inst
            .call_value(Call::Read, |store| {
                Box::pin(async move {
                    source
                        .sluice_connector_source()
                        .call_read(store, &config, &catalog, &state)
                        .await
                })
            })
            .await?;
        Ok(SourceReader::new(inst, exports, reader))
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
            .ok_or_else(|| self.wrong_role(Role::Destination))?;
        let (config, mut inst) = self.configured_instance(sandbox, config).await?;
        let exports = Arc::new(inst.exports(Call::Write, |store, i| indices.load(store, i))?);
        let (config, catalog) = (
            config.to_string(),
            bindings::configured_catalog_out(catalog),
        );
        let destination = exports.clone();
        let writer = inst
            .call_value(Call::Write, |store| {
                Box::pin(async move {
                    destination
                        .sluice_connector_destination()
                        .call_write(store, &config, &catalog)
                        .await
                })
            })
            .await?;
        Ok(DestinationWriter::new(inst, exports, writer))
    }
}

/// The `sluice:connector` version a component uses, when it is not ours.
fn foreign_contract(names: &[String]) -> Option<String> {
    names.iter().find_map(|name| {
        let version = name.strip_prefix("sluice:connector/")?.split_once('@')?.1;
        (version != sluice_protocol::CONTRACT_VERSION).then(|| version.to_string())
    })
}
