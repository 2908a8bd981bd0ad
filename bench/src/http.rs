//! The HTTP rows: every user of the test REST API (`sluice-http-server`
//! on loopback, a token required) read page by page, [`PER_PAGE`] a page,
//! by sluice's source-http into dest-file (`sluice sync`, sandboxed, every
//! request through the host's egress check) and by the two peers, the
//! Singer SDK's `tap-rest-api-msdk` and Airbyte's
//! `source-declarative-manifest`, each printing its messages to a pipe.

use crate::http_peers::{self, Api, PER_PAGE};
use crate::peers::PeerRun;
use crate::report::{Ctx, mib, rate};
use crate::singer_sluice::sync_runs;
use serde_json::json;
use sluice_http_server::{HttpServer, Options};
use std::path::PathBuf;

/// The token the API asks for.
const TOKEN: &str = "bench-token-5b0c";

/// sluice against each peer on `records` users, `runs` runs each.
pub(crate) fn rows(ctx: &Ctx, records: u64, runs: usize) -> Vec<String> {
    match measure_all(ctx, records, runs) {
        Ok(rows) => rows,
        Err(e) => vec![format!(
            "| HTTP API, {records} users | unavailable: {} | | | | |",
            e.replace('|', "/").replace('\n', " ")
        )],
    }
}

fn measure_all(ctx: &Ctx, records: u64, runs: usize) -> Result<Vec<String>, String> {
    let server = HttpServer::start(Options {
        users: usize::try_from(records).map_err(|e| e.to_string())?,
        token: Some(TOKEN.into()),
        per_page: PER_PAGE as usize,
        keep_log: false,
        ..Options::default()
    })
    .map_err(|e| format!("the test API: {e}"))?;
    let base_url = server.base_url();
    let api = Api {
        base_url: &base_url,
        token: TOKEN,
    };
    let pipeline = pipeline(ctx, &server)?;
    let (secs, rss, written) = sync_runs(&ctx.work, &ctx.sluice, &pipeline, "users", runs.max(3))?;
    if written != records {
        return Err(format!(
            "dest-file holds {written} users, expected {records}"
        ));
    }
    let sluice = PeerRun {
        records,
        secs,
        startup_secs: 0.0,
        peak_rss_kib: rss,
    };
    let pages = records / PER_PAGE;
    let what = |peer: &str| {
        format!(
            "HTTP API, {records} users in {pages} pages of {PER_PAGE}: sluice source-http -> dest-file vs {peer} (to a pipe)"
        )
    };
    let singer = http_peers::tap_rest_api(&ctx.work, api, records, runs);
    let airbyte = http_peers::airbyte_declarative(&ctx.work, api, records, runs);
    Ok(vec![
        row(
            &what("Singer `tap-rest-api-msdk`"),
            &sluice,
            singer,
            "--about",
        ),
        row(
            &what("Airbyte `source-declarative-manifest`"),
            &sluice,
            airbyte,
            "spec",
        ),
    ])
}

/// `work/http/users.toml`: source-http granted only the API's port, pages
/// by number, into dest-file.
fn pipeline(ctx: &Ctx, server: &HttpServer) -> Result<PathBuf, String> {
    let dir = ctx.work.join("http");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let config = json!({
        "base_url": server.base_url(),
        "auth": {"type": "bearer", "token": TOKEN},
        "streams": [{
            "name": "users", "path": "/page/users", "records_path": "data",
            "primary_key": ["id"],
            "pagination": {"type": "page_number", "page_param": "page", "size_param": "per_page", "size": PER_PAGE, "start": 1},
        }],
    });
    let text = format!(
        "[source]\ncomponent = {:?}\nhosts = [\"127.0.0.1:{}\"]\nconfig = {}\n\n\
         [destination]\ncomponent = {:?}\nconfig = {{ path = \"/out\" }}\n\
         dirs = [{{ host = \"out\", guest = \"/out\", write = true }}]\n",
        ctx.components
            .join("source-http.wasm")
            .display()
            .to_string(),
        server.port(),
        crate::postgres::inline(&config),
        ctx.components.join("dest-file.wasm").display().to_string(),
    );
    let path = dir.join("users.toml");
    std::fs::write(&path, text).map_err(|e| e.to_string())?;
    Ok(path)
}

/// One row: sluice's rate against the peer's, or why the peer is missing.
fn row(what: &str, sluice: &PeerRun, peer: Result<PeerRun, String>, startup: &str) -> String {
    let mine = sluice.records as f64 / sluice.secs;
    match peer {
        Ok(p) => {
            let theirs = p.records as f64 / p.secs;
            format!(
                "| {what} | {} end to end ({} RSS) | {} incl. start-up; `{startup}` {:.2} s; {} RSS | sluice {:.1}x faster | | |",
                rate(mine),
                mib(sluice.peak_rss_kib),
                rate(theirs),
                p.startup_secs,
                mib(p.peak_rss_kib),
                mine / theirs,
            )
        }
        Err(e) => format!(
            "| {what} | {} end to end | unavailable: {} | | | |",
            rate(mine),
            e.replace('|', "/").replace('\n', " ")
        ),
    }
}
