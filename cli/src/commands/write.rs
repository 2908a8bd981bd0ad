//! `write` (alias `load`): JSON lines from stdin into a destination, in
//! batches, committed at the end.

use super::require_role;
use crate::args::{self, ComponentArgs, SandboxArgs};
use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::Value;
use sluice_protocol::{Batch, ConfiguredCatalog, ConfiguredStream, Operation, Role, WriteMode};
use sluice_runtime::{DestinationWriter, Registry, Runtime};
use std::io::BufRead;
use std::process::ExitCode;

/// Arguments of `write`.
#[derive(Args)]
pub struct WriteArgs {
    #[command(flatten)]
    component: ComponentArgs,
    #[command(flatten)]
    sandbox: SandboxArgs,
    /// Stream to write.
    #[arg(long)]
    stream: String,
    /// What the records do.
    #[arg(long, value_enum, default_value = "insert")]
    operation: args::OperationArg,
    /// How the destination applies the stream.
    #[arg(long, value_enum, default_value = "append")]
    write_mode: args::WriteModeArg,
    /// Records per batch.
    #[arg(long, default_value_t = 1000)]
    batch_size: u32,
}

/// `sluice write`.
pub async fn write(rt: &Runtime, a: WriteArgs) -> Result<ExitCode> {
    let connector = rt.load(&a.component.component).await?;
    require_role(&connector, Role::Destination)?;
    let sandbox = a.sandbox.sandbox()?;
    let config = a.component.config()?;
    let write_mode: WriteMode = a.write_mode.into();
    let catalog = ConfiguredCatalog {
        streams: vec![ConfiguredStream {
            write_mode,
            ..ConfiguredStream::new(a.stream.clone())
        }],
    };
    let registry = Registry::memory();
    let mut writer = connector
        .write(&sandbox, &config, &catalog, &registry)
        .await?;
    let total = write_stdin(&mut writer, &a.stream, a.operation.into(), a.batch_size).await?;
    writer.commit().await?;
    writer.close().await?;
    eprintln!(
        "wrote {total} records to stream `{}` of {} (committed)",
        a.stream,
        connector.name()
    );
    Ok(ExitCode::SUCCESS)
}

/// Write stdin's JSON lines to `stream` in batches of `batch_size`;
/// returns how many were written. A line that is not a JSON object stops
/// it, naming the line.
async fn write_stdin(
    writer: &mut DestinationWriter,
    stream: &str,
    op: Operation,
    batch_size: u32,
) -> Result<u64> {
    let mut data = Vec::new();
    let (mut count, mut total, mut line_no) = (0u32, 0u64, 0u64);
    for line in std::io::stdin().lock().lines() {
        line_no += 1;
        let line = line.context("cannot read stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(Value::Object(_)) => {}
            Ok(_) => bail!("stdin line {line_no}: not a JSON object"),
            Err(e) => bail!("stdin line {line_no}: not valid JSON: {e}"),
        }
        data.extend_from_slice(line.trim().as_bytes());
        data.push(b'\n');
        count += 1;
        if count >= batch_size.max(1) {
            total += u64::from(count);
            let mut batch = Batch::json_lines(stream, count, std::mem::take(&mut data));
            batch.operation = op;
            writer.write(batch).await?;
            count = 0;
        }
    }
    if count > 0 {
        total += u64::from(count);
        let mut batch = Batch::json_lines(stream, count, data);
        batch.operation = op;
        writer.write(batch).await?;
    }
    Ok(total)
}
