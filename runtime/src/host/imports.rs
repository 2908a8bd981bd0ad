//! The contract's host imports, for every version: `host.log` (0.1.0 and
//! 0.2.0) and `registry` (0.2.0).

use super::HostState;
use crate::bindings::{schema, v0_1, v0_2};
use sluice_protocol::Level;
use sluice_schema::SchemaId;

/// How many distinct registrations one instance may make: a guest cannot
/// fill the store with schemas.
const MAX_REGISTRATIONS: usize = 10_000;

impl HostState {
    /// A guest's log line, within the budget, scrubbed of secrets.
    fn guest_log(&mut self, level: Level, message: &str) -> wasmtime::Result<()> {
        if !self.log_budget.spend(message.len()) {
            wasmtime::bail!("log budget of this call exceeded");
        }
        let message = self.redactor.scrub(message);
        let c = &*self.connector;
        match level {
            Level::Trace => tracing::trace!(target: "sluice::guest", connector = c, "{message}"),
            Level::Debug => tracing::debug!(target: "sluice::guest", connector = c, "{message}"),
            Level::Info => tracing::info!(target: "sluice::guest", connector = c, "{message}"),
            Level::Warn => tracing::warn!(target: "sluice::guest", connector = c, "{message}"),
            Level::Error => tracing::error!(target: "sluice::guest", connector = c, "{message}"),
        }
        Ok(())
    }
}

impl v0_1::host::Host for HostState {
    fn log(&mut self, level: v0_1::host::Level, message: String) -> wasmtime::Result<()> {
        self.guest_log(v0_1::level_in(level), &message)
    }
}

impl v0_2::host::Host for HostState {
    fn log(&mut self, level: v0_2::host::Level, message: String) -> wasmtime::Result<()> {
        self.guest_log(v0_2::level_in(level), &message)
    }
}

impl v0_2::registry::Host for HostState {
    fn register(
        &mut self,
        stream: String,
        table: v0_2::t::Schema,
    ) -> wasmtime::Result<Result<String, String>> {
        let schema = match schema::schema_in(table) {
            Ok(schema) => schema,
            Err(e) => {
                return Ok(Err(format!(
                    "the schema of stream `{stream}` is malformed: {e}"
                )));
            }
        };
        let id = schema.id();
        if !self.registered.contains(&id) && self.registered.len() >= MAX_REGISTRATIONS {
            return Ok(Err(format!(
                "more than {MAX_REGISTRATIONS} distinct schemas registered by one instance"
            )));
        }
        match self.registry.register(&stream, &schema) {
            Ok(id) => {
                self.registered.insert(id.clone());
                Ok(Ok(id.0))
            }
            Err(e) => Ok(Err(e.to_string())),
        }
    }

    fn fetch(&mut self, id: String) -> wasmtime::Result<Option<v0_2::t::Schema>> {
        let found = self
            .registry
            .guest_fetch(&SchemaId(id))
            .map_err(wasmtime::Error::msg)?;
        Ok(found.as_ref().map(schema::schema_out))
    }
}
