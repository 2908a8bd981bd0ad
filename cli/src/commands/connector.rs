//! `spec` and `check`: what a connector is, whether its config works.

use crate::args::{ComponentArgs, SandboxArgs};
use crate::ui;
use anyhow::Result;
use clap::Args;
use sluice_runtime::{Runtime, Sandbox};
use std::process::ExitCode;

/// Arguments of `spec`.
#[derive(Args)]
pub struct SpecArgs {
    #[command(flatten)]
    component: ComponentArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `check`.
#[derive(Args)]
pub struct ConfiguredArgs {
    #[command(flatten)]
    component: ComponentArgs,
    #[command(flatten)]
    sandbox: SandboxArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `sluice spec`.
pub async fn spec(rt: &Runtime, a: SpecArgs) -> Result<ExitCode> {
    let connector = rt.load(&a.component.component).await?;
    let spec = connector.spec(&Sandbox::default()).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&spec)?);
    } else {
        ui::print_spec(&spec, &connector.roles());
    }
    Ok(ExitCode::SUCCESS)
}

/// `sluice check`.
pub async fn check(rt: &Runtime, a: ConfiguredArgs) -> Result<ExitCode> {
    let connector = rt.load(&a.component.component).await?;
    let config = a.component.config()?;
    let result = connector.check(&a.sandbox.sandbox()?, &config).await;
    if a.json {
        let status = match &result {
            Ok(()) => serde_json::json!({"status": "succeeded"}),
            Err(e) => serde_json::json!({"status": "failed", "message": e.to_string()}),
        };
        println!("{status}");
    }
    match result {
        Ok(()) => {
            if !a.json {
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
