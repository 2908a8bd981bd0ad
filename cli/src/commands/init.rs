//! `init --from-catalog`: a new pipeline file whose streams are the ones
//! a Singer catalog selects or a configured Airbyte catalog configures.

use crate::args;
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde::Serialize;
use serde_json::Value;
use sluice_interop::catalog;
use sluice_protocol::{ConfiguredCatalog, ConfiguredStream, SyncMode, WriteMode};
use sluice_runtime::pipeline::Pipeline;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `init`.
#[derive(Args)]
pub struct InitArgs {
    /// A Singer catalog (its streams with `selected` metadata become the
    /// pipeline's streams, with their replication method, replication key,
    /// key properties and selected fields) or a configured Airbyte catalog
    /// (every stream, with its sync mode, cursor, primary key and
    /// destination sync mode); which one is told by its shape.
    #[arg(long, value_name = "FILE")]
    from_catalog: PathBuf,
    /// The source component (.wasm).
    #[arg(long, value_name = "SRC.wasm")]
    source: PathBuf,
    /// The destination component (.wasm).
    #[arg(long, value_name = "DST.wasm")]
    destination: PathBuf,
    /// The source's config (JSON or TOML), written into the file as it is.
    #[arg(long, value_name = "FILE")]
    source_config: Option<PathBuf>,
    /// The destination's config (JSON or TOML), written into the file.
    #[arg(long, value_name = "FILE")]
    destination_config: Option<PathBuf>,
    /// Grant the source a directory: HOST:GUEST or HOST:GUEST:rw.
    #[arg(long = "source-dir", value_name = "HOST:GUEST[:rw]")]
    source_dirs: Vec<String>,
    /// Grant the destination a directory: HOST:GUEST or HOST:GUEST:rw.
    #[arg(long = "destination-dir", value_name = "HOST:GUEST[:rw]")]
    destination_dirs: Vec<String>,
    /// The pipeline file to write; an existing file is never overwritten.
    #[arg(long, short, default_value = "pipeline.toml")]
    output: PathBuf,
}

/// The pipeline file `init` writes.
#[derive(Serialize)]
struct NewPipeline {
    source: NewEndpoint,
    destination: NewEndpoint,
    streams: Vec<NewStream>,
}

/// One end of it: a component, its config, its directory grants.
#[derive(Serialize)]
struct NewEndpoint {
    component: String,
    #[serde(skip_serializing_if = "is_empty_object")]
    config: Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dirs: Vec<NewDir>,
}

/// A directory grant.
#[derive(Serialize)]
struct NewDir {
    host: String,
    guest: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    write: bool,
}

/// One `[[streams]]` entry.
#[derive(Serialize)]
struct NewStream {
    name: String,
    sync_mode: SyncMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor_field: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    primary_key: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    write_mode: Option<WriteMode>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<String>,
}

fn is_empty_object(v: &Value) -> bool {
    v.as_object().is_some_and(|o| o.is_empty())
}

/// Which protocol a catalog file is of.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Singer,
    Airbyte,
}

/// `sluice init`.
pub fn init(a: InitArgs) -> Result<ExitCode> {
    let file = &a.from_catalog;
    let value: Value = args::read_json(file, "catalog")?;
    let kind = kind_of(&value).with_context(|| format!("{}", file.display()))?;
    let configured = match kind {
        Kind::Singer => catalog::configured_from_singer(&value),
        Kind::Airbyte => catalog::configured_from_airbyte(&value),
    }
    .map_err(|e| anyhow!("{}: {e}", file.display()))?;
    if configured.streams.is_empty() {
        bail!(
            "{}: the catalog selects no stream (mark the streams to sync `\"selected\": true` in their metadata)",
            file.display()
        );
    }
    let dir = output_dir(&a.output)?;
    let pipeline = NewPipeline {
        source: endpoint(&a.source, a.source_config.as_deref(), &a.source_dirs, &dir)?,
        destination: endpoint(
            &a.destination,
            a.destination_config.as_deref(),
            &a.destination_dirs,
            &dir,
        )?,
        streams: streams(&configured, kind),
    };
    let text = toml::to_string(&pipeline).context("cannot write the pipeline as TOML")?;
    check_parses(&text, &dir, &a.output)?;
    write_new(&a.output, &text)?;
    let what = match kind {
        Kind::Singer => "Singer catalog",
        Kind::Airbyte => "configured Airbyte catalog",
    };
    println!(
        "wrote {} with {} stream(s) from the {what} {}",
        a.output.display(),
        pipeline.streams.len(),
        file.display()
    );
    println!("next: sluice sync {}", a.output.display());
    Ok(ExitCode::SUCCESS)
}

/// A configured Airbyte catalog's streams hold a `stream` object; a
/// Singer catalog's streams have a `tap_stream_id` or `metadata`.
fn kind_of(catalog: &Value) -> Result<Kind> {
    let streams = catalog
        .get("streams")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("a catalog needs a `streams` list"))?;
    let first = streams
        .first()
        .ok_or_else(|| anyhow!("the catalog has no streams"))?;
    if first.get("stream").is_some_and(Value::is_object) {
        return Ok(Kind::Airbyte);
    }
    if first.get("tap_stream_id").is_some() || first.get("metadata").is_some() {
        return Ok(Kind::Singer);
    }
    if first.get("json_schema").is_some() {
        bail!(
            "this is an Airbyte catalog, not a configured one: wrap each stream as \
             {{\"stream\": ..., \"sync_mode\": ..., \"destination_sync_mode\": ...}}"
        );
    }
    bail!(
        "neither a Singer catalog (streams with `tap_stream_id` and `metadata`) \
         nor a configured Airbyte catalog (streams with a `stream` object)"
    )
}

/// The `[[streams]]` of a configured catalog. Singer has no write modes:
/// those streams keep the pipeline's default (append for incremental,
/// overwrite for full refresh).
fn streams(configured: &ConfiguredCatalog, kind: Kind) -> Vec<NewStream> {
    let stream = |s: &ConfiguredStream| NewStream {
        name: s.name.clone(),
        sync_mode: s.sync_mode,
        cursor_field: s.cursor_field.clone(),
        primary_key: s.primary_key.clone(),
        write_mode: (kind == Kind::Airbyte).then_some(s.write_mode),
        fields: s.fields.clone(),
    };
    configured.streams.iter().map(stream).collect()
}

/// The directory the new file is in, absolute.
fn output_dir(output: &Path) -> Result<PathBuf> {
    let absolute = std::path::absolute(output)
        .with_context(|| format!("--output {}: not a usable path", output.display()))?;
    Ok(absolute.parent().map(Path::to_path_buf).unwrap_or_default())
}

/// One end of the pipeline: `component` as the file resolves it (relative
/// to the file's directory when it is below it).
fn endpoint(
    component: &Path,
    config: Option<&Path>,
    dirs: &[String],
    dir: &Path,
) -> Result<NewEndpoint> {
    if !component.is_file() {
        bail!("{}: no such component file", component.display());
    }
    let dirs = dirs
        .iter()
        .map(|d| grant(d, dir))
        .collect::<Result<Vec<_>>>()?;
    Ok(NewEndpoint {
        component: relative_to(component, dir)?,
        config: args::read_config(config)?,
        dirs,
    })
}

/// `path` relative to `dir` when it is below it, else absolute.
fn relative_to(path: &Path, dir: &Path) -> Result<String> {
    let absolute = std::path::absolute(path)
        .with_context(|| format!("{}: not a usable path", path.display()))?;
    let shown = absolute.strip_prefix(dir).unwrap_or(&absolute);
    Ok(shown.to_string_lossy().into_owned())
}

/// A `HOST:GUEST[:rw]` grant, the host path as the file resolves it.
fn grant(text: &str, dir: &Path) -> Result<NewDir> {
    let parts: Vec<&str> = text.split(':').collect();
    let (host, guest, write) = match parts.as_slice() {
        [h, g] => (*h, *g, false),
        [h, g, "rw"] => (*h, *g, true),
        [h, g, "ro"] => (*h, *g, false),
        _ => bail!("{text}: expected HOST:GUEST or HOST:GUEST:rw"),
    };
    Ok(NewDir {
        host: relative_to(Path::new(host), dir)?,
        guest: guest.to_string(),
        write,
    })
}

/// Parse the new file the way `sync` will, before it is written.
fn check_parses(text: &str, dir: &Path, output: &Path) -> Result<()> {
    let name = output.display().to_string();
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Pipeline::from_toml(text, dir, &name, &stem)
        .map(|_| ())
        .with_context(|| format!("the pipeline written to {name} would not parse"))
}

/// Create `path` with `text`; an existing file is an error.
fn write_new(path: &Path, text: &str) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => anyhow!(
                "{} exists already; choose another --output (it is never overwritten)",
                path.display()
            ),
            _ => anyhow!("cannot create {}: {e}", path.display()),
        })?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn catalogs_are_told_apart_by_their_streams() {
        let singer = json!({"streams": [{"tap_stream_id": "a", "metadata": []}]});
        assert!(matches!(kind_of(&singer), Ok(Kind::Singer)));
        let configured =
            json!({"streams": [{"stream": {"name": "a"}, "sync_mode": "full_refresh"}]});
        assert!(matches!(kind_of(&configured), Ok(Kind::Airbyte)));
        let plain = json!({"streams": [{"name": "a", "json_schema": {}}]});
        let e = kind_of(&plain).err().unwrap().to_string();
        assert!(e.contains("not a configured one"), "{e}");
        assert!(kind_of(&json!({"streams": []})).is_err());
        assert!(kind_of(&json!([])).is_err());
    }

    #[test]
    fn paths_below_the_file_are_written_relative_to_it() {
        let dir = std::path::absolute("p").unwrap();
        assert_eq!(
            relative_to(&dir.join("c/x.wasm"), &dir).unwrap(),
            "c/x.wasm"
        );
        assert_eq!(
            relative_to(Path::new("/elsewhere/x.wasm"), &dir).unwrap(),
            "/elsewhere/x.wasm"
        );
        let g = grant("out:/out:rw", &std::path::absolute(".").unwrap()).unwrap();
        assert_eq!(
            (g.host.as_str(), g.guest.as_str(), g.write),
            ("out", "/out", true)
        );
        assert!(grant("out", &dir).is_err());
    }
}
