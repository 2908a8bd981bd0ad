//! Native tests of source-faker.

use super::*;
use crate::records::{Clock, T0, timestamp};
use sluice_guest::{Message, Reader, Type, native};

fn read_all(
    config: &str,
    streams: &[(&str, SyncMode)],
    state: Vec<sluice_guest::StreamState>,
) -> (Vec<Value>, Vec<sluice_guest::StreamState>) {
    let catalog = ConfiguredCatalog {
        streams: streams
            .iter()
            .map(|(n, m)| ConfiguredStream {
                sync_mode: *m,
                ..ConfiguredStream::new(*n)
            })
            .collect(),
    };
    let mut reader = native::read::<Faker>(config, catalog, state).unwrap();
    let (mut rows, mut states) = (Vec::new(), Vec::new());
    while let Some(messages) = reader.next().unwrap() {
        for m in messages {
            match m {
                Message::Records(b) => {
                    for line in b.lines() {
                        rows.push(serde_json::from_slice(line).unwrap());
                    }
                }
                Message::State(s) => states.push(s),
                _ => {}
            }
        }
    }
    (rows, states)
}

#[test]
fn counts_and_determinism() {
    let (a, _) = read_all(
        r#"{"count": 250, "batch_size": 100}"#,
        &[
            ("users", SyncMode::FullRefresh),
            ("orders", SyncMode::FullRefresh),
        ],
        vec![],
    );
    let (b, _) = read_all(
        r#"{"count": 250, "batch_size": 7}"#,
        &[
            ("users", SyncMode::FullRefresh),
            ("orders", SyncMode::FullRefresh),
        ],
        vec![],
    );
    assert_eq!(a.len(), 500);
    assert_eq!(a, b);
}

#[test]
fn incremental_sees_only_new_and_changed() {
    let (first, states) = read_all(
        r#"{"count": 1000}"#,
        &[("users", SyncMode::Incremental)],
        vec![],
    );
    assert_eq!(first.len(), 1000);
    let last = states.last().unwrap().clone();
    // Generation 1 changes ids 1, 101, ..., 1101 and adds 1001..=1200.
    let (second, _) = read_all(
        r#"{"count": 1200, "generation": 1}"#,
        &[("users", SyncMode::Incremental)],
        vec![last],
    );
    let ids: Vec<u64> = second.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    let mut expected: Vec<u64> = (1001..=1200).filter(|i| i % 100 != 1).collect();
    expected.extend((0..12).map(|k| 1 + 100 * k));
    assert_eq!(ids, expected);
    let cursors: Vec<&str> = second
        .iter()
        .map(|r| r["updated_at"].as_str().unwrap())
        .collect();
    assert!(
        cursors.windows(2).all(|w| w[0] < w[1]),
        "cursor order is strictly ascending"
    );
}

#[test]
fn every_id_once_in_ascending_cursor_order_for_edge_configs() {
    for (count, generation, batch) in [
        (0, 0, 1),
        (1, 1, 1),
        (300, 1, 7),
        (300, 100, 1000),
        (300, 101, 3),
        (250, 250, 50),
    ] {
        let config =
            format!(r#"{{"count": {count}, "generation": {generation}, "batch_size": {batch}}}"#);
        let (rows, states) = read_all(&config, &[("users", SyncMode::Incremental)], vec![]);
        let mut ids: Vec<u64> = rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
        let cursors: Vec<&str> = rows
            .iter()
            .map(|r| r["updated_at"].as_str().unwrap())
            .collect();
        assert!(
            cursors.windows(2).all(|w| w[0] < w[1]),
            "{config}: ascending cursors"
        );
        ids.sort_unstable();
        assert_eq!(
            ids,
            (1..=count).collect::<Vec<u64>>(),
            "{config}: every id once"
        );
        if let Some(last) = states.last() {
            // Resuming from the last checkpoint yields nothing more.
            let (rest, _) = read_all(
                &config,
                &[("users", SyncMode::Incremental)],
                vec![last.clone()],
            );
            assert!(rest.is_empty(), "{config}");
        }
    }
}

#[test]
fn the_clock_matches_chrono() {
    let mut clock = Clock::default();
    let mut out = String::new();
    for secs in [
        T0,
        T0 + 1,
        T0 + 86_399,
        T0 + 86_400,
        T0 + 3_723,
        T0 + GENERATION_SPAN * 250 + 59,
    ] {
        clock.write(secs, &mut out);
        assert_eq!(out, timestamp(secs));
    }
}

/// Every message of a full-refresh read of `streams`, in order, with at
/// most one batch per stream per `next` call checked on the way.
fn messages(config: &str, streams: &[&str], partition: Option<Partition>) -> Vec<Message> {
    let catalog = ConfiguredCatalog {
        streams: streams
            .iter()
            .map(|n| ConfiguredStream {
                partition,
                ..ConfiguredStream::new(*n)
            })
            .collect(),
    };
    let mut reader = native::read::<Faker>(config, catalog, vec![]).unwrap();
    let mut all = Vec::new();
    while let Some(batch) = reader.next().unwrap() {
        let records = batch
            .iter()
            .filter(|m| matches!(m, Message::Records(_)))
            .count();
        assert!(records <= 1, "one batch per call: {batch:?}");
        all.extend(batch);
    }
    all
}

/// The ids of the records of `stream` with `op`, in order.
fn ids(messages: &[Message], stream: &str, op: Operation) -> Vec<u64> {
    let mut ids = Vec::new();
    for m in messages {
        if let Message::Records(b) = m
            && b.stream == stream
            && b.operation == op
        {
            for line in b.lines() {
                let row: Value = serde_json::from_slice(line).unwrap();
                ids.push(row["id"].as_u64().unwrap());
            }
        }
    }
    ids
}

#[test]
fn deletes_follow_their_inserts_and_precede_the_checkpoint() {
    let config = r#"{"count": 250, "delete_every": 10, "batch_size": 7}"#;
    let all = messages(config, &["users", "orders", "events"], None);
    for stream in ["users", "orders"] {
        let deleted = ids(&all, stream, Operation::Delete);
        assert_eq!(deleted, (1..=25).map(|k| 10 * k).collect::<Vec<_>>());
        assert_eq!(ids(&all, stream, Operation::Insert).len(), 250);
    }
    assert!(ids(&all, "events", Operation::Delete).is_empty());
    // A delete batch comes right after the inserts it deletes, then the
    // checkpoint that covers both.
    for (i, m) in all.iter().enumerate() {
        let Message::Records(b) = m else { continue };
        if b.operation != Operation::Delete {
            continue;
        }
        let row: Value = serde_json::from_slice(b.lines().next().unwrap()).unwrap();
        assert_eq!(row, json!({"id": row["id"]}), "only the key");
        let Message::Records(inserts) = &all[i - 1] else {
            panic!("inserts before {b:?}")
        };
        assert_eq!(inserts.schema_id, b.schema_id);
        assert!(matches!(&all[i + 1], Message::State(_)));
    }
    // Deletes off: none, and the same inserts.
    let plain = messages(r#"{"count": 250, "batch_size": 7}"#, &["users"], None);
    assert!(ids(&plain, "users", Operation::Delete).is_empty());
    assert_eq!(
        ids(&plain, "users", Operation::Insert),
        ids(&all, "users", Operation::Insert)
    );
}

#[test]
fn each_stream_registers_its_schema_once_and_stamps_every_batch() {
    let all = messages(
        r#"{"count": 50, "delete_every": 3, "batch_size": 4}"#,
        &["users", "orders", "events"],
        None,
    );
    assert_eq!(native::registrations().len(), 3);
    for m in &all {
        if let Message::Records(b) = m {
            let id = b.schema_id.as_deref().expect("stamped");
            let schema = sluice_guest::registry::fetch(id).unwrap().unwrap();
            assert_eq!(schema, schemas::row_schema(&b.stream, 1));
        }
    }
}

fn orders_schema(all: &[Message]) -> sluice_guest::Schema {
    let Some(Message::Records(b)) = all.iter().find(|m| matches!(m, Message::Records(_))) else {
        panic!("no batch")
    };
    sluice_guest::registry::fetch(b.schema_id.as_deref().unwrap())
        .unwrap()
        .unwrap()
}

fn rows(all: &[Message]) -> Vec<Value> {
    let mut rows = Vec::new();
    for m in all {
        if let Message::Records(b) = m {
            rows.extend(
                b.lines()
                    .map(|l| serde_json::from_slice::<Value>(l).unwrap()),
            );
        }
    }
    rows
}

#[test]
fn schema_version_2_widens_amount_and_adds_coupon_in_schema_and_records() {
    let v1 = messages(r#"{"count": 300}"#, &["orders"], None);
    let v2 = messages(r#"{"count": 300, "schema_version": 2}"#, &["orders"], None);
    let (s1, s2) = (orders_schema(&v1), orders_schema(&v2));
    assert_eq!(s1.field("amount_cents").unwrap().ty, Type::Int32);
    assert_eq!(s2.field("amount_cents").unwrap().ty, Type::Int64);
    assert!(s1.field("coupon").is_none());
    let coupon = s2.field("coupon").unwrap();
    assert!(!coupon.required);
    assert_eq!(s2.fields.len(), s1.fields.len() + 1);
    let (r1, r2) = (rows(&v1), rows(&v2));
    let max = |rows: &[Value]| {
        rows.iter()
            .map(|r| r["amount_cents"].as_u64().unwrap())
            .max()
    };
    assert!(max(&r1).unwrap() <= i32::MAX as u64);
    assert!(max(&r2).unwrap() > i32::MAX as u64);
    assert!(r1.iter().all(|r| r.get("coupon").is_none()));
    assert!(r2.iter().any(|r| r["coupon"] == "WELCOME10"));
    assert!(r2.iter().any(|r| r.get("coupon").is_none()));
    // Discover says the same.
    let catalog = native::discover::<Faker>(r#"{"schema_version": 2}"#).unwrap();
    let orders = &catalog.stream("orders").unwrap().schema;
    assert_eq!(orders["properties"]["amount_cents"]["format"], "int64");
    assert!(orders["properties"]["coupon"].is_object());
    assert!(orders["properties"]["status"]["enum"].is_array());
}

#[test]
fn the_union_of_the_partitions_is_the_whole_stream() {
    let config = r#"{"count": 200, "generation": 3, "delete_every": 7, "batch_size": 9}"#;
    let streams = ["users", "orders", "events"];
    let whole = messages(config, &streams, None);
    for count in [1, 3, 4] {
        for stream in streams {
            for op in [Operation::Insert, Operation::Delete] {
                let mut union = Vec::new();
                for index in 0..count {
                    let part = messages(config, &streams, Some(Partition { index, count }));
                    let mine = ids(&part, stream, op);
                    assert!(
                        mine.iter()
                            .all(|id| id % u64::from(count) == u64::from(index))
                    );
                    union.extend(mine);
                }
                let mut expected = ids(&whole, stream, op);
                union.sort_unstable();
                expected.sort_unstable();
                assert_eq!(union, expected, "{stream} {op:?} in {count} partitions");
            }
        }
    }
    let catalog = native::discover::<Faker>("{}").unwrap();
    assert!(catalog.streams.iter().all(|s| s.partitioned));
}
