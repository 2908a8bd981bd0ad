//! The contract's host imports, for every version: `host.log` (0.1.0 and
//! 0.2.0) and `registry` (0.2.0).

use super::{HostState, LogBudget};
use crate::bindings::{schema, v0_1, v0_2};
use crate::redact::Redactor;
use sluice_protocol::Level;
use sluice_schema::SchemaId;

/// How many distinct registrations one instance may make: a guest cannot
/// fill the store with schemas.
const MAX_REGISTRATIONS: usize = 10_000;

impl HostState {
    /// A guest's log line, within the budget, scrubbed of secrets.
    fn guest_log(&mut self, level: Level, message: &str) -> wasmtime::Result<()> {
        log_line(
            &self.connector,
            &self.redactor,
            &self.log_budget,
            level,
            message,
        )
    }
}

/// Forward a guest's log line into `tracing` at its level, within
/// `budget`, scrubbed by `redactor`.
fn log_line(
    c: &str,
    redactor: &Redactor,
    budget: &LogBudget,
    level: Level,
    message: &str,
) -> wasmtime::Result<()> {
    if !budget.spend(message.len()) {
        wasmtime::bail!("log budget of this call exceeded");
    }
    let message = redactor.scrub(message);
    match level {
        Level::Trace => tracing::trace!(target: "sluice::guest", connector = c, "{message}"),
        Level::Debug => tracing::debug!(target: "sluice::guest", connector = c, "{message}"),
        Level::Info => tracing::info!(target: "sluice::guest", connector = c, "{message}"),
        Level::Warn => tracing::warn!(target: "sluice::guest", connector = c, "{message}"),
        Level::Error => tracing::error!(target: "sluice::guest", connector = c, "{message}"),
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::capture;

    #[test]
    fn log_lines_are_scrubbed_at_every_level_and_spend_the_budget() {
        let redactor = Redactor::new(vec!["tok-4f9a2c71e8".into()]);
        let budget = LogBudget::new(1 << 10);
        let events = capture::events(|| {
            for level in [
                Level::Trace,
                Level::Debug,
                Level::Info,
                Level::Warn,
                Level::Error,
            ] {
                log_line(
                    "c",
                    &redactor,
                    &budget,
                    level,
                    "token=tok-4f9a2c71e8 eu-west-3",
                )
                .unwrap();
            }
        });
        assert_eq!(events.len(), 5, "{events:?}");
        for e in &events {
            assert!(e.starts_with("sluice::guest"), "{e}");
            assert!(e.contains("token=********** eu-west-3"), "{e}");
            assert!(!e.contains("4f9a"), "{e}");
        }
        let long = "x".repeat(1 << 10);
        assert!(log_line("c", &redactor, &budget, Level::Info, &long).is_err());
        assert!(budget.take_exceeded().is_some());
    }
}
