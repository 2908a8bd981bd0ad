//! Foreign keys between streams against a real server: created from the
//! configured relationships, deferred to commit so the order of rows
//! within a transaction cannot violate them.

#![cfg(not(target_family = "wasm"))]

mod common;

use common::*;
use serde_json::json;
use sluice_guest::{ErrorKind, Field, Operation, Relationship, Schema, Type, WriteMode};

fn schemas() -> (Schema, Schema) {
    let users = Schema::new(vec![
        Field::required("id", Type::Int64),
        Field::required("name", Type::String),
    ]);
    let orders = Schema::new(vec![
        Field::required("id", Type::Int64),
        Field::required("user_id", Type::Int64),
    ]);
    (users, orders)
}

/// orders (written in `mode`) of users (upserted on their key, so there
/// is a key to refer to).
fn cat(mode: WriteMode) -> sluice_guest::ConfiguredCatalog {
    let mut orders = stream("orders", mode, &["id"], None);
    orders.relationships = vec![Relationship {
        name: "orders_user".into(),
        fields: vec!["user_id".into()],
        target_stream: "users".into(),
        target_fields: vec!["id".into()],
    }];
    // Children listed first: the writer orders them.
    let users_mode = match mode {
        WriteMode::History => WriteMode::History,
        _ => WriteMode::AppendDedup,
    };
    catalog(vec![orders, stream("users", users_mode, &["id"], None)])
}

#[test]
fn children_arriving_before_their_parents_never_violate_the_foreign_key() {
    for mode in [WriteMode::Append, WriteMode::AppendDedup] {
        let db = Db::new(&format!("fk_{}", format!("{mode:?}").to_lowercase()));
        let mut w = open(&db.config(json!({"foreign_keys": true})), cat(mode));
        let (users, orders) = schemas();
        tell(&mut w, "orders", &orders);
        tell(&mut w, "users", &users);
        for round in 0..3_u64 {
            let (o, u) = (round * 10 + 1, round * 10 + 2);
            w.write(batch(
                "orders",
                Operation::Insert,
                at(round),
                &[json!({"id": o, "user_id": u})],
            ))
            .unwrap();
            w.write(batch(
                "users",
                Operation::Insert,
                at(round),
                &[json!({"id": u, "name": "n"})],
            ))
            .unwrap();
            w.commit().unwrap();
        }
        assert_eq!(
            db.one(
                "select pg_get_constraintdef(oid) from pg_constraint where conname = 'orders_user'"
            ),
            "FOREIGN KEY (user_id) REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED"
        );
        assert_eq!(
            db.rows("select id, user_id from orders order by id"),
            ["1|2", "11|12", "21|22"]
        );
        // An order of a user that never arrives fails the commit, naming
        // the stream, and leaves nothing of that transaction.
        w.write(batch(
            "orders",
            Operation::Insert,
            at(9),
            &[json!({"id": 99, "user_id": 404})],
        ))
        .unwrap();
        w.write(batch(
            "users",
            Operation::Insert,
            at(9),
            &[json!({"id": 5, "name": "n"})],
        ))
        .unwrap();
        let e = w.commit().unwrap_err();
        assert_eq!(
            (e.kind, e.stream.as_deref()),
            (ErrorKind::Data, Some("orders")),
            "{e:?}"
        );
        assert!(e.message.contains("23503"), "{}", e.message);
        assert_eq!(db.rows("select count(*) from orders"), ["3"]);
        assert_eq!(db.rows("select count(*) from users"), ["3"]);
    }
}

#[test]
fn no_foreign_keys_unless_asked_or_to_a_table_keyed_by_version() {
    let db = Db::new("fk_off");
    let mut w = open(&db.config(json!({})), cat(WriteMode::Append));
    let (users, orders) = schemas();
    tell(&mut w, "orders", &orders);
    tell(&mut w, "users", &users);
    w.write(batch(
        "orders",
        Operation::Insert,
        at(0),
        &[json!({"id": 1, "user_id": 404})],
    ))
    .unwrap();
    w.commit().unwrap();
    assert_eq!(
        db.rows("select count(*) from pg_constraint where contype = 'f'"),
        ["0"]
    );
    let db = Db::new("fk_history");
    let mut w = open(
        &db.config(json!({"foreign_keys": true})),
        cat(WriteMode::History),
    );
    tell(&mut w, "orders", &orders);
    tell(&mut w, "users", &users);
    w.write(batch(
        "orders",
        Operation::Insert,
        at(0),
        &[json!({"id": 1, "user_id": 404})],
    ))
    .unwrap();
    w.commit().unwrap();
    assert_eq!(
        db.rows("select count(*) from pg_constraint where contype = 'f'"),
        ["0"]
    );
}
