//! Host bindings of `sluice:connector@0.1.0`, one per world, sharing types.
//! Components built against it keep loading: their batches arrive as
//! inserts without a schema id, stamped with the time the host received
//! them, and their writers are never told of schemas.

#[allow(missing_docs, clippy::all)]
pub mod base {
    wasmtime::component::bindgen!({
        world: "base",
        path: "../wit/0.1.0",
        imports: { default: trappable },
        exports: { default: async },
    });
}

world!(source, "source-connector", "../wit/0.1.0", [
    "sluice:connector/types" => types,
    "sluice:connector/host" => host
]);
world!(destination, "destination-connector", "../wit/0.1.0", [
    "sluice:connector/types" => types,
    "sluice:connector/host" => host
]);

pub use base::sluice::connector::host;
pub use base::sluice::connector::types as t;

conversions!();

pub fn catalog_in(c: t::Catalog) -> Result<p::Catalog, InvalidJson> {
    let streams = c
        .streams
        .into_iter()
        .map(|s| stream_in(s, false))
        .collect::<Result<_, _>>()?;
    Ok(p::Catalog { streams })
}

/// The configured catalog; 0.1.0 has no partitions (the host never sends a
/// partitioned stream to a 0.1.0 source).
pub fn configured_catalog_out(c: &p::ConfiguredCatalog) -> t::ConfiguredCatalog {
    t::ConfiguredCatalog {
        streams: c
            .streams
            .iter()
            .map(|s| t::ConfiguredStream {
                name: s.name.clone(),
                fields: s.fields.clone(),
                sync_mode: sync_mode_out(s.sync_mode),
                cursor_field: s.cursor_field.clone(),
                primary_key: s.primary_key.clone(),
                write_mode: write_mode_out(s.write_mode),
                schema: schema_text(s),
            })
            .collect(),
    }
}

/// The batch and operation of a 0.1.0 `write(batch, op)`.
pub fn batch_out(b: p::Batch) -> (t::Batch, t::Operation) {
    let op = operation_out(b.operation);
    let batch = t::Batch {
        stream: b.stream,
        count: b.count,
        format: t::BatchFormat::JsonLines,
        data: b.data,
    };
    (batch, op)
}

fn batch_in(b: t::Batch) -> p::Batch {
    p::Batch::json_lines(b.stream, b.count, b.data)
}
