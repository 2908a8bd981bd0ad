//! Before a run: load both connectors, check their roles and configs, and
//! configure the catalog; nothing is read or written.

use super::Pipeline;
use crate::connector::Connector;
use crate::engine::Runtime;
use crate::error::{Error, Result};
use sluice_manifest::Endpoint;
use sluice_protocol::{ConfiguredCatalog, Role};

/// Connectors and catalog of a pipeline, ready to run.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The source.
    pub source: Connector,
    /// The destination.
    pub destination: Connector,
    /// The streams to sync.
    pub catalog: ConfiguredCatalog,
}

impl Pipeline {
    /// Load both connectors, check their roles and configs, and resolve the
    /// catalog; nothing is read or written. Errors name the pipeline file
    /// and the key they are about (`source.component`, `destination.config`).
    pub async fn prepare(&self, runtime: &Runtime) -> Result<Prepared> {
        let (source, destination) = tokio::try_join!(
            self.load(runtime, "source.component", &self.source, Role::Source),
            self.load(
                runtime,
                "destination.component",
                &self.destination,
                Role::Destination
            ),
        )?;
        let (src_box, dst_box) = (self.source.sandbox(), self.destination.sandbox());
        let dst_spec = destination
            .spec(&dst_box)
            .await
            .map_err(|e| self.at("destination.component", e))?;
        destination
            .validate_config(&dst_box, &self.destination.config)
            .await
            .map_err(|e| self.at("destination.config", e))?;
        source
            .validate_config(&src_box, &self.source.config)
            .await
            .map_err(|e| self.at("source.config", e))?;
        let catalog = source
            .discover(&src_box, &self.source.config)
            .await
            .map_err(|e| self.at("source", e))?;
        let configured = self.configure(&catalog, &dst_spec)?;
        Ok(Prepared {
            source,
            destination,
            catalog: configured,
        })
    }

    /// Load the component of `endpoint` (at `key`), which must be a `role`.
    async fn load(
        &self,
        runtime: &Runtime,
        key: &str,
        endpoint: &Endpoint,
        role: Role,
    ) -> Result<Connector> {
        let c = runtime
            .load(&endpoint.component)
            .await
            .map_err(|e| self.at(key, e))?;
        if !c.roles().contains(&role) {
            let e = Error::WrongRole {
                connector: c.name().into(),
                path: c.path().to_path_buf(),
                expected: role,
            };
            return Err(self.at(key, e));
        }
        Ok(c)
    }

    /// `e`, as about `key` of the pipeline file.
    fn at(&self, key: &str, e: Error) -> Error {
        Error::InPipeline {
            file: self.file.clone(),
            key: key.to_string(),
            source: Box::new(e),
        }
    }
}
