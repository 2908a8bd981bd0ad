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
//!
//! # Records
//!
//! - A field a record lacks is left missing by every step but `set`;
//!   `filter` treats it as `null`.
//! - `upper` / `lower` leave values that are not strings unchanged (a
//!   schemaless stream may carry them; with a schema the plan requires a
//!   `string` field).
//! - `hash` and `mask` work on the value's text: a string as is, any other
//!   value as its compact JSON (`42`, `true`); `null` stays `null`. `mask`
//!   keeps the last `keep_last` characters and masks a value of at most
//!   `keep_last` characters entirely.
//! - `set` with `"now()"` writes one RFC 3339 UTC time per
//!   [`Plan::apply`] call, the same for every record of the batch.
//! - Comparisons of values of different kinds are false; see [`filter`].
//!
//! ```
//! use sluice_transform::{Plan, Step};
//!
//! let steps: Vec<Step> = serde_json::from_value(serde_json::json!([
//!     { "mask": { "field": "card", "keep_last": 4 } },
//!     { "filter": { "field": "age", "op": ">=", "value": 18 } },
//! ]))?;
//! let plan = Plan::new("users", &steps, None)?;
//! let out = plan.apply(b"{\"card\":\"4111111111111234\",\"age\":20}\n{\"age\":9}\n")?;
//! assert_eq!(out.data, b"{\"card\":\"************1234\",\"age\":20}\n");
//! assert_eq!((out.count, out.dropped), (1, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

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
