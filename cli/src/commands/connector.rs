//! `spec` and `check`: what a connector is, whether its config works.

use crate::args::{ComponentArgs, Format, SandboxArgs};
use crate::ui;
use anyhow::{Result, bail};
use clap::Args;
use sluice_interop::airbyte;
use sluice_runtime::{Runtime, Sandbox};
use std::process::ExitCode;

/// Arguments of `spec`.
#[derive(Args)]
pub struct SpecArgs {
    #[command(flatten)]
    component: ComponentArgs,
    /// Print JSON (sluice's spec).
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// `airbyte`: print an Airbyte SPEC message (Singer has none).
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,
}

/// Arguments of `check`.
#[derive(Args)]
pub struct ConfiguredArgs {
    #[command(flatten)]
    component: ComponentArgs,
    #[command(flatten)]
    sandbox: SandboxArgs,
    /// Print JSON (`{"status": ...}`).
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// `airbyte`: print an Airbyte CONNECTION_STATUS message (the exit
    /// code stays: 1 when the check fails). Singer has none.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,
}

/// Fail unless `format` is sluice's or Airbyte's: Singer has no message
/// for `what`.
fn no_singer(format: Format, what: &str) -> Result<()> {
    if format == Format::Singer {
        bail!("--format singer: Singer has no {what} message; use --format airbyte or --json");
    }
    Ok(())
}

/// `sluice spec`.
pub async fn spec(rt: &Runtime, a: SpecArgs) -> Result<ExitCode> {
    no_singer(a.format, "spec")?;
    let connector = rt.load(&a.component.component).await?;
    let spec = connector.spec(&Sandbox::default()).await?;
    if a.format == Format::Airbyte {
        println!("{}", airbyte::spec_message(&spec));
    } else if a.json {
        println!("{}", serde_json::to_string_pretty(&spec)?);
    } else {
        ui::print_spec(&spec, &connector.roles());
    }
    Ok(ExitCode::SUCCESS)
}

/// `sluice check`.
pub async fn check(rt: &Runtime, a: ConfiguredArgs) -> Result<ExitCode> {
    no_singer(a.format, "connection status")?;
    let connector = rt.load(&a.component.component).await?;
    let config = a.component.config()?;
    let result = connector.check(&a.sandbox.sandbox()?, &config).await;
    // stdout holds only the status message in these formats.
    let quiet = a.json || a.format == Format::Airbyte;
    if a.format == Format::Airbyte {
        let failure = result.as_ref().err().map(|e| e.to_string());
        let status = match &failure {
            None => Ok(()),
            Some(message) => Err(message.as_str()),
        };
        println!("{}", airbyte::connection_status_message(status));
    } else if a.json {
        let status = match &result {
            Ok(()) => serde_json::json!({"status": "succeeded"}),
            Err(e) => serde_json::json!({"status": "failed", "message": e.to_string()}),
        };
        println!("{status}");
    }
    match result {
        Ok(()) => {
            if !quiet {
                println!(
                    "check succeeded: {} accepts this config and reached its system",
                    connector.name()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if !a.json {
                eprintln!("check failed: {e}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
