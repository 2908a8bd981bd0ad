use super::*;
use sluice_protocol::Operation;

fn users() -> StreamInfo {
    let mut s = StreamInfo::new(
        "users",
        json!({"type": "object", "properties": {
            "id": {"type": "integer"}, "name": {"type": ["string", "null"]},
            "updated_at": {"type": "string", "format": "date-time"}
        }}),
    );
    s.primary_key = vec!["id".into()];
    s.cursor_candidates = vec!["updated_at".into()];
    s.default_cursor = Some("updated_at".into());
    s.sync_modes = vec![SyncMode::FullRefresh, SyncMode::Incremental];
    s.operation_schemas = vec![OperationSchema {
        operation: Operation::Delete,
        schema: json!({"type": "object", "properties": {"id": {"type": "integer"}}}),
    }];
    s.relationships = vec![Relationship {
        name: "users_org".into(),
        fields: vec!["org".into()],
        target_stream: "orgs".into(),
        target_fields: vec!["id".into()],
    }];
    s.partitioned = true;
    s
}

fn configured() -> ConfiguredCatalog {
    let mut c = ConfiguredStream::new("users");
    c.sync_mode = SyncMode::Incremental;
    c.cursor_field = Some("updated_at".into());
    c.fields = vec!["id".into(), "updated_at".into()];
    c.primary_key = vec!["id".into()];
    c.write_mode = WriteMode::AppendDedup;
    ConfiguredCatalog { streams: vec![c] }
}

#[test]
fn singer_catalog_round_trips_what_sluice_knows() {
    let catalog = Catalog {
        streams: vec![users()],
    };
    let singer = to_singer(&catalog, None);
    assert_eq!(from_singer(&singer).unwrap(), catalog);
    let top = &singer["streams"][0]["metadata"][0]["metadata"];
    assert_eq!(top["table-key-properties"], json!(["id"]));
    assert_eq!(top["valid-replication-keys"], json!(["updated_at"]));
    assert!(top.get("selected").is_none());
}

#[test]
fn singer_selection_marks_streams_fields_and_replication() {
    let catalog = Catalog {
        streams: vec![users(), StreamInfo::new("orgs", json!({"type": "object"}))],
    };
    let tap = to_singer(&catalog, None);
    let selected = select_in_singer(&tap, &configured());
    let back = configured_from_singer(&selected).unwrap();
    assert_eq!(back.streams.len(), 1, "orgs is deselected");
    let c = &back.streams[0];
    assert_eq!(c.sync_mode, SyncMode::Incremental);
    assert_eq!(c.cursor_field.as_deref(), Some("updated_at"));
    assert_eq!(c.fields, vec!["id", "updated_at"]);
    assert_eq!(c.primary_key, vec!["id"]);
    // The tap's own metadata is kept as it was.
    let top = &selected["streams"][0]["metadata"][0]["metadata"];
    assert_eq!(top["sluice-partitioned"], true);
    assert_eq!(top["replication-method"], "INCREMENTAL");
    // `to_singer` with a configured catalog marks the same.
    let direct = to_singer(&catalog, Some(&configured()));
    assert_eq!(configured_from_singer(&direct).unwrap(), back);
    // ... on the entry too, where the singer-sdk reads it.
    assert_eq!(direct["streams"][0]["replication_method"], "INCREMENTAL");
    assert_eq!(direct["streams"][0]["replication_key"], "updated_at");
    assert!(direct["streams"][1].get("replication_method").is_none());
    assert!(tap["streams"][0].get("replication_method").is_none());
}

#[test]
fn singer_selection_without_field_metadata_selects_every_field() {
    let tap = json!({"streams": [{"tap_stream_id": "t", "schema": {}, "key_properties": [],
        "metadata": [{"breadcrumb": [], "metadata": {"selected": true, "replication-method": "FULL_TABLE"}}]}]});
    let c = configured_from_singer(&tap).unwrap();
    assert_eq!(c.streams[0].fields, Vec::<String>::new());
    assert_eq!(c.streams[0].sync_mode, SyncMode::FullRefresh);
    assert!(from_singer(&json!({})).is_err());
}

#[test]
fn airbyte_catalog_round_trips_what_sluice_knows() {
    let catalog = Catalog {
        streams: vec![users()],
    };
    let a = to_airbyte(&catalog);
    assert_eq!(
        a["streams"][0]["source_defined_primary_key"],
        json!([["id"]])
    );
    assert_eq!(
        a["streams"][0]["default_cursor_field"],
        json!(["updated_at"])
    );
    assert_eq!(from_airbyte(&a).unwrap(), catalog);
}

#[test]
fn airbyte_configured_catalog_round_trips() {
    let catalog = Catalog {
        streams: vec![users()],
    };
    let mut configured = configured();
    configured.streams[0].fields.clear();
    configured.streams[0].schema = users().schema;
    let a = to_airbyte_configured(&to_airbyte(&catalog), &configured).unwrap();
    assert_eq!(a["streams"][0]["destination_sync_mode"], "append_dedup");
    assert_eq!(a["streams"][0]["cursor_field"], json!(["updated_at"]));
    assert_eq!(configured_from_airbyte(&a).unwrap(), configured);
    configured.streams[0].write_mode = WriteMode::History;
    let e = to_airbyte_configured(&json!({"streams": []}), &configured).unwrap_err();
    assert!(e.contains("History"), "{e}");
}
