//! Schema evolution end to end: source-faker changes the schema of
//! `orders` between two runs (`schema_version` 1 -> 2: `coupon` added,
//! `amount_cents` int32 -> int64), and every policy decides what the
//! destination gets; a change that cannot be widened fails only its stream.

use serde_json::{Value, json};
use sluice_e2e::{PipelineToml, pipeline, runtime};
use sluice_guest::{Reader, native};
use sluice_protocol::schema::{Schema, SchemaId, Type};
use sluice_protocol::{ConfiguredCatalog, ConfiguredStream, Message};
use sluice_runtime::pipeline::{Pipeline, RunOptions, RunSummary};
use sluice_runtime::state::{StateStore, StreamOutcome, StreamRun};
use sluice_source_faker::Faker;
use std::path::Path;

/// The orders source-faker emits natively at `version`.
fn native_orders(version: u64) -> Vec<Value> {
    let config = json!({"count": 120, "orders_per_user": 1, "schema_version": version});
    let catalog = ConfiguredCatalog {
        streams: vec![ConfiguredStream::new("orders")],
    };
    let mut reader = native::read::<Faker>(&config.to_string(), catalog, vec![]).unwrap();
    let mut out = Vec::new();
    while let Some(messages) = reader.next().unwrap() {
        for m in messages {
            if let Message::Records(b) = m {
                out.extend(
                    b.lines()
                        .map(|l| serde_json::from_slice::<Value>(l).unwrap()),
                );
            }
        }
    }
    out
}

/// The schema `orders` accepted in the run `summary` (from the store).
fn accepted(dir: &Path, summary: &RunSummary) -> Schema {
    let id = stream(summary, "orders")
        .schema
        .clone()
        .expect("a schema was accepted");
    let store = StateStore::open(&dir.join(".sluice/state.redb")).unwrap();
    store.fetch_schema(&SchemaId(id)).unwrap().unwrap()
}

fn without_coupon(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("coupon");
    v
}

/// `orders` (and `users`), full refresh appended, with `policy` in `[schema]`.
fn faker(dir: &Path, version: u64, format: &str, policy: &str) -> Pipeline {
    let streams = "[[streams]]\nname = \"users\"\nsync_mode = \"full_refresh\"\nwrite_mode = \"append\"\n\n[[streams]]\nname = \"orders\"\nsync_mode = \"full_refresh\"\nwrite_mode = \"append\"\n";
    let toml =
        PipelineToml::faker(json!({"count": 120, "orders_per_user": 1, "schema_version": version}))
            .name("shop")
            .destination_config(json!({"path": "/out", "format": format}))
            .extra(&format!("\n{policy}\n{streams}"));
    pipeline(&toml, dir, "shop.toml", "shop")
}

async fn run(p: &Pipeline) -> RunSummary {
    let store = StateStore::open(&p.state_path()).unwrap();
    p.run(&runtime(), &store, &RunOptions::default())
        .await
        .unwrap()
}

fn stream<'a>(s: &'a RunSummary, name: &str) -> &'a StreamRun {
    s.run.streams.iter().find(|r| r.stream == name).unwrap()
}

fn jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Both runs of one policy; returns the second run's summary.
async fn two_runs(dir: &Path, format: &str, policy: &str) -> RunSummary {
    let first = run(&faker(dir, 1, format, policy)).await;
    assert!(first.succeeded(), "{first:?}");
    run(&faker(dir, 2, format, policy)).await
}

#[tokio::test]
async fn evolve_adds_the_field_and_widens_into_a_new_csv_file() {
    let dir = tempfile::tempdir().unwrap();
    let second = two_runs(dir.path(), "csv", "").await;
    assert!(second.succeeded(), "{second:?}");
    let out = dir.path().join("out");
    let header = |f: &str| {
        let text = std::fs::read_to_string(out.join(f)).unwrap();
        text.lines().next().unwrap().to_string()
    };
    assert_eq!(
        header("orders.csv"),
        "id,user_id,amount_cents,currency,status,version,created_at,updated_at"
    );
    assert_eq!(
        header("orders.2.csv"),
        "id,user_id,amount_cents,currency,status,version,created_at,updated_at,coupon"
    );
    let v2 = std::fs::read_to_string(out.join("orders.2.csv")).unwrap();
    assert_eq!(
        v2.lines().count(),
        1 + 120,
        "header and every order of run 2"
    );
    assert!(v2.contains("WELCOME10"), "coupons arrive");
    let big = v2.lines().skip(1).any(|l| {
        let amount: i64 = l.split(',').nth(2).unwrap().parse().unwrap();
        amount > i64::from(i32::MAX)
    });
    assert!(big, "amounts beyond int32 arrive");
    // users did not change: one file.
    assert!(!out.join("users.2.csv").exists());
    let schema = accepted(dir.path(), &second);
    assert_eq!(
        schema.field("coupon").map(|f| (&f.ty, f.required)),
        Some((&Type::String, false))
    );
    assert_eq!(schema.field("amount_cents").unwrap().ty, Type::Int64);
}

#[tokio::test]
async fn evolve_writes_run_twos_rows_exactly_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let second = two_runs(dir.path(), "jsonl", "").await;
    assert!(second.succeeded(), "{second:?}");
    let orders = jsonl(&dir.path().join("out/orders.jsonl"));
    let expected: Vec<Value> = native_orders(1)
        .into_iter()
        .chain(native_orders(2))
        .collect();
    assert_eq!(orders, expected);
}

#[tokio::test]
async fn freeze_fails_only_the_changed_stream_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let second = two_runs(dir.path(), "jsonl", "[schema]\nnew_fields = \"freeze\"\n").await;
    assert!(!second.succeeded());
    assert_eq!(stream(&second, "users").outcome, StreamOutcome::Succeeded);
    let StreamOutcome::Failed { error, .. } = &stream(&second, "orders").outcome else {
        panic!("orders must fail: {second:?}");
    };
    assert!(
        error.contains("`coupon`") && error.contains("frozen"),
        "{error}"
    );
    assert_eq!(
        jsonl(&dir.path().join("out/orders.jsonl")).len(),
        120,
        "only run 1's orders"
    );
}

#[tokio::test]
async fn frozen_type_changes_name_the_field_and_both_types() {
    let dir = tempfile::tempdir().unwrap();
    let second = two_runs(dir.path(), "jsonl", "[schema]\ntype_changes = \"freeze\"\n").await;
    let StreamOutcome::Failed { error, .. } = &stream(&second, "orders").outcome else {
        panic!("orders must fail: {second:?}");
    };
    assert!(
        error.contains("`amount_cents`") && error.contains("int32 -> int64"),
        "{error}"
    );
}

#[tokio::test]
async fn discard_value_drops_the_new_field_from_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let second = two_runs(
        dir.path(),
        "jsonl",
        "[schema]\nnew_fields = \"discard_value\"\n",
    )
    .await;
    assert!(second.succeeded(), "{second:?}");
    let orders = jsonl(&dir.path().join("out/orders.jsonl"));
    assert_eq!(orders.len(), 240);
    let expected: Vec<Value> = native_orders(1)
        .into_iter()
        .chain(native_orders(2).into_iter().map(without_coupon))
        .collect();
    assert_eq!(
        orders, expected,
        "run 2's orders, exactly, without the new field"
    );
    assert_eq!(stream(&second, "orders").dropped, 0);
    let schema = accepted(dir.path(), &second);
    assert!(schema.field("coupon").is_none());
    assert_eq!(
        schema.field("amount_cents").unwrap().ty,
        Type::Int64,
        "type changes still evolve"
    );
}

#[tokio::test]
async fn discard_row_drops_and_counts_the_records_with_the_new_field() {
    let dir = tempfile::tempdir().unwrap();
    let second = two_runs(
        dir.path(),
        "jsonl",
        "[schema]\nnew_fields = \"discard_row\"\n",
    )
    .await;
    assert!(second.succeeded(), "{second:?}");
    let run2 = stream(&second, "orders");
    assert!(run2.dropped > 0, "some orders have coupons");
    assert_eq!(run2.records + run2.dropped, 120);
    let orders = jsonl(&dir.path().join("out/orders.jsonl"));
    let expected: Vec<Value> = native_orders(1)
        .into_iter()
        .chain(
            native_orders(2)
                .into_iter()
                .filter(|o| o.get("coupon").is_none()),
        )
        .collect();
    assert_eq!(orders, expected, "run 2's orders without a coupon, exactly");
    assert!(accepted(dir.path(), &second).field("coupon").is_none());
}

#[tokio::test]
async fn a_change_that_cannot_be_widened_fails_that_stream_only() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("codes.jsonl"), "{\"id\":1,\"code\":\"a\"}\n").unwrap();
    std::fs::write(input.join("other.jsonl"), "{\"id\":1}\n").unwrap();
    let toml = PipelineToml::new(sluice_artifacts::SOURCE_FILE, json!({"path": "/in"}))
        .name("files")
        .source_dirs(json!([{"host": "in", "guest": "/in"}]));
    let p = pipeline(&toml, dir.path(), "files.toml", "files");
    assert!(run(&p).await.succeeded());
    std::fs::write(input.join("codes.jsonl"), "{\"id\":2,\"code\":5}\n").unwrap();
    let second = run(&p).await;
    assert_eq!(stream(&second, "other").outcome, StreamOutcome::Succeeded);
    let StreamOutcome::Failed { error, .. } = &stream(&second, "codes").outcome else {
        panic!("codes must fail: {second:?}");
    };
    assert!(
        error.contains("`code`")
            && error.contains("string -> int64")
            && error.contains("not a safe widening"),
        "{error}"
    );
}
