//! `sluice write` into dest-postgres on a real server: rows from stdin
//! create and fill the table (its types read off the first record), and
//! `--operation delete` removes rows by the primary key. A wrong password
//! is an auth error that names the user and nothing else.

mod support;

use serde_json::Value;
use serde_json::json;
use sluice_artifacts as artifacts;
use support::leaks::{self, Ran, SECRET, assert_no_secret_in_files};
use support::{PipelineToml, pg_server, sluice, text, with_stdin};

/// `sluice write` of `lines` into `schema`.people with `args`.
fn write(config: &std::path::Path, lines: &str, args: &[&str]) -> (bool, String) {
    let pg = pg_server::shared();
    let o = with_stdin(
        sluice()
            .args([
                "write",
                artifacts::DEST_POSTGRES,
                "--stream",
                "people",
                "--config",
            ])
            .arg(config)
            .args(["--allow-host", &format!("{}:{}", pg.host(), pg.port())])
            .args(args),
        lines,
    );
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

/// dest-postgres or source-postgres on the test server, logging in as its
/// user with `password`.
fn postgres_config(password: &str) -> Value {
    let pg = support::pg_server::shared();
    json!({"host": pg.host(), "port": pg.port(), "user": pg.user(), "password": password,
           "database": pg.database()})
}

#[test]
fn a_wrong_postgres_password_is_an_auth_error_naming_the_user_never_the_password() {
    let pg = support::pg_server::shared();
    let addr = format!("{}:{}", pg.host(), pg.port());
    let dir = tempfile::tempdir().unwrap();
    // The config file holds the secret, so it lives apart from `dir`.
    let configs = tempfile::tempdir().unwrap();
    let config = configs.path().join("pg.json");
    std::fs::write(&config, postgres_config(SECRET).to_string()).unwrap();
    for component in [artifacts::DEST_POSTGRES, artifacts::SOURCE_POSTGRES] {
        for verbosity in ["-v", "-vv"] {
            let o = leaks::sluice()
                .args([
                    verbosity,
                    "check",
                    component,
                    "--allow-host",
                    &addr,
                    "--config",
                ])
                .arg(&config)
                .output()
                .unwrap();
            let ran = Ran::new(format!("check {component} {verbosity}"), o);
            ran.assert_no_secret();
            assert_ne!(ran.code, Some(0), "{}", ran.err);
            assert!(
                ran.err.contains("auth") && ran.err.contains(&format!("user `{}`", pg.user())),
                "{}",
                ran.err
            );
        }
    }
    // A whole sync that fails to log in: nothing in its output, history or
    // state store either.
    let file = PipelineToml::faker(json!({"count": 10}))
        .name("pg-secret")
        .destination(
            artifacts::DEST_POSTGRES,
            json!({"host": pg.host(), "port": pg.port(), "user": pg.user(),
                   "password": "${SLUICE_TEST_SECRET}", "database": pg.database()}),
            &[&addr],
        )
        .options(json!({"retries": 0}))
        .write(dir.path(), "p.toml");
    for args in [
        &["-vv", "sync"][..],
        &["sync", "--json"],
        &["runs", "--json"],
        &["state", "show"],
    ] {
        let o = leaks::sluice().args(args).arg(&file).output().unwrap();
        Ran::new(format!("{args:?}"), o).assert_no_secret();
    }
    assert_no_secret_in_files(dir.path());
}
