//! `read` (alias `extract`): records of a source on stdout, as sluice's
//! JSON lines or as Singer or Airbyte messages; the final state
//! optionally to a file.

mod output;

use super::{require_role, select_streams};
use crate::args::{self, ComponentArgs, Format, SandboxArgs, StateFormat};
use anyhow::{Context, Result};
use clap::Args;
use output::Printer;
use serde_json::Value;
use sluice_protocol::{ConfiguredCatalog, Message, Role, StreamState, SyncMode};
use sluice_runtime::pipeline::check_batch;
use sluice_runtime::{Connector, Registry, Runtime, Sandbox, SourceReader};
use std::path::{Path, PathBuf};
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
    /// State to resume from: sluice's JSON list of {stream, state}; with
    /// --format singer also a Singer state ({"bookmarks": ...}), with
    /// --format airbyte also Airbyte state (STREAM, GLOBAL or LEGACY).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Write the final state here, in the --format's own form (sluice's
    /// list, a Singer state, a list of Airbyte state messages).
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
    /// What to print: JSON lines of records; Singer messages (SCHEMA,
    /// RECORD, STATE), as a Singer tap prints them; or Airbyte messages
    /// (RECORD, STATE, TRACE, LOG), as an Airbyte source prints them.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,
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
    let state = match &a.state {
        Some(path) => read_state(path, a.format)?,
        None => Vec::new(),
    };
    let registry = Registry::memory();
    let reader = connector
        .read(&sandbox, &config, &catalog, &state, &registry)
        .await?;
    let mut printer = Printer::new(a.format, &catalog, registry, state);
    printer.begin()?;
    let (records, final_state) = match print_messages(reader, &mut printer).await {
        Ok(()) => printer.finish()?,
        Err(e) => {
            printer.fatal(&crate::error_text(&e));
            return Err(e);
        }
    };
    tracing::info!(records, "read finished");
    if let Some(path) = a.state_out {
        let value = state_value(&final_state, a.format);
        std::fs::write(&path, serde_json::to_string_pretty(&value)?)
            .with_context(|| format!("cannot write the state to {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A `--state` file: sluice's list, else the format's own state.
fn read_state(path: &Path, format: Format) -> Result<Vec<StreamState>> {
    let own = match format {
        Format::Jsonl => return args::read_json(path, "state"),
        Format::Singer => StateFormat::Singer,
        Format::Airbyte => StateFormat::Airbyte,
    };
    if let Ok(states) = args::read_json::<Vec<StreamState>>(path, "state") {
        return Ok(states);
    }
    args::read_state_file(path, own)
}

/// The final state as the format keeps it.
fn state_value(states: &[StreamState], format: Format) -> Value {
    match format {
        Format::Jsonl => serde_json::to_value(states).unwrap_or_default(),
        Format::Singer => sluice_interop::state::to_singer(states),
        Format::Airbyte => sluice_interop::state::to_airbyte(states),
    }
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

/// Hand every message of the read to `printer`, batches checked first.
async fn print_messages(mut reader: SourceReader, printer: &mut Printer) -> Result<()> {
    while let Some(messages) = reader.next().await? {
        for m in messages {
            match m {
                Message::Records(batch) => {
                    check(&reader, &batch)?;
                    printer.batch(&batch)?;
                }
                Message::State(s) => printer.state(s)?,
                Message::StreamError(e) => printer.stream_error(&e)?,
                Message::Status(stream, status) => printer.status(&stream, status)?,
            }
        }
    }
    reader.close().await?;
    Ok(())
}

/// The batch check of a sync, so `read` prints nothing a sync would refuse.
fn check(reader: &SourceReader, batch: &sluice_protocol::Batch) -> Result<()> {
    check_batch(batch, reader.max_batch_bytes())
        .map_err(|fault| fault.into_error(reader.connector(), &batch.stream).into())
}
