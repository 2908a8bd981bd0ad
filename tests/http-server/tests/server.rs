//! The server's behaviour beyond pagination: the four auth forms, the
//! fault cadence, the request log, redirects, the big body, the stalls,
//! errors, and its life (async use, shutdown on drop, bad options).

mod client;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use client::{get, get_async, get_with};
use sluice_http_server::{Error, HttpServer, Options, REDACTED};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime};

const TOKEN: &str = "t0k3n+/=";

fn with_token() -> HttpServer {
    HttpServer::start(Options {
        users: 5,
        token: Some(TOKEN.into()),
        ..Options::default()
    })
    .unwrap()
}

#[test]
fn any_one_auth_form_lets_a_request_in() {
    let server = with_token();
    let url = format!("{}/page/users", server.base_url());
    let bearer = format!("Bearer {TOKEN}");
    let basic = format!("Basic {}", STANDARD.encode(format!("sluice:{TOKEN}")));
    let encoded: String = form_urlencoded::byte_serialize(TOKEN.as_bytes()).collect();
    let in_query = format!("{url}?api_key={encoded}");
    let ok: [(&str, &[(&str, &str)]); 4] = [
        (&url, &[("authorization", &bearer)]),
        (&url, &[("x-api-key", TOKEN)]),
        (&in_query, &[]),
        (&url, &[("authorization", &basic)]),
    ];
    for (url, headers) in ok {
        let reply = get_with(url, headers);
        assert_eq!(reply.status, 200, "{url} {headers:?}");
        assert_eq!(reply.json()["data"].as_array().unwrap().len(), 5);
    }
    let wrong_basic = format!("Basic {}", STANDARD.encode(format!("admin:{TOKEN}")));
    let refused: [&[(&str, &str)]; 4] = [
        &[],
        &[("authorization", "Bearer nope")],
        &[("x-api-key", "nope")],
        &[("authorization", &wrong_basic)],
    ];
    for headers in refused {
        let reply = get_with(&url, headers);
        assert_eq!(reply.status, 401, "{headers:?}");
        assert_eq!(reply.json(), serde_json::json!({"error": "unauthorized"}));
    }
    assert_eq!(get(&format!("{url}?api_key=nope")).status, 401);
    // Every endpoint is behind the token, unknown ones too.
    assert_eq!(get(&format!("{}/nowhere", server.base_url())).status, 401);

    // The log has every request, and no secret value anywhere in it.
    let log = server.requests();
    assert_eq!(log.len(), 10);
    let text = format!("{log:?}");
    assert!(!text.contains(TOKEN) && !text.contains(&encoded), "{text}");
    assert!(!text.contains(&basic[6..]), "{text}");
    assert_eq!(
        log[2].query.as_deref(),
        Some(&*format!("api_key={REDACTED}"))
    );
    assert_eq!(
        log[8].query.as_deref(),
        Some(&*format!("api_key={REDACTED}"))
    );
    assert!(log[0].header_names.iter().any(|h| h == "authorization"));
    assert!(log[1].header_names.iter().any(|h| h == "x-api-key"));
}

#[test]
fn faults_land_on_their_cadence_and_a_retry_is_the_next_request() {
    let server = HttpServer::start(Options {
        users: 3,
        rate_limit_every: Some(3),
        fail_every: Some(5),
        retry_after_secs: 7,
        ..Options::default()
    })
    .unwrap();
    let url = format!("{}/page/users", server.base_url());
    let replies: Vec<_> = (0..15).map(|_| get(&url)).collect();
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    // Requests 3, 6, 9, 12, 15 are rate limited (15 too: 429 comes first);
    // 5 and 10 fail.
    assert_eq!(
        statuses,
        [
            200, 200, 429, 200, 503, 429, 200, 200, 429, 503, 200, 429, 200, 200, 429
        ]
    );
    for reply in replies.iter().filter(|r| r.status == 429) {
        assert_eq!(reply.header("retry-after"), Some("7"));
        assert_eq!(reply.json()["error"], "rate limited");
    }
    assert_eq!(replies[4].header("retry-after"), None);
    assert!(replies[4].json()["error"].is_string());
    // The log counts them all, with what each was answered.
    let logged: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(logged, statuses);
}

#[test]
fn the_log_records_each_request() {
    let server = HttpServer::start(Options::default()).unwrap();
    let before = SystemTime::now();
    let base = server.base_url();
    get_with(
        &format!("{base}/offset/users?limit=2&offset=4"),
        &[("x-trace", "abc")],
    );
    get(&format!("{base}/nowhere"));
    let log = server.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, "/offset/users");
    assert_eq!(log[0].query.as_deref(), Some("limit=2&offset=4"));
    assert!(log[0].header_names.contains(&"x-trace".to_owned()));
    assert!(log[0].header_names.contains(&"host".to_owned()));
    assert_eq!(log[0].status, 200);
    assert!(log[0].at >= before && log[1].at >= log[0].at);
    assert_eq!(
        (log[1].path.as_str(), log[1].query.as_deref(), log[1].status),
        ("/nowhere", None, 404)
    );
    server.clear_log();
    assert!(server.requests().is_empty());
    get(&format!("{base}/page/users"));
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn redirect_big_and_errors() {
    let server = HttpServer::start(Options::default()).unwrap();
    let base = server.base_url();
    let target = format!("{base}/page/users?page=2");
    let encoded: String = form_urlencoded::byte_serialize(target.as_bytes()).collect();
    let reply = get(&format!("{base}/redirect?to={encoded}"));
    assert_eq!(reply.status, 302);
    assert_eq!(reply.header("location"), Some(target.as_str()));
    assert_eq!(get(&format!("{base}/redirect")).status, 400);

    let big = get(&format!("{base}/big?mib=3"));
    assert_eq!(big.status, 200);
    let mib = 1024 * 1024;
    assert!(
        (3 * mib..3 * mib + 1024).contains(&big.body.len()),
        "{}",
        big.body.len()
    );
    let data = big.json()["data"].as_array().unwrap().len();
    assert!(data > 10_000, "{data}");

    for (path, status) in [
        ("/", 404),
        ("/users", 404),
        ("/page/users?page=0", 400),
        ("/page/users?per_page=x", 400),
        ("/offset/users?limit=0", 400),
        ("/cursor/users?cursor=bogus", 400),
        ("/big?mib=100000", 400),
    ] {
        let reply = get(&format!("{base}{path}"));
        assert_eq!(reply.status, status, "{path}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert!(reply.json()["error"].is_string(), "{path}");
    }
}

/// Read from `stream` until what came holds `what`; everything so far.
fn read_until(stream: &mut TcpStream, got: &mut Vec<u8>, what: &str) {
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(got).contains(what) {
        let n = stream.read(&mut buf).expect("the server answers");
        assert!(
            n > 0,
            "closed before {what:?}: {}",
            String::from_utf8_lossy(got)
        );
        got.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn stall_holds_back_the_head_and_gap_the_rest_of_the_body() {
    let server = HttpServer::start(Options::default()).unwrap();
    let base = server.base_url();
    let started = Instant::now();
    let reply = get(&format!("{base}/stall?ms=400"));
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), serde_json::json!({"data": []}));

    // The head and the first part come at once, the rest after the gap.
    let mut stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    stream
        .write_all(b"GET /gap?ms=600 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    read_until(&mut stream, &mut got, "{\"data\":");
    let first = started.elapsed();
    assert!(first < Duration::from_millis(400), "{first:?}");
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    read_until(&mut stream, &mut got, "[]}");
    assert!(started.elapsed() >= Duration::from_millis(600));

    for path in ["/stall?ms=x", "/gap?ms=999999999"] {
        assert_eq!(get(&format!("{base}{path}")).status, 400, "{path}");
    }
}

#[tokio::test]
async fn an_async_test_uses_it_too() {
    let server = HttpServer::start(Options {
        users: 4,
        ..Options::default()
    })
    .unwrap();
    let reply = get_async(&format!("{}/next/users?per_page=3", server.base_url()), &[]).await;
    let body = reply.json();
    assert_eq!(body["results"].as_array().unwrap().len(), 3);
    let next = format!("{}/next/users?per_page=3&page=2", server.base_url());
    assert_eq!(body["next"], next.as_str());
    let last = get_async(&next, &[]).await.json();
    assert_eq!(last["results"].as_array().unwrap().len(), 1);
    assert!(last["next"].is_null());
}

#[test]
fn dropping_it_stops_it() {
    let server = HttpServer::start(Options::default()).unwrap();
    let port = server.port();
    assert_eq!(server.base_url(), format!("http://127.0.0.1:{port}"));
    // A keep-alive connection stays open while the server runs ...
    let idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(
        get(&format!("{}/page/users", server.base_url())).status,
        200
    );
    drop(server);
    // ... and the port is closed once it is dropped.
    assert!(
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_err()
    );
    drop(idle);
}

#[test]
fn bad_options_are_refused() {
    let bad = [
        Options {
            orders_per_user: 100,
            ..Options::default()
        },
        Options {
            per_page: 0,
            ..Options::default()
        },
        Options {
            fail_every: Some(0),
            ..Options::default()
        },
    ];
    for options in bad {
        match HttpServer::start(options.clone()) {
            Err(Error::InvalidOptions { .. }) => {}
            other => panic!("{options:?}: {other:?}"),
        }
    }
    let taken = HttpServer::start(Options::default()).unwrap();
    let again = HttpServer::start(Options {
        port: taken.port(),
        ..Options::default()
    });
    assert!(matches!(again, Err(Error::Bind { .. })), "{again:?}");
}
