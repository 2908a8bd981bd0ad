//! A transform that never returns from `transform`: the sandbox must stop
//! it at its fuel or deadline limit and name the transform and the limit.

use serde::Deserialize;
use serde_json::json;
use sluice_guest::{Batch, Catalog, Connector, Result, Schema, Spec, Transform, Transformer};

/// The looping transform.
pub struct Looping;

/// No settings.
#[derive(Debug, Deserialize)]
pub struct Config {}

impl Connector for Looping {
    type Config = Config;

    fn spec() -> Spec {
        sluice_guest::transform_spec("looping-transform", "0.1.0", json!({"type": "object"}))
    }

    fn discover(_: &Config) -> Result<Catalog> {
        Ok(Catalog::default())
    }
}

impl Transform for Looping {
    type Transformer = Spin;

    fn open(_: Config, _: &str, input: Option<Schema>) -> Result<(Spin, Option<Schema>)> {
        Ok((Spin(0), input))
    }
}

/// Counts forever.
pub struct Spin(u64);

impl Transformer for Spin {
    fn transform(&mut self, batch: Batch) -> Result<Vec<Batch>> {
        loop {
            self.0 = std::hint::black_box(self.0.wrapping_add(1));
            if self.0 == u64::MAX {
                return Ok(vec![batch]);
            }
        }
    }
}

sluice_guest::export_transform!(Looping);
