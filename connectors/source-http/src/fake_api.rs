//! A fake of the test API, as a transport: the same endpoints, auth and
//! failures the real test server has, so whole reads run natively.
//!
//! Users 1..=7 have `updated_at` days out of id order; user `i` has `i % 3`
//! orders. Every list endpoint takes `updated_since` (strictly newer).
//! With `flaky = n`, every `n`-th request is a 429 with `Retry-After: 1`.

use serde_json::{Value, json};
use sluice_guest::http::{Reply, Request, Transport, TransportError, Url};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// The base URL the fake answers.
pub const BASE: &str = "http://127.0.0.1:8080";
/// The token it accepts.
pub const TOKEN: &str = "T0KEN-s3cret";

/// What the fake saw.
#[derive(Default)]
pub struct Seen {
    /// Each request's URL (credentials included) and auth header.
    pub requests: Vec<(String, Option<String>)>,
    /// Each sleep.
    pub sleeps: Vec<Duration>,
}

/// How the fake behaves.
#[derive(Clone, Copy, Default)]
pub struct Options {
    /// Every n-th request is a 429 with `Retry-After: 1`.
    pub flaky: Option<usize>,
    /// Only this many users exist.
    pub users: Option<u64>,
}

/// Install the fake as this thread's transport; what it sees.
pub fn install(options: Options) -> Rc<RefCell<Seen>> {
    let seen = Rc::new(RefCell::new(Seen::default()));
    let shared = seen.clone();
    sluice_guest::http::set_native_transport(move || {
        Box::new(Fake {
            options,
            seen: shared.clone(),
            clock: Duration::ZERO,
        })
    });
    seen
}

struct Fake {
    options: Options,
    seen: Rc<RefCell<Seen>>,
    clock: Duration,
}

/// The user with id `id`.
pub fn user(id: u64) -> Value {
    let day = (id * 3) % 7 + 1;
    json!({"id": id, "name": format!("user {id}"), "email": format!("u{id}@example.com"),
           "updated_at": format!("2024-01-0{day}T00:00:00Z")})
}

fn orders_of(user: u64) -> Vec<Value> {
    (0..user % 3)
        .map(|k| {
            json!({"id": user * 10 + k, "user_id": user, "amount": 5 * (k + 1),
                   "updated_at": format!("2024-02-0{}T00:00:00Z", (user + k) % 9 + 1)})
        })
        .collect()
}

impl Fake {
    fn users(&self, query: &HashMap<String, String>) -> Vec<Value> {
        let since = query.get("updated_since");
        (1..=self.options.users.unwrap_or(7))
            .map(user)
            .filter(|u| newer(u, since))
            .collect()
    }

    fn route(&self, url: &Url) -> Reply {
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let num = |k: &str, d: u64| query.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
        let users = self.users(&query);
        let window = |start: u64, len: u64| -> Vec<Value> {
            users
                .iter()
                .skip(start as usize)
                .take(len as usize)
                .cloned()
                .collect()
        };
        let path = url.path();
        match path {
            "/page/users" => {
                let (page, per) = (num("page", 1), num("per_page", 10));
                ok(json!({"data": window((page.max(1) - 1) * per, per), "page": page}))
            }
            "/offset/users" => ok(
                json!({"data": window(num("offset", 0), num("limit", 10)), "total": users.len()}),
            ),
            "/cursor/users" => {
                let at: u64 = query
                    .get("cursor")
                    .and_then(|c| c.strip_prefix('c')?.parse().ok())
                    .unwrap_or(0);
                let limit = num("limit", 10);
                let next = (at + limit < users.len() as u64).then(|| format!("c{}", at + limit));
                ok(json!({"data": window(at, limit), "next_cursor": next}))
            }
            "/next/users" => {
                let (page, per) = (num("page", 1), num("per_page", 10));
                // The next link drops `updated_since`: the client keeps it.
                let next = (page * per < users.len() as u64)
                    .then(|| format!("{BASE}/next/users?page={}&per_page={per}", page + 1));
                ok(json!({"results": window((page - 1) * per, per), "next": next}))
            }
            "/link/users" => {
                let (page, per) = (num("page", 1), num("per_page", 10));
                let mut reply = ok(Value::Array(window((page - 1) * per, per)));
                if page * per < users.len() as u64 {
                    let link = format!(
                        "<{BASE}/link/users?page={}&per_page={per}>; rel=\"next\"",
                        page + 1
                    );
                    reply.headers.push(("link".into(), link));
                }
                reply
            }
            "/redirect" => Reply {
                status: 302,
                headers: vec![(
                    "location".into(),
                    query.get("to").cloned().unwrap_or_default(),
                )],
                body: Vec::new(),
            },
            _ => self.nested(path, &query),
        }
    }

    /// `/users/{id}/orders`, or 404.
    fn nested(&self, path: &str, query: &HashMap<String, String>) -> Reply {
        let id = path
            .strip_prefix("/users/")
            .and_then(|p| p.strip_suffix("/orders"))
            .and_then(|id| id.parse::<u64>().ok());
        match id {
            Some(id) => {
                let since = query.get("updated_since");
                let data: Vec<Value> = orders_of(id)
                    .into_iter()
                    .filter(|o| newer(o, since))
                    .collect();
                ok(json!({ "data": data }))
            }
            None => reply(404, json!({"error": "not found"})),
        }
    }
}

fn newer(record: &Value, since: Option<&String>) -> bool {
    since.is_none_or(|s| {
        record["updated_at"]
            .as_str()
            .is_some_and(|at| at > s.as_str())
    })
}

fn authorised(request: &Request) -> bool {
    let basic = format!("Basic {}", "c2x1aWNlOlQwS0VOLXMzY3JldA==");
    request.header("authorization") == Some(&format!("Bearer {TOKEN}"))
        || request.header("authorization") == Some(&basic)
        || request.header("x-api-key") == Some(TOKEN)
        || request
            .url
            .query_pairs()
            .any(|(k, v)| k == "api_key" && v == TOKEN)
}

fn ok(body: Value) -> Reply {
    reply(200, body)
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

impl Transport for Fake {
    fn send(&mut self, request: &Request) -> Result<Reply, TransportError> {
        let count = {
            let mut seen = self.seen.borrow_mut();
            let auth = request.header("authorization").map(String::from);
            seen.requests.push((request.url.to_string(), auth));
            seen.requests.len()
        };
        if request.url.origin() != Url::parse(BASE).unwrap().origin() {
            return Err(TransportError::Denied);
        }
        if self.options.flaky.is_some_and(|n| count % n == 0) {
            let mut busy = reply(429, json!({"error": "slow down"}));
            busy.headers.push(("retry-after".into(), "1".into()));
            return Ok(busy);
        }
        if !authorised(request) {
            return Ok(reply(401, json!({"error": "unauthorized"})));
        }
        Ok(self.route(&request.url))
    }

    fn sleep(&mut self, duration: Duration) {
        self.clock += duration;
        self.seen.borrow_mut().sleeps.push(duration);
    }

    fn now(&mut self) -> Duration {
        self.clock
    }

    fn random(&mut self) -> u64 {
        u64::MAX / 2
    }
}
