//! `sluice`: run sandboxed data connectors and pipelines.

mod args;
mod commands;
mod metrics_server;
mod signals;
mod status_page;
mod ui;

use anyhow::Result;
use clap::{Parser, Subcommand};
use commands::{connector, discover, init, pipeline, read, schemas, serve, state, status, write};
use sluice_runtime::Runtime;
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
    Spec(connector::SpecArgs),
    /// Validate a config and test the connection.
    Check(connector::ConfiguredArgs),
    /// List the streams a connector offers, or as a destination receives them.
    Discover(discover::DiscoverArgs),
    /// Read records from a source and print them as JSON lines, or as
    /// Singer or Airbyte messages (--format).
    #[command(alias = "extract")]
    Read(read::ReadArgs),
    /// Write JSON lines, or Singer or Airbyte messages (--format), from
    /// stdin into a destination.
    #[command(alias = "load")]
    Write(write::WriteArgs),
    /// Run a pipeline file: source -> destination, with state.
    Sync(pipeline::SyncArgs),
    /// Run every pipeline on its `[schedule]` in one long-running process,
    /// picking up pipeline files as they are added, changed and removed.
    Serve(serve::ServeArgs),
    /// When each stream last synced, what it moved, its cursor and schema
    /// version, and the next scheduled run.
    Status(status::StatusArgs),
    /// Write a new pipeline file from a Singer or configured Airbyte catalog.
    Init(init::InitArgs),
    /// Show, reset, export or import a pipeline's saved state (as sluice,
    /// Singer or Airbyte state files).
    State {
        #[command(subcommand)]
        command: state::StateCommand,
    },
    /// Show a pipeline's run history.
    Runs(pipeline::RunsArgs),
    /// Show the schema versions of a pipeline's streams, and their changes.
    Schemas {
        #[command(subcommand)]
        command: schemas::SchemasCommand,
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
    if matches!(cli.command, Command::Serve(_)) {
        bound_allocator_arenas();
    }
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
    let code = match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::FAILURE
        }
    };
    // A read of stdin may still be blocked (a `write` that stopped on a
    // bad line while its input goes on): exit without waiting for it.
    runtime.shutdown_background();
    code
}

/// Two malloc arenas for the whole process, unless `MALLOC_ARENA_MAX` says
/// otherwise. glibc gives threads that allocate at once arenas of their
/// own (up to eight per core) and keeps what is freed in each: `sluice
/// serve`, whose runs start on ever-new blocking-pool threads, grew by
/// about 4 KiB a run with the default and stays flat with two
/// (docs/reliability.md, "Soak"). A one-off command keeps the default.
fn bound_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: called in main before any thread exists; it only sets
        // an allocator parameter.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
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
        Command::Spec(a) => connector::spec(&rt, a).await,
        Command::Check(a) => connector::check(&rt, a).await,
        Command::Discover(a) => discover::discover(&rt, a).await,
        Command::Read(a) => read::read(&rt, a).await,
        Command::Write(a) => write::write(&rt, a).await,
        Command::Sync(a) => pipeline::sync(&rt, a).await,
        Command::Serve(a) => serve::serve(&rt, a).await,
        Command::Status(a) => status::status(a),
        Command::Init(a) => init::init(a),
        Command::State { command } => state::state(command),
        Command::Runs(a) => pipeline::runs(a),
        Command::Schemas { command } => schemas::schemas(command),
    }
}
