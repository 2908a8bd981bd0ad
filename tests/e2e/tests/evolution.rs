//! Schema evolution end to end: source-faker changes the schema of
//! `orders` between two runs (`schema_version` 1 -> 2: `coupon` added,
//! `amount_cents` int32 -> int64), and every policy, for new fields and
//! for type changes, decides what the destination gets; a stream's own
//! policy overrides the pipeline's; a change that cannot be widened fails
//! only its stream. Counts and accepted schemas are read back from the
//! state store's run history.

use serde_json::{Value, json};
use sluice_e2e::{PipelineToml, jsonl, pipeline, run};
use sluice_guest::{Reader, native};
use sluice_protocol::schema::{Field, Schema, SchemaId, Type};
use sluice_protocol::{ConfiguredCatalog, ConfiguredStream, Message};
use sluice_runtime::pipeline::{Pipeline, RunSummary};
use sluice_runtime::state::{RunRecord, StateStore, StreamOutcome, StreamRun};
use sluice_source_faker::Faker;
use std::path::Path;

/// The orders source-faker emits natively at `version`.
fn native_orders(version: u64) -> Vec<Value> {
    native("orders", version)
}

/// The records of `stream` source-faker emits natively at `version`.
fn native(stream: &str, version: u64) -> Vec<Value> {
    let config = json!({"count": 120, "orders_per_user": 1, "schema_version": version});
    let catalog = ConfiguredCatalog {
        streams: vec![ConfiguredStream::new(stream)],
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

/// The runs of pipeline `name` in the state store of `dir`, newest first.
fn recorded_runs(dir: &Path, name: &str) -> Vec<RunRecord> {
    let store = StateStore::open(&dir.join(".sluice/state.redb")).unwrap();
    store.runs(name).unwrap()
}

/// Stream `name` of the newest run of pipeline `shop`, as the state store
/// recorded it; asserts it is the run `summary` reports.
fn recorded(dir: &Path, summary: &RunSummary, name: &str) -> StreamRun {
    let runs = recorded_runs(dir, "shop");
    assert_eq!(runs[0].id, summary.run.id, "the newest recorded run");
    let s = runs[0].streams.iter().find(|s| s.stream == name).unwrap();
    assert_eq!(s, stream(summary, name), "the store records the summary");
    s.clone()
}

/// The schema stored under `id`.
fn stored_schema(dir: &Path, id: &str) -> Schema {
    let store = StateStore::open(&dir.join(".sluice/state.redb")).unwrap();
    store.fetch_schema(&SchemaId(id.into())).unwrap().unwrap()
}

/// The schema `orders` accepted in the run `summary`, by the id the state
/// store's run history records.
fn accepted(dir: &Path, summary: &RunSummary) -> Schema {
    let id = recorded(dir, summary, "orders")
        .schema
        .expect("a schema was accepted");
    stored_schema(dir, &id)
}

/// The schema of source-faker's `orders` at `schema_version` 1, with
/// `amount_cents` of type `amount` (and required when `required`), and
/// `extra` fields after the others.
fn orders_schema(amount: Type, required: bool, extra: Vec<Field>) -> Schema {
    let amount = Field {
        required,
        ..Field::required("amount_cents", amount)
    };
    let mut fields = vec![
        Field::required("id", Type::Int64),
        Field::required("user_id", Type::Int64),
        amount,
        Field::required("currency", Type::String),
        Field::required("status", Type::String),
        Field::required("version", Type::Int64),
        Field::required("created_at", Type::Timestamp),
        Field::required("updated_at", Type::Timestamp),
    ];
    fields.extend(extra);
    Schema::new(fields)
}

/// After a frozen change in run 2: the next run still judges against
/// run 1's `orders` schema, exactly version 1's.
fn assert_orders_stay_at_version_one(dir: &Path, second: &RunSummary) {
    let runs = recorded_runs(dir, "shop");
    assert_eq!(runs.len(), 2);
    let orders = |run: &RunRecord| run.streams.iter().find(|s| s.stream == "orders").cloned();
    let run2 = orders(&runs[0]).unwrap();
    assert_eq!(run2, stream(second, "orders").clone());
    assert_eq!((run2.records, run2.dropped), (0, 0));
    assert_eq!(run2.schema, None, "a refused change is not accepted");
    let run1 = orders(&runs[1]).unwrap();
    let v1 = orders_schema(Type::Int32, true, vec![]);
    assert_eq!(run1.schema.as_deref(), Some(v1.id().as_str()));
    assert_eq!(stored_schema(dir, v1.id().as_str()), v1);
}

fn without(mut v: Value, field: &str) -> Value {
    v.as_object_mut().unwrap().remove(field);
    v
}

fn without_coupon(v: Value) -> Value {
    without(v, "coupon")
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

fn stream<'a>(s: &'a RunSummary, name: &str) -> &'a StreamRun {
    s.run.streams.iter().find(|r| r.stream == name).unwrap()
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
        error.contains("field `coupon`: new field of type string, but new fields are frozen"),
        "{error}"
    );
    assert_eq!(
        jsonl(&dir.path().join("out/orders.jsonl")),
        native_orders(1),
        "only run 1's orders, exactly"
    );
    let users: Vec<Value> = native("users", 1)
        .into_iter()
        .chain(native("users", 2))
        .collect();
    assert_eq!(users.len(), 240);
    assert_eq!(jsonl(&dir.path().join("out/users.jsonl")), users);
    assert_orders_stay_at_version_one(dir.path(), &second);
}

#[tokio::test]
async fn frozen_type_changes_name_the_field_and_both_types() {
    let dir = tempfile::tempdir().unwrap();
    let second = two_runs(dir.path(), "jsonl", "[schema]\ntype_changes = \"freeze\"\n").await;
    let StreamOutcome::Failed { error, .. } = &stream(&second, "orders").outcome else {
        panic!("orders must fail: {second:?}");
    };
    assert!(
        error.contains("field `amount_cents`: int32 -> int64, but type changes are frozen"),
        "{error}"
    );
    assert_eq!(stream(&second, "users").outcome, StreamOutcome::Succeeded);
    assert_eq!(
        jsonl(&dir.path().join("out/orders.jsonl")),
        native_orders(1),
        "only run 1's orders, exactly"
    );
    assert_orders_stay_at_version_one(dir.path(), &second);
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
    let run2 = recorded(dir.path(), &second, "orders");
    assert_eq!((run2.records, run2.dropped), (120, 0));
    assert_eq!(
        accepted(dir.path(), &second),
        orders_schema(Type::Int64, true, vec![]),
        "no coupon; type changes still evolve"
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
    let with_coupon = native_orders(2)
        .iter()
        .filter(|o| o.get("coupon").is_some())
        .count() as u64;
    assert!(with_coupon > 0, "some orders have coupons");
    let run2 = recorded(dir.path(), &second, "orders");
    assert_eq!(
        (run2.records, run2.dropped),
        (120 - with_coupon, with_coupon)
    );
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
    assert_eq!(
        accepted(dir.path(), &second),
        orders_schema(Type::Int64, true, vec![])
    );
}

#[tokio::test]
async fn type_changes_discard_value_drops_the_widened_values_and_keeps_the_old_type() {
    let dir = tempfile::tempdir().unwrap();
    let second = two_runs(
        dir.path(),
        "jsonl",
        "[schema]\ntype_changes = \"discard_value\"\n",
    )
    .await;
    assert!(second.succeeded(), "{second:?}");
    let expected: Vec<Value> = native_orders(1)
        .into_iter()
        .chain(
            native_orders(2)
                .into_iter()
                .map(|o| without(o, "amount_cents")),
        )
        .collect();
    assert_eq!(
        jsonl(&dir.path().join("out/orders.jsonl")),
        expected,
        "run 2's orders, exactly, without amount_cents; coupons evolve"
    );
    let run2 = recorded(dir.path(), &second, "orders");
    assert_eq!((run2.records, run2.dropped), (120, 0));
    let coupon = Field::optional("coupon", Type::String);
    assert_eq!(
        accepted(dir.path(), &second),
        orders_schema(Type::Int32, false, vec![coupon]),
        "the old type, optional since records lack it, and the new field"
    );
}

#[tokio::test]
async fn type_changes_discard_row_drops_and_counts_every_order_with_the_changed_field() {
    let dir = tempfile::tempdir().unwrap();
    let second = two_runs(
        dir.path(),
        "jsonl",
        "[schema]\ntype_changes = \"discard_row\"\n",
    )
    .await;
    assert!(second.succeeded(), "{second:?}");
    // Every order of run 2 has a value in the changed `amount_cents`.
    assert_eq!(
        jsonl(&dir.path().join("out/orders.jsonl")),
        native_orders(1),
        "only run 1's orders"
    );
    let run2 = recorded(dir.path(), &second, "orders");
    assert_eq!((run2.records, run2.dropped), (0, 120));
    assert_eq!(stream(&second, "users").outcome, StreamOutcome::Succeeded);
    let coupon = Field::optional("coupon", Type::String);
    assert_eq!(
        accepted(dir.path(), &second),
        orders_schema(Type::Int32, true, vec![coupon])
    );
}

#[tokio::test]
async fn a_stream_override_evolves_while_the_pipelines_freeze_fails_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("a.jsonl"), "{\"id\":1,\"name\":\"x\"}\n").unwrap();
    std::fs::write(input.join("b.jsonl"), "{\"id\":1,\"name\":\"y\"}\n").unwrap();
    let toml = PipelineToml::new(sluice_artifacts::SOURCE_FILE, json!({"path": "/in"}))
        .name("files")
        .source_dirs(json!([{"host": "in", "guest": "/in"}]))
        .stream(json!({"name": "a", "schema": {"new_fields": "evolve"}}))
        .stream(json!({"name": "b"}))
        .extra("\n[schema]\nnew_fields = \"freeze\"\n");
    let p = pipeline(&toml, dir.path(), "files.toml", "files");
    let first = run(&p).await;
    assert!(first.succeeded(), "{first:?}");
    // Both files gain `note` (and a row past the id cursor).
    std::fs::write(
        input.join("a.jsonl"),
        "{\"id\":2,\"name\":\"x2\",\"note\":\"n\"}\n",
    )
    .unwrap();
    std::fs::write(
        input.join("b.jsonl"),
        "{\"id\":2,\"name\":\"y2\",\"note\":\"m\"}\n",
    )
    .unwrap();
    let second = run(&p).await;
    assert_eq!(stream(&second, "a").outcome, StreamOutcome::Succeeded);
    let StreamOutcome::Failed { error, .. } = &stream(&second, "b").outcome else {
        panic!("b must fail: {second:?}");
    };
    assert!(
        error.contains("field `note`: new field of type string, but new fields are frozen"),
        "{error}"
    );
    let out = |f: &str| std::fs::read_to_string(dir.path().join("out").join(f)).unwrap();
    assert_eq!(
        out("a.jsonl"),
        "{\"id\":1,\"name\":\"x\"}\n{\"id\":2,\"name\":\"x2\",\"note\":\"n\"}\n"
    );
    assert_eq!(out("b.jsonl"), "{\"id\":1,\"name\":\"y\"}\n");

    let runs = recorded_runs(dir.path(), "files");
    assert_eq!(runs[0].id, second.run.id);
    let recorded = |run: &RunRecord, name: &str| {
        let s = run.streams.iter().find(|s| s.stream == name).unwrap();
        s.schema.as_deref().map(|id| stored_schema(dir.path(), id))
    };
    let before = Schema::new(vec![
        Field::optional("id", Type::Int64),
        Field::optional("name", Type::String),
    ]);
    let mut after = before.clone();
    after.fields.push(Field::optional("note", Type::String));
    assert_eq!(recorded(&runs[1], "a"), Some(before.clone()));
    assert_eq!(recorded(&runs[1], "b"), Some(before));
    assert_eq!(recorded(&runs[0], "a"), Some(after), "a evolved");
    assert_eq!(recorded(&runs[0], "b"), None, "b refused the change");
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
