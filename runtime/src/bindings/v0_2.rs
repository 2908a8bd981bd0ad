//! Host bindings of `sluice:connector@0.2.0`, one per world, sharing types:
//! typed schemas and the registry, batches with schema id, operation and
//! extraction time, partitions, and transform components.

#[allow(missing_docs, clippy::all)]
pub mod base {
    wasmtime::component::bindgen!({
        world: "base",
        path: "../wit/0.2.0",
        imports: { default: trappable },
        exports: { default: async },
    });
}

/// The worlds of 0.2.0 share `types`, `host` and `registry` with `base`.
macro_rules! world_0_2 {
    ($module:ident, $world:tt) => {
        world!($module, $world, "../wit/0.2.0", [
            "sluice:connector/types" => types,
            "sluice:connector/host" => host,
            "sluice:connector/registry" => registry
        ]);
    };
}

world_0_2!(source, "source-connector");
world_0_2!(destination, "destination-connector");
world_0_2!(transform, "transform-connector");

pub use base::sluice::connector::host;
pub use base::sluice::connector::registry;
pub use base::sluice::connector::types as t;

conversions!();

pub fn catalog_in(c: t::Catalog) -> Result<p::Catalog, InvalidJson> {
    let streams = c
        .streams
        .into_iter()
        .map(|s| {
            let partitioned = s.partitioned;
            stream_in(s, partitioned)
        })
        .collect::<Result<_, _>>()?;
    Ok(p::Catalog { streams })
}

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
                partition: s.partition.map(|p| t::Partition {
                    index: p.index,
                    count: p.count,
                }),
                relationships: s
                    .relationships
                    .iter()
                    .map(|r| t::Relationship {
                        name: r.name.clone(),
                        fields: r.fields.clone(),
                        target_stream: r.target_stream.clone(),
                        target_fields: r.target_fields.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub fn batch_out(b: p::Batch) -> t::Batch {
    t::Batch {
        stream: b.stream,
        schema_id: b.schema_id,
        operation: operation_out(b.operation),
        extracted_at: b.extracted_at,
        count: b.count,
        format: t::BatchFormat::JsonLines,
        data: b.data,
    }
}

pub fn batch_in(b: t::Batch) -> p::Batch {
    p::Batch {
        stream: b.stream,
        schema_id: b.schema_id,
        operation: operation_in(b.operation),
        extracted_at: b.extracted_at,
        count: b.count,
        format: p::BatchFormat::JsonLines,
        data: b.data,
    }
}
