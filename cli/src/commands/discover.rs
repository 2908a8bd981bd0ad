//! `discover`: the streams a connector offers; with `--destination` or
//! `--pipeline`, each stream as that destination will receive it (after
//! field selection, the pipeline's transforms and the destination's
//! reserved-key renames).

use super::{require_role, select_streams};
use crate::args::{self, Format, SandboxArgs};
use crate::ui;
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use sluice_interop::{airbyte, catalog};
use sluice_protocol::schema::Schema;
use sluice_protocol::{Catalog, ConfiguredCatalog, ConfiguredStream, Role};
use sluice_runtime::pipeline::{Pipeline, StreamShape};
use sluice_runtime::{Registry, Runtime, Sandbox};
use sluice_transform::reserved;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `discover`.
#[derive(Args)]
pub struct DiscoverArgs {
    /// The connector component (.wasm); not with --pipeline.
    #[arg(required_unless_present = "pipeline")]
    component: Option<PathBuf>,
    /// The connector's config: a JSON or TOML file.
    #[arg(long, short)]
    config: Option<PathBuf>,
    #[command(flatten)]
    sandbox: SandboxArgs,
    /// Show each stream as this destination component (.wasm) receives
    /// it: after field selection and its reserved-key renames.
    #[arg(long, value_name = "DEST.wasm")]
    destination: Option<PathBuf>,
    /// Only this stream.
    #[arg(long)]
    stream: Option<String>,
    /// Only these fields (comma-separated).
    #[arg(long, value_delimiter = ',')]
    fields: Vec<String>,
    /// Show a pipeline file's streams as its destination receives them:
    /// after its field selection, its transforms and the destination's
    /// reserved-key renames. The file's grants and configs are used.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["component", "config", "destination", "stream", "fields"]
    )]
    pipeline: Option<PathBuf>,
    /// Print JSON: the catalog, with the schemas the destination receives.
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// `singer`: print a Singer catalog, as a tap's --discover does (with
    /// --stream, --fields or --pipeline, the chosen streams and fields are
    /// marked `selected`); `airbyte`: an Airbyte CATALOG message.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,
}

/// A catalog as a destination receives it.
struct Received {
    /// The streams, their schemas rewritten as the destination gets them.
    catalog: Catalog,
    /// The destination's name, when there is one.
    destination: Option<String>,
    /// The streams chosen, when flags or a pipeline chose some.
    chosen: Option<ConfiguredCatalog>,
    /// Per stream, the `(from, to)` renames of its reserved-key fields.
    renames: BTreeMap<String, Vec<(String, String)>>,
}

/// `sluice discover`.
pub async fn discover(rt: &Runtime, a: DiscoverArgs) -> Result<ExitCode> {
    let received = match (&a.pipeline, &a.component) {
        (Some(file), _) => from_pipeline(rt, file).await?,
        (None, Some(component)) => from_connectors(rt, component, &a).await?,
        (None, None) => bail!("discover: name a connector component or give --pipeline"),
    };
    match a.format {
        Format::Singer => {
            let catalog = catalog::to_singer(&received.catalog, received.chosen.as_ref());
            println!("{}", serde_json::to_string_pretty(&catalog)?);
            return Ok(ExitCode::SUCCESS);
        }
        Format::Airbyte => {
            let catalog = catalog::to_airbyte(&received.catalog);
            println!("{}", airbyte::catalog_message(&catalog));
            return Ok(ExitCode::SUCCESS);
        }
        Format::Jsonl => {}
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&received.catalog)?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(name) = &received.destination {
        println!("streams as destination `{name}` receives them:");
    }
    ui::print_catalog(&received.catalog, &received.renames);
    Ok(ExitCode::SUCCESS)
}

/// The streams `component` offers; only those `--stream`/`--fields`
/// select, as `--destination` receives them, when those flags are given.
async fn from_connectors(rt: &Runtime, component: &Path, a: &DiscoverArgs) -> Result<Received> {
    let connector = rt.load(component).await?;
    let config = args::read_config(a.config.as_deref())?;
    let catalog = connector.discover(&a.sandbox.sandbox()?, &config).await?;
    if a.destination.is_none() && a.stream.is_none() && a.fields.is_empty() {
        return Ok(Received {
            catalog,
            destination: None,
            chosen: None,
            renames: BTreeMap::new(),
        });
    }
    let configured = select_streams(&catalog, a.stream.as_deref(), &a.fields, None)?;
    let (reserved, destination) = match &a.destination {
        Some(path) => {
            let dest = rt.load(path).await?;
            require_role(&dest, Role::Destination)?;
            let spec = dest.spec(&Sandbox::default()).await?;
            (spec.reserved_keys, Some(dest.name().to_string()))
        }
        None => (Vec::new(), None),
    };
    let shapes: Vec<StreamShape> = configured
        .streams
        .iter()
        .map(|s| StreamShape {
            stream: s.name.clone(),
            reserved: reserved.clone(),
            primary_key: s.primary_key.clone(),
            discovered: typed(s),
            ..StreamShape::default()
        })
        .collect();
    received(&catalog, &configured, &shapes, destination).await
}

/// A pipeline file's streams, through the runtime's own preparation:
/// the same selection, transforms and renames a sync applies.
async fn from_pipeline(rt: &Runtime, file: &Path) -> Result<Received> {
    let pipeline = Pipeline::from_file(file)?;
    let prepared = pipeline.prepare(rt).await?;
    let destination = Some(prepared.destination.name().to_string());
    received(
        &prepared.discovered,
        &prepared.catalog,
        &prepared.shapes,
        destination,
    )
    .await
}

/// The typed form of a configured stream's JSON Schema; `None` (with a
/// warning) when it has none, as the run would treat it.
fn typed(stream: &ConfiguredStream) -> Option<Schema> {
    match Schema::from_json_schema(&stream.schema) {
        Ok(schema) => Some(schema),
        Err(e) => {
            tracing::warn!(
                "stream `{}`: the discovered schema has no typed form ({e}); \
                 renames are decided when its first batch arrives",
                stream.name
            );
            None
        }
    }
}

/// The configured streams of `catalog`, each schema rewritten by its shape.
async fn received(
    catalog: &Catalog,
    configured: &ConfiguredCatalog,
    shapes: &[StreamShape],
    destination: Option<String>,
) -> Result<Received> {
    let mut out = Received {
        catalog: Catalog::default(),
        destination,
        chosen: Some(configured.clone()),
        renames: BTreeMap::new(),
    };
    for stream in &configured.streams {
        let mut info = catalog
            .stream(&stream.name)
            .cloned()
            .with_context(|| format!("the source no longer offers stream `{}`", stream.name))?;
        info.schema = stream.schema.clone();
        if let Some(shape) = shapes.iter().find(|s| s.stream == stream.name) {
            let (schema, renames) = receive(shape).await?;
            if let Some(schema) = schema.filter(|s| Some(s) != shape.discovered.as_ref()) {
                info.schema = schema.to_json_schema();
            }
            out.renames.insert(stream.name.clone(), renames);
        }
        out.catalog.streams.push(info);
    }
    Ok(out)
}

/// The schema `shape` tells its destination for the discovered schema,
/// and the renames the destination's reserved keys make on the way.
async fn receive(shape: &StreamShape) -> Result<(Option<Schema>, Vec<(String, String)>)> {
    let registry = Registry::memory();
    let fail =
        |e: sluice_runtime::pipeline::ShapeError| anyhow!("stream `{}`: {}", shape.stream, e.0);
    let unreserved = StreamShape {
        reserved: Vec::new(),
        ..shape.clone()
    };
    let before = unreserved.check(&registry).await.map_err(fail)?;
    let renames = before
        .as_ref()
        .map(|s| reserved::renames(s, &shape.reserved, &shape.primary_key))
        .unwrap_or_default();
    let schema = shape.check(&registry).await.map_err(fail)?;
    Ok((schema, renames))
}
