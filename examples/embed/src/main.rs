//! `sluice-embed-example DIR [ADDR]`: serve the pipelines of `DIR` on
//! `ADDR` (default 127.0.0.1:8088).

use sluice_embed_example::App;
use sluice_runtime::Runtime;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or("usage: sluice-embed-example DIR [ADDR]")?;
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8088".into());
    let app = App::load(Runtime::new()?, dir.as_ref())?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("serving the pipelines of {dir} on http://{addr}/pipelines");
    axum::serve(listener, app.router()).await?;
    Ok(())
}
