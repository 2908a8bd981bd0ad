//! One module per group of commands; each command is a function from its
//! parsed arguments to an exit code.

pub mod connector;
pub mod pipeline;
pub mod read;
pub mod schemas;
pub mod write;

use anyhow::{Result, bail};
use sluice_protocol::Role;
use sluice_runtime::Connector;

/// Fail, naming the file, unless `connector` exports `role`.
pub fn require_role(connector: &Connector, role: Role) -> Result<()> {
    if connector.roles().contains(&role) {
        return Ok(());
    }
    bail!(
        "{}: connector `{}` is not a {role}: it does not export `sluice:connector/{role}`",
        connector.path().display(),
        connector.name()
    )
}
