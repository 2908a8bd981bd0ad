//! Before a run: load both connectors (or prepare their processes), check
//! their roles and configs, and configure the catalog; nothing is read or
//! written.

use super::Pipeline;
use super::chain::ComponentStep;
use super::reshape::StreamShape;
use crate::connector::Connector;
use crate::engine::Runtime;
use crate::error::{Error, Result};
use crate::process::Process;
use crate::registry::Registry;
use sluice_manifest::{Endpoint, Sandbox};
use sluice_protocol::{Catalog, ConfiguredCatalog, Role, Spec};
use sluice_schema::Schema;
use sluice_transform::Step;
use std::collections::BTreeMap;

/// One end of a prepared pipeline.
#[derive(Debug, Clone)]
pub enum Side {
    /// A sandboxed component.
    Component(Connector),
    /// A Singer or Airbyte program, outside the sandbox.
    Process(Process),
}

impl Side {
    /// The connector's or program's name.
    pub fn name(&self) -> &str {
        match self {
            Side::Component(c) => c.name(),
            Side::Process(p) => p.name(),
        }
    }
}

/// Connectors and catalog of a pipeline, ready to run.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The source.
    pub source: Side,
    /// The destination.
    pub destination: Side,
    /// Every stream the source offers.
    pub discovered: Catalog,
    /// The streams to sync.
    pub catalog: ConfiguredCatalog,
    /// What each stream's batches go through between check and write.
    pub shapes: Vec<StreamShape>,
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
        let (destination, dst_spec) = self.prepare_destination(destination).await?;
        let (source, discovered) = self.prepare_source(source).await?;
        let configured = self.configure(&discovered, &dst_spec)?;
        let shapes = self.shapes(runtime, &configured, &dst_spec).await?;
        Ok(Prepared {
            source,
            destination,
            discovered,
            catalog: configured,
            shapes,
        })
    }

    /// The directory a process endpoint runs in: the pipeline file's.
    fn process_dir(&self) -> &std::path::Path {
        if self.dir.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            &self.dir
        }
    }

    /// The destination's spec, its config checked.
    async fn prepare_destination(&self, loaded: Option<Connector>) -> Result<(Side, Spec)> {
        let Some(destination) = loaded else {
            warn_outside(&self.destination, "destination");
            let (p, spec) = Process::destination(&self.destination, self.process_dir())
                .await
                .map_err(|e| self.at("destination", e))?;
            return Ok((Side::Process(p), spec));
        };
        let dst_box = self.destination.sandbox();
        let dst_spec = destination
            .spec(&dst_box)
            .await
            .map_err(|e| self.at("destination.component", e))?;
        destination
            .validate_config(&dst_box, &self.destination.config)
            .await
            .map_err(|e| self.at("destination.config", e))?;
        Ok((Side::Component(destination), dst_spec))
    }

    /// The source's streams, its config checked.
    async fn prepare_source(&self, loaded: Option<Connector>) -> Result<(Side, Catalog)> {
        let Some(source) = loaded else {
            warn_outside(&self.source, "source");
            let (p, catalog) = Process::source(&self.source, self.process_dir())
                .await
                .map_err(|e| self.at("source", e))?;
            return Ok((Side::Process(p), catalog));
        };
        let src_box = self.source.sandbox();
        source
            .validate_config(&src_box, &self.source.config)
            .await
            .map_err(|e| self.at("source.config", e))?;
        let catalog = source
            .discover(&src_box, &self.source.config)
            .await
            .map_err(|e| self.at("source", e))?;
        Ok((Side::Component(source), catalog))
    }

    /// Each configured stream's policy, transforms (with their components
    /// loaded) and reserved keys. The transforms are checked against the
    /// discovered schema, so one that names an unknown field fails here,
    /// before anything runs.
    pub async fn shapes(
        &self,
        runtime: &Runtime,
        catalog: &ConfiguredCatalog,
        destination: &Spec,
    ) -> Result<Vec<StreamShape>> {
        let mut shapes = Vec::with_capacity(catalog.streams.len());
        for stream in &catalog.streams {
            let selection = self.streams.iter().find(|s| s.name == stream.name);
            let steps = selection.map(|s| s.transforms.clone()).unwrap_or_default();
            let policy = selection
                .and_then(|s| s.schema)
                .map(|o| o.over(&self.schema))
                .unwrap_or(self.schema);
            let shape = StreamShape {
                stream: stream.name.clone(),
                policy,
                components: self.components(runtime, &stream.name, &steps).await?,
                steps,
                reserved: destination.reserved_keys.clone(),
                primary_key: stream.primary_key.clone(),
                discovered: Schema::from_json_schema(&stream.schema).ok(),
                known: None,
            };
            shape
                .check(&Registry::memory())
                .await
                .map_err(|e| Error::Pipeline {
                    file: self.file.clone(),
                    message: e.0,
                })?;
            shapes.push(shape);
        }
        Ok(shapes)
    }

    /// Load the `component` steps of a stream's transforms.
    async fn components(
        &self,
        runtime: &Runtime,
        stream: &str,
        steps: &[Step],
    ) -> Result<BTreeMap<usize, ComponentStep>> {
        let mut out = BTreeMap::new();
        for (i, step) in steps.iter().enumerate() {
            let Step::Component {
                path,
                config,
                limits,
            } = step
            else {
                continue;
            };
            let key = format!("streams.{stream}.transforms[{}].component", i + 1);
            let connector = runtime.load(path).await.map_err(|e| self.at(&key, e))?;
            if !connector.is_transform() {
                let e = Error::NotAConnector {
                    path: connector.path().to_path_buf(),
                    message: "it does not export `sluice:connector/transform@0.2.0`".into(),
                };
                return Err(self.at(&key, e));
            }
            let limits = match limits {
                Some(v) => serde_json::from_value(v.clone()).map_err(|e| Error::Pipeline {
                    file: self.file.clone(),
                    message: format!("`{key}.limits`: {e}"),
                })?,
                None => Default::default(),
            };
            let sandbox = Sandbox {
                grants: Default::default(),
                limits,
            };
            let config = config.clone().unwrap_or_else(|| serde_json::json!({}));
            out.insert(
                i + 1,
                ComponentStep {
                    connector,
                    config,
                    sandbox,
                },
            );
        }
        Ok(out)
    }

    /// Load the component of `endpoint` (at `key`), which must be a `role`;
    /// `None` for a process.
    async fn load(
        &self,
        runtime: &Runtime,
        key: &str,
        endpoint: &Endpoint,
        role: Role,
    ) -> Result<Option<Connector>> {
        if endpoint.is_process() {
            return Ok(None);
        }
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
        Ok(Some(c))
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

/// Say once per run that `endpoint` runs outside the sandbox.
fn warn_outside(endpoint: &Endpoint, which: &str) {
    let program = endpoint.command.first().map(String::as_str).unwrap_or("");
    tracing::warn!(
        "{which} `{program}` runs as a process outside the sandbox (kind = \"process\"): \
         it can read, write and connect to whatever sluice can"
    );
}
