//! `sluice write` into dest-postgres on a real server: rows from stdin
//! create and fill the table (its types read off the first record), and
//! `--operation delete` removes rows by the primary key.

mod support;

use serde_json::json;
use sluice_artifacts as artifacts;
use std::io::Write;
use std::process::Stdio;
use support::{pg_server, sluice, text};

/// `sluice write` of `lines` into `schema`.people with `args`.
fn write(config: &std::path::Path, lines: &str, args: &[&str]) -> (bool, String) {
    let pg = pg_server::shared();
    let mut child = sluice()
        .args([
            "write",
            artifacts::DEST_POSTGRES,
            "--stream",
            "people",
            "--config",
        ])
        .arg(config)
        .args(["--allow-host", &format!("{}:{}", pg.host(), pg.port())])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    (o.status.success(), text(&o).1)
}

#[test]
fn write_loads_rows_and_deletes_them_by_primary_key() {
    let pg = pg_server::shared();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pg.json");
    let c = json!({"host": pg.host(), "port": pg.port(), "user": pg.user(), "password": pg.password(),
                   "database": pg.database(), "schema": "cli_write"});
    std::fs::write(&config, c.to_string()).unwrap();
    let dedup = ["--write-mode", "append-dedup", "--primary-key", "id"];
    let rows = "{\"id\":1,\"name\":\"a\",\"tags\":[\"x\"],\"score\":1.5}\n{\"id\":2,\"name\":\"tab\\there\"}\n{\"id\":3,\"name\":\"c\"}\n";
    let (ok, err) = write(&config, rows, &dedup);
    assert!(ok, "{err}");
    assert!(err.contains("wrote 3 records"), "{err}");
    let mut delete = dedup.to_vec();
    delete.extend(["--operation", "delete"]);
    let (ok, err) = write(&config, "{\"id\":2}\n", &delete);
    assert!(ok, "{err}");
    let held = pg
        .sql("select id, name, tags::text, score from cli_write.people order by id")
        .unwrap();
    assert_eq!(held, "1|a|[\"x\"]|1.5\n3|c||\n");
    // Deletes cannot be applied to an appended stream: a clear error.
    let (ok, err) = write(&config, "{\"id\":1}\n", &["--operation", "delete"]);
    assert!(!ok);
    assert!(err.contains("append") && err.contains("delete"), "{err}");
}
