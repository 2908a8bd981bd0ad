//! Transforms in a pipeline: exact output, the schema they produce, errors
//! before anything runs, and a salt that never leaves the host.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sluice_e2e::{PipelineToml, pipeline, runtime};
use sluice_guest::{Reader, native};
use sluice_protocol::{ConfiguredCatalog, ConfiguredStream, Message};
use sluice_runtime::pipeline::RunOptions;
use sluice_runtime::state::StateStore;
use sluice_source_faker::Faker;
use std::path::Path;

const STEPS: &str = r#"
[[streams]]
name = "users"
[[streams.transforms]]
rename = { from = "name", to = "full_name" }
[[streams.transforms]]
hash = { field = "email", salt = "${SLUICE_TEST_SALT}" }
[[streams.transforms]]
filter = { field = "id", op = "<=", value = 5 }
[[streams.transforms]]
select = ["id", "full_name", "email"]
"#;

const SALT: &str = "pepper-7f3a91";

/// The users the faker emits natively with `config`.
fn native_users(config: &Value) -> Vec<Value> {
    let catalog = ConfiguredCatalog {
        streams: vec![ConfiguredStream::new("users")],
    };
    let mut reader = native::read::<Faker>(&config.to_string(), catalog, vec![]).unwrap();
    let mut out = Vec::new();
    while let Some(messages) = reader.next().unwrap() {
        for m in messages {
            if let Message::Records(b) = m {
                for line in b.lines() {
                    out.push(serde_json::from_slice(line).unwrap());
                }
            }
        }
    }
    out
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn rename_hash_filter_and_select_give_exactly_the_expected_rows() {
    // SAFETY: tests of this file set one variable to one value.
    unsafe { std::env::set_var("SLUICE_TEST_SALT", SALT) };
    let dir = tempfile::tempdir().unwrap();
    let config = json!({"count": 12});
    let toml = PipelineToml::faker(config.clone()).name("t").extra(STEPS);
    let p = pipeline(&toml, dir.path(), "test.toml", "t");
    let store = StateStore::open(&p.state_path()).unwrap();
    let summary = p
        .run(&runtime(), &store, &RunOptions::default())
        .await
        .unwrap();
    assert!(summary.succeeded(), "{summary:?}");
    let expected: Vec<Value> = native_users(&config)
        .into_iter()
        .filter(|u| u["id"].as_i64().unwrap() <= 5)
        .map(|u| {
            let email = u["email"].as_str().unwrap();
            let hash = hex::encode(Sha256::digest(format!("{SALT}{email}")));
            json!({"id": u["id"], "full_name": u["name"], "email": hash})
        })
        .collect();
    assert_eq!(expected.len(), 5);
    assert_eq!(lines(&dir.path().join("out/users.jsonl")), expected);
    let users = &summary.run.streams[0];
    assert_eq!((users.records, users.dropped), (5, 7));
    // The salt is in no state byte, run record or output.
    let store_bytes = std::fs::read(p.state_path()).unwrap();
    drop(store);
    let text = String::from_utf8_lossy(&store_bytes);
    assert!(!text.contains(SALT));
    assert!(!serde_json::to_string(&summary).unwrap().contains(SALT));
    assert!(
        !std::fs::read_to_string(dir.path().join("out/users.jsonl"))
            .unwrap()
            .contains(SALT)
    );
}

#[tokio::test]
async fn a_transform_naming_an_unknown_field_fails_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let steps = "[[streams]]\nname = \"users\"\n[[streams.transforms]]\nupper = \"name\"\n[[streams.transforms]]\nmask = { field = \"emial\", keep_last = 4 }\n";
    let toml = PipelineToml::faker(json!({"count": 3}))
        .name("t")
        .extra(steps);
    let p = pipeline(&toml, dir.path(), "test.toml", "t");
    let store = StateStore::in_memory().unwrap();
    let err = p
        .run(&runtime(), &store, &RunOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("test.toml"), "{err}");
    assert!(
        err.contains("users") && err.contains("mask") && err.contains("emial"),
        "{err}"
    );
    assert!(store.runs("t").unwrap().is_empty(), "no run started");
    assert!(!dir.path().join("out/users.jsonl").exists());
}
