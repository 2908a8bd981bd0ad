//! The example configs of `examples/` are valid, and read every user (and
//! order) of the fake test API.

use crate::HttpSource;
use crate::fake_api::{self, Options, TOKEN};
use sluice_guest::{ConfiguredCatalog, ConfiguredStream, Message, Reader, native};

const EXAMPLES: &[(&str, &str)] = &[
    ("page-number", include_str!("../examples/page-number.json")),
    ("offset", include_str!("../examples/offset.json")),
    ("cursor", include_str!("../examples/cursor.json")),
    ("next-url", include_str!("../examples/next-url.json")),
    ("link-header", include_str!("../examples/link-header.json")),
    (
        "users-and-orders",
        include_str!("../examples/users-and-orders.json"),
    ),
];

/// The records `config` reads of every stream it configures, as (stream, id).
fn read_all(config: &str) -> Vec<(String, u64)> {
    let value: serde_json::Value = serde_json::from_str(config).unwrap();
    let streams = value["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| ConfiguredStream::new(s["name"].as_str().unwrap()))
        .collect();
    let catalog = ConfiguredCatalog { streams };
    let mut reader = native::read::<HttpSource>(config, catalog, vec![]).unwrap();
    let mut ids = Vec::new();
    while let Some(messages) = reader.next().unwrap() {
        for m in messages {
            match m {
                Message::Records(b) => ids.extend(b.lines().map(|line| {
                    let r: serde_json::Value = serde_json::from_slice(line).unwrap();
                    (b.stream.clone(), r["id"].as_u64().unwrap())
                })),
                Message::StreamError(e) => panic!("{e}"),
                _ => {}
            }
        }
    }
    ids
}

#[test]
fn every_example_reads_the_test_api() {
    for (name, text) in EXAMPLES {
        fake_api::install(Options::default());
        let config = text.replace("REPLACE-WITH-THE-TOKEN", TOKEN);
        native::check::<HttpSource>(&config).unwrap_or_else(|e| panic!("{name}: {e}"));
        let ids = read_all(&config);
        let users: Vec<u64> = ids
            .iter()
            .filter(|(s, _)| s == "users")
            .map(|(_, id)| *id)
            .collect();
        // offset.json starts from 2024-01-01, before every user's update.
        assert_eq!(users, [1, 2, 3, 4, 5, 6, 7], "{name}");
        let orders = ids.iter().filter(|(s, _)| s == "orders").count();
        assert_eq!(
            orders,
            if *name == "users-and-orders" { 7 } else { 0 },
            "{name}"
        );
    }
}
