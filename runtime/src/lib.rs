//! `sluice-runtime`: run sluice connectors as sandboxed WASI 0.2 components.
//!
//! - [`Runtime`] owns the wasmtime engine, the epoch ticker and the on-disk
//!   cache of precompiled components; [`Runtime::load`] gives a [`Connector`].
//! - [`Connector`] calls `spec`, `check`, `discover`, `read` and `write`, each
//!   in a fresh sandbox built from a [`Sandbox`] (grants and limits; deny by
//!   default). Traps and limit hits become [`Error`]s naming the connector,
//!   the call and the limit.
//! - [`pipeline`] runs source -> destination with state in a
//!   [`state::StateStore`], persisted only after the destination committed.
//!
//! Inside, the layers import downwards only: `connector` (typed calls) ->
//! `instance` (one store, the call helper, trap classification) -> `host`
//! (per-store host state, grants) and `engine` (wasmtime, compile cache).
//!
//! ```no_run
//! # async fn demo() -> Result<(), sluice_runtime::Error> {
//! use sluice_runtime::{Runtime, Sandbox, pipeline::Pipeline, state::StateStore};
//! let runtime = Runtime::new()?;
//! let pipeline = Pipeline::from_file("examples/faker-to-file.toml".as_ref())?;
//! let store = StateStore::open(&pipeline.state_path())?;
//! let summary = pipeline.run(&runtime, &store, &Default::default()).await?;
//! println!("{} records", summary.records());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod bindings;
pub mod connector;
pub mod engine;
mod error;
mod host;
mod instance;
pub mod metrics;
pub mod pipeline;
pub mod process;
mod redact;
pub mod registry;
pub mod scheduler;
/// What a connector run is granted and its limits (the pipeline file's
/// types, from `sluice-manifest`), and the redactor of its secrets.
pub mod sandbox {
    pub use crate::redact::Redactor;
    pub use sluice_manifest::{DirGrant, Grants, Limits, Sandbox};
}
/// The state store (the `sluice-state` crate).
pub mod state {
    pub use sluice_state::*;
}

pub use connector::{Connector, DestinationWriter, SourceReader};
pub use engine::{Runtime, RuntimeBuilder};
pub use error::{BoxError, Call, Error, Limit, Result};
pub use registry::Registry;
pub use sandbox::{DirGrant, Grants, Limits, Redactor, Sandbox};
pub use sluice_protocol as protocol;
