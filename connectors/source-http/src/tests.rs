//! Whole reads, checks and discovers against the fake test API.

use crate::HttpSource;
use crate::fake_api::{self, BASE, Options, TOKEN};
use serde_json::{Value, json};
use sluice_guest::{
    ConfiguredCatalog, ConfiguredStream, ErrorKind, Message, Reader, StreamState, SyncMode, Type,
    native,
};

/// A config of `streams` against the fake, with a bearer token.
fn config(streams: Value) -> Value {
    json!({
        "base_url": BASE,
        "auth": {"type": "bearer", "token": TOKEN},
        "retry": {"max_retries": 3, "base_ms": 10, "max_ms": 2000},
        "streams": streams
    })
}

fn users(pagination: Value, path: &str, records_path: &str) -> Value {
    json!({"name": "users", "path": path, "records_path": records_path,
           "primary_key": ["id"], "pagination": pagination})
}

/// What a read emitted: records, states and batch sizes per stream.
#[derive(Default, Debug)]
struct Out {
    records: Vec<(String, Value)>,
    states: Vec<StreamState>,
    batches: Vec<(u32, Option<String>)>,
    errors: Vec<String>,
}

impl Out {
    fn ids(&self, stream: &str) -> Vec<u64> {
        self.records
            .iter()
            .filter(|(s, _)| s == stream)
            .map(|(_, r)| r["id"].as_u64().unwrap())
            .collect()
    }

    fn last_state(&self, stream: &str) -> Option<Value> {
        self.states
            .iter()
            .rev()
            .find(|s| s.stream == stream)
            .map(|s| s.state.clone())
    }
}

fn read(config: &Value, streams: Vec<ConfiguredStream>, state: Vec<StreamState>) -> Out {
    let catalog = ConfiguredCatalog { streams };
    let mut reader = native::read::<HttpSource>(&config.to_string(), catalog, state).unwrap();
    let mut out = Out::default();
    while let Some(messages) = reader.next().unwrap() {
        for m in messages {
            match m {
                Message::Records(b) => {
                    out.batches.push((b.count, b.schema_id.clone()));
                    for line in b.lines() {
                        out.records
                            .push((b.stream.clone(), serde_json::from_slice(line).unwrap()));
                    }
                }
                Message::State(s) => out.states.push(s),
                Message::StreamError(e) => out.errors.push(e.message),
                Message::Status(..) => {}
            }
        }
    }
    out
}

fn full(name: &str) -> ConfiguredStream {
    ConfiguredStream::new(name)
}

fn incremental(name: &str) -> ConfiguredStream {
    ConfiguredStream {
        sync_mode: SyncMode::Incremental,
        ..ConfiguredStream::new(name)
    }
}

#[test]
fn the_spec_marks_every_credential_secret() {
    let spec = native::spec::<HttpSource>();
    assert_eq!(
        spec.secret_fields(),
        ["auth.token", "auth.value", "auth.password"]
    );
}

#[test]
fn every_pagination_style_reads_every_user_once() {
    let styles = [
        (
            json!({"type": "page_number", "size": 3}),
            "/page/users",
            "data",
        ),
        (
            json!({"type": "offset", "limit": 3}),
            "/offset/users",
            "data",
        ),
        (
            json!({"type": "cursor", "cursor_path": "next_cursor"}),
            "/cursor/users?limit=3",
            "data",
        ),
        (
            json!({"type": "next_url", "next_url_path": "next"}),
            "/next/users?per_page=3",
            "results",
        ),
        (json!({"type": "link_header"}), "/link/users?per_page=3", ""),
    ];
    for (pagination, path, records_path) in styles {
        let seen = fake_api::install(Options::default());
        let config = config(json!([users(pagination.clone(), path, records_path)]));
        let out = read(&config, vec![full("users")], vec![]);
        assert_eq!(out.ids("users"), [1, 2, 3, 4, 5, 6, 7], "{pagination}");
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let requests = seen.borrow().requests.len();
        assert!(
            (3..=4).contains(&requests),
            "{pagination}: {requests} requests"
        );
    }
}

#[test]
fn no_pagination_is_one_request() {
    let seen = fake_api::install(Options::default());
    let config = config(json!([users(
        json!({"type": "none"}),
        "/page/users?per_page=2",
        "data"
    )]));
    let out = read(&config, vec![full("users")], vec![]);
    assert_eq!(out.ids("users"), [1, 2]);
    assert_eq!(seen.borrow().requests.len(), 1);
}

#[test]
fn every_kind_of_credential_is_accepted() {
    for auth in [
        json!({"type": "header", "name": "X-Api-Key", "value": TOKEN}),
        json!({"type": "query", "name": "api_key", "value": TOKEN}),
        json!({"type": "basic", "username": "sluice", "password": TOKEN}),
    ] {
        fake_api::install(Options::default());
        let mut config = config(json!([users(
            json!({"type": "none"}),
            "/page/users",
            "data"
        )]));
        config["auth"] = auth.clone();
        native::check::<HttpSource>(&config.to_string()).unwrap_or_else(|e| panic!("{auth}: {e}"));
    }
}

#[test]
fn a_wrong_token_fails_check_as_auth_without_showing_it() {
    fake_api::install(Options::default());
    let mut config = config(json!([users(
        json!({"type": "none"}),
        "/page/users",
        "data"
    )]));
    config["auth"] = json!({"type": "query", "name": "api_key", "value": "wrong-s3cret"});
    let e = native::check::<HttpSource>(&config.to_string()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    assert_eq!(
        e.message,
        "GET http://127.0.0.1:8080/page/users?api_key=***: HTTP 401: the server refused the credentials (check the auth settings)"
    );
    assert_eq!(e.stream.as_deref(), Some("users"));
}

#[test]
fn an_ungranted_host_is_a_config_error() {
    fake_api::install(Options::default());
    let mut config = config(json!([users(
        json!({"type": "none"}),
        "/page/users",
        "data"
    )]));
    config["base_url"] = json!("http://api.example.test:81");
    let e = native::check::<HttpSource>(&config.to_string()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert_eq!(
        e.message,
        "the host denied the request to http://api.example.test:81/page/users: it is not granted to this connector"
    );
}

#[test]
fn incremental_reads_send_and_save_the_bookmark() {
    let seen = fake_api::install(Options::default());
    let mut stream = users(
        json!({"type": "page_number", "size": 2}),
        "/page/users",
        "data",
    );
    stream["incremental"] = json!({"cursor_field": "updated_at", "param": "updated_since",
                                   "start": "2024-01-03T00:00:00Z"});
    let mut config = config(json!([stream]));
    config["batch_size"] = json!(2);
    let first = read(&config, vec![incremental("users")], vec![]);
    // Days: user i is updated on day (3i mod 7) + 1.
    assert_eq!(first.ids("users"), [1, 2, 4, 6]);
    assert!(
        seen.borrow().requests[0]
            .0
            .contains("updated_since=2024-01-03T00%3A00%3A00Z")
    );
    let end = first.last_state("users").unwrap();
    assert_eq!(
        end,
        json!({"cursor_field": "updated_at", "bookmark": "2024-01-07T00:00:00Z"})
    );
    // Checkpoints before the end keep the bookmark the run started from.
    assert_eq!(
        first.states[0].state,
        json!({"cursor_field": "updated_at", "bookmark": "2024-01-03T00:00:00Z",
               "progress": "2024-01-07T00:00:00Z"})
    );
    assert_eq!(
        first.states.len(),
        3,
        "one per call: 2 + 2 records, then the end"
    );

    let state = vec![StreamState {
        stream: "users".into(),
        state: end,
    }];
    let second = read(&config, vec![incremental("users")], state);
    assert!(second.ids("users").is_empty());
    assert_eq!(
        second.last_state("users").unwrap()["bookmark"],
        "2024-01-07T00:00:00Z"
    );
}

#[test]
fn a_full_refresh_of_an_incremental_stream_reads_everything_without_state() {
    fake_api::install(Options::default());
    let mut stream = users(
        json!({"type": "offset", "limit": 4}),
        "/offset/users",
        "data",
    );
    stream["incremental"] = json!({"cursor_field": "updated_at", "param": "updated_since"});
    let out = read(&config(json!([stream])), vec![full("users")], vec![]);
    assert_eq!(out.ids("users").len(), 7);
    assert!(out.states.is_empty());
}

fn orders(incremental: bool) -> Value {
    let mut orders = json!({"name": "orders", "path": "/users/{id}/orders", "records_path": "data",
                            "primary_key": ["id"], "parent": {"stream": "users", "fields": ["id"]}});
    if incremental {
        orders["incremental"] = json!({"cursor_field": "updated_at", "param": "updated_since"});
    }
    orders
}

#[test]
fn a_child_stream_reads_per_parent_and_rolls_its_bookmark_up() {
    let seen = fake_api::install(Options::default());
    let mut parent = users(
        json!({"type": "page_number", "size": 3}),
        "/page/users",
        "data",
    );
    parent["incremental"] = json!({"cursor_field": "updated_at", "param": "updated_since"});
    let config = config(json!([parent, orders(true)]));
    let out = read(&config, vec![incremental("orders")], vec![]);
    // User i has i % 3 orders, ids 10 i + k.
    assert_eq!(out.ids("orders"), [10, 20, 21, 40, 50, 51, 70]);
    let requests = seen
        .borrow()
        .requests
        .iter()
        .filter(|(u, _)| u.contains("/orders"))
        .count();
    assert_eq!(requests, 7, "one request per parent");
    // The largest updated_at over every parent's orders.
    assert_eq!(
        out.last_state("orders").unwrap(),
        json!({"cursor_field": "updated_at", "bookmark": "2024-02-08T00:00:00Z"})
    );
    // Next run every parent's request carries that one bookmark; the
    // parents are walked without the parent's own bookmark.
    seen.borrow_mut().requests.clear();
    let state = vec![
        StreamState {
            stream: "orders".into(),
            state: out.last_state("orders").unwrap(),
        },
        StreamState {
            stream: "users".into(),
            state: json!({"cursor_field": "updated_at", "bookmark": "2099-01-01T00:00:00Z"}),
        },
    ];
    let again = read(&config, vec![incremental("orders")], state);
    assert!(again.ids("orders").is_empty());
    let seen = seen.borrow();
    let (orders, parents): (Vec<_>, Vec<_>) = seen
        .requests
        .iter()
        .partition(|(u, _)| u.contains("/orders"));
    assert_eq!(orders.len(), 7);
    assert!(
        orders
            .iter()
            .all(|(u, _)| u.ends_with("updated_since=2024-02-08T00%3A00%3A00Z"))
    );
    assert!(parents.iter().all(|(u, _)| !u.contains("updated_since")));
}

#[test]
fn discover_infers_schemas_and_names_keys_and_cursors() {
    fake_api::install(Options::default());
    let mut declared = users(json!({"type": "link_header"}), "/link/users", "");
    declared["name"] = json!("declared");
    declared["schema"] = json!({"type": "object", "properties": {"id": {"type": "integer"}}});
    let config = config(json!([
        users(json!({"type": "page_number"}), "/page/users", "data"),
        orders(true),
        declared
    ]));
    let catalog = native::discover::<HttpSource>(&config.to_string()).unwrap();
    let [users, orders, declared] = &catalog.streams[..] else {
        panic!("{catalog:?}")
    };
    assert_eq!(users.primary_key, ["id"]);
    assert_eq!(
        users.schema["properties"]["updated_at"]["format"],
        "date-time"
    );
    assert_eq!(users.sync_modes, [SyncMode::FullRefresh]);
    assert_eq!(
        orders.schema["properties"]["amount"]["type"],
        json!(["integer", "null"])
    );
    assert_eq!(orders.default_cursor.as_deref(), Some("updated_at"));
    assert_eq!(
        orders.sync_modes,
        [SyncMode::FullRefresh, SyncMode::Incremental]
    );
    assert_eq!(
        declared.schema,
        json!({"type": "object", "properties": {"id": {"type": "integer"}}})
    );
}

#[test]
fn batches_carry_the_inferred_schema_and_hold_many_records() {
    fake_api::install(Options {
        users: Some(40),
        ..Options::default()
    });
    let mut config = config(json!([users(
        json!({"type": "page_number", "size": 3}),
        "/page/users",
        "data"
    )]));
    config["batch_size"] = json!(10);
    let out = read(&config, vec![full("users")], vec![]);
    assert_eq!(out.ids("users").len(), 40);
    let counts: Vec<u32> = out.batches.iter().map(|(n, _)| *n).collect();
    assert_eq!(counts, [12, 12, 12, 4]);
    let id = out.batches[0].1.clone().unwrap();
    let schema = sluice_guest::registry::fetch(&id).unwrap().unwrap();
    assert_eq!(schema.names(), ["id", "name", "email", "updated_at"]);
    assert_eq!(schema.field("updated_at").unwrap().ty, Type::Timestamp);
}

#[test]
fn rate_limits_and_retry_after_are_honoured_mid_read() {
    let seen = fake_api::install(Options {
        flaky: Some(3),
        ..Options::default()
    });
    let mut config = config(json!([users(
        json!({"type": "cursor", "cursor_path": "next_cursor"}),
        "/cursor/users?limit=2",
        "data"
    )]));
    config["requests_per_second"] = json!(10);
    let out = read(&config, vec![full("users")], vec![]);
    assert_eq!(out.ids("users"), [1, 2, 3, 4, 5, 6, 7]);
    let seen = seen.borrow();
    assert!(
        seen.sleeps.contains(&std::time::Duration::from_secs(1)),
        "{:?}",
        seen.sleeps
    );
    assert!(
        seen.sleeps.contains(&std::time::Duration::from_millis(100)),
        "{:?}",
        seen.sleeps
    );
}

#[test]
fn redirects_are_followed() {
    fake_api::install(Options::default());
    let to = format!("{BASE}/page/users?per_page=2");
    let path = format!(
        "/redirect?to={}",
        to.replace(':', "%3A")
            .replace('/', "%2F")
            .replace('?', "%3F")
            .replace('=', "%3D")
    );
    let config = config(json!([users(json!({"type": "none"}), &path, "data")]));
    let out = read(&config, vec![full("users")], vec![]);
    assert_eq!(out.ids("users"), [1, 2]);
}

#[test]
fn a_missing_records_path_fails_the_stream_naming_it() {
    fake_api::install(Options::default());
    let config = config(json!([users(
        json!({"type": "none"}),
        "/page/users",
        "items"
    )]));
    let catalog = ConfiguredCatalog {
        streams: vec![full("users")],
    };
    let mut reader = native::read::<HttpSource>(&config.to_string(), catalog, vec![]).unwrap();
    let e = loop {
        match reader.next() {
            Err(e) => break e,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("no error"),
        }
    };
    assert_eq!(e.kind, ErrorKind::Data);
    assert_eq!(e.stream.as_deref(), Some("users"));
    assert!(
        e.message.contains("the body has no `items`"),
        "{}",
        e.message
    );
}

#[test]
fn configs_that_cannot_work_are_refused_up_front() {
    let refuse = |streams: Value, says: &str| {
        let e = native::check::<HttpSource>(&config(streams).to_string()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.contains(says), "{says}: {}", e.message);
    };
    refuse(
        json!([orders(false)]),
        "parent stream `users` is not configured",
    );
    refuse(
        json!([{"name": "a", "path": "/x/{id}"}]),
        "has no parent to fill it",
    );
    refuse(
        json!([{"name": "a", "path": "/a/{id}", "parent": {"stream": "b", "fields": ["id"]}},
               {"name": "b", "path": "/b/{id}", "parent": {"stream": "a", "fields": ["id"]}}]),
        "cycle",
    );
    refuse(
        json!([{"name": "u", "path": "/u"}, {"name": "o", "path": "/u/{id}", "parent": {"stream": "u", "fields": ["uid"]}}]),
        "placeholder `{id}`",
    );
    refuse(
        json!([{"name": "u", "path": "/u"}, {"name": "u", "path": "/v"}]),
        "two streams",
    );
    refuse(
        json!([{"name": "u", "path": "/u", "pagination": {"type": "cursor"}}]),
        "cursor_path",
    );
    refuse(
        json!([{"name": "u", "path": "/u", "schema": {"type": "object", "properties": {"a": {"type": 5}}}}]),
        "typed form",
    );
    let e = native::read::<HttpSource>(
        &config(json!([users(
            json!({"type": "none"}),
            "/page/users",
            "data"
        )]))
        .to_string(),
        ConfiguredCatalog {
            streams: vec![incremental("users")],
        },
        vec![],
    )
    .err()
    .unwrap();
    assert!(e.message.contains("no `incremental`"), "{}", e.message);
}
