//! Every pagination style walks every user exactly once, in order, and
//! `updated_since` narrows each of them the same way.

mod client;

use client::get;
use serde_json::Value;
use sluice_http_server::{HttpServer, Options};

/// The pagination styles of the server.
#[derive(Debug, Clone, Copy)]
enum Style {
    Page,
    Offset,
    Cursor,
    Next,
    Link,
}

const ALL: [Style; 5] = [
    Style::Page,
    Style::Offset,
    Style::Cursor,
    Style::Next,
    Style::Link,
];

/// More requests than any walk here needs: a walk that loops fails.
const MAX_REQUESTS: usize = 1000;

/// Every record of a walk in `style` with pages of `size`, `extra` added to
/// the first URL (`&updated_since=...`), and how many requests it took.
fn walk(server: &HttpServer, style: Style, size: usize, extra: &str) -> (Vec<Value>, usize) {
    let base = server.base_url();
    let mut records = Vec::new();
    let mut url = match style {
        Style::Page => format!("{base}/page/users?per_page={size}{extra}"),
        Style::Offset => format!("{base}/offset/users?limit={size}{extra}"),
        Style::Cursor => format!("{base}/cursor/users?limit={size}{extra}"),
        Style::Next => format!("{base}/next/users?per_page={size}{extra}"),
        Style::Link => format!("{base}/link/users?per_page={size}{extra}"),
    };
    for requests in 1..=MAX_REQUESTS {
        let reply = get(&url);
        assert_eq!(reply.status, 200, "{url}: {:?}", reply.body);
        let body = reply.json();
        let next = match style {
            Style::Page => {
                let page = body["page"].as_u64().unwrap();
                let data = body["data"].as_array().unwrap();
                records.extend(data.iter().cloned());
                (!data.is_empty())
                    .then(|| format!("{base}/page/users?per_page={size}&page={}{extra}", page + 1))
            }
            Style::Offset => {
                let data = body["data"].as_array().unwrap();
                records.extend(data.iter().cloned());
                let total = body["total"].as_u64().unwrap() as usize;
                (records.len() < total).then(|| {
                    format!(
                        "{base}/offset/users?limit={size}&offset={}{extra}",
                        records.len()
                    )
                })
            }
            Style::Cursor => {
                records.extend(body["data"].as_array().unwrap().iter().cloned());
                body["next_cursor"].as_str().map(|cursor| {
                    format!("{base}/cursor/users?limit={size}&cursor={cursor}{extra}")
                })
            }
            Style::Next => {
                records.extend(body["results"].as_array().unwrap().iter().cloned());
                body["next"].as_str().map(str::to_owned)
            }
            Style::Link => {
                records.extend(body.as_array().unwrap().iter().cloned());
                reply.header("link").map(|link| {
                    let (url, rel) = link.split_once(';').unwrap();
                    assert_eq!(rel.trim(), "rel=\"next\"");
                    url.trim_matches(['<', '>']).to_owned()
                })
            }
        };
        match next {
            Some(next) => url = next,
            None => return (records, requests),
        }
    }
    panic!("{style:?} did not end within {MAX_REQUESTS} requests");
}

fn ids(records: &[Value]) -> Vec<u64> {
    records.iter().map(|r| r["id"].as_u64().unwrap()).collect()
}

#[test]
fn every_style_walks_every_user_exactly() {
    let server = HttpServer::start(Options::default()).unwrap();
    let users = server.users();
    assert_eq!(users.len(), 250);
    assert_eq!(ids(&users), (1..=250).collect::<Vec<_>>());
    for style in ALL {
        for size in [1, 7, 50, 250, 1000] {
            let (records, requests) = walk(&server, style, size, "");
            assert_eq!(records, users, "{style:?} by {size}");
            // Page numbers need one empty page to see the end; the others
            // know it from the last full page.
            let pages = 250usize.div_ceil(size);
            let expected = if matches!(style, Style::Page) {
                pages + 1
            } else {
                pages
            };
            assert_eq!(requests, expected, "{style:?} by {size}");
        }
    }
}

#[test]
fn default_page_size_is_the_options() {
    let server = HttpServer::start(Options {
        users: 30,
        per_page: 12,
        ..Options::default()
    })
    .unwrap();
    let base = server.base_url();
    let first = get(&format!("{base}/page/users")).json();
    assert_eq!(first["page"], 1);
    assert_eq!(first["data"].as_array().unwrap().len(), 12);
    let third = get(&format!("{base}/page/users?page=3")).json();
    assert_eq!(
        ids(third["data"].as_array().unwrap()),
        (25..=30).collect::<Vec<_>>()
    );
    let past = get(&format!("{base}/page/users?page=9")).json();
    assert_eq!(past, serde_json::json!({"data": [], "page": 9}));
    let offset = get(&format!("{base}/offset/users?offset=28")).json();
    assert_eq!(offset["total"], 30);
    assert_eq!(ids(offset["data"].as_array().unwrap()), [29, 30]);
}

#[test]
fn updated_since_keeps_strictly_later_records_in_every_style() {
    let server = HttpServer::start(Options::default()).unwrap();
    let users = server.users();
    let since = users[99]["updated_at"].as_str().unwrap().to_owned();
    assert_eq!(since, "2026-01-01T00:01:40Z");
    let later = &users[100..];
    // As sent by clients: percent-encoded, and with a raw `+` offset that
    // form decoding reads as a space.
    let forms = [
        format!("&updated_since={since}"),
        "&updated_since=2026-01-01T00%3A01%3A40%2B00%3A00".to_owned(),
        "&updated_since=2026-01-01T01:01:40+01:00".to_owned(),
    ];
    for extra in &forms {
        for style in ALL {
            let (records, _) = walk(&server, style, 40, extra);
            assert_eq!(records, later, "{style:?} {extra}");
        }
    }
    let last = users.last().unwrap()["updated_at"].as_str().unwrap();
    for style in ALL {
        let (records, _) = walk(&server, style, 40, &format!("&updated_since={last}"));
        assert!(records.is_empty(), "{style:?}");
    }
    let bad = get(&format!(
        "{}/page/users?updated_since=yesterday",
        server.base_url()
    ));
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["error"]
            .as_str()
            .unwrap()
            .contains("updated_since")
    );
}

#[test]
fn added_users_are_what_an_incremental_run_finds() {
    let server = HttpServer::start(Options {
        users: 20,
        ..Options::default()
    })
    .unwrap();
    let (first, _) = walk(&server, Style::Cursor, 6, "");
    let bookmark = first.last().unwrap()["updated_at"]
        .as_str()
        .unwrap()
        .to_owned();
    server.add_users(5);
    assert_eq!(server.users().len(), 25);
    assert_eq!(server.orders().len(), 75);
    for style in ALL {
        let (second, _) = walk(&server, style, 6, &format!("&updated_since={bookmark}"));
        assert_eq!(second, server.users()[20..], "{style:?}");
        assert_eq!(ids(&second), (21..=25).collect::<Vec<_>>());
    }
}

#[test]
fn orders_of_one_user() {
    let server = HttpServer::start(Options {
        users: 10,
        orders_per_user: 4,
        ..Options::default()
    })
    .unwrap();
    let base = server.base_url();
    let orders = server.orders();
    assert_eq!(orders.len(), 40);
    let of_three: Vec<Value> = orders
        .iter()
        .filter(|o| o["user_id"] == 3)
        .cloned()
        .collect();
    assert_eq!(ids(&of_three), [301, 302, 303, 304]);
    let reply = get(&format!("{base}/users/3/orders"));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), serde_json::json!({ "data": of_three }));
    let since = of_three[1]["updated_at"].as_str().unwrap();
    let later = get(&format!("{base}/users/3/orders?updated_since={since}")).json();
    assert_eq!(later["data"].as_array().unwrap(), &of_three[2..]);
    for unknown in ["/users/11/orders", "/users/0/orders", "/users/x/orders"] {
        let reply = get(&format!("{base}{unknown}"));
        assert_eq!(reply.status, 404, "{unknown}");
        assert!(reply.json()["error"].is_string());
    }
}
