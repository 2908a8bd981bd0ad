//! `sluice schemas list | show | diff` after two syncs that share a state
//! store, the second with source-faker's `schema_version = 2` (which adds
//! an optional `orders.coupon` and widens `orders.amount_cents` from int32
//! to int64).

mod support;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use support::{PipelineToml, sluice, text};

/// The faker pipeline `p.toml` in `dir`, at `schema_version`.
fn pipeline(dir: &Path, schema_version: u32) -> PathBuf {
    PipelineToml::faker(json!({"count": 20, "schema_version": schema_version}))
        .name("evolving")
        .write(dir, "p.toml")
}

/// `sluice schemas <args> p.toml <rest>`; asserts success, returns stdout.
fn schemas(p: &Path, args: &[&str], rest: &[&str]) -> String {
    let o = sluice()
        .arg("schemas")
        .args(args)
        .arg(p)
        .args(rest)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "schemas {args:?} {rest:?}: {err}");
    out
}

/// Two syncs, versions 1 then 2, into one store; returns the pipeline.
fn two_syncs(dir: &Path) -> PathBuf {
    for version in [1, 2] {
        let p = pipeline(dir, version);
        let o = sluice().arg("sync").arg(&p).arg("--json").output().unwrap();
        assert!(o.status.success(), "sync {version}: {}", text(&o).1);
    }
    dir.join("p.toml")
}

#[test]
fn list_shows_each_orders_version_with_the_run_that_first_saw_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = two_syncs(dir.path());
    let list: Value = serde_json::from_str(&schemas(&p, &["list", "--json"], &[])).unwrap();
    let orders = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"] == "orders")
        .unwrap_or_else(|| panic!("no orders in {list}"));
    let seen: Vec<(u64, u64)> = orders["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let version = v["version"].as_u64().unwrap();
            (version, v["first_seen_run"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(seen, [(1, 1), (2, 2)], "{list}");
    let table = schemas(&p, &["list"], &[]);
    assert!(table.contains("orders"), "{table}");
}

#[test]
fn diff_names_the_added_and_the_widened_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = two_syncs(dir.path());
    let out = schemas(&p, &["diff"], &["orders"]);
    assert!(out.contains("stream `orders`: version 1 -> 2"), "{out}");
    let line = |kind: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(kind))
            .unwrap_or_else(|| panic!("no `{kind}` line in:\n{out}"))
            .to_string()
    };
    assert!(line("added").contains("coupon"), "{out}");
    let widened = line("widened");
    assert!(
        widened.contains("amount_cents") && widened.contains("int32") && widened.contains("int64"),
        "{out}"
    );

    let diff: Value = serde_json::from_str(&schemas(&p, &["diff"], &["orders", "--json"])).unwrap();
    assert_eq!(
        (diff["from"].clone(), diff["to"].clone()),
        (json!(1), json!(2))
    );
    let changes: Vec<(String, String)> = diff["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let kind = c["kind"].as_str().unwrap().to_string();
            (kind, c["field"].as_str().unwrap().to_string())
        })
        .collect();
    for expected in [("added", "coupon"), ("widened", "amount_cents")] {
        assert!(
            changes
                .iter()
                .any(|(k, f)| (k.as_str(), f.as_str()) == expected),
            "{expected:?} not in {diff}"
        );
    }
}

#[test]
fn show_prints_each_version_as_json_schema() {
    let dir = tempfile::tempdir().unwrap();
    let p = two_syncs(dir.path());
    let show =
        |rest: &[&str]| -> Value { serde_json::from_str(&schemas(&p, &["show"], rest)).unwrap() };
    let v1 = show(&["orders", "--version", "1"]);
    let props = v1["properties"].as_object().unwrap();
    assert!(props.contains_key("amount_cents"), "{v1}");
    assert!(!props.contains_key("coupon"), "{v1}");
    let latest = show(&["orders"]);
    assert!(latest["properties"].get("coupon").is_some(), "{latest}");

    let o = sluice()
        .args(["schemas", "show"])
        .arg(&p)
        .args(["orders", "--version", "9"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o).1;
    assert!(
        err.contains("stream `orders` has no schema version 9; it has 1, 2"),
        "{err}"
    );
}
