//! The connector entry points, callable in-process.
//!
//! The wasm export glue calls exactly these functions, so running a
//! connector natively through them exercises the same config validation and
//! connector code (a baseline for tests and benchmarks). Natively the
//! schema registry is an in-memory one per thread ([`registrations`] lists
//! what was registered), so sources stamp the same schema ids and writers
//! fetch the same schemas as in a component.

use crate::protocol::schema::Schema;
use crate::{
    Batch, Catalog, ConfiguredCatalog, Connector, ConnectorError, Destination, Result, Source,
    Spec, State, Transform, Transformer, Writer, registry,
};
use sluice_protocol::StreamState;
use std::collections::HashMap;

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

/// Validate `config` and open a reader. Schemas are registered afresh for
/// it (once each, see [`registry::register`]).
pub fn read<C: Source>(
    config_text: &str,
    catalog: ConfiguredCatalog,
    state: Vec<StreamState>,
) -> Result<C::Reader> {
    let config = config::<C>(config_text)?;
    registry::new_reader();
    C::read(config, catalog, State::new(state))
}

/// Validate `config` and open a writer (the connector's own; see
/// [`open_writer`] for one driven by schema ids, as the host drives it).
pub fn write<C: Destination>(config_text: &str, catalog: ConfiguredCatalog) -> Result<C::Writer> {
    C::write(config::<C>(config_text)?, catalog)
}

/// Validate `config` and open a writer that takes schema ids, as the
/// export glue does.
pub fn open_writer<C: Destination>(
    config_text: &str,
    catalog: ConfiguredCatalog,
) -> Result<HostWriter<C::Writer>> {
    write::<C>(config_text, catalog).map(HostWriter::new)
}

/// Every schema registration this thread's in-memory registry received,
/// as (stream, id), in order.
pub fn registrations() -> Vec<(String, String)> {
    registry::memory::log()
}

/// A [`Writer`] as the host drives it: `schema(stream, id)` fetches the
/// schema of each id from the registry at most once, then hands it to
/// [`Writer::schema`].
///
/// ```
/// use sluice_guest::*;
/// struct Names(Vec<String>);
/// impl Writer for Names {
///     fn schema(&mut self, stream: &str, schema: &Schema) -> Result<()> {
///         self.0.push(format!("{stream}: {}", schema.names().join(",")));
///         Ok(())
///     }
///     fn write(&mut self, _: Batch) -> Result<()> { Ok(()) }
///     fn commit(&mut self) -> Result<()> { Ok(()) }
/// }
/// let schema = Schema::new(vec![Field::required("id", Type::Int64)]);
/// let id = registry::register("users", &schema)?;
/// let mut w = native::HostWriter::new(Names(vec![]));
/// w.schema("users", &id)?;
/// w.schema("users", &id)?; // fetched once, told twice
/// assert_eq!(w.get_ref().0, ["users: id", "users: id"]);
/// assert!(w.schema("users", "unknown").is_err());
/// # Ok::<(), ConnectorError>(())
/// ```
pub struct HostWriter<W> {
    writer: W,
    schemas: HashMap<String, Schema>,
}

impl<W: Writer> HostWriter<W> {
    /// Drive `writer`.
    pub fn new(writer: W) -> Self {
        HostWriter {
            writer,
            schemas: HashMap::new(),
        }
    }

    /// Batches of `stream` follow the registry's schema `id` from now on.
    pub fn schema(&mut self, stream: &str, id: &str) -> Result<()> {
        if !self.schemas.contains_key(id) {
            let Some(schema) = registry::fetch(id).map_err(|e| e.in_stream(stream))? else {
                return Err(ConnectorError::data(format!(
                    "the schema registry has no schema `{id}`"
                ))
                .in_stream(stream));
            };
            self.schemas.insert(id.to_string(), schema);
        }
        self.writer.schema(stream, &self.schemas[id])
    }

    /// Apply one batch.
    pub fn write(&mut self, batch: Batch) -> Result<()> {
        self.writer.write(batch)
    }

    /// Make everything written durable.
    pub fn commit(&mut self) -> Result<()> {
        self.writer.commit()
    }

    /// The source sent the last batch of `stream`.
    pub fn complete(&mut self, stream: &str) -> Result<()> {
        self.writer.complete(stream)
    }

    /// The connector's writer.
    pub fn get_ref(&self) -> &W {
        &self.writer
    }

    /// The connector's writer, mutably.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.writer
    }
}

/// A [`Transformer`] whose output batches carry the registry id of its
/// output schema (none when the output is schemaless).
pub struct HostTransformer<T> {
    transformer: T,
    output_id: Option<String>,
}

impl<T: Transformer> HostTransformer<T> {
    /// Rewrite one batch; every batch returned is stamped with the output
    /// schema's id.
    pub fn transform(&mut self, batch: Batch) -> Result<Vec<Batch>> {
        let mut out = self.transformer.transform(batch)?;
        for b in &mut out {
            b.schema_id.clone_from(&self.output_id);
        }
        Ok(out)
    }

    /// The registry id of the output schema.
    pub fn output_id(&self) -> Option<&str> {
        self.output_id.as_deref()
    }
}

/// Validate `config`, open a transformer for `stream` and register its
/// output schema.
pub fn open_transform<T: Transform>(
    config_text: &str,
    stream: &str,
    input: Option<Schema>,
) -> Result<(HostTransformer<T::Transformer>, Option<Schema>)> {
    let config = config::<T>(config_text)?;
    registry::new_reader();
    let (transformer, output) = T::open(config, stream, input)?;
    let output_id = match &output {
        Some(schema) => Some(registry::register(stream, schema)?),
        None => None,
    };
    let host = HostTransformer {
        transformer,
        output_id,
    };
    Ok((host, output))
}
