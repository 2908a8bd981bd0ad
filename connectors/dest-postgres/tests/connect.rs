//! `check` and connecting against a real server: every password method,
//! rejected credentials, unreachable servers.

#![cfg(not(target_family = "wasm"))]

mod common;

use common::*;
use serde_json::json;
use sluice_dest_postgres::PostgresDestination;
use sluice_guest::{ErrorKind, native};
use sluice_pg_server::Auth;

fn config(user: &str, password: &str, port: u16) -> String {
    json!({"host": "127.0.0.1", "port": port, "user": user, "password": password, "database": "sluice"})
        .to_string()
}

#[test]
fn check_logs_in_with_every_password_method() {
    let pg = server();
    for auth in Auth::ALL {
        let (user, password) = pg.credentials(auth);
        native::check::<PostgresDestination>(&config(user, password, pg.port()))
            .unwrap_or_else(|e| panic!("{auth:?}: {e}"));
    }
}

#[test]
fn a_wrong_password_is_an_auth_error_naming_the_user_and_not_the_password() {
    let pg = server();
    for auth in Auth::ALL {
        let (user, _) = pg.credentials(auth);
        let wrong = "not-the-Pa55word";
        let e = native::check::<PostgresDestination>(&config(user, wrong, pg.port())).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Auth, "{auth:?}: {e}");
        assert!(e.message.contains(&format!("`{user}`")), "{}", e.message);
        assert!(!e.message.contains(wrong), "{}", e.message);
        assert!(!e.message.contains(pg.password()), "{}", e.message);
        // Opening a writer says the same.
        let Err(e) = native::open_writer::<PostgresDestination>(
            &config(user, wrong, pg.port()),
            catalog(vec![]),
        ) else {
            panic!("opened with a wrong password");
        };
        assert_eq!(e.kind, ErrorKind::Auth);
        assert!(!e.message.contains(wrong), "{}", e.message);
    }
}

#[test]
fn an_unreachable_server_is_transient_and_names_the_address() {
    // A port nobody listens on: bind one and let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = native::check::<PostgresDestination>(&config("u", "secret-pw", port)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient, "{e}");
    assert!(
        e.message.contains(&format!("127.0.0.1:{port}")),
        "{}",
        e.message
    );
    assert!(!e.message.contains("secret-pw"), "{}", e.message);
}

#[test]
fn a_missing_database_is_a_config_error() {
    let pg = server();
    let mut cfg: serde_json::Value =
        serde_json::from_str(&config(pg.user(), pg.password(), pg.port())).unwrap();
    cfg["database"] = json!("nope");
    let e = native::check::<PostgresDestination>(&cfg.to_string()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config, "{e}");
    assert!(e.message.contains("nope"), "{}", e.message);
}

#[test]
fn the_spec_lists_modes_operations_keys_and_the_secret() {
    let spec = native::spec::<PostgresDestination>();
    assert_eq!(spec.write_modes.len(), 4);
    assert_eq!(spec.operations.len(), 4);
    assert_eq!(
        spec.reserved_keys,
        [
            "",
            "_sluice_extracted_at",
            "_valid_from",
            "_valid_to",
            "_is_current"
        ]
    );
    assert_eq!(spec.secret_fields(), ["password"]);
    assert_eq!(spec.config_schema["additionalProperties"], json!(false));
    assert!(spec.documentation.unwrap().contains("TLS is not supported"));
    // Defaults are filled in; unknown keys are refused.
    let e = native::check::<PostgresDestination>(
        r#"{"host":"h","user":"u","database":"d","tls":true}"#,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
}
