//! Helpers shared by the end-to-end tests.

use sluice_artifacts as artifacts;
use sluice_runtime::pipeline::Pipeline;
use sluice_runtime::protocol::Catalog;
use sluice_runtime::{Runtime, Sandbox};
use std::path::Path;

pub use sluice_test_support::PipelineToml;

/// A runtime whose compile cache is shared by every test process, so each
/// component compiles once per build.
pub fn runtime() -> Runtime {
    Runtime::builder()
        .cache_dir(Some(sluice_test_support::cache_dir()))
        .build()
        .expect("runtime")
}

/// `toml` as the pipeline file `dir/file` named `name`, its granted
/// directories created.
pub fn pipeline(toml: &PipelineToml, dir: &Path, file: &str, name: &str) -> Pipeline {
    toml.create_dirs(dir);
    Pipeline::from_toml(&toml.to_string(), dir, file, name).unwrap()
}

/// source-faker's catalog, discovered with an empty config in the default
/// sandbox.
pub async fn faker_catalog(rt: &Runtime) -> Catalog {
    let faker = rt.load(artifacts::SOURCE_FAKER).await.unwrap();
    faker
        .discover(&Sandbox::default(), &serde_json::json!({}))
        .await
        .unwrap()
}
