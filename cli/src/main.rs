//! `sluice`: run sandboxed data connectors and pipelines.

mod args;
mod ui;

use anyhow::{Context, Result, bail};
use args::{ComponentArgs, SandboxArgs};
use clap::{Parser, Subcommand};
use serde_json::Value;
use sluice_protocol::{
    Batch, ConfiguredCatalog, ConfiguredStream, Message, Operation, Role, StreamState, WriteMode,
};
use sluice_runtime::pipeline::{Pipeline, RunOptions};
use sluice_runtime::state::StateStore;
use sluice_runtime::{Runtime, Sandbox};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Move data between systems with connectors that run as sandboxed
/// WebAssembly components.
#[derive(Parser)]
#[command(name = "sluice", version, about, long_about = None)]
struct Cli {
    /// More logs: -v shows info (compiles, cache hits), -vv debug, -vvv trace.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Directory of precompiled components [default: ~/.cache/sluice].
    #[arg(long, global = true, env = "SLUICE_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile components every time instead of caching them.
    #[arg(long, global = true)]
    no_cache: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show what a connector is and which config it takes.
    Spec {
        #[command(flatten)]
        component: ComponentArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validate a config and test the connection.
    Check {
        #[command(flatten)]
        component: ComponentArgs,
        #[command(flatten)]
        sandbox: SandboxArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the streams a connector offers.
    Discover {
        #[command(flatten)]
        component: ComponentArgs,
        #[command(flatten)]
        sandbox: SandboxArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Read records from a source and print them as JSON lines.
    #[command(alias = "extract")]
    Read {
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
    },
    /// Write JSON lines from stdin into a destination.
    #[command(alias = "load")]
    Write {
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
    },
    /// Run a pipeline file: source -> destination, with state.
    Sync {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// Print the summary as JSON (no progress bars).
        #[arg(long)]
        json: bool,
    },
    /// Show or reset a pipeline's saved state.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Show a pipeline's run history.
    Runs {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum StateCommand {
    /// Print the saved state of every stream.
    Show {
        /// The pipeline file.
        pipeline: PathBuf,
    },
    /// Forget saved state so the next sync starts over.
    Reset {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Only this stream.
        #[arg(long)]
        stream: Option<String>,
    },
}

fn main() -> ExitCode {
    // redb panics on some damaged store files; sluice-state catches those
    // panics and reports the store as damaged, so they are not printed.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.location().is_some_and(|l| l.file().contains("/redb-")) {
            default_hook(info);
        }
    }));
    // Die quietly on a closed pipe (`sluice read ... | head`), like other Unix tools.
    // SAFETY: called first thing in main, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    ui::init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each cause once: a cause whose
/// text its parent's message already includes is not repeated.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// Fail, naming the file, unless `connector` exports `role`.
fn require_role(connector: &sluice_runtime::Connector, role: Role) -> Result<()> {
    if connector.roles().contains(&role) {
        return Ok(());
    }
    let role = format!("{role:?}").to_lowercase();
    bail!(
        "{}: connector `{}` is not a {role}: it does not export `sluice:connector/{role}`",
        connector.path().display(),
        connector.name()
    )
}

fn engine(cli: &Cli) -> Result<Runtime> {
    let cache = if cli.no_cache {
        None
    } else {
        cli.cache_dir
            .clone()
            .or_else(sluice_runtime::engine::default_cache_dir)
    };
    Ok(Runtime::builder().cache_dir(cache).build()?)
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let rt = engine(&cli)?;
    match cli.command {
        Command::Spec { component, json } => {
            let connector = rt.load(&component.component).await?;
            let spec = connector.spec(&Sandbox::default()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&spec)?);
            } else {
                ui::print_spec(&spec, &connector.roles());
            }
        }
        Command::Check {
            component,
            sandbox,
            json,
        } => {
            let connector = rt.load(&component.component).await?;
            let config = component.config()?;
            let result = connector.check(&sandbox.sandbox()?, &config).await;
            if json {
                let status = match &result {
                    Ok(()) => serde_json::json!({"status": "succeeded"}),
                    Err(e) => serde_json::json!({"status": "failed", "message": e.to_string()}),
                };
                println!("{status}");
            }
            match result {
                Ok(()) => {
                    if !json {
                        println!(
                            "check succeeded: {} accepts this config and reached its system",
                            connector.name()
                        );
                    }
                }
                Err(e) => {
                    if !json {
                        eprintln!("check failed: {e}");
                    }
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Discover {
            component,
            sandbox,
            json,
        } => {
            let connector = rt.load(&component.component).await?;
            let catalog = connector
                .discover(&sandbox.sandbox()?, &component.config()?)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&catalog)?);
            } else {
                ui::print_catalog(&catalog);
            }
        }
        Command::Read {
            component,
            sandbox,
            catalog,
            state,
            state_out,
            stream,
            fields,
            incremental,
        } => {
            let connector = rt.load(&component.component).await?;
            require_role(&connector, Role::Source)?;
            let sandbox = sandbox.sandbox()?;
            let config = component.config()?;
            let catalog = match catalog {
                Some(path) => args::read_json::<ConfiguredCatalog>(&path, "catalog")?,
                None => {
                    let discovered = connector.discover(&sandbox, &config).await?;
                    let mut streams = Vec::new();
                    for info in &discovered.streams {
                        if stream.as_ref().is_some_and(|s| *s != info.name) {
                            continue;
                        }
                        streams.push(ConfiguredStream {
                            fields: fields.clone(),
                            sync_mode: if incremental {
                                sluice_protocol::SyncMode::Incremental
                            } else {
                                sluice_protocol::SyncMode::FullRefresh
                            },
                            cursor_field: info.default_cursor.clone(),
                            primary_key: info.primary_key.clone(),
                            schema: info.schema.clone(),
                            ..ConfiguredStream::new(info.name.clone())
                        });
                    }
                    if let Some(s) = &stream
                        && streams.is_empty()
                    {
                        let offered: Vec<&str> =
                            discovered.streams.iter().map(|s| s.name.as_str()).collect();
                        bail!(
                            "--stream {s}: the source offers no such stream; it offers: {}",
                            offered.join(", ")
                        );
                    }
                    ConfiguredCatalog { streams }
                }
            };
            let state: Vec<StreamState> = match state {
                Some(path) => args::read_json(&path, "state")?,
                None => Vec::new(),
            };
            let mut reader = connector.read(&sandbox, &config, &catalog, &state).await?;
            let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            let mut final_state: std::collections::BTreeMap<String, Value> =
                state.into_iter().map(|s| (s.stream, s.state)).collect();
            let mut records = 0u64;
            while let Some(messages) = reader.next().await? {
                for m in messages {
                    match m {
                        Message::Records(batch) => {
                            records += u64::from(batch.count);
                            out.write_all(&batch.data)?;
                        }
                        Message::State(s) => {
                            final_state.insert(s.stream, s.state);
                        }
                        Message::StreamError(e) => eprintln!("stream error: {e}"),
                        Message::Status(..) => {}
                    }
                }
            }
            out.flush()?;
            reader.close().await?;
            tracing::info!(records, "read finished");
            if let Some(path) = state_out {
                let list: Vec<StreamState> = final_state
                    .into_iter()
                    .map(|(stream, state)| StreamState { stream, state })
                    .collect();
                std::fs::write(&path, serde_json::to_string_pretty(&list)?)
                    .with_context(|| format!("cannot write the state to {}", path.display()))?;
            }
        }
        Command::Write {
            component,
            sandbox,
            stream,
            operation,
            write_mode,
            batch_size,
        } => {
            let connector = rt.load(&component.component).await?;
            require_role(&connector, Role::Destination)?;
            let sandbox = sandbox.sandbox()?;
            let config = component.config()?;
            let op: Operation = operation.into();
            let write_mode: WriteMode = write_mode.into();
            let catalog = ConfiguredCatalog {
                streams: vec![ConfiguredStream {
                    write_mode,
                    ..ConfiguredStream::new(stream.clone())
                }],
            };
            let mut writer = connector.write(&sandbox, &config, &catalog).await?;
            let stdin = std::io::stdin();
            let mut data = Vec::new();
            let (mut count, mut total, mut line_no) = (0u32, 0u64, 0u64);
            for line in stdin.lock().lines() {
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
                    writer
                        .write(
                            Batch::json_lines(stream.clone(), count, std::mem::take(&mut data)),
                            op,
                        )
                        .await?;
                    count = 0;
                }
            }
            if count > 0 {
                total += u64::from(count);
                writer
                    .write(Batch::json_lines(stream.clone(), count, data), op)
                    .await?;
            }
            writer.commit().await?;
            writer.close().await?;
            eprintln!(
                "wrote {total} records to stream `{stream}` of {} (committed)",
                connector.name()
            );
        }
        Command::Sync { pipeline, json } => {
            let pipeline = Pipeline::from_file(&pipeline)?;
            let bars = (!json).then(ui::Bars::new);
            let opts = RunOptions {
                progress: bars.as_ref().map(|b| b.callback()),
            };
            let preparing = bars.as_ref().map(|b| {
                b.note("loading connectors and discovering streams (the first run compiles them)")
            });
            // Everything that can be checked is checked before anything is
            // written: the pipeline file, both components and their roles,
            // both configs, the catalog. Only then is the state store opened
            // (or created), and only the run opens the destination.
            let prepared = pipeline.prepare(&rt).await;
            if let Some(p) = preparing {
                p.finish_and_clear();
            }
            let prepared = prepared?;
            let store = StateStore::open(&pipeline.state_path())?;
            let summary = pipeline.run_prepared(prepared, &store, &opts).await?;
            if let Some(b) = &bars {
                b.finish();
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                ui::print_summary(&summary, &pipeline);
            }
            if !summary.succeeded() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::State { command } => match command {
            StateCommand::Show { pipeline } => {
                let pipeline = Pipeline::from_file(&pipeline)?;
                let store = StateStore::open(&pipeline.state_path())?;
                let states = store.saved_states(&pipeline.name)?;
                println!("{}", serde_json::to_string_pretty(&states)?);
            }
            StateCommand::Reset { pipeline, stream } => {
                let pipeline = Pipeline::from_file(&pipeline)?;
                let store = StateStore::open(&pipeline.state_path())?;
                let n = store.reset(&pipeline.name, stream.as_deref())?;
                println!(
                    "reset the state of {n} stream(s) of pipeline `{}`",
                    pipeline.name
                );
            }
        },
        Command::Runs { pipeline, json } => {
            let pipeline = Pipeline::from_file(&pipeline)?;
            let store = StateStore::open(&pipeline.state_path())?;
            let runs = store.runs(&pipeline.name)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
            } else {
                ui::print_runs(&runs);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
