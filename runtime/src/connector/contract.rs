//! Which contract version a component speaks, and the calls of
//! `connector` (spec, check, discover) and the opening of readers and
//! writers for each version.

use super::reader::ReaderExports;
use super::writer::WriterExports;
use crate::bindings::{v0_1, v0_2};
use crate::error::{Call, Result};
use crate::host::HostState;
use crate::instance::Instance;
use sluice_protocol::{self as p, Catalog, ConfiguredCatalog, Spec, StreamState};
use std::sync::Arc;
use wasmtime::component::{InstancePre, ResourceAny};

/// Run `$body` with `$base` bound to the version's base indices and `$v`
/// naming its bindings module.
macro_rules! each_version {
    ($self:expr, $base:ident, $v:ident => $body:block) => {
        match $self {
            Contract::V0_1 { base: $base, .. } => {
                #[allow(unused_imports)]
                use v0_1 as $v;
                $body
            }
            Contract::V0_2 { base: $base, .. } => {
                #[allow(unused_imports)]
                use v0_2 as $v;
                $body
            }
        }
    };
}

/// Run `$body` with `$indices` bound to the version's indices of `$role`
/// (an `Option`) and `$v` naming its bindings module.
macro_rules! each_role {
    ($self:expr, $role:ident, $indices:ident, $v:ident => $body:block) => {
        match $self {
            Contract::V0_1 {
                $role: $indices, ..
            } => {
                use v0_1 as $v;
                $body
            }
            Contract::V0_2 {
                $role: $indices, ..
            } => {
                use v0_2 as $v;
                $body
            }
        }
    };
}

/// The exports of a component, by the contract version it was built on.
pub(super) enum Contract {
    /// `sluice:connector@0.1.0`.
    V0_1 {
        base: v0_1::base::BaseIndices,
        source: Option<v0_1::source::SourceConnectorIndices>,
        destination: Option<v0_1::destination::DestinationConnectorIndices>,
    },
    /// `sluice:connector@0.2.0`.
    V0_2 {
        base: v0_2::base::BaseIndices,
        source: Option<v0_2::source::SourceConnectorIndices>,
        destination: Option<v0_2::destination::DestinationConnectorIndices>,
        transform: Option<v0_2::transform::TransformConnectorIndices>,
    },
}

impl Contract {
    /// The exports of `pre`, for the contract `version` it names.
    pub(super) fn new(pre: &InstancePre<HostState>, version: &str) -> wasmtime::Result<Contract> {
        Ok(if version == "0.1.0" {
            Contract::V0_1 {
                base: v0_1::base::BaseIndices::new(pre)?,
                source: v0_1::source::SourceConnectorIndices::new(pre).ok(),
                destination: v0_1::destination::DestinationConnectorIndices::new(pre).ok(),
            }
        } else {
            Contract::V0_2 {
                base: v0_2::base::BaseIndices::new(pre)?,
                source: v0_2::source::SourceConnectorIndices::new(pre).ok(),
                destination: v0_2::destination::DestinationConnectorIndices::new(pre).ok(),
                transform: v0_2::transform::TransformConnectorIndices::new(pre).ok(),
            }
        })
    }

    /// The contract version.
    pub(super) fn version(&self) -> &'static str {
        match self {
            Contract::V0_1 { .. } => "0.1.0",
            Contract::V0_2 { .. } => "0.2.0",
        }
    }

    pub(super) fn is_source(&self) -> bool {
        match self {
            Contract::V0_1 { source, .. } => source.is_some(),
            Contract::V0_2 { source, .. } => source.is_some(),
        }
    }

    pub(super) fn is_transform(&self) -> bool {
        matches!(
            self,
            Contract::V0_2 {
                transform: Some(_),
                ..
            }
        )
    }

    /// The transform exports, when the component is a transform.
    pub(super) fn transform(&self) -> Option<&v0_2::transform::TransformConnectorIndices> {
        match self {
            Contract::V0_2 { transform, .. } => transform.as_ref(),
            Contract::V0_1 { .. } => None,
        }
    }

    pub(super) fn is_destination(&self) -> bool {
        match self {
            Contract::V0_1 { destination, .. } => destination.is_some(),
            Contract::V0_2 { destination, .. } => destination.is_some(),
        }
    }

    pub(super) async fn spec(&self, inst: &mut Instance) -> Result<Spec> {
        each_version!(self, base, v => {
            let base = inst.exports(Call::Spec, |store, i| base.load(store, i))?;
            let spec = inst
                .call(Call::Spec, |store| {
                    Box::pin(async move { base.sluice_connector_connector().call_spec(store).await })
                })
                .await?;
            v::spec_in(spec).map_err(|e| inst.invalid_json(Call::Spec, e))
        })
    }

    pub(super) async fn check(&self, inst: &mut Instance, config: String) -> Result<()> {
        each_version!(self, base, _v => {
            let base = inst.exports(Call::Check, |store, i| base.load(store, i))?;
            inst.call_value(Call::Check, |store| {
                Box::pin(async move {
                    base.sluice_connector_connector().call_check(store, &config).await
                })
            })
            .await
        })
    }

    pub(super) async fn discover(&self, inst: &mut Instance, config: String) -> Result<Catalog> {
        each_version!(self, base, v => {
            let base = inst.exports(Call::Discover, |store, i| base.load(store, i))?;
            let catalog = inst
                .call_value(Call::Discover, |store| {
                    Box::pin(async move {
                        base.sluice_connector_connector().call_discover(store, &config).await
                    })
                })
                .await?;
            v::catalog_in(catalog).map_err(|e| inst.invalid_json(Call::Discover, e))
        })
    }

    /// Call `read`; a component without a source is a protocol error.
    pub(super) async fn read(
        &self,
        inst: &mut Instance,
        config: String,
        catalog: &ConfiguredCatalog,
        state: &[StreamState],
    ) -> Result<(ReaderExports, ResourceAny)> {
        each_role!(self, source, indices, v => {
            let Some(indices) = indices else {
                return Err(inst.protocol(Call::Read, "the component exports no source".into()));
            };
            let exports = Arc::new(inst.exports(Call::Read, |s, i| indices.load(s, i))?);
            let (catalog, state) = (v::configured_catalog_out(catalog), v::states_out(state));
            let source = exports.clone();
            let reader = inst
                .call_value(Call::Read, |store| {
                    Box::pin(async move {
                        let source = source.sluice_connector_source();
                        source.call_read(store, &config, &catalog, &state).await
                    })
                })
                .await?;
            Ok((exports.into(), reader))
        })
    }

    /// Call `write`; a component without a destination is a protocol error.
    pub(super) async fn write(
        &self,
        inst: &mut Instance,
        config: String,
        catalog: &ConfiguredCatalog,
    ) -> Result<(WriterExports, ResourceAny)> {
        each_role!(self, destination, indices, v => {
            let Some(indices) = indices else {
                return Err(inst.protocol(Call::Write, "the component exports no destination".into()));
            };
            let exports = Arc::new(inst.exports(Call::Write, |s, i| indices.load(s, i))?);
            let catalog = v::configured_catalog_out(catalog);
            let destination = exports.clone();
            let writer = inst
                .call_value(Call::Write, |store| {
                    Box::pin(async move {
                        let destination = destination.sluice_connector_destination();
                        destination.call_write(store, &config, &catalog).await
                    })
                })
                .await?;
            Ok((exports.into(), writer))
        })
    }
}

/// The `sluice:connector` versions a component names.
pub(super) fn versions(names: &[String]) -> Vec<String> {
    let mut found: Vec<String> = names
        .iter()
        .filter_map(|name| {
            Some(
                name.strip_prefix("sluice:connector/")?
                    .split_once('@')?
                    .1
                    .to_string(),
            )
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Whether this host speaks contract `version`.
pub(super) fn known(version: &str) -> bool {
    p::CONTRACT_VERSIONS.contains(&version)
}
