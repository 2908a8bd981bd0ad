//! Helpers shared by the end-to-end tests.

use serde_json::Value;
use sluice_artifacts as artifacts;
use sluice_runtime::pipeline::{Pipeline, RunOptions, RunSummary};
use sluice_runtime::protocol::Catalog;
use sluice_runtime::state::StateStore;
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

/// One run of `p` with its own state store, in a fresh [`runtime`].
pub async fn run(p: &Pipeline) -> RunSummary {
    let store = StateStore::open(&p.state_path()).unwrap();
    p.run(&runtime(), &store, &RunOptions::default())
        .await
        .unwrap()
}

/// [`run`], which must succeed.
pub async fn run_ok(p: &Pipeline) -> RunSummary {
    let s = run(p).await;
    assert!(s.succeeded(), "{s:#?}");
    s
}

/// The JSON lines of the file at `path` (which must exist).
pub fn jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
