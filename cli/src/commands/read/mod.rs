//! `read` (alias `extract`): records of a source as JSON lines on stdout,
//! the final state optionally to a file.

use super::{require_role, select_streams};
use crate::args::{self, ComponentArgs, SandboxArgs};
use anyhow::{Context, Result};
use clap::Args;
use serde_json::Value;
use sluice_protocol::{ConfiguredCatalog, Message, Role, StreamState, SyncMode};
use sluice_runtime::pipeline::check_batch;
use sluice_runtime::{Connector, Registry, Runtime, Sandbox, SourceReader};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `read`.
#[derive(Args)]
pub struct ReadArgs {
    #[command(flatten)]
    component: ComponentArgs,
    #[command(flatten)]
    sandbox: SandboxArgs,
    /// Configured catalog (JSON) [default: every discovered stream].
    #[arg(long)]
    catalog: Option<PathBuf>,
    /// State to resume from (JSON: a list of {stream, state}).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Write the final state here (JSON).
    #[arg(long)]
    state_out: Option<PathBuf>,
    /// Only this stream.
    #[arg(long)]
    stream: Option<String>,
    /// Only these fields (comma-separated).
    #[arg(long, value_delimiter = ',')]
    fields: Vec<String>,
    /// Read incrementally (with --state) instead of a full refresh.
    #[arg(long)]
    incremental: bool,
}

/// `sluice read`.
pub async fn read(rt: &Runtime, a: ReadArgs) -> Result<ExitCode> {
    let connector = rt.load(&a.component.component).await?;
    require_role(&connector, Role::Source)?;
    let sandbox = a.sandbox.sandbox()?;
    let config = a.component.config()?;
    let catalog = match &a.catalog {
        Some(path) => args::read_json::<ConfiguredCatalog>(path, "catalog")?,
        None => discovered_catalog(&connector, &sandbox, &config, &a).await?,
    };
    let state: Vec<StreamState> = match &a.state {
        Some(path) => args::read_json(path, "state")?,
        None => Vec::new(),
    };
    let reader = connector
        .read(&sandbox, &config, &catalog, &state, &Registry::memory())
        .await?;
    let mut final_state: BTreeMap<String, Value> =
        state.into_iter().map(|s| (s.stream, s.state)).collect();
    let records = print_records(reader, &mut final_state).await?;
    tracing::info!(records, "read finished");
    if let Some(path) = a.state_out {
        let list: Vec<StreamState> = final_state
            .into_iter()
            .map(|(stream, state)| StreamState { stream, state })
            .collect();
        std::fs::write(&path, serde_json::to_string_pretty(&list)?)
            .with_context(|| format!("cannot write the state to {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The streams the source offers (or only `--stream`), configured as the
/// flags say, the same way a pipeline's streams are.
async fn discovered_catalog(
    connector: &Connector,
    sandbox: &Sandbox,
    config: &Value,
    a: &ReadArgs,
) -> Result<ConfiguredCatalog> {
    let discovered = connector.discover(sandbox, config).await?;
    let sync_mode = if a.incremental {
        SyncMode::Incremental
    } else {
        SyncMode::FullRefresh
    };
    select_streams(&discovered, a.stream.as_deref(), &a.fields, Some(sync_mode))
}

/// Print every record as a JSON line; keep the latest state of each
/// stream in `state`. Returns the number of records.
async fn print_records(
    mut reader: SourceReader,
    state: &mut BTreeMap<String, Value>,
) -> Result<u64> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let mut records = 0u64;
    while let Some(messages) = reader.next().await? {
        for m in messages {
            match m {
                Message::Records(batch) => {
                    check(&reader, &batch)?;
                    records += u64::from(batch.count);
                    out.write_all(&batch.data)?;
                }
                Message::State(s) => {
                    state.insert(s.stream, s.state);
                }
                Message::StreamError(e) => eprintln!("stream error: {e}"),
                Message::Status(..) => {}
            }
        }
    }
    out.flush()?;
    reader.close().await?;
    Ok(records)
}

/// The batch check of a sync, so `read` prints nothing a sync would refuse.
fn check(reader: &SourceReader, batch: &sluice_protocol::Batch) -> Result<()> {
    check_batch(batch, reader.max_batch_bytes())
        .map_err(|fault| fault.into_error(reader.connector(), &batch.stream).into())
}
