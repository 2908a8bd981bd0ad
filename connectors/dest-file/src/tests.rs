//! Native tests of dest-file.

use super::*;
use sluice_guest::{Field, SyncMode, Type, native};

fn catalog(mode: WriteMode) -> ConfiguredCatalog {
    ConfiguredCatalog {
        streams: vec![ConfiguredStream {
            sync_mode: SyncMode::Incremental,
            write_mode: mode,
            schema: json!({"type": "object"}),
            ..ConfiguredStream::new("s")
        }],
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dest-file-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config(dir: &Path, format: &str, metadata: bool) -> String {
    json!({"path": dir.display().to_string(), "format": format, "metadata": metadata}).to_string()
}

fn batch(lines: &str) -> Batch {
    Batch::json_lines("s", lines.lines().count() as u32, lines.as_bytes().to_vec())
}

#[test]
fn a_torn_last_record_is_cut_before_appending() {
    let dir = std::env::temp_dir().join(format!("dest-file-torn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("s.jsonl");
    std::fs::write(&file, b"{\"a\":1}\n{\"a\":2}\n{\"a\":").unwrap();
    let config = Config {
        path: dir.display().to_string(),
        format: Format::Jsonl,
        metadata: false,
    };
    let mut w = FileDestination::write(config, catalog(WriteMode::Append)).unwrap();
    w.write(Batch::json_lines("s", 1, b"{\"a\":3}\n".to_vec()))
        .unwrap();
    w.commit().unwrap();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_csv_stream_whose_fields_change_goes_on_in_a_numbered_file() {
    let dir = temp_dir("rotate");
    let v1 = Schema::new(vec![Field::required("id", Type::Int64)]);
    let v2 = Schema::new(vec![
        Field::required("id", Type::Int64),
        Field::optional("name", Type::String),
    ]);
    let (id1, id2) = (
        sluice_guest::registry::register("s", &v1).unwrap(),
        sluice_guest::registry::register("s", &v2).unwrap(),
    );
    let cfg = config(&dir, "csv", false);
    let mut w =
        native::open_writer::<FileDestination>(&cfg, catalog(WriteMode::Overwrite)).unwrap();
    w.schema("s", &id1).unwrap();
    w.write(batch("{\"id\":1}\n")).unwrap();
    w.schema("s", &id1).unwrap();
    w.write(batch("{\"id\":2}\n")).unwrap();
    w.schema("s", &id2).unwrap();
    w.write(batch("{\"id\":3,\"name\":\"c\"}\n")).unwrap();
    w.commit().unwrap();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert_eq!(read("s.csv"), "id\n1\n2\n");
    assert_eq!(read("s.2.csv"), "id,name\n3,c\n");
    // Appending with the new schema continues the file whose header fits.
    let mut w = native::open_writer::<FileDestination>(&cfg, catalog(WriteMode::Append)).unwrap();
    w.schema("s", &id2).unwrap();
    w.write(batch("{\"id\":4}\n")).unwrap();
    w.commit().unwrap();
    assert_eq!(read("s.2.csv"), "id,name\n3,c\n4,\n");
    // Overwriting starts over: the numbered files go.
    let mut w =
        native::open_writer::<FileDestination>(&cfg, catalog(WriteMode::Overwrite)).unwrap();
    w.schema("s", &id1).unwrap();
    w.write(batch("{\"id\":5}\n")).unwrap();
    w.commit().unwrap();
    assert_eq!(read("s.csv"), "id\n5\n");
    assert!(!dir.join("s.2.csv").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn deletes_are_refused_naming_stream_and_operation() {
    let dir = temp_dir("delete");
    let cfg = config(&dir, "jsonl", false);
    let mut w = native::write::<FileDestination>(&cfg, catalog(WriteMode::Append)).unwrap();
    let mut b = batch("{\"id\":1}\n");
    b.operation = Operation::Delete;
    let e = w.write(b).unwrap_err();
    assert_eq!(e.kind, sluice_guest::ErrorKind::Data);
    assert_eq!(e.stream.as_deref(), Some("s"));
    assert!(
        e.message.contains("delete batch of stream `s`"),
        "{}",
        e.message
    );
    let spec = native::spec::<FileDestination>();
    assert_eq!(spec.operations, [Operation::Insert]);
    assert_eq!(spec.reserved_keys, ["", EXTRACTED_AT, OPERATION]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn metadata_columns_are_opt_in() {
    let dir = temp_dir("metadata");
    for (format, metadata) in [("jsonl", true), ("csv", true), ("jsonl", false)] {
        let cfg = config(&dir, format, metadata);
        let mut w = native::write::<FileDestination>(&cfg, catalog(WriteMode::Overwrite)).unwrap();
        let mut b = batch("{\"id\":1}\n");
        b.extracted_at = 1_704_067_200_000;
        w.write(b).unwrap();
        w.commit().unwrap();
        let text = std::fs::read_to_string(dir.join(format!("s.{format}"))).unwrap();
        let expected = match (format, metadata) {
            ("csv", _) => {
                "id,_sluice_extracted_at,_sluice_operation\n1,2024-01-01T00:00:00.000Z,insert\n"
            }
            (_, true) => {
                "{\"id\":1,\"_sluice_extracted_at\":\"2024-01-01T00:00:00.000Z\",\"_sluice_operation\":\"insert\"}\n"
            }
            _ => "{\"id\":1}\n",
        };
        assert_eq!(text, expected, "{format} metadata={metadata}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
