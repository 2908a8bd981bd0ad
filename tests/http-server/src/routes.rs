//! The endpoints: one function per pagination style over the users, one
//! user's orders, a redirect, a big streamed body and two that stall.
//! Faults and auth are decided before a request gets here (see
//! [`crate::service`]).

use crate::big::BigBody;
use crate::dataset::{self, Dataset};
use crate::query::{BadParam, Query};
use crate::stall::{GapBody, Stall};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{CONTENT_TYPE, HeaderValue, LINK, LOCATION};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::ops::RangeInclusive;
use std::time::Duration;

/// Every response's body: a whole JSON document or a streamed one.
pub type Body = BoxBody<Bytes, Infallible>;

/// The largest `/big` body, in MiB.
const MAX_BIG_MIB: u64 = 4096;

/// The longest `/stall` or `/gap` wait, in milliseconds.
const MAX_STALL_MS: u64 = 600_000;

/// What an endpoint needs to know besides its query.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The dataset as it is now.
    pub data: Dataset,
    /// `http://127.0.0.1:PORT`, for `next` and `Link` URLs.
    pub base_url: &'a str,
    /// The page size when a request names none.
    pub per_page: u64,
}

/// The answer to `GET path?query`.
pub fn route(ctx: &Ctx<'_>, path: &str, query: &Query) -> Response<Body> {
    let answer = match path {
        "/page/users" => page(ctx, query),
        "/offset/users" => offset(ctx, query),
        "/cursor/users" => cursor(ctx, query),
        "/next/users" => next(ctx, query),
        "/link/users" => link(ctx, query),
        "/redirect" => redirect(query),
        "/big" => big(query),
        "/stall" => stall(query),
        "/gap" => gap(query),
        _ => match orders_path(path) {
            Some(user) => orders(ctx, user, query),
            None => Ok(not_found()),
        },
    };
    answer.unwrap_or_else(|BadParam(reason)| error(StatusCode::BAD_REQUEST, &reason))
}

/// A JSON answer.
pub fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let body = Full::new(Bytes::from(value.to_string())).boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `{"error": reason}` with `status`.
pub fn error(status: StatusCode, reason: &str) -> Response<Body> {
    json_response(status, &json!({ "error": reason }))
}

fn not_found() -> Response<Body> {
    error(StatusCode::NOT_FOUND, "not found")
}

/// The users a request may see: those updated after its `updated_since`.
fn visible(ctx: &Ctx<'_>, query: &Query) -> Result<RangeInclusive<u64>, BadParam> {
    Ok(ctx.data.users_since(query.updated_since()?))
}

/// Up to `take` users of `ids` after skipping `skip`, and whether more
/// remain after them.
fn window(ids: &RangeInclusive<u64>, skip: u64, take: u64) -> (Vec<Value>, bool) {
    let from = ids.start().saturating_add(skip);
    let to = from.saturating_add(take).saturating_sub(1).min(*ids.end());
    ((from..=to).map(dataset::user).collect(), to < *ids.end())
}

/// `page` (from 1) and `per_page` of a page-numbered endpoint.
fn page_params(ctx: &Ctx<'_>, query: &Query) -> Result<(u64, u64), BadParam> {
    Ok((
        query.number("page", 1, 1)?,
        query.number("per_page", ctx.per_page, 1)?,
    ))
}

/// Page `page` of `per_page` visible users, and whether more remain.
fn numbered_page(ctx: &Ctx<'_>, query: &Query) -> Result<(Vec<Value>, bool, u64), BadParam> {
    let ids = visible(ctx, query)?;
    let (page, per_page) = page_params(ctx, query)?;
    let (data, more) = window(&ids, (page - 1).saturating_mul(per_page), per_page);
    Ok((data, more, page))
}

/// `GET /page/users?page=N&per_page=K` -> `{"data":[...],"page":N}`.
fn page(ctx: &Ctx<'_>, query: &Query) -> Result<Response<Body>, BadParam> {
    let (data, _, page) = numbered_page(ctx, query)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "data": data, "page": page }),
    ))
}

/// `GET /offset/users?offset=O&limit=L` -> `{"data":[...],"total":T}`.
fn offset(ctx: &Ctx<'_>, query: &Query) -> Result<Response<Body>, BadParam> {
    let ids = visible(ctx, query)?;
    let skip = query.number("offset", 0, 0)?;
    let limit = query.number("limit", ctx.per_page, 1)?;
    let total = (ids.end() + 1).saturating_sub(*ids.start());
    let (data, _) = window(&ids, skip, limit);
    Ok(json_response(
        StatusCode::OK,
        &json!({ "data": data, "total": total }),
    ))
}

/// `GET /cursor/users?cursor=C&limit=L` -> `{"data":[...],"next_cursor":C|null}`.
fn cursor(ctx: &Ctx<'_>, query: &Query) -> Result<Response<Body>, BadParam> {
    let ids = visible(ctx, query)?;
    let limit = query.number("limit", ctx.per_page, 1)?;
    let first = match query.get("cursor") {
        None | Some("") => *ids.start(),
        Some(cursor) => (*ids.start()).max(decode_cursor(cursor)?.saturating_add(1)),
    };
    let (data, more) = window(&(first..=*ids.end()), 0, limit);
    let last = data.last().and_then(|user| user["id"].as_u64());
    let next_cursor = last.filter(|_| more).map(encode_cursor);
    Ok(json_response(
        StatusCode::OK,
        &json!({ "data": data, "next_cursor": next_cursor }),
    ))
}

/// The opaque cursor after user `id`.
fn encode_cursor(id: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("after-user:{id}"))
}

fn decode_cursor(cursor: &str) -> Result<u64, BadParam> {
    URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("after-user:")?.parse().ok())
        .ok_or_else(|| BadParam(format!("not a cursor of this server: {cursor:?}")))
}

/// The absolute URL of the page after `page` at `path`, with the rest of the
/// query as received.
fn next_url(ctx: &Ctx<'_>, path: &str, query: &Query, page: u64) -> String {
    let next_page = (page + 1).to_string();
    format!("{}{path}?{}", ctx.base_url, query.with("page", &next_page))
}

/// `GET /next/users?page=N&per_page=K` -> `{"results":[...],"next":URL|null}`.
fn next(ctx: &Ctx<'_>, query: &Query) -> Result<Response<Body>, BadParam> {
    let (results, more, page) = numbered_page(ctx, query)?;
    let next = more.then(|| next_url(ctx, "/next/users", query, page));
    Ok(json_response(
        StatusCode::OK,
        &json!({ "results": results, "next": next }),
    ))
}

/// `GET /link/users?page=N&per_page=K` -> `[...]` and, while more remain,
/// `Link: <URL>; rel="next"`.
fn link(ctx: &Ctx<'_>, query: &Query) -> Result<Response<Body>, BadParam> {
    let (data, more, page) = numbered_page(ctx, query)?;
    let mut response = json_response(StatusCode::OK, &Value::Array(data));
    if more {
        let url = next_url(ctx, "/link/users", query, page);
        let value = format!("<{url}>; rel=\"next\"");
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(LINK, value);
        }
    }
    Ok(response)
}

/// The user of a `/users/{id}/orders` path.
fn orders_path(path: &str) -> Option<u64> {
    let id = path.strip_prefix("/users/")?.strip_suffix("/orders")?;
    id.parse().ok()
}

/// `GET /users/{id}/orders` -> `{"data":[...]}`, 404 for an unknown user.
fn orders(ctx: &Ctx<'_>, user: u64, query: &Query) -> Result<Response<Body>, BadParam> {
    let since = query.updated_since()?;
    Ok(match ctx.data.orders_of(user, since) {
        Some(data) => json_response(StatusCode::OK, &json!({ "data": data })),
        None => error(StatusCode::NOT_FOUND, &format!("no user {user}")),
    })
}

/// `GET /redirect?to=URL` -> 302 to `URL`.
fn redirect(query: &Query) -> Result<Response<Body>, BadParam> {
    let to = query
        .get("to")
        .ok_or_else(|| BadParam("redirect needs ?to=URL".into()))?;
    let location =
        HeaderValue::from_str(to).map_err(|_| BadParam(format!("not a header value: {to:?}")))?;
    let mut response = json_response(StatusCode::FOUND, &json!({ "location": to }));
    response.headers_mut().insert(LOCATION, location);
    Ok(response)
}

/// `GET /big?mib=M` -> about `M` MiB of `{"data":[...]}`, streamed.
fn big(query: &Query) -> Result<Response<Body>, BadParam> {
    let mib = query.number("mib", 1, 0)?;
    if mib > MAX_BIG_MIB {
        return Err(BadParam(format!("mib is at most {MAX_BIG_MIB}")));
    }
    let mut response = Response::new(BigBody::new(mib).boxed());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// The `ms` of `/stall` and `/gap` (default one second).
fn wait(query: &Query) -> Result<Duration, BadParam> {
    let ms = query.number("ms", 1000, 0)?;
    if ms > MAX_STALL_MS {
        return Err(BadParam(format!("ms is at most {MAX_STALL_MS}")));
    }
    Ok(Duration::from_millis(ms))
}

/// `GET /stall?ms=N` -> `{"data":[]}`, but nothing at all is sent for N ms.
fn stall(query: &Query) -> Result<Response<Body>, BadParam> {
    let mut response = json_response(StatusCode::OK, &json!({ "data": [] }));
    response.extensions_mut().insert(Stall(wait(query)?));
    Ok(response)
}

/// `GET /gap?ms=N` -> `{"data":[]}` in two parts, N ms apart.
fn gap(query: &Query) -> Result<Response<Body>, BadParam> {
    let mut response = Response::new(GapBody::new(wait(query)?).boxed());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}
