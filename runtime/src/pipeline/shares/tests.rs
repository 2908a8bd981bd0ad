use super::*;
use sluice_protocol::{ConfiguredStream, SyncMode};

fn catalog(names: &[&str]) -> ConfiguredCatalog {
    ConfiguredCatalog {
        streams: names
            .iter()
            .map(|n| {
                let mut s = ConfiguredStream::new(*n);
                s.sync_mode = SyncMode::Incremental;
                s
            })
            .collect(),
    }
}

fn state(stream: &str, state: Value) -> StreamState {
    StreamState {
        stream: stream.into(),
        state,
    }
}

fn parallel(readers: usize, partitioned: &[&str]) -> Parallel {
    Parallel {
        readers,
        partitioned: partitioned.iter().map(|s| s.to_string()).collect(),
    }
}

/// Each share's streams, as `name` or `name/index`.
fn units(plan: &Plan) -> Vec<Vec<String>> {
    plan.shares
        .iter()
        .map(|share| {
            share
                .catalog
                .streams
                .iter()
                .map(|s| match s.partition {
                    Some(p) => format!("{}/{}", s.name, p.index),
                    None => s.name.clone(),
                })
                .collect()
        })
        .collect()
}

#[test]
fn streams_are_dealt_in_turn_with_their_own_state() {
    let state = vec![
        state("orders", json!({"cursor": 5})),
        state("users", json!({"cursor": 9})),
    ];
    let got = plan(
        &catalog(&["users", "orders", "events"]),
        &state,
        &parallel(2, &[]),
    )
    .unwrap();
    assert_eq!(units(&got), [vec!["users", "events"], vec!["orders"]]);
    assert_eq!(got.shares[0].state, vec![state[1].clone()]);
    assert_eq!(got.shares[1].state, vec![state[0].clone()]);
    assert!(got.split.is_empty());
}

#[test]
fn never_more_shares_than_units_nor_fewer_than_one() {
    let one =
        |names: &[&str], readers| plan(&catalog(names), &[], &parallel(readers, &[])).unwrap();
    assert_eq!(one(&["a"], 8).shares.len(), 1);
    assert_eq!(one(&["a", "b"], 0).shares.len(), 1);
    let empty = one(&[], 4);
    assert_eq!(empty.shares.len(), 1);
    assert!(empty.shares[0].catalog.streams.is_empty());
    assert!(
        one(&["a", "b", "c"], 3)
            .shares
            .iter()
            .all(|s| s.catalog.streams.len() == 1)
    );
}

#[test]
fn spare_readers_split_the_partitioned_streams_in_turn() {
    let got = plan(&catalog(&["a", "b", "c"]), &[], &parallel(6, &["a", "c"])).unwrap();
    assert_eq!(
        units(&got),
        [
            vec!["a/0"],
            vec!["a/1"],
            vec!["a/2"],
            vec!["b"],
            vec!["c/0"],
            vec!["c/1"]
        ]
    );
    assert_eq!(got.split["a"], vec![None; 3]);
    assert_eq!(got.partition(2, "a"), Some(2));
    assert_eq!(got.partition(3, "b"), None);
    // One stream, two readers: two partitions.
    let one = plan(&catalog(&["a"]), &[], &parallel(2, &["a"])).unwrap();
    assert_eq!(units(&one), [vec!["a/0"], vec!["a/1"]]);
    // No spare reader: nothing is split.
    let busy = plan(&catalog(&["a", "b"]), &[], &parallel(2, &["a", "b"])).unwrap();
    assert!(busy.split.is_empty());
}

#[test]
fn a_saved_partition_count_sticks_whatever_the_readers() {
    let saved = vec![state(
        "a",
        partitioned_state(&[Some(json!({"c": 1})), None, Some(json!({"c": 3}))]),
    )];
    let got = plan(&catalog(&["a", "b"]), &saved, &parallel(1, &["a"])).unwrap();
    assert_eq!(units(&got), [vec!["a/0", "b"], vec!["a/1"], vec!["a/2"]]);
    assert_eq!(got.shares[0].state, vec![state("a", json!({"c": 1}))]);
    assert!(got.shares[1].state.is_empty());
    assert_eq!(got.shares[2].state, vec![state("a", json!({"c": 3}))]);
    assert_eq!(got.split["a"].len(), 3);
    // A stream with whole saved state is read whole.
    let whole = vec![state("a", json!({"c": 1}))];
    let got = plan(&catalog(&["a"]), &whole, &parallel(4, &["a"])).unwrap();
    assert_eq!(units(&got), [vec!["a"]]);
    assert_eq!(got.shares[0].state, whole);
}

#[test]
fn a_partitioned_state_the_source_cannot_split_is_an_error() {
    let saved = vec![state("a", partitioned_state(&[None, None]))];
    let e = plan(&catalog(&["a"]), &saved, &parallel(2, &[])).unwrap_err();
    assert!(e.contains("stream `a`") && e.contains("reset"), "{e}");
}

#[test]
fn a_stream_with_a_partition_of_its_own_is_not_split_again() {
    let mut cat = catalog(&["a"]);
    cat.streams[0].partition = Some(Partition { index: 1, count: 4 });
    let got = plan(&cat, &[], &parallel(3, &["a"])).unwrap();
    assert_eq!(units(&got), [vec!["a/1"]]);
    assert!(got.split.is_empty());
}

#[test]
fn partition_states_round_trip_and_plain_states_are_not_partitioned() {
    let parts = vec![Some(json!({"c": 1})), None];
    assert_eq!(partition_states(&partitioned_state(&parts)), Some(parts));
    assert_eq!(partition_states(&json!({"cursor": 1})), None);
    assert_eq!(partition_states(&json!([1])), None);
}
