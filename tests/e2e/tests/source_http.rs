//! source-http against the real loopback REST API, through the real host:
//! check with the right and a wrong token, discover, full syncs in every
//! pagination style and auth, incremental runs that ask only for what is
//! new (for child streams too), retries on 429 and 503, and a redirect to
//! a host that is not granted.

use serde_json::{Value, json};
use sluice_artifacts as artifacts;
use sluice_e2e::{PipelineToml, pipeline, runtime};
use sluice_http_server::{HttpServer, Options};
use sluice_runtime::pipeline::{Pipeline, RunOptions};
use sluice_runtime::state::{StateStore, StreamOutcome};
use sluice_runtime::{Call, Error, Grants, Sandbox};
use std::path::Path;
use std::time::Duration;

const TOKEN: &str = "tok-7d1e9c44a0";

/// The loopback API with `users` users behind [`TOKEN`].
fn users_server(users: usize) -> HttpServer {
    HttpServer::start(Options {
        users,
        token: Some(TOKEN.into()),
        ..Default::default()
    })
    .unwrap()
}

fn config(base: &str, token: &str) -> serde_json::Value {
    json!({
        "base_url": base,
        "auth": {"type": "bearer", "token": token},
        "streams": [{
            "name": "users", "path": "/page/users", "records_path": "data",
            "primary_key": ["id"],
            "pagination": {"type": "page_number", "page_param": "page", "size_param": "per_page", "size": 100, "start": 1},
            "incremental": {"cursor_field": "updated_at", "param": "updated_since"},
            "schema": schema(&[("name", "string"), ("email", "string")])
        }]
    })
}

/// A declared record schema: an integer `id`, an RFC 3339 `updated_at`
/// and `more` fields of the given types. Declared, discover sends nothing.
fn schema(more: &[(&str, &str)]) -> Value {
    let mut properties = json!({
        "id": {"type": "integer"},
        "updated_at": {"type": "string", "format": "date-time"}
    });
    for (name, kind) in more {
        properties[*name] = json!({"type": kind});
    }
    json!({"type": "object", "required": ["id", "updated_at"], "properties": properties})
}

#[tokio::test]
async fn check_and_discover_reach_the_real_api_through_the_host() {
    let server = HttpServer::start(Options {
        token: Some(TOKEN.into()),
        ..Default::default()
    })
    .unwrap();
    let base = server.base_url();
    let sandbox = Sandbox {
        grants: Grants {
            hosts: vec![format!("127.0.0.1:{}", server.port())],
            ..Default::default()
        },
        ..Default::default()
    };
    let rt = runtime();
    let c = rt.load(artifacts::SOURCE_HTTP).await.unwrap();
    c.check(&sandbox, &config(&base, TOKEN)).await.unwrap();
    let err = c
        .check(&sandbox, &config(&base, "wrong-token-123"))
        .await
        .unwrap_err();
    let e = err.connector_error().expect("a connector error");
    assert_eq!(e.kind.to_string(), "auth", "{err}");
    assert!(!err.to_string().contains("wrong-token-123"), "{err}");
    let catalog = c.discover(&sandbox, &config(&base, TOKEN)).await.unwrap();
    assert_eq!(catalog.streams.len(), 1);
    // Not granted: denied, nothing sent.
    server.clear_log();
    let err = c
        .check(&Sandbox::default(), &config(&base, TOKEN))
        .await
        .unwrap_err();
    assert!(err.to_string().contains(&base), "{err}");
    assert!(server.requests().is_empty());
}

/// A pipeline of source-http (`config`, granted `server`) into dest-file,
/// with `streams` as its `[[streams]]`.
fn http_pipeline(dir: &Path, server: &HttpServer, config: Value, streams: &[Value]) -> Pipeline {
    let host = format!("127.0.0.1:{}", server.port());
    let mut toml = PipelineToml::new(artifacts::SOURCE_HTTP, config)
        .name("http")
        .source_hosts(&[&host]);
    for s in streams {
        toml = toml.stream(s.clone());
    }
    pipeline(&toml, dir, "http.toml", "http")
}

/// The records in `out/<stream>.jsonl`, by id.
fn written(dir: &Path, stream: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("out").join(format!("{stream}.jsonl")))
        .unwrap_or_default();
    let mut records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    records.sort_by_key(|r| r["id"].as_u64());
    records
}

/// One stream `users` at `path` with `pagination`, the records under
/// `records_path`, authorised by `auth`.
fn users_config(base: &str, auth: Value, style: &Style) -> Value {
    json!({
        "base_url": base, "auth": auth,
        "streams": [{
            "name": "users", "path": style.path, "records_path": style.records_path,
            "params": style.params, "primary_key": ["id"], "pagination": style.pagination
        }]
    })
}

/// An endpoint and how it pages.
struct Style {
    path: &'static str,
    records_path: &'static str,
    params: Value,
    pagination: Value,
}

#[tokio::test]
async fn every_pagination_style_and_auth_moves_exactly_the_apis_records() {
    let server = users_server(250);
    let base = server.base_url();
    let styles = [
        (
            json!({"type": "bearer", "token": TOKEN}),
            Style {
                path: "/page/users",
                records_path: "data",
                params: json!({}),
                pagination: json!({"type": "page_number", "page_param": "page", "size_param": "per_page", "size": 40, "start": 1}),
            },
        ),
        (
            json!({"type": "header", "name": "X-Api-Key", "value": TOKEN}),
            Style {
                path: "/offset/users",
                records_path: "data",
                params: json!({}),
                pagination: json!({"type": "offset", "offset_param": "offset", "limit_param": "limit", "limit": 40}),
            },
        ),
        (
            json!({"type": "query", "name": "api_key", "value": TOKEN}),
            Style {
                path: "/cursor/users",
                records_path: "data",
                params: json!({"limit": 40}),
                pagination: json!({"type": "cursor", "cursor_path": "next_cursor", "cursor_param": "cursor"}),
            },
        ),
        (
            json!({"type": "basic", "username": "sluice", "password": TOKEN}),
            Style {
                path: "/next/users",
                records_path: "results",
                params: json!({"per_page": 40}),
                pagination: json!({"type": "next_url", "next_url_path": "next"}),
            },
        ),
        (
            json!({"type": "bearer", "token": TOKEN}),
            Style {
                path: "/link/users",
                records_path: "",
                params: json!({"per_page": 40}),
                pagination: json!({"type": "link_header"}),
            },
        ),
    ];
    let rt = runtime();
    for (auth, style) in styles {
        let path = style.path;
        let dir = tempfile::tempdir().unwrap();
        let config = users_config(&base, auth, &style);
        let stream = json!({"name": "users", "write_mode": "overwrite"});
        let p = http_pipeline(dir.path(), &server, config, &[stream]);
        let store = StateStore::open(&p.state_path()).unwrap();
        server.clear_log();
        let s = p.run(&rt, &store, &RunOptions::default()).await.unwrap();
        assert!(s.succeeded(), "{path}: {s:?}");
        assert_eq!(written(dir.path(), "users"), server.users(), "{path}");
        let log = server.requests();
        // 250 users in pages of 40: 7 pages, perhaps an empty eighth (the
        // end of some styles), and one first page for discover's schema
        // inference.
        assert!((7..=9).contains(&log.len()), "{path}: {log:?}");
        assert!(
            log.iter().all(|r| r.status == 200 && r.path == path),
            "{path}: {log:?}"
        );
        // No schema declared: the one inferred from the first page is
        // registered, names every field of the records, and the run wrote
        // under it.
        let versions = store.schema_versions("http", "users").unwrap();
        assert_eq!(versions.len(), 1, "{path}: {versions:?}");
        let inferred = store.fetch_schema(&versions[0].id).unwrap().unwrap();
        let fields: std::collections::BTreeSet<&str> =
            inferred.fields.iter().map(|f| f.name.as_str()).collect();
        let users = server.users();
        let keys: std::collections::BTreeSet<&str> = users[0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields, keys, "{path}");
        assert_eq!(
            s.run.streams[0].schema.as_ref(),
            Some(&versions[0].id.0),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_second_incremental_run_asks_only_for_records_after_the_bookmark() {
    let server = users_server(120);
    let dir = tempfile::tempdir().unwrap();
    let stream = json!({"name": "users", "sync_mode": "incremental", "cursor_field": "updated_at", "write_mode": "append"});
    let p = http_pipeline(
        dir.path(),
        &server,
        config(&server.base_url(), TOKEN),
        &[stream],
    );
    let (rt, store) = (runtime(), StateStore::open(&p.state_path()).unwrap());
    let s = p.run(&rt, &store, &RunOptions::default()).await.unwrap();
    assert_eq!(s.records(), 120, "{s:?}");
    let last = server.users().last().unwrap()["updated_at"].clone();
    let saved = store.stream_states("http").unwrap();
    assert_eq!(saved[0].state["bookmark"], last, "{saved:?}");

    server.add_users(7);
    server.clear_log();
    let s = p.run(&rt, &store, &RunOptions::default()).await.unwrap();
    assert_eq!(s.records(), 7, "{s:?}");
    assert_eq!(
        written(dir.path(), "users"),
        server.users(),
        "exactly once each"
    );
    let since = format!("updated_since={}", last.as_str().unwrap());
    for r in server.requests() {
        let query = r.query.unwrap_or_default().replace("%3A", ":");
        assert!(query.contains(&since), "asked from the bookmark: {query}");
    }
    let saved = store.stream_states("http").unwrap();
    assert_eq!(
        saved[0].state["bookmark"],
        server.users().last().unwrap()["updated_at"]
    );
}

#[tokio::test]
async fn rate_limits_and_failures_are_retried_honouring_retry_after_and_nothing_is_doubled() {
    let server = HttpServer::start(Options {
        users: 100,
        token: Some(TOKEN.into()),
        rate_limit_every: Some(5),
        fail_every: Some(7),
        retry_after_secs: 1,
        ..Default::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&server.base_url(), TOKEN);
    config["retry"] = json!({"max_retries": 5, "base_ms": 20, "max_ms": 2000});
    config["streams"][0]["pagination"]["size"] = json!(20);
    let stream = json!({"name": "users", "write_mode": "overwrite"});
    let p = http_pipeline(dir.path(), &server, config, &[stream]);
    let store = StateStore::open(&p.state_path()).unwrap();
    let started = std::time::Instant::now();
    let s = p
        .run(&runtime(), &store, &RunOptions::default())
        .await
        .unwrap();
    assert!(s.succeeded(), "{s:?}");
    assert_eq!(written(dir.path(), "users"), server.users());
    let log = server.requests();
    let limited = log.iter().filter(|r| r.status == 429).count();
    let failed = log.iter().filter(|r| r.status == 503).count();
    assert!(limited >= 1 && failed >= 1, "{log:?}");
    // Each 429 said Retry-After: 1, and the source waited for it.
    assert!(
        started.elapsed().as_secs() >= limited as u64,
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn child_streams_call_each_parents_endpoint_and_roll_their_bookmark_up() {
    let server = HttpServer::start(Options {
        users: 30,
        orders_per_user: 3,
        token: Some(TOKEN.into()),
        ..Default::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&server.base_url(), TOKEN);
    config["streams"].as_array_mut().unwrap().push(json!({
        "name": "orders", "path": "/users/{id}/orders", "records_path": "data",
        "primary_key": ["id"], "parent": {"stream": "users", "fields": ["id"]},
        "incremental": {"cursor_field": "updated_at", "param": "updated_since"},
        "schema": schema(&[("user_id", "integer"), ("amount", "number")])
    }));
    let incremental = |name: &str| json!({"name": name, "sync_mode": "incremental", "cursor_field": "updated_at", "write_mode": "append"});
    let p = http_pipeline(
        dir.path(),
        &server,
        config,
        &[incremental("users"), incremental("orders")],
    );
    let (rt, store) = (runtime(), StateStore::open(&p.state_path()).unwrap());
    let s = p.run(&rt, &store, &RunOptions::default()).await.unwrap();
    assert!(s.succeeded(), "{s:?}");
    assert_eq!(written(dir.path(), "orders"), server.orders());
    let order_calls = server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/orders"))
        .count();
    assert_eq!(order_calls, 30, "one call per user");
    let saved = store.stream_states("http").unwrap();
    let orders = saved.iter().find(|s| s.stream == "orders").unwrap();
    let bookmark = orders.state["bookmark"].clone();
    assert_eq!(
        bookmark,
        server.orders().last().unwrap()["updated_at"],
        "one bookmark for the child stream: {orders:?}"
    );

    server.add_users(2);
    server.clear_log();
    let s = p.run(&rt, &store, &RunOptions::default()).await.unwrap();
    assert_eq!(s.records(), 2 + 6, "{s:?}");
    assert_eq!(
        written(dir.path(), "orders"),
        server.orders(),
        "exactly once each"
    );
    // The child walks every parent (an unchanged user may have a new
    // order), each asked only for orders after the child's one bookmark.
    let since = format!("updated_since={}", bookmark.as_str().unwrap());
    let order_calls: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/orders"))
        .collect();
    assert_eq!(order_calls.len(), 32);
    for r in order_calls {
        let query = r.query.unwrap_or_default().replace("%3A", ":");
        assert!(query.contains(&since), "{}: {query}", r.path);
    }
}

#[tokio::test]
async fn a_redirect_to_a_host_not_granted_is_refused_and_never_sent_and_followed_once_granted() {
    let granted = HttpServer::start(Options::default()).unwrap();
    let other = HttpServer::start(Options::default()).unwrap();
    let target = format!("{}/page/users", other.base_url());
    let config = json!({
        "base_url": granted.base_url(),
        "streams": [{"name": "users", "path": "/redirect", "params": {"to": target}, "records_path": "data"}]
    });
    let sandbox = Sandbox {
        grants: Grants {
            hosts: vec![format!("127.0.0.1:{}", granted.port())],
            ..Default::default()
        },
        ..Default::default()
    };
    let c = runtime().load(artifacts::SOURCE_HTTP).await.unwrap();
    let err = c.check(&sandbox, &config).await.unwrap_err();
    // Denied at the redirect's target: the URL the Location named, and the
    // grant it lacks.
    let Error::Egress {
        url, missing, call, ..
    } = &err
    else {
        panic!("expected an egress denial, got {err}");
    };
    assert_eq!(url, &target, "{err}");
    assert_eq!(missing, &format!("127.0.0.1:{}", other.port()), "{err}");
    assert_eq!(*call, Call::Check);
    assert!(err.to_string().contains(&target), "{err}");
    assert_eq!(granted.requests().len(), 1, "the redirect itself was asked");
    assert!(
        other.requests().is_empty(),
        "nothing reached the other host"
    );
    // With the target granted too, the same redirect is followed there.
    let both = Sandbox {
        grants: Grants {
            hosts: vec![
                format!("127.0.0.1:{}", granted.port()),
                format!("127.0.0.1:{}", other.port()),
            ],
            ..Default::default()
        },
        ..Default::default()
    };
    c.check(&both, &config).await.unwrap();
    let followed = other.requests();
    assert_eq!(followed.len(), 1, "{followed:?}");
    assert_eq!(
        (followed[0].path.as_str(), followed[0].status),
        ("/page/users", 200)
    );
}

#[tokio::test]
async fn https_trusts_the_granted_ca_bundle_and_names_an_untrusted_server() {
    let server = HttpServer::start(Options {
        users: 60,
        token: Some(TOKEN.into()),
        tls: true,
        ..Default::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), server.ca_pem().unwrap()).unwrap();
    let host = format!("127.0.0.1:{}", server.port());
    let config = config(&server.base_url(), TOKEN);
    let sandbox = |ca_bundle| Sandbox {
        grants: Grants {
            hosts: vec![host.clone()],
            ca_bundle,
            ..Default::default()
        },
        ..Default::default()
    };
    let rt = runtime();
    let c = rt.load(artifacts::SOURCE_HTTP).await.unwrap();
    let err = c.check(&sandbox(None), &config).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("TLS handshake with `{host}`")) && text.contains("ca_bundle"),
        "{text}"
    );
    assert!(!text.contains(TOKEN), "{text}");
    c.check(&sandbox(Some(dir.path().join("ca.pem"))), &config)
        .await
        .unwrap();

    // A whole sync over HTTPS, the bundle granted in the pipeline file.
    let toml = format!(
        "name = \"https\"\n\n[source]\ncomponent = {:?}\nhosts = [{host:?}]\nca_bundle = \"ca.pem\"\nconfig = {}\n\n\
         [destination]\ncomponent = {:?}\nconfig = {{ path = \"/out\" }}\n\
         dirs = [{{ host = \"out\", guest = \"/out\", write = true }}]\n\n\
         [[streams]]\nname = \"users\"\nwrite_mode = \"overwrite\"\n",
        artifacts::SOURCE_HTTP,
        sluice_test_support::toml_inline(&config),
        artifacts::DEST_FILE,
    );
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    let p = Pipeline::from_toml(&toml, dir.path(), "https.toml", "https").unwrap();
    let store = StateStore::open(&p.state_path()).unwrap();
    let s = p.run(&rt, &store, &RunOptions::default()).await.unwrap();
    assert!(s.succeeded(), "{s:?}");
    assert_eq!(written(dir.path(), "users"), server.users());

    // A bundle that is not one is named before anything runs.
    std::fs::write(dir.path().join("ca.pem"), "not a certificate").unwrap();
    let err = c
        .check(&sandbox(Some(dir.path().join("ca.pem"))), &config)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ca.pem"), "{err}");
}

#[tokio::test]
async fn many_more_requests_than_the_handle_limit_leave_no_handle_behind() {
    let server = HttpServer::start(Options {
        users: 2000,
        token: Some(TOKEN.into()),
        keep_log: false,
        ..Default::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&server.base_url(), TOKEN);
    config["streams"][0]["pagination"]["size"] = json!(10);
    let host = format!("127.0.0.1:{}", server.port());
    // 200 pages, each a request with options, under a limit of 64 handles.
    let toml = PipelineToml::new(artifacts::SOURCE_HTTP, config)
        .name("http")
        .source_hosts(&[&host])
        .stream(json!({"name": "users", "write_mode": "overwrite"}))
        .extra("\n[source.limits]\nhandles = 64\n");
    let p = pipeline(&toml, dir.path(), "http.toml", "http");
    let store = StateStore::open(&p.state_path()).unwrap();
    let s = p
        .run(&runtime(), &store, &RunOptions::default())
        .await
        .unwrap();
    assert!(s.succeeded(), "{s:?}");
    assert_eq!(written(dir.path(), "users").len(), 2000);
}

#[tokio::test]
async fn the_rate_limit_spaces_every_request_the_server_sees() {
    let server = users_server(60);
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&server.base_url(), TOKEN);
    config["requests_per_second"] = json!(10.0);
    config["streams"][0]["pagination"]["size"] = json!(10);
    let stream = json!({"name": "users", "write_mode": "overwrite"});
    let p = http_pipeline(dir.path(), &server, config, &[stream]);
    let store = StateStore::open(&p.state_path()).unwrap();
    let s = p
        .run(&runtime(), &store, &RunOptions::default())
        .await
        .unwrap();
    assert!(s.succeeded(), "{s:?}");
    assert_eq!(written(dir.path(), "users"), server.users());
    let log = server.requests();
    // Six full pages and the empty one after them.
    assert_eq!(log.len(), 7, "{log:?}");
    for pair in log.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at).unwrap_or_default();
        // 10 a second: 100 ms apart, less what a clock tick may shave off.
        assert!(gap >= Duration::from_millis(90), "{gap:?} between {pair:?}");
    }
}

#[tokio::test]
async fn a_spent_retry_budget_fails_the_stream_as_transient_after_exactly_its_retries() {
    let server = HttpServer::start(Options {
        users: 10,
        token: Some(TOKEN.into()),
        fail_every: Some(1),
        ..Default::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&server.base_url(), TOKEN);
    config["retry"] = json!({"max_retries": 2, "base_ms": 10, "max_ms": 50});
    let host = format!("127.0.0.1:{}", server.port());
    // No retries of the run itself: only the source's own are counted.
    let toml = PipelineToml::new(artifacts::SOURCE_HTTP, config)
        .name("http")
        .source_hosts(&[&host])
        .options(json!({"retries": 0}))
        .stream(json!({"name": "users", "write_mode": "overwrite"}));
    let p = pipeline(&toml, dir.path(), "http.toml", "http");
    let store = StateStore::open(&p.state_path()).unwrap();
    let s = p
        .run(&runtime(), &store, &RunOptions::default())
        .await
        .unwrap();
    assert!(!s.succeeded(), "{s:?}");
    let users = s.run.streams.iter().find(|r| r.stream == "users").unwrap();
    assert!(
        matches!(
            users.outcome,
            StreamOutcome::Failed {
                transient: true,
                ..
            }
        ),
        "{users:?}"
    );
    let log = server.requests();
    assert_eq!(log.len(), 3, "one request and its two retries: {log:?}");
    assert!(log.iter().all(|r| r.status == 503), "{log:?}");
    assert!(
        !s.run.error.unwrap_or_default().contains(TOKEN),
        "no secret in the error"
    );
}
