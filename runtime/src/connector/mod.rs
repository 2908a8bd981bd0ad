//! A loaded connector component and typed calls into it.
//!
//! Each operation runs in a fresh [`Instance`] built from the caller's
//! [`Sandbox`]; every call gets its fuel and deadline, and a trap discards
//! the instance (later calls return [`Error::Poisoned`]). A sandbox that
//! sets `limits.fuel` runs on the runtime's metered engine, one that does
//! not on the unmetered one: a component is linked for each engine it is
//! used on.

mod contract;
mod reader;
mod transformer;
mod writer;

use crate::engine::{Compiled, Runtime};
use crate::error::{Call, Error, Result};
use crate::host::HostState;
use crate::instance::Instance;
use crate::redact::Redactor;
use crate::registry::Registry;
use contract::Contract;
pub use reader::SourceReader;
use serde_json::Value;
use sluice_manifest::Sandbox;
use sluice_protocol::{Catalog, ConfiguredCatalog, Role, Spec, StreamState};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::OnceCell;
pub use transformer::Transformer;
use wasmtime::component::{Component, InstancePre};
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
    name: String,
    path: PathBuf,
    hash: String,
    /// The contract version it speaks.
    version: String,
    /// Linked for the engine it was loaded on.
    linked: Linked,
    /// Linked for the runtime's other engine, on the first call whose
    /// fuel limit asks for it.
    other: OnceCell<Linked>,
    spec: OnceCell<Spec>,
}

/// A component linked for one engine: what its instances are made from.
struct Linked {
    runtime: Runtime,
    pre: InstancePre<HostState>,
    contract: Contract,
}

impl Linked {
    /// Link `component` (compiled by `runtime`'s engine), which speaks
    /// contract `version`.
    fn new(runtime: Runtime, component: &Component, path: &Path, version: &str) -> Result<Self> {
        let pre = runtime.linker().instantiate_pre(component).map_err(|e| Error::NotAConnector {
            path: path.to_path_buf(),
            message: format!(
                "it imports something the sandbox does not provide: {e:#} (connectors may import WASI 0.2 and the sluice:connector host and registry only)"
            ),
        })?;
        let contract = Contract::new(&pre, version).map_err(|e| Error::NotAConnector {
            path: path.to_path_buf(),
            message: format!("it does not export `sluice:connector/connector@{version}` ({e:#})"),
        })?;
        Ok(Linked {
            runtime,
            pre,
            contract,
        })
    }
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
        let version = contract_version(&path, &names)?;
        let linked = Linked::new(runtime, &component, &path, &version)?;
        Ok(Connector {
            inner: Arc::new(ConnectorInner {
                name,
                path,
                hash,
                version,
                linked,
                other: OnceCell::new(),
                spec: OnceCell::new(),
            }),
        })
    }

    /// The component linked for the engine `sandbox`'s fuel limit asks
    /// for: metered when `limits.fuel` is set, unmetered when it is 0.
    async fn linked(&self, sandbox: &Sandbox) -> Result<&Linked> {
        let inner = &self.inner;
        let metered = sandbox.limits.fuel > 0;
        if inner.linked.runtime.consumes_fuel() == metered {
            return Ok(&inner.linked);
        }
        inner
            .other
            .get_or_try_init(|| async {
                let runtime = inner.linked.runtime.metering(metered)?;
                let compiled = runtime.compile(&inner.path).await?;
                if compiled.hash != inner.hash {
                    return Err(Error::NotAConnector {
                        path: inner.path.clone(),
                        message: "the file changed since it was loaded; load it again".into(),
                    });
                }
                Linked::new(runtime, &compiled.component, &inner.path, &inner.version)
            })
            .await
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
        if self.inner.linked.contract.is_source() {
            roles.push(Role::Source);
        }
        if self.inner.linked.contract.is_destination() {
            roles.push(Role::Destination);
        }
        roles
    }

    /// The `sluice:connector` version the component was built against.
    pub fn contract_version(&self) -> &'static str {
        self.inner.linked.contract.version()
    }

    /// A fresh instance for `sandbox`, with the contract of the engine it
    /// runs on.
    async fn instance(
        &self,
        sandbox: &Sandbox,
        redactor: Redactor,
        registry: &Registry,
    ) -> Result<(Instance, &Contract)> {
        let name: Arc<str> = Arc::from(self.name());
        let linked = self.linked(sandbox).await?;
        let inst = Instance::new(
            &linked.runtime,
            &linked.pre,
            name,
            sandbox,
            redactor,
            registry.clone(),
        )
        .await?;
        Ok((inst, &linked.contract))
    }

    /// The connector's spec (asked once, then remembered).
    pub async fn spec(&self, sandbox: &Sandbox) -> Result<Spec> {
        self.inner
            .spec
            .get_or_try_init(|| async {
                let registry = Registry::memory();
                let (mut inst, contract) = self
                    .instance(sandbox, Redactor::default(), &registry)
                    .await?;
                contract.spec(&mut inst).await
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
        registry: &Registry,
    ) -> Result<(Value, Instance, &Contract)> {
        let config = self.validate_config(sandbox, config).await?;
        let spec = self.spec(sandbox).await?;
        let redactor = Redactor::new(sluice_protocol::config::secret_values(
            &spec.config_schema,
            &config,
        ));
        let (inst, contract) = self.instance(sandbox, redactor, registry).await?;
        Ok((config, inst, contract))
    }

    /// `check(config)`: validate the config, then ask the connector whether
    /// it can reach its system.
    pub async fn check(&self, sandbox: &Sandbox, config: &Value) -> Result<()> {
        let registry = Registry::memory();
        let (config, mut inst, contract) =
            self.configured_instance(sandbox, config, &registry).await?;
        contract.check(&mut inst, config.to_string()).await
    }

    /// `discover(config)`: the streams the connector offers.
    pub async fn discover(&self, sandbox: &Sandbox, config: &Value) -> Result<Catalog> {
        let registry = Registry::memory();
        let (config, mut inst, contract) =
            self.configured_instance(sandbox, config, &registry).await?;
        contract.discover(&mut inst, config.to_string()).await
    }

    /// The error for a call this component's role does not offer.
    fn wrong_role(&self, expected: Role) -> Error {
        Error::WrongRole {
            connector: self.name().to_string(),
            path: self.inner.path.clone(),
            expected,
        }
    }

    /// Open a reader over `catalog`, resuming from `state`; the source
    /// registers its schemas in `registry`.
    pub async fn read(
        &self,
        sandbox: &Sandbox,
        config: &Value,
        catalog: &ConfiguredCatalog,
        state: &[StreamState],
        registry: &Registry,
    ) -> Result<SourceReader> {
        if !self.inner.linked.contract.is_source() {
            return Err(self.wrong_role(Role::Source));
        }
        let (config, mut inst, contract) =
            self.configured_instance(sandbox, config, registry).await?;
        let (exports, reader) = contract
            .read(&mut inst, config.to_string(), catalog, state)
            .await?;
        Ok(SourceReader::new(inst, exports, reader))
    }

    /// Open a writer for `catalog`; the destination fetches schemas from
    /// `registry`.
    pub async fn write(
        &self,
        sandbox: &Sandbox,
        config: &Value,
        catalog: &ConfiguredCatalog,
        registry: &Registry,
    ) -> Result<DestinationWriter> {
        if !self.inner.linked.contract.is_destination() {
            return Err(self.wrong_role(Role::Destination));
        }
        let (config, mut inst, contract) =
            self.configured_instance(sandbox, config, registry).await?;
        let (exports, writer) = contract
            .write(&mut inst, config.to_string(), catalog)
            .await?;
        Ok(DestinationWriter::new(inst, exports, writer))
    }
}

/// The contract version a component is built on, from the
/// `sluice:connector` interfaces it imports and exports.
fn contract_version(path: &Path, names: &[String]) -> Result<String> {
    let versions = contract::versions(names);
    let speaks = sluice_protocol::CONTRACT_VERSIONS.join(" and ");
    if let Some(foreign) = versions.iter().find(|v| !contract::known(v)) {
        return Err(Error::NotAConnector {
            path: path.to_path_buf(),
            message: format!(
                "it was built against `sluice:connector@{foreign}`, and this sluice speaks `sluice:connector@{speaks}`; rebuild the connector against one of those (or use a sluice that speaks {foreign})"
            ),
        });
    }
    match versions.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::NotAConnector {
            path: path.to_path_buf(),
            message: format!(
                "it does not export `sluice:connector/connector` (this sluice speaks `sluice:connector@{speaks}`)"
            ),
        }),
        many => Err(Error::NotAConnector {
            path: path.to_path_buf(),
            message: format!(
                "it mixes contract versions {}; build it against one",
                many.join(", ")
            ),
        }),
    }
}
