use super::*;
use crate::ErrorKind;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// What the scripted transport saw: each request, and each sleep.
#[derive(Default)]
struct Log {
    requests: Vec<Request>,
    sleeps: Vec<Duration>,
}

/// Replies with its script, in order; its clock moves only by sleeping.
struct Script {
    replies: VecDeque<std::result::Result<Reply, TransportError>>,
    log: Rc<RefCell<Log>>,
    clock: Duration,
}

impl Transport for Script {
    fn send(&mut self, request: &Request) -> std::result::Result<Reply, TransportError> {
        self.log.borrow_mut().requests.push(request.clone());
        self.replies.pop_front().expect("a scripted reply")
    }

    fn sleep(&mut self, duration: Duration) {
        self.clock += duration;
        self.log.borrow_mut().sleeps.push(duration);
    }

    fn now(&mut self) -> Duration {
        self.clock
    }

    fn random(&mut self) -> u64 {
        u64::MAX
    }
}

fn reply(
    status: u16,
    headers: &[(&str, &str)],
    body: &str,
) -> std::result::Result<Reply, TransportError> {
    Ok(Reply {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    })
}

fn client(replies: Vec<std::result::Result<Reply, TransportError>>) -> (Client, Rc<RefCell<Log>>) {
    let log = Rc::new(RefCell::new(Log::default()));
    let script = Script {
        replies: replies.into(),
        log: log.clone(),
        clock: Duration::ZERO,
    };
    let client = Client::with_transport("http://127.0.0.1:8080/api", Box::new(script)).unwrap();
    (client, log)
}

fn query_key() -> Auth {
    Auth::Query {
        name: "api_key".into(),
        value: "s3cret-key".into(),
    }
}

#[test]
fn a_get_sends_headers_credentials_and_timeouts() {
    let (client, log) = client(vec![reply(
        200,
        &[("Content-Type", "application/json")],
        "[]",
    )]);
    let mut client = client
        .header("X-Trace", "1")
        .auth(Auth::Bearer {
            token: "tok".into(),
        })
        .timeouts(Timeouts {
            connect_ms: 1,
            first_byte_ms: 2,
            between_bytes_ms: 3,
        })
        .max_body_bytes(1024);
    let r = client
        .get("/users", &[("page".into(), "1".into())])
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json().unwrap(), serde_json::json!([]));
    let log = log.borrow();
    let sent = &log.requests[0];
    assert_eq!(sent.url.as_str(), "http://127.0.0.1:8080/api/users?page=1");
    assert_eq!(sent.header("authorization"), Some("Bearer tok"));
    assert_eq!(sent.header("x-trace"), Some("1"));
    assert_eq!(sent.header("accept"), Some("application/json"));
    assert_eq!(sent.timeouts.between_bytes_ms, 3);
    assert_eq!(sent.max_body, 1024);
}

#[test]
fn the_query_credential_is_sent_but_never_shown() {
    let (client, log) = client(vec![reply(
        401,
        &[],
        r#"{"error":"unauthorized","key":"s3cret-key"}"#,
    )]);
    let mut client = client.auth(query_key());
    let e = client.get("/users", &[]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    assert_eq!(
        e.message,
        "GET http://127.0.0.1:8080/api/users?api_key=***: HTTP 401: the server refused the credentials (check the auth settings)"
    );
    let sent = &log.borrow().requests[0];
    assert_eq!(
        sent.url.as_str(),
        "http://127.0.0.1:8080/api/users?api_key=s3cret-key"
    );
}

#[test]
fn urls_in_messages_hide_secret_params_and_passwords() {
    let (client, _) = client(vec![reply(400, &[], "bad s3cret-key")]);
    let mut client = client.auth(query_key());
    let url = Url::parse("http://127.0.0.1:8080/api/users?api_key=s3cret-key&x=1").unwrap();
    let e = client.get_url(url).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(!e.message.contains("s3cret-key"), "{}", e.message);
    assert!(e.message.contains("bad ***"), "{}", e.message);
    let with_password = Url::parse("http://u:pw@127.0.0.1/x?api_key=k").unwrap();
    assert_eq!(
        client.redact(&with_password),
        "http://u:***@127.0.0.1/x?api_key=***"
    );
}

#[test]
fn retries_honour_retry_after_then_succeed() {
    let (client, log) = client(vec![
        reply(429, &[("Retry-After", "1")], ""),
        reply(503, &[], ""),
        Err(TransportError::Retryable("connection refused".into())),
        reply(200, &[], "{}"),
    ]);
    let mut client = client.retry(Retry {
        max_retries: 3,
        base_ms: 100,
        max_ms: 5_000,
    });
    client.get("/users", &[]).unwrap();
    let log = log.borrow();
    assert_eq!(log.requests.len(), 4);
    // Retry-After: 1 second; then full jitter with the largest draw:
    // min(5 s, 100 ms * 2^1), min(5 s, 100 ms * 2^2).
    assert_eq!(
        log.sleeps,
        [
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_millis(400)
        ]
    );
}

#[test]
fn spent_retries_are_transient_errors() {
    let (client, log) = client(vec![reply(503, &[], "down"), reply(503, &[], "down")]);
    let mut client = client.retry(Retry {
        max_retries: 1,
        base_ms: 1,
        max_ms: 1,
    });
    let e = client.get("/users", &[]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient);
    assert_eq!(
        e.message,
        "GET http://127.0.0.1:8080/api/users: HTTP 503: down (after 1 retries)"
    );
    assert_eq!(log.borrow().requests.len(), 2);

    let (mut client, _) =
        client_with_no_retries(Err(TransportError::Retryable("timed out".into())));
    let e = client.get("/x", &[]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient);
    assert_eq!(e.message, "GET http://127.0.0.1:8080/api/x: timed out");
}

fn client_with_no_retries(
    only: std::result::Result<Reply, TransportError>,
) -> (Client, Rc<RefCell<Log>>) {
    let (client, log) = client(vec![only]);
    let client = client.retry(Retry {
        max_retries: 0,
        ..Retry::default()
    });
    (client, log)
}

#[test]
fn a_retry_after_beyond_the_budget_fails_at_once() {
    let (client, log) = client(vec![reply(429, &[("Retry-After", "3600")], "")]);
    let mut client = client.retry(Retry {
        max_retries: 5,
        base_ms: 10,
        max_ms: 1_000,
    });
    let e = client.get("/users", &[]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient);
    assert!(e.message.contains("retry after 3600 s"), "{}", e.message);
    assert!(log.borrow().sleeps.is_empty());
}

#[test]
fn a_denied_request_is_a_config_error_naming_the_url() {
    let (client, _) = client(vec![Err(TransportError::Denied)]);
    let mut client = client.auth(query_key());
    let e = client.get("/users", &[]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert_eq!(
        e.message,
        "the host denied the request to http://127.0.0.1:8080/api/users?api_key=***: it is not granted to this connector"
    );
}

#[test]
fn too_large_bodies_and_bad_json() {
    let (mut client, _) = client(vec![
        Err(TransportError::BodyTooLarge),
        reply(200, &[], "<html>"),
    ]);
    let e = client.get("/a", &[]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.message.contains("larger than the limit"), "{}", e.message);
    let r = client.get("/b", &[]).unwrap();
    let e = r.json().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Data);
    assert!(
        e.message
            .starts_with("GET http://127.0.0.1:8080/api/b: the body is not JSON")
    );
}

#[test]
fn redirects_are_new_requests_and_credentials_stay_home() {
    let (client, log) = client(vec![
        reply(302, &[("Location", "/api/moved?x=1")], ""),
        reply(307, &[("Location", "http://other.test:9000/elsewhere")], ""),
        reply(200, &[], "[]"),
    ]);
    let mut client = client.auth(query_key()).header("X-Api-Key", "not-a-secret");
    let r = client.get("/redirect", &[]).unwrap();
    assert_eq!(r.url.as_str(), "http://other.test:9000/elsewhere");
    let log = log.borrow();
    let urls: Vec<&str> = log.requests.iter().map(|r| r.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "http://127.0.0.1:8080/api/redirect?api_key=s3cret-key",
            "http://127.0.0.1:8080/api/moved?x=1&api_key=s3cret-key",
            "http://other.test:9000/elsewhere",
        ]
    );
}

#[test]
fn a_bearer_token_is_not_sent_to_another_origin() {
    let (client, log) = client(vec![
        reply(301, &[("Location", "https://cdn.test/file")], ""),
        reply(200, &[], "{}"),
    ]);
    let mut client = client.auth(Auth::Bearer {
        token: "tok".into(),
    });
    client.get("/r", &[]).unwrap();
    let log = log.borrow();
    assert_eq!(log.requests[0].header("authorization"), Some("Bearer tok"));
    assert_eq!(log.requests[1].header("authorization"), None);
}

#[test]
fn more_than_five_redirects_is_a_config_error() {
    let loop_reply = || reply(302, &[("Location", "/api/again")], "");
    let (mut client, log) = client((0..6).map(|_| loop_reply()).collect());
    let e = client.get("/again", &[]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.message.contains("more than 5 redirects"), "{}", e.message);
    assert_eq!(log.borrow().requests.len(), 6);
}

#[test]
fn the_rate_limit_spaces_every_request() {
    let (client, log) = client((0..3).map(|_| reply(200, &[], "{}")).collect());
    let mut client = client.requests_per_second(Some(2.0));
    for _ in 0..3 {
        client.get("/u", &[]).unwrap();
    }
    assert_eq!(
        log.borrow().sleeps,
        [Duration::from_millis(500), Duration::from_millis(500)]
    );
}

#[test]
fn next_links_keep_the_endpoint_params_they_dropped() {
    let (client, log) = client(vec![reply(200, &[], "{}"), reply(200, &[], "{}")]);
    let mut client = client.auth(query_key());
    let query = vec![
        (
            "updated_since".to_string(),
            "2024-01-01T00:00:00Z".to_string(),
        ),
        ("per_page".to_string(), "2".to_string()),
    ];
    let next = Url::parse("http://127.0.0.1:8080/api/next/users?page=2&per_page=2&api_key=echoed")
        .unwrap();
    client
        .get_page("/next/users", &query, &PageRequest::Url(next))
        .unwrap();
    let first = PageRequest::Params(vec![("page".into(), "1".into())]);
    client.get_page("/next/users", &query, &first).unwrap();
    let log = log.borrow();
    assert_eq!(
        log.requests[0].url.as_str(),
        "http://127.0.0.1:8080/api/next/users?page=2&per_page=2&updated_since=2024-01-01T00%3A00%3A00Z&api_key=s3cret-key"
    );
    assert_eq!(
        log.requests[1].url.as_str(),
        "http://127.0.0.1:8080/api/next/users?updated_since=2024-01-01T00%3A00%3A00Z&per_page=2&page=1&api_key=s3cret-key"
    );
}

#[test]
fn paths_join_the_base_path() {
    let (client, _) = client(vec![]);
    let url = |p: &str| client.url(p, &[]).unwrap().to_string();
    assert_eq!(url("users"), "http://127.0.0.1:8080/api/users");
    assert_eq!(
        url("/users/7/orders"),
        "http://127.0.0.1:8080/api/users/7/orders"
    );
    assert_eq!(url(""), "http://127.0.0.1:8080/api");
    assert_eq!(url("http://other.test/x"), "http://other.test/x");
    assert!(Client::new("ftp://x.test").is_err());
    let e = Client::new("not a url with pw:secret").err().unwrap();
    assert!(!e.message.contains("secret"), "{}", e.message);
}

#[test]
fn natively_without_a_transport_requests_fail_plainly() {
    std::thread::spawn(|| {
        let mut client = Client::new("http://127.0.0.1:1").unwrap();
        let e = client.get("/", &[]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(
            e.message.contains("only there inside a component"),
            "{}",
            e.message
        );
    })
    .join()
    .unwrap();
}
