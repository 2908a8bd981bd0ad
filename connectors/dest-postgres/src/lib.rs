//! `dest-postgres`: streams into PostgreSQL tables, from inside the
//! sandbox (it connects only to the `host:port` the pipeline grants).
//!
//! Each stream goes to `<schema>.<stream>`, a logged table with the
//! stream's primary key, created from the schema the writer is told
//! ([`Writer::schema`]; the configured stream's JSON Schema for streams
//! without one) and evolved when a new schema adds fields or widens types.
//! Records are streamed with `COPY ... FROM STDIN` (text format). What is
//! written between two commits is one transaction: `commit()` returns
//! after `COMMIT` did.
//!
//! Write modes:
//! - `append`: COPY into the table.
//! - `overwrite`: COPY into `<stream>__sluice_load`, swapped in (drop and
//!   rename, in one transaction) at the commit after the stream is
//!   complete; readers see the old rows or the new ones, never a mix.
//! - `append_dedup`: COPY into a staging table; at commit one statement
//!   keeps the last record per key: upserts on the key, deletes by it.
//! - `history`: SCD type 2 with valid-from / valid-to / is-current
//!   columns, set-based at commit (see [`shape`](crate::shape)).
//!
//! Deletes are refused in `append` and `overwrite`. TLS is not supported:
//! use a loopback or private network.

mod columns;
mod config;
mod encode;
mod error;
mod shape;
mod stream;
mod writer;

pub use config::{Config, EXTRACTED_AT, HistoryColumns};
pub use writer::PgWriter;

use sluice_guest::{
    Capabilities, Catalog, ConfiguredCatalog, Connector, Destination, Operation, Result, Spec,
    WriteMode,
};

/// The dest-postgres connector.
pub struct PostgresDestination;

impl Connector for PostgresDestination {
    type Config = Config;

    fn spec() -> Spec {
        let mut spec =
            Spec::destination("dest-postgres", env!("CARGO_PKG_VERSION"), config::schema());
        spec.write_modes = vec![
            WriteMode::Append,
            WriteMode::Overwrite,
            WriteMode::AppendDedup,
            WriteMode::History,
        ];
        spec.operations = Operation::ALL.to_vec();
        let history = HistoryColumns::default();
        spec.reserved_keys = vec![
            String::new(),
            EXTRACTED_AT.into(),
            history.valid_from,
            history.valid_to,
            history.is_current,
        ];
        spec.capabilities = Capabilities {
            hosts: vec!["host:port from the config (`host`, `port`)".into()],
            ..Capabilities::default()
        };
        spec.documentation = Some(
            "Writes each stream to <schema>.<stream> in PostgreSQL with COPY: append; overwrite \
             (loaded into <stream>__sluice_load, swapped in atomically when the stream is \
             complete); append_dedup (last record per primary key wins, deletes applied); \
             history (SCD type 2 with valid_from/valid_to/is_current). Tables are created and \
             evolved (new columns, safe widenings) from the stream's schema. TLS is not \
             supported: connect over a loopback or private network."
                .into(),
        );
        spec
    }

    fn check(config: &Config) -> Result<()> {
        let mut db = writer::connect(config)?;
        db.query("select 1", &[])
            .map_err(|e| error::pg_error(&e, None, "cannot run `select 1`"))?;
        let _ = db.close();
        Ok(())
    }

    fn discover(_config: &Config) -> Result<Catalog> {
        // Any stream can be written; its table is created when it arrives.
        Ok(Catalog::default())
    }
}

impl Destination for PostgresDestination {
    type Writer = PgWriter;

    fn write(config: Config, catalog: ConfiguredCatalog) -> Result<PgWriter> {
        PgWriter::open(config, catalog)
    }
}

sluice_guest::export_destination!(PostgresDestination);
