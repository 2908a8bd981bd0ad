//! `sluice-http-server`: the test REST API on loopback, for trying HTTP
//! source connectors by hand. Prints its base URL and serves until killed.

use clap::Parser;
use sluice_http_server::{HttpServer, Options};

/// The sluice test REST API on 127.0.0.1: users through five pagination
/// styles (/page, /offset, /cursor, /next, /link + /users), orders
/// (/users/{id}/orders), /redirect and /big.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// How many users to serve.
    #[arg(long, default_value_t = 250)]
    users: usize,
    /// How many orders each user has (at most 99).
    #[arg(long, default_value_t = 3)]
    orders_per_user: usize,
    /// The port to listen on (0: a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The page size when a request names none.
    #[arg(long, default_value_t = 100)]
    per_page: usize,
    /// Require this token (bearer, X-Api-Key, ?api_key= or Basic sluice:TOKEN).
    #[arg(long, env = "SLUICE_HTTP_TOKEN")]
    token: Option<String>,
    /// Answer every n-th request 429.
    #[arg(long)]
    rate_limit_every: Option<u32>,
    /// Answer every m-th request 503.
    #[arg(long)]
    fail_every: Option<u32>,
    /// The Retry-After of a 429, in seconds.
    #[arg(long, default_value_t = 1)]
    retry_after_secs: u64,
    /// Serve HTTPS; the CA to trust is written to this PEM file.
    #[arg(long)]
    tls_ca_out: Option<std::path::PathBuf>,
}

fn main() {
    let args = Args::parse();
    let options = Options {
        users: args.users,
        orders_per_user: args.orders_per_user,
        token: args.token,
        rate_limit_every: args.rate_limit_every,
        fail_every: args.fail_every,
        retry_after_secs: args.retry_after_secs,
        per_page: args.per_page,
        port: args.port,
        // It runs until killed: a log nobody reads would only grow.
        keep_log: false,
        tls: args.tls_ca_out.is_some(),
    };
    let server = match HttpServer::start(options) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("sluice-http-server: {e}");
            if let Some(source) = std::error::Error::source(&e) {
                eprintln!("  caused by: {source}");
            }
            std::process::exit(1);
        }
    };
    if let (Some(path), Some(pem)) = (&args.tls_ca_out, server.ca_pem())
        && let Err(e) = std::fs::write(path, pem)
    {
        eprintln!("sluice-http-server: cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
    println!("{}", server.base_url());
    loop {
        std::thread::park();
    }
}
