//! `spec`, `check` and `discover` on every real connector.

use serde_json::json;
use sluice_artifacts as artifacts;
use sluice_e2e::{faker_catalog, runtime};
use sluice_protocol::{Operation, Role};
use sluice_runtime::{Error, Registry, Sandbox};

#[tokio::test]
async fn every_component_has_a_spec_matching_its_exports() {
    let rt = runtime();
    for (package, path) in artifacts::COMPONENTS
        .iter()
        .filter(|(_, p)| *p != artifacts::FUTURE_CONTRACT)
    {
        let c = rt.load(path).await.unwrap();
        let spec = c.spec(&Sandbox::default()).await.unwrap();
        assert!(!spec.name.is_empty(), "{package}");
        assert!(spec.config_schema.is_object(), "{package}");
        assert_eq!(
            spec.roles,
            c.roles(),
            "{package}: the spec's roles match the exports"
        );
    }
}

#[tokio::test]
async fn a_component_of_another_contract_version_is_refused_naming_both() {
    let rt = runtime();
    let err = rt.load(artifacts::FUTURE_CONTRACT).await.unwrap_err();
    assert!(matches!(err, Error::NotAConnector { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("sluice_test_future_contract.wasm")
            && text.contains("sluice:connector@9.0.0")
            && text.contains("sluice:connector@0.1.0"),
        "{text}"
    );
}

#[tokio::test]
async fn faker_discovers_relationships_and_operation_schemas() {
    let rt = runtime();
    let catalog = faker_catalog(&rt).await;
    let names: Vec<&str> = catalog.streams.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["users", "orders", "events"]);
    let orders = catalog.stream("orders").unwrap();
    assert_eq!(orders.primary_key, ["id"]);
    assert_eq!(orders.default_cursor.as_deref(), Some("updated_at"));
    assert_eq!(orders.relationships.len(), 1);
    let fk = &orders.relationships[0];
    assert_eq!(
        (
            fk.fields.as_slice(),
            fk.target_stream.as_str(),
            fk.target_fields.as_slice()
        ),
        (
            &["user_id".to_string()][..],
            "users",
            &["id".to_string()][..]
        )
    );
    let ops: Vec<Operation> = orders
        .operation_schemas
        .iter()
        .map(|o| o.operation)
        .collect();
    assert_eq!(ops, Operation::ALL);
    let delete = &orders.operation_schemas[3].schema;
    assert_eq!(delete["required"], json!(["id"]));
    assert_eq!(delete["properties"].as_object().unwrap().len(), 1);
}

#[tokio::test]
async fn a_config_that_breaks_the_schema_names_the_field() {
    let rt = runtime();
    let faker = rt.load(artifacts::SOURCE_FAKER).await.unwrap();
    let err = faker
        .check(&Sandbox::default(), &json!({"count": -3}))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("config field `count`"), "{text}");
    assert!(text.contains("minimum"), "{text}");
    let err = faker
        .check(&Sandbox::default(), &json!({"cuont": 3}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cuont"), "{err}");

    let file = rt.load(artifacts::SOURCE_FILE).await.unwrap();
    let err = file
        .check(&Sandbox::default(), &json!({}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"path\" is a required property"), "{err}");
}

#[tokio::test]
async fn a_destination_is_not_a_source() {
    let rt = runtime();
    let dest = rt.load(artifacts::DEST_FILE).await.unwrap();
    assert_eq!(dest.roles(), [Role::Destination]);
    let err = dest
        .read(
            &Sandbox::default(),
            &json!({"path": "/out"}),
            &Default::default(),
            &[],
            &Registry::memory(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongRole {
                expected: Role::Source,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("does not export `sluice:connector/source`"),
        "{err}"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_component_is_refused_clearly() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"#!/bin/sh\necho hi\n").unwrap();
    let err = rt.load(&junk).await.unwrap_err().to_string();
    assert!(
        err.contains("junk.wasm") && err.contains("not a WebAssembly file"),
        "{err}"
    );
    let err = rt
        .load(dir.path().join("missing.wasm"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.wasm"), "{err}");
}
