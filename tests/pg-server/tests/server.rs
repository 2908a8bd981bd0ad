//! A real server: every role logs in over TCP with its own password method,
//! a wrong password does not, two servers run side by side, the shared
//! server is one, and a persistent server survives its value.

use sluice_pg_server::{Auth, Error, Server, shared};
use std::path::PathBuf;
use std::process::Output;
use std::time::Instant;

/// `psql -c <sql>` as `user` with `password`, over TCP to `server`.
fn psql_login(server: &Server, user: &str, password: &str, sql: &str) -> Output {
    let mut psql = server.psql();
    psql.args(["-U", user, "-At", "-c", sql])
        .env("PGPASSWORD", password);
    psql.output().expect("psql runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_role_logs_in_with_its_own_method() {
    let pg = shared();
    for auth in Auth::ALL {
        let (user, password) = pg.credentials(auth);
        let out = psql_login(pg, user, password, "select 1");
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{user}: {stderr}");
        assert_eq!(stdout, "1\n", "{user}");
        // And the role can work in database sluice's public schema.
        let table = format!("t_{user}");
        let out = psql_login(
            pg,
            user,
            password,
            &format!(
                "create table {table} (id int); insert into {table} values (7); select id from {table}"
            ),
        );
        assert!(out.status.success(), "{user}: {}", text(&out).1);
        assert_eq!(text(&out).0, "7\n");
    }
    // The passwords are stored the way the methods need them.
    let stored = pg
        .sql(
            "select rolname || '=' || case when rolpassword like 'md5%' then 'md5' \
             else split_part(rolpassword, '$', 1) end \
             from pg_authid where rolname like 'sluice%' order by 1",
        )
        .unwrap();
    assert_eq!(
        stored,
        "sluice=SCRAM-SHA-256\nsluice_cleartext=SCRAM-SHA-256\nsluice_md5=md5\n"
    );
    let hba = pg.sql("select user_name[1] || ' ' || auth_method from pg_hba_file_rules where type = 'host' order by line_number").unwrap();
    assert_eq!(
        hba,
        "sluice_md5 md5\nsluice_cleartext password\nall scram-sha-256\n"
    );
}

#[test]
fn a_wrong_password_is_refused_for_every_method() {
    let pg = shared();
    for auth in Auth::ALL {
        let out = psql_login(pg, auth.user(), "not-the-password", "select 1");
        let (_, stderr) = text(&out);
        assert!(!out.status.success(), "{} got in", auth.user());
        assert!(
            stderr.contains("password authentication failed"),
            "{stderr}"
        );
    }
}

#[test]
fn the_shared_server_is_one_server() {
    let a = shared();
    let b = shared();
    assert!(std::ptr::eq(a, b));
    assert_eq!(a.port(), b.port());
    assert!(a.url().starts_with(&format!(
        "postgres://sluice:{}@127.0.0.1:{}/sluice",
        a.password(),
        a.port()
    )));
}

#[test]
fn the_server_is_durable_and_reachable_by_its_accessors() {
    let pg = shared();
    assert_eq!(
        pg.sql("show fsync; show synchronous_commit; show listen_addresses")
            .unwrap(),
        "on\non\n127.0.0.1\n"
    );
    assert_eq!(pg.host(), "127.0.0.1");
    assert_eq!((pg.user(), pg.database()), ("sluice", "sluice"));
    assert!(pg.data_dir().join("PG_VERSION").is_file());
    assert!(pg.log_path().is_file());
    assert!(pg.psql_bin().is_file());
    pg.create_database("other db").unwrap();
    let out = pg
        .psql()
        .args(["-At", "-d", "other db", "-c", "select current_database()"])
        .output()
        .unwrap();
    assert_eq!(text(&out).0, "other db\n", "{}", text(&out).1);
}

#[test]
fn sql_errors_carry_psql_stderr_and_no_password() {
    let pg = shared();
    let err = pg
        .sql(&format!("select '{}' from no_such_table", pg.password()))
        .unwrap_err();
    let shown = err.to_string();
    assert!(matches!(err, Error::Failed { .. }), "{shown}");
    assert!(shown.contains("no_such_table"), "{shown}");
    assert!(!shown.contains(pg.password()), "{shown}");
}

#[test]
fn two_servers_run_side_by_side_and_go_away_on_drop() {
    let started = Instant::now();
    let a = Server::start().unwrap();
    eprintln!("server start: {} ms", started.elapsed().as_millis());
    let b = Server::start().unwrap();
    assert_ne!(a.port(), b.port());
    assert_ne!(a.data_dir(), b.data_dir());
    assert_ne!(a.password(), b.password());
    assert_eq!(a.sql("select 1").unwrap(), "1\n");
    assert_eq!(b.sql("select 2").unwrap(), "2\n");
    let (a_root, a_port) = (a.data_dir().parent().unwrap().to_path_buf(), a.port());
    let stopped = Instant::now();
    a.stop().unwrap();
    eprintln!("server stop: {} ms", stopped.elapsed().as_millis());
    assert!(!a_root.exists());
    assert!(std::net::TcpStream::connect(("127.0.0.1", a_port)).is_err());
    let b_root = b.data_dir().parent().unwrap().to_path_buf();
    drop(b);
    assert!(!b_root.exists());
}

#[test]
fn a_persistent_server_outlives_its_value_and_attach_finds_it() {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("sluice-pg-persistent-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let started = Server::start_persistent(&dir).unwrap();
    let (port, password, pid) = (
        started.port(),
        started.password().to_string(),
        started.pid(),
    );
    assert!(started.is_persistent());
    started
        .sql("create table kept (v text); insert into kept values ('still here')")
        .unwrap();
    drop(started);

    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("server.json")).unwrap()).unwrap();
    assert_eq!(state["port"], port);
    assert_eq!(state["pid"], pid);
    assert_eq!(state["password"], password.as_str());
    assert_eq!(state["roles"]["md5"]["user"], "sluice_md5");

    let attached = Server::attach(&dir).unwrap();
    assert_eq!(
        (attached.port(), attached.password()),
        (port, password.as_str())
    );
    assert_eq!(attached.sql("select v from kept").unwrap(), "still here\n");
    assert!(matches!(
        Server::start_persistent(&dir),
        Err(Error::AlreadyRunning { .. })
    ));
    drop(attached);

    // The postmaster dies (a reboot): start again brings the same cluster
    // back, with the same passwords.
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(matches!(
        Server::attach(&dir),
        Err(Error::NotRunning { .. })
    ));
    let restarted = Server::start_persistent(&dir).unwrap();
    assert_eq!(restarted.password(), password);
    assert_eq!(restarted.sql("select v from kept").unwrap(), "still here\n");
    drop(restarted);

    assert!(Server::stop_persistent(&dir).unwrap());
    assert!(!dir.exists());
    assert!(matches!(Server::attach(&dir), Err(Error::Io { .. })));
    assert!(!Server::stop_persistent(&dir).unwrap());
}
