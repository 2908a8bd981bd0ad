//! One module per group of commands; each command is a function from its
//! parsed arguments to an exit code.

pub mod connector;
pub mod discover;
pub mod init;
pub mod pipeline;
pub mod read;
pub mod schemas;
pub mod serve;
pub mod state;
pub mod status;
pub mod write;

use anyhow::{Result, anyhow, bail};
use sluice_protocol::{Catalog, ConfiguredCatalog, Role, SyncMode};
use sluice_runtime::Connector;
use sluice_runtime::pipeline::{SelectionError, StreamSelection, configure};

/// Open a pipeline's state store for a command that reads or edits it
/// between runs (`runs`, `status`, `state`, `schemas`): `sluice serve`
/// holds a store only while it runs or books one of its pipelines, so a
/// few seconds' wait gets in; a sync that holds it longer is named.
pub fn open_store(path: &std::path::Path) -> Result<sluice_runtime::state::StateStore> {
    Ok(sluice_runtime::state::StateStore::open_waiting(
        path,
        std::time::Duration::from_secs(5),
    )?)
}

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

/// The streams of `discovered` (only `stream` when given), with only
/// `fields` when any are given, configured the way a pipeline's streams
/// are (`sync_mode` `None`: the stream's default). Errors name the flag or
/// the stream, and the fields the stream has.
pub fn select_streams(
    discovered: &Catalog,
    stream: Option<&str>,
    fields: &[String],
    sync_mode: Option<SyncMode>,
) -> Result<ConfiguredCatalog> {
    let names: Vec<&str> = match stream {
        Some(s) => vec![s],
        None => discovered.streams.iter().map(|s| s.name.as_str()).collect(),
    };
    let selections: Vec<StreamSelection> = names
        .into_iter()
        .map(|name| StreamSelection {
            sync_mode,
            fields: fields.to_vec(),
            ..StreamSelection::new(name)
        })
        .collect();
    configure(&selections, discovered, None).map_err(|e| match e {
        SelectionError::Stream {
            stream: name,
            problem,
            ..
        } if stream.is_some() => anyhow!("--stream {name}: {problem}"),
        SelectionError::Stream {
            stream, problem, ..
        } => anyhow!("stream `{stream}`: {problem}"),
        other => anyhow!("{other}"),
    })
}
