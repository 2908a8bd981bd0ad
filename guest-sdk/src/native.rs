//! The connector entry points, callable in-process.
//!
//! The wasm export glue calls exactly these functions, so running a
//! connector natively through them exercises the same config validation and
//! connector code (a baseline for tests and benchmarks).

use crate::{Catalog, ConfiguredCatalog, Connector, Destination, Result, Source, Spec, State};
use sluice_protocol::StreamState;

/// The connector's spec.
pub fn spec<C: Connector>() -> Spec {
    C::spec()
}

fn config<C: Connector>(text: &str) -> Result<C::Config> {
    crate::parse_config(&C::spec(), text)
}

/// Validate `config` (JSON text) and check the connection.
pub fn check<C: Connector>(config_text: &str) -> Result<()> {
    C::check(&config::<C>(config_text)?)
}

/// Validate `config` and discover the streams.
pub fn discover<C: Connector>(config_text: &str) -> Result<Catalog> {
    C::discover(&config::<C>(config_text)?)
}

/// Validate `config` and open a reader.
pub fn read<C: Source>(
    config_text: &str,
    catalog: ConfiguredCatalog,
    state: Vec<StreamState>,
) -> Result<C::Reader> {
    C::read(config::<C>(config_text)?, catalog, State::new(state))
}

/// Validate `config` and open a writer.
pub fn write<C: Destination>(config_text: &str, catalog: ConfiguredCatalog) -> Result<C::Writer> {
    C::write(config::<C>(config_text)?, catalog)
}
