//! `sluice schemas list | show | diff` after two syncs that share a state
//! store, the second with source-faker's `schema_version = 2` (which adds
//! an optional `orders.coupon` and widens `orders.amount_cents` from int32
//! to int64), or the other way round (the field removed, the type
//! narrowed).

mod support;

use serde_json::{Value, json};
use sluice_protocol::schema::Schema;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use support::{PipelineToml, sluice, text};

/// The faker pipeline `p.toml` in `dir`, at `schema_version`, with `extra`
/// TOML appended.
fn pipeline(dir: &Path, schema_version: u32, extra: &str) -> PathBuf {
    PipelineToml::faker(json!({"count": 20, "schema_version": schema_version}))
        .name("evolving")
        .extra(extra)
        .write(dir, "p.toml")
}

fn now_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(since.as_millis()).unwrap()
}

/// One successful sync per schema version, in order, into one store;
/// returns the pipeline and the (start, end) of each sync in Unix ms.
fn syncs(dir: &Path, versions: &[u32], extra: &str) -> (PathBuf, Vec<(u64, u64)>) {
    let mut windows = Vec::new();
    for &version in versions {
        let p = pipeline(dir, version, extra);
        let start = now_ms();
        let o = sluice().arg("sync").arg(&p).arg("--json").output().unwrap();
        windows.push((start, now_ms()));
        assert!(o.status.success(), "sync {version}: {}", text(&o).1);
    }
    (dir.join("p.toml"), windows)
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
    syncs(dir, &[1, 2], "").0
}

/// The versions of `stream` in a `schemas list --json` output.
fn versions_in<'a>(list: &'a Value, stream: &str) -> &'a [Value] {
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"] == stream)
        .unwrap_or_else(|| panic!("no {stream} in {list}"))["versions"]
        .as_array()
        .unwrap()
}

/// The typed `orders` row of source-faker at `schema_version`, as
/// `schemas show --json` prints it.
fn orders_schema(schema_version: u32) -> Value {
    let field = |name: &str, ty: &str| json!({"name": name, "type": ty, "required": true});
    let amount = if schema_version >= 2 {
        "int64"
    } else {
        "int32"
    };
    let mut fields = vec![
        field("id", "int64"),
        field("user_id", "int64"),
        field("amount_cents", amount),
        field("currency", "string"),
        field("status", "string"),
        field("version", "int64"),
        field("created_at", "timestamp"),
        field("updated_at", "timestamp"),
    ];
    if schema_version >= 2 {
        fields.push(json!({"name": "coupon", "type": "string", "required": false}));
    }
    json!({ "fields": fields })
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

#[test]
fn list_json_gives_each_version_its_id_first_run_and_first_time() {
    let dir = tempfile::tempdir().unwrap();
    let (p, windows) = syncs(dir.path(), &[1, 2], "");
    let list: Value = serde_json::from_str(&schemas(&p, &["list", "--json"], &[])).unwrap();
    let streams: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stream"].as_str().unwrap())
        .collect();
    assert_eq!(streams, ["events", "orders", "users"], "{list}");
    let orders = versions_in(&list, "orders");
    assert_eq!(orders.len(), 2, "{list}");
    for (i, v) in orders.iter().enumerate() {
        let (start, end) = windows[i];
        assert_eq!(v["version"], json!(i + 1), "{list}");
        assert_eq!(v["first_seen_run"], json!(i + 1), "{list}");
        let at = v["first_seen_at_ms"].as_u64().unwrap();
        assert!(
            (start..=end).contains(&at),
            "version {} first seen at {at}, outside its sync ({start}..={end})",
            i + 1
        );
        let id = v["id"].as_str().unwrap();
        assert!(
            id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
    }
    assert_ne!(orders[0]["id"], orders[1]["id"]);
    // users did not change: one version, first seen in run 1.
    let users = versions_in(&list, "users");
    assert_eq!(users.len(), 1, "{list}");
    assert_eq!(users[0]["first_seen_run"], json!(1));
    let at = users[0]["first_seen_at_ms"].as_u64().unwrap();
    assert!((windows[0].0..=windows[0].1).contains(&at), "{at}");
    // The table shows each short id.
    let table = schemas(&p, &["list"], &[]);
    for v in orders {
        let short = &v["id"].as_str().unwrap()[..12];
        assert!(table.contains(short), "{short} not in\n{table}");
    }
}

#[test]
fn show_json_prints_the_typed_schema_whose_id_list_gives() {
    let dir = tempfile::tempdir().unwrap();
    let p = two_syncs(dir.path());
    let list: Value = serde_json::from_str(&schemas(&p, &["list", "--json"], &[])).unwrap();
    let orders = versions_in(&list, "orders");
    for version in [1, 2] {
        let v = version.to_string();
        let out = schemas(&p, &["show"], &["orders", "--version", &v, "--json"]);
        let shown: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(shown, orders_schema(version), "version {version}");
        let typed: Schema = serde_json::from_value(shown).unwrap();
        assert_eq!(
            json!(typed.id().as_str()),
            orders[version as usize - 1]["id"],
            "version {version}'s content id"
        );
    }
    // Without --version: the latest.
    let latest: Value =
        serde_json::from_str(&schemas(&p, &["show"], &["orders", "--json"])).unwrap();
    assert_eq!(latest, orders_schema(2));
}

#[test]
fn diff_names_the_removed_field_when_the_source_goes_back_a_version() {
    let dir = tempfile::tempdir().unwrap();
    // Version 2 then 1: `coupon` disappears and `amount_cents` narrows
    // (int64 -> int32); discarding the changed type's values lets run 2
    // succeed.
    let policy = "\n[schema]\ntype_changes = \"discard_value\"\n";
    let (p, _) = syncs(dir.path(), &[2, 1], policy);
    let list: Value = serde_json::from_str(&schemas(&p, &["list", "--json"], &[])).unwrap();
    let runs: Vec<&Value> = versions_in(&list, "orders")
        .iter()
        .map(|v| &v["first_seen_run"])
        .collect();
    assert_eq!(runs, [&json!(1), &json!(2)], "{list}");

    let out = schemas(&p, &["diff"], &["orders"]);
    assert_eq!(
        out,
        "stream `orders`: version 1 -> 2\n  \
         incompatible field `amount_cents` changed type from int64 to int32, which is not a safe widening\n  \
         removed      field `coupon` was removed\n"
    );
    let diff: Value = serde_json::from_str(&schemas(&p, &["diff"], &["orders", "--json"])).unwrap();
    assert_eq!(
        diff,
        json!({
            "stream": "orders",
            "from": 1,
            "to": 2,
            "changes": [
                {
                    "kind": "incompatible",
                    "field": "amount_cents",
                    "change": "field `amount_cents` changed type from int64 to int32, which is not a safe widening"
                },
                {"kind": "removed", "field": "coupon", "change": "field `coupon` was removed"}
            ]
        })
    );
    // The versions are the source's, in the order the runs saw them.
    let shown = |v: &str| -> Value {
        serde_json::from_str(&schemas(
            &p,
            &["show"],
            &["orders", "--version", v, "--json"],
        ))
        .unwrap()
    };
    assert_eq!(shown("1"), orders_schema(2));
    assert_eq!(shown("2"), orders_schema(1));
}
