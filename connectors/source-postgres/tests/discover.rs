//! Discovery against a real server: types, keys, relationships, cursors,
//! operation schemas, naming; and `check`'s errors.
#![cfg(not(target_family = "wasm"))]

mod common;

use common::Db;
use serde_json::{Value, json};
use sluice_guest::{ErrorKind, Operation, Schema, SyncMode, Type, native};
use sluice_source_postgres::Postgres;

const SCHEMA: &str = "
create type mood as enum ('sad', 'happy');
create table customers (
    id bigint primary key,
    name text not null,
    small smallint, medium integer, big bigint,
    r real, d double precision,
    price numeric(12,2) not null, free numeric,
    ok boolean, code char(3), label varchar(20), u uuid, m mood,
    blob bytea, at timestamptz, local timestamp, day date, clock time,
    doc jsonb, raw json, ints int[], words text[], prices numeric(5,1)[],
    updated_at timestamptz not null default now()
);
create table orders (
    id integer primary key,
    customer_id bigint not null references customers (id),
    modified_at timestamp,
    seq bigint
);
create table lines (
    order_id integer references orders (id),
    n integer,
    sku text,
    primary key (order_id, n)
);
create table no_key (a text, b integer);
create schema other;
create table other.orders (id text primary key);
create view big_customers as select id, name from customers where price > 100;
";

fn catalog(db: &Db, extra: Value) -> sluice_guest::Catalog {
    native::discover::<Postgres>(&db.config(extra)).unwrap()
}

fn field_type(schema: &Value, field: &str) -> (Type, bool) {
    let typed = Schema::from_json_schema(schema).unwrap();
    let f = typed
        .field(field)
        .unwrap_or_else(|| panic!("no field {field}"));
    (f.ty.clone(), f.required)
}

#[test]
fn columns_are_typed() {
    let db = Db::new("disc_types");
    db.sql(SCHEMA);
    let cat = catalog(&db, json!({}));
    let s = &cat.stream("customers").unwrap().schema;
    let decimal = |precision, scale| Type::Decimal { precision, scale };
    let array = |t| Type::Array(Box::new(t));
    let expected = [
        ("id", Type::Int64, true),
        ("name", Type::String, true),
        ("small", Type::Int16, false),
        ("medium", Type::Int32, false),
        ("big", Type::Int64, false),
        ("r", Type::Float32, false),
        ("d", Type::Float64, false),
        ("price", decimal(12, 2), true),
        ("free", Type::String, false),
        ("ok", Type::Boolean, false),
        ("code", Type::String, false),
        ("label", Type::String, false),
        ("u", Type::String, false),
        ("m", Type::String, false),
        ("blob", Type::Bytes, false),
        ("at", Type::Timestamp, false),
        ("local", Type::Timestamp, false),
        ("day", Type::String, false),
        ("clock", Type::String, false),
        ("doc", Type::Map(Box::new(Type::String)), false),
        ("raw", Type::Map(Box::new(Type::String)), false),
        ("ints", array(Type::Int32), false),
        ("words", array(Type::String), false),
        ("prices", array(decimal(5, 1)), false),
        ("updated_at", Type::Timestamp, true),
    ];
    let count = expected.len();
    for (field, ty, required) in expected {
        assert_eq!(field_type(s, field), (ty, required), "{field}");
    }
    let names = Schema::from_json_schema(s).unwrap();
    assert_eq!(names.fields.len(), count);
    assert_eq!(s["properties"]["price"]["format"], "decimal");
}

#[test]
fn keys_relationships_cursors_and_modes() {
    let db = Db::new("disc_keys");
    db.sql(SCHEMA);
    let cat = catalog(&db, json!({"schemas": ["public", "other"]}));
    let names: Vec<&str> = cat.streams.iter().map(|s| s.name.as_str()).collect();
    // `orders` is in two schemas: both are qualified; views are left out.
    assert_eq!(
        names,
        [
            "other.orders",
            "customers",
            "lines",
            "no_key",
            "public.orders"
        ]
    );
    let customers = cat.stream("customers").unwrap();
    assert_eq!(customers.primary_key, ["id"]);
    assert_eq!(customers.default_cursor.as_deref(), Some("updated_at"));
    assert_eq!(
        customers.cursor_candidates,
        ["id", "small", "medium", "big", "at", "local", "updated_at"]
    );
    assert_eq!(
        customers.sync_modes,
        [SyncMode::FullRefresh, SyncMode::Incremental]
    );
    assert!(customers.partitioned);
    let orders = cat.stream("public.orders").unwrap();
    assert_eq!(orders.default_cursor.as_deref(), Some("modified_at"));
    assert_eq!(orders.relationships.len(), 1);
    let rel = &orders.relationships[0];
    assert_eq!(rel.fields, ["customer_id"]);
    assert_eq!(rel.target_stream, "customers");
    assert_eq!(rel.target_fields, ["id"]);
    let lines = cat.stream("lines").unwrap();
    assert_eq!(lines.primary_key, ["order_id", "n"]);
    assert!(!lines.partitioned, "a composite key is not partitioned");
    assert_eq!(lines.relationships[0].target_stream, "public.orders");
    assert!(!cat.stream("other.orders").unwrap().partitioned, "text key");
    let no_key = cat.stream("no_key").unwrap();
    assert!(no_key.primary_key.is_empty());
    assert_eq!(no_key.sync_modes, [SyncMode::FullRefresh]);
    assert_eq!(no_key.operation_schemas.len(), 1);
}

#[test]
fn operation_schemas_follow_the_key() {
    let db = Db::new("disc_ops");
    db.sql(SCHEMA);
    let cat = catalog(&db, json!({"tables": ["lines"]}));
    assert_eq!(cat.streams.len(), 1);
    let lines = &cat.streams[0];
    let ops: Vec<Operation> = lines
        .operation_schemas
        .iter()
        .map(|o| o.operation)
        .collect();
    assert_eq!(
        ops,
        [
            Operation::Insert,
            Operation::Update,
            Operation::Upsert,
            Operation::Delete
        ]
    );
    let delete = &lines.operation_schemas[3].schema;
    assert_eq!(delete["required"], json!(["order_id", "n"]));
    let keys: Vec<&String> = delete["properties"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["order_id", "n"]);
    assert_eq!(delete["additionalProperties"], false);
    let update = &lines.operation_schemas[1].schema;
    assert_eq!(update["minProperties"], 3);
    assert_eq!(lines.operation_schemas[0].schema, lines.schema);
}

#[test]
fn views_and_table_filters() {
    let db = Db::new("disc_views");
    db.sql(SCHEMA);
    let cat = catalog(
        &db,
        json!({"schemas": ["public", "other"], "include_views": true,
               "tables": ["big_customers", "other.orders"]}),
    );
    let names: Vec<&str> = cat.streams.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["other.orders", "big_customers"]);
    let view = cat.stream("big_customers").unwrap();
    assert!(view.primary_key.is_empty());
    assert_eq!(view.sync_modes, [SyncMode::FullRefresh]);
    let only_other = catalog(&db, json!({"schemas": ["other"]}));
    assert_eq!(
        only_other.streams[0].name, "orders",
        "unique within `other`"
    );
    let e = native::discover::<Postgres>(&db.config(json!({"tables": ["nope"]}))).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.message.contains("`nope`"), "{e}");
}

#[test]
fn check_names_the_user_or_the_address_and_never_the_password() {
    let db = Db::new("disc_check");
    native::check::<Postgres>(&db.config(json!({}))).unwrap();
    let wrong = db.config(json!({"password": "not-the-Secret-42"}));
    let e = native::check::<Postgres>(&wrong).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{e}");
    assert!(e.message.contains("sluice"), "{e}");
    assert!(!e.message.contains("not-the-Secret-42"), "{e}");
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let e = native::check::<Postgres>(&db.config(json!({"port": port}))).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient, "{e}");
    assert!(e.message.contains(&format!("127.0.0.1:{port}")), "{e}");
    let e = native::check::<Postgres>(&db.config(json!({"database": "no_such_db"}))).unwrap_err();
    assert!(e.message.contains("no_such_db"), "{e}");
}
