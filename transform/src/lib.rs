//! Per-stream transforms of sluice pipelines.
//!
//! A stream's `[[streams.transforms]]` tables read as [`Step`]s, with
//! [`filter`] predicates and [`Secret`] salts.

pub mod filter;
pub mod step;

mod secret;

pub use filter::{Predicate, Test};
pub use secret::Secret;
pub use step::{split, Segment, Step, STEP_KEYS};
