//! Per-stream transforms of sluice pipelines.
//!
//! A stream's `[[streams.transforms]]` tables read as [`Step`]s; a
//! [`Plan`] checks them against the stream's [`Schema`](sluice_schema::Schema),
//! computes the schema they produce, and runs them on JSON-lines batches
//! (one object per line), parsing and writing each record once. Beside
//! the pipeline's steps a plan carries the host's own stages: renames off
//! a destination's [`reserved`] keys and the schema-evolution policy's
//! `drop fields` / `drop rows`.
//!
//! Modules: [`step`] (the config), [`filter`] (predicates), [`reserved`]
//! (reserved-key renames), [`time`] (`now()`), and the plan with its
//! [`TransformError`]s. `component` steps are wasm, run by the host
//! runtime: [`split`] cuts a step list around them.
//!
//! Only top-level fields are addressed; nested paths are not supported.

pub mod filter;
pub mod reserved;
pub mod step;
pub mod time;

mod compile;
mod error;
mod plan;
mod record;
mod secret;

pub use compile::NOW;
pub use error::{Origin, Problem, TransformError};
pub use filter::{Predicate, Test};
pub use plan::{Applied, Plan};
pub use secret::Secret;
pub use step::{STEP_KEYS, Segment, Step, split};
