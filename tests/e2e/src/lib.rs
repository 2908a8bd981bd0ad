//! Helpers shared by the end-to-end tests.

use sluice_runtime::Runtime;
use std::path::PathBuf;

/// A runtime whose compile cache is shared by every test process, so each
/// component compiles once per build.
pub fn runtime() -> Runtime {
    let cache = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-cache");
    Runtime::builder()
        .cache_dir(Some(cache))
        .build()
        .expect("runtime")
}
