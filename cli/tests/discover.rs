//! `discover --destination` and `discover --pipeline`: each stream as the
//! destination receives it, reserved-key renames included, and a sync
//! that writes exactly what discover showed.

mod support;

use serde_json::{Value, json};
use sluice_artifacts as artifacts;
use std::path::{Path, PathBuf};
use std::process::Output;
use support::{PipelineToml, sluice, text};

/// `sluice discover --json --pipeline p`'s catalog.
fn discovered(p: &Path) -> Value {
    let o = sluice()
        .args(["discover", "--json", "--pipeline"])
        .arg(p)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    serde_json::from_str(&out).unwrap()
}

/// `sluice sync p`, then what dest-file wrote to `out/events.jsonl` below
/// `dir`.
fn synced_events(p: &Path, dir: &Path) -> String {
    let o = sluice().arg("sync").arg(p).arg("--json").output().unwrap();
    assert!(o.status.success(), "{}", text(&o).1);
    std::fs::read_to_string(dir.join("out/events.jsonl")).unwrap()
}

/// Input rows holding dest-file's reserved `_sluice_operation` and the
/// name its first rename would take, `_sluice_operation_`.
const ROWS: &str = "{\"id\":1,\"_sluice_operation\":\"a\",\"_sluice_operation_\":\"b\"}\n\
                    {\"id\":2,\"_sluice_operation\":\"c\",\"_sluice_operation_\":\"d\"}\n";

/// `in/events.jsonl` holding [`ROWS`], and source-file's config for it.
fn input(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("in")).unwrap();
    std::fs::write(dir.join("in/events.jsonl"), ROWS).unwrap();
    let config = dir.join("source.json");
    std::fs::write(&config, json!({"path": "/in"}).to_string()).unwrap();
    config
}

/// `sluice discover` of source-file over `dir/in`, with `args`.
fn discover(dir: &Path, args: &[&str]) -> Output {
    let grant = format!("{}:/in", dir.join("in").display());
    sluice()
        .args([
            "discover",
            artifacts::SOURCE_FILE,
            "--dir",
            &grant,
            "--config",
        ])
        .arg(input(dir))
        .args(args)
        .output()
        .unwrap()
}

/// The field names of stream `name` in a `discover --json` catalog.
fn fields(catalog: &Value, name: &str) -> Vec<String> {
    let stream = catalog["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no stream `{name}` in {catalog}"));
    let mut names: Vec<String> = stream["schema"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    names.sort();
    names
}

const RENAMED: &str =
    "renamed (a key the destination reserves): _sluice_operation -> _sluice_operation__";

#[test]
fn discover_with_a_destination_shows_its_reserved_key_renames() {
    let dir = tempfile::tempdir().unwrap();
    let o = discover(dir.path(), &["--destination", artifacts::DEST_FILE]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("as destination `dest-file` receives them"),
        "{out}"
    );
    assert!(out.contains(RENAMED), "{out}");
    assert!(
        !out.contains("_sluice_operation_ ->"),
        "only one rename: {out}"
    );

    let o = discover(
        dir.path(),
        &["--destination", artifacts::DEST_FILE, "--json"],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let catalog: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        fields(&catalog, "events"),
        ["_sluice_operation_", "_sluice_operation__", "id"]
    );

    // Without a destination nothing is renamed.
    let o = discover(dir.path(), &["--json"]);
    let catalog: Value = serde_json::from_str(&text(&o).0).unwrap();
    assert_eq!(
        fields(&catalog, "events"),
        ["_sluice_operation", "_sluice_operation_", "id"]
    );
}

#[test]
fn discover_with_fields_renames_only_what_is_selected() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--destination",
        artifacts::DEST_FILE,
        "--stream",
        "events",
        "--fields",
        "id,_sluice_operation",
        "--json",
    ];
    let o = discover(dir.path(), &args);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let catalog: Value = serde_json::from_str(&out).unwrap();
    // `_sluice_operation_` is not selected, so the first free name is it.
    assert_eq!(fields(&catalog, "events"), ["_sluice_operation_", "id"]);

    let o = discover(dir.path(), &["--stream", "events", "--fields", "id,nope"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o).1;
    assert!(
        err.contains("--stream events: field `nope` is not in the stream's schema (fields: "),
        "{err}"
    );
}

#[test]
fn a_sync_writes_what_discover_of_the_pipeline_shows() {
    let dir = tempfile::tempdir().unwrap();
    input(dir.path());
    let toml = PipelineToml::new(artifacts::SOURCE_FILE, json!({"path": "/in"}))
        .source_dirs(json!([{"host": "in", "guest": "/in"}]));
    toml.create_dirs(dir.path());
    let p = toml.write(dir.path(), "p.toml");

    let o = sluice()
        .arg("discover")
        .arg("--pipeline")
        .arg(&p)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains(RENAMED), "{out}");
    let catalog = discovered(&p);
    assert_eq!(
        fields(&catalog, "events"),
        ["_sluice_operation_", "_sluice_operation__", "id"]
    );

    let written = synced_events(&p, dir.path());
    assert_eq!(
        written,
        "{\"id\":1,\"_sluice_operation__\":\"a\",\"_sluice_operation_\":\"b\"}\n\
         {\"id\":2,\"_sluice_operation__\":\"c\",\"_sluice_operation_\":\"d\"}\n"
    );
}

/// The field names of stream `name` in a `discover --json` catalog, in
/// the schema's order.
fn ordered_fields(catalog: &Value, name: &str) -> Vec<String> {
    let stream = catalog["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no stream `{name}` in {catalog}"));
    stream["schema"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn discover_of_a_pipeline_shows_its_transforms_then_the_reserved_renames() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("in")).unwrap();
    std::fs::write(
        dir.path().join("in/events.jsonl"),
        "{\"id\":1,\"name\":\"a\",\"_sluice_operation\":\"x\",\"_sluice_operation_\":\"y\"}\n\
         {\"id\":2,\"name\":\"b\",\"_sluice_operation\":\"z\",\"_sluice_operation_\":\"w\"}\n",
    )
    .unwrap();
    // Dropping `_sluice_operation_` frees that name, so the reserved
    // `_sluice_operation` takes it (not `_sluice_operation__`).
    let toml = PipelineToml::new(artifacts::SOURCE_FILE, json!({"path": "/in"}))
        .source_dirs(json!([{"host": "in", "guest": "/in"}]))
        .stream(json!({"name": "events", "transforms": [
            {"rename": {"from": "name", "to": "title"}},
            {"drop": ["_sluice_operation_"]}
        ]}));
    let p = toml.write(dir.path(), "p.toml");

    let o = sluice()
        .arg("discover")
        .arg("--pipeline")
        .arg(&p)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("as destination `dest-file` receives them"),
        "{out}"
    );
    let shown: Vec<&str> = out
        .lines()
        .find_map(|l| l.strip_prefix("  fields: "))
        .unwrap_or_else(|| panic!("no fields line in:\n{out}"))
        .split(", ")
        .map(|f| f.split(':').next().unwrap())
        .collect();
    assert_eq!(shown, ["id", "title", "_sluice_operation_"], "{out}");
    assert!(
        out.contains(
            "renamed (a key the destination reserves): _sluice_operation -> _sluice_operation_\n"
        ),
        "{out}"
    );
    assert!(!out.contains("_sluice_operation__"), "{out}");
    assert_eq!(
        out.matches("renamed (a key the destination reserves)")
            .count(),
        1,
        "{out}"
    );

    let catalog = discovered(&p);
    assert_eq!(
        ordered_fields(&catalog, "events"),
        ["id", "title", "_sluice_operation_"]
    );

    let written = synced_events(&p, dir.path());
    assert_eq!(
        written,
        "{\"id\":1,\"title\":\"a\",\"_sluice_operation_\":\"x\"}\n\
         {\"id\":2,\"title\":\"b\",\"_sluice_operation_\":\"z\"}\n"
    );
}
