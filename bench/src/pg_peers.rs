//! The PostgreSQL peers: PipelineWise's Singer `target-postgres` and
//! `tap-postgres`, installed from PyPI into virtual environments of their
//! own, run against the bench's server.

use crate::peers::{Package, venv};
use crate::postgres::PgBench;
use crate::proc::{Outcome, median, run_counting};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The Singer target (its wheel pulls in `psycopg2-binary`).
pub const TARGET: Package = Package {
    venv: "pw-target-postgres",
    requirement: "pipelinewise-target-postgres==2.1.2",
};
/// The Singer tap.
pub const TAP: Package = Package {
    venv: "pw-tap-postgres",
    requirement: "pipelinewise-tap-postgres==1.8.4",
};

/// A peer's figures.
#[derive(Debug, Clone)]
pub struct PeerFigures {
    /// Median wall seconds of the whole run, start-up included.
    pub secs: f64,
    /// Median seconds of `--help`: the interpreter and imports.
    pub startup_secs: f64,
    /// Peak RSS of the last run, KiB.
    pub rss_kib: u64,
    /// The version run, as `v<version>`.
    pub version: String,
}

/// The JSON Schema of faker users as a Singer SCHEMA message gives it.
fn users_schema() -> Value {
    let text = json!({"type": "string"});
    let time = json!({"type": "string", "format": "date-time"});
    let int = json!({"type": "integer"});
    json!({
        "type": "object",
        "properties": {
            "id": int, "name": text, "email": text, "age": int, "city": text,
            "version": int, "created_at": time, "updated_at": time,
        }
    })
}

/// The Singer message file of the JSON-lines `users` file: SCHEMA, one
/// RECORD a user, STATE. Written once.
fn singer_messages(users: &Path, out: &Path) -> Result<(), String> {
    if out.is_file() {
        return Ok(());
    }
    let input = std::fs::File::open(users).map_err(|e| format!("{}: {e}", users.display()))?;
    let tmp = out.with_extension("tmp");
    let file = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let mut w = BufWriter::new(file);
    let schema = json!({"type": "SCHEMA", "stream": "users", "schema": users_schema(), "key_properties": ["id"]});
    let io = |e: std::io::Error| e.to_string();
    writeln!(w, "{schema}").map_err(io)?;
    for line in BufReader::new(input).lines() {
        let line = line.map_err(io)?;
        writeln!(
            w,
            "{{\"type\":\"RECORD\",\"stream\":\"users\",\"record\":{line}}}"
        )
        .map_err(io)?;
    }
    writeln!(
        w,
        "{}",
        json!({"type": "STATE", "value": {"users": "done"}})
    )
    .map_err(io)?;
    w.flush().map_err(io)?;
    drop(w);
    std::fs::rename(&tmp, out).map_err(|e| e.to_string())
}

/// Write `value` to `path`, readable by us only (it holds the password).
fn write_secret(path: &Path, value: &Value) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(value.to_string().as_bytes())
        .map_err(|e| e.to_string())
}

/// The peers' connection settings.
fn conn(b: &PgBench) -> Value {
    json!({
        "host": b.pg.host(),
        "port": b.pg.port(),
        "user": b.pg.user(),
        "password": b.pg.password(),
        "dbname": b.pg.database(),
    })
}

/// Median seconds of `program --help`.
fn startup(program: &Path, runs: usize) -> Result<f64, String> {
    let mut secs = Vec::new();
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let out = Command::new(program)
            .arg("--help")
            .output()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        if !out.status.success() {
            return Err(format!("{} --help failed", program.display()));
        }
        secs.push(started.elapsed().as_secs_f64());
    }
    Ok(median(&mut secs))
}

fn figures(outcomes: &[Outcome], startup_secs: f64, pin: &str) -> PeerFigures {
    let mut secs: Vec<f64> = outcomes.iter().map(|o| o.secs).collect();
    PeerFigures {
        secs: median(&mut secs),
        startup_secs,
        rss_kib: outcomes.last().map_or(0, |o| o.peak_rss_kib),
        version: format!("v{}", pin.rsplit("==").next().unwrap_or(pin)),
    }
}

fn peer_dir(b: &PgBench, name: &str) -> Result<PathBuf, String> {
    let dir = b.dir.join(name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// `target-postgres` loading the `n` users of `users` (JSON lines) into
/// an empty schema, `runs` times.
pub fn target_postgres(
    b: &PgBench,
    users: &Path,
    n: u64,
    runs: usize,
) -> Result<PeerFigures, String> {
    let bin = venv(b.work(), TARGET)?;
    let dir = peer_dir(b, "singer-target")?;
    let messages = b
        .work()
        .join("input")
        .join(format!("singer-users-{n}.jsonl"));
    singer_messages(users, &messages)?;
    let config = dir.join("config.json");
    let mut c = conn(b);
    c["default_target_schema"] = json!("b_singer");
    write_secret(&config, &c)?;
    let target = bin.join("target-postgres");
    let startup_secs = startup(&target, runs)?;
    let mut outcomes = Vec::new();
    for _ in 0..runs {
        b.fresh_schema("b_singer")?;
        let input = std::fs::File::open(&messages).map_err(|e| e.to_string())?;
        outcomes.push(run_counting(
            Command::new(&target)
                .arg("--config")
                .arg(&config)
                .stdin(Stdio::from(input)),
            "",
        )?);
        b.expect_rows("b_singer.users", "", n)?;
    }
    Ok(figures(&outcomes, startup_secs, TARGET.requirement))
}

/// Select `schema`.users for a FULL_TABLE sync in the catalog `tap-postgres
/// --discover` printed; the other streams are left out.
fn select_users(discovered: &[u8], schema: &str) -> Result<Value, String> {
    let catalog: Value = serde_json::from_slice(discovered)
        .map_err(|e| format!("tap-postgres --discover printed no catalog: {e}"))?;
    let mut chosen = Vec::new();
    for mut stream in catalog["streams"].as_array().cloned().unwrap_or_default() {
        let metadata = stream["metadata"].as_array_mut().map(std::mem::take);
        let mut metadata = metadata.unwrap_or_default();
        let top = metadata
            .iter_mut()
            .find(|m| m["breadcrumb"].as_array().is_some_and(|b| b.is_empty()));
        let Some(top) = top else { continue };
        if stream["table_name"] != "users" || top["metadata"]["schema-name"] != schema {
            continue;
        }
        top["metadata"]["selected"] = json!(true);
        top["metadata"]["replication-method"] = json!("FULL_TABLE");
        for m in &mut metadata {
            m["metadata"]["selected"] = json!(true);
        }
        stream["metadata"] = Value::Array(metadata);
        chosen.push(stream);
    }
    if chosen.len() != 1 {
        return Err(format!(
            "tap-postgres --discover found {} streams for {schema}.users",
            chosen.len()
        ));
    }
    Ok(json!({"streams": chosen}))
}

/// `tap-postgres` reading `schema`.users (`n` rows) to a pipe, `runs` times.
pub fn tap_postgres(b: &PgBench, schema: &str, n: u64, runs: usize) -> Result<PeerFigures, String> {
    let bin = venv(b.work(), TAP)?;
    let dir = peer_dir(b, "singer-tap")?;
    let config = dir.join("config.json");
    let mut c = conn(b);
    c["filter_schemas"] = json!(schema);
    write_secret(&config, &c)?;
    let tap = bin.join("tap-postgres");
    let discovered = Command::new(&tap)
        .arg("--config")
        .arg(&config)
        .arg("--discover")
        .output()
        .map_err(|e| format!("tap-postgres: {e}"))?;
    if !discovered.status.success() {
        let err = String::from_utf8_lossy(&discovered.stderr);
        return Err(format!(
            "tap-postgres --discover failed: {}",
            err.lines().last().unwrap_or("")
        ));
    }
    let catalog = dir.join("catalog.json");
    std::fs::write(
        &catalog,
        select_users(&discovered.stdout, schema)?.to_string(),
    )
    .map_err(|e| e.to_string())?;
    let startup_secs = startup(&tap, runs)?;
    let mut outcomes = Vec::new();
    for _ in 0..runs {
        let o = run_counting(
            Command::new(&tap)
                .arg("--config")
                .arg(&config)
                .arg("--catalog")
                .arg(&catalog),
            "\"RECORD\"",
        )?;
        if o.lines != n {
            return Err(format!(
                "tap-postgres emitted {} records, expected {n}",
                o.lines
            ));
        }
        outcomes.push(o);
    }
    Ok(figures(&outcomes, startup_secs, TAP.requirement))
}
