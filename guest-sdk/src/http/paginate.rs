//! Walking the pages of a list endpoint, and finding records and values
//! in a JSON body. Protocol-free: a [`Pager`] is told what each page held
//! and says what to ask for next.

use crate::ConnectorError;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

/// How a list endpoint pages. Every style stops at a page without
/// records; each also stops when it says there is no next page.
///
/// ```
/// use sluice_guest::http::Pagination;
/// let p: Pagination = serde_json::from_str(r#"{"type": "cursor", "cursor_path": "next_cursor"}"#).unwrap();
/// assert_eq!(p, Pagination::Cursor { cursor_path: "next_cursor".into(), cursor_param: "cursor".into() });
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Pagination {
    /// One request; its records are all there is.
    #[default]
    None,
    /// `?page=N&per_page=K`, `N` from `start` up by one a page.
    PageNumber {
        /// The page number's query parameter.
        #[serde(default = "param::page")]
        page_param: String,
        /// The page size's query parameter (`None`: not sent).
        #[serde(default = "param::per_page")]
        size_param: Option<String>,
        /// The page size asked for.
        #[serde(default = "param::size")]
        size: u64,
        /// The first page's number.
        #[serde(default = "param::one")]
        start: u64,
    },
    /// `?offset=O&limit=L`, `O` from 0 up by the records each page held
    /// (so a server that caps `limit` lower loses nothing).
    Offset {
        /// The offset's query parameter.
        #[serde(default = "param::offset")]
        offset_param: String,
        /// The limit's query parameter (`None`: not sent).
        #[serde(default = "param::limit")]
        limit_param: Option<String>,
        /// The page size asked for.
        #[serde(default = "param::size")]
        limit: u64,
    },
    /// A cursor in the body (at `cursor_path`) sent back as
    /// `?cursor_param=...`; no next page when it is missing, null or empty.
    Cursor {
        /// Where the next cursor is in the body (see [`select`]).
        cursor_path: String,
        /// The query parameter carrying it.
        #[serde(default = "param::cursor")]
        cursor_param: String,
    },
    /// The next page's URL in the body (at `next_url_path`), absolute or
    /// relative to the page's URL; no next page when it is missing, null or
    /// empty.
    NextUrl {
        /// Where the next URL is in the body (see [`select`]).
        next_url_path: String,
    },
    /// The next page's URL in the `Link` header's `rel="next"`.
    LinkHeader,
}

mod param {
    pub fn page() -> String {
        "page".into()
    }
    pub fn per_page() -> Option<String> {
        Some("per_page".into())
    }
    pub fn offset() -> String {
        "offset".into()
    }
    pub fn limit() -> Option<String> {
        Some("limit".into())
    }
    pub fn cursor() -> String {
        "cursor".into()
    }
    pub fn size() -> u64 {
        100
    }
    pub fn one() -> u64 {
        1
    }
}

/// What to ask for next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRequest {
    /// The endpoint's own request, with these query parameters added.
    Params(Vec<(String, String)>),
    /// This URL (the endpoint's query parameters it lacks are added).
    Url(Url),
}

/// What a [`Pager`] needs to know of a page it was handed.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    /// The page's URL (relative next links resolve against it).
    pub url: &'a Url,
    /// The URL as messages show it (secrets replaced by `***`).
    pub shown: &'a str,
    /// The `Link` header, if any (several joined with `, `).
    pub link: Option<String>,
    /// The parsed body.
    pub body: &'a Value,
    /// How many records the page held.
    pub records: usize,
}

/// The state machine of one walk over an endpoint's pages.
///
/// ```
/// use sluice_guest::http::{Page, PageRequest, Pager, Pagination};
/// let mut pager = Pager::new(Pagination::Offset {
///     offset_param: "offset".into(), limit_param: Some("limit".into()), limit: 2,
/// });
/// let params = |p: &Pager| match p.next_request() {
///     Some(PageRequest::Params(q)) => q.clone(),
///     other => panic!("{other:?}"),
/// };
/// assert_eq!(params(&pager), [("offset".into(), "0".into()), ("limit".into(), "2".into())]);
/// let url = "http://x.test/users".parse().unwrap();
/// let body = serde_json::json!({});
/// let page = |records| Page { url: &url, shown: "http://x.test/users", link: None, body: &body, records };
/// pager.advance(&page(2)).unwrap();
/// assert_eq!(params(&pager)[0], ("offset".into(), "2".into()));
/// pager.advance(&page(0)).unwrap();
/// assert!(pager.next_request().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Pager {
    style: Pagination,
    next: Option<PageRequest>,
    position: u64,
}

impl Pager {
    /// A walk from the first page.
    pub fn new(style: Pagination) -> Self {
        let position = match &style {
            Pagination::PageNumber { start, .. } => *start,
            _ => 0,
        };
        let mut pager = Pager {
            style,
            next: None,
            position,
        };
        pager.next = Some(PageRequest::Params(pager.position_params()));
        pager
    }

    /// The next page to ask for; `None` when the walk is over.
    pub fn next_request(&self) -> Option<&PageRequest> {
        self.next.as_ref()
    }

    /// Take in the page just read; afterwards [`next_request`](Self::next_request)
    /// says what follows it. A data error when the page names a next page
    /// that cannot be one (a next URL that is not a URL, a cursor or URL
    /// that did not move).
    pub fn advance(&mut self, page: &Page<'_>) -> Result<(), ConnectorError> {
        let next = if page.records == 0 {
            None
        } else {
            self.after(page)?
        };
        self.next = next;
        Ok(())
    }

    fn after(&mut self, page: &Page<'_>) -> Result<Option<PageRequest>, ConnectorError> {
        let error = |m: String| ConnectorError::data(format!("GET {}: {m}", page.shown));
        match &self.style {
            Pagination::None => Ok(None),
            Pagination::PageNumber { .. } => {
                self.position += 1;
                Ok(Some(PageRequest::Params(self.position_params())))
            }
            Pagination::Offset { .. } => {
                self.position += page.records as u64;
                Ok(Some(PageRequest::Params(self.position_params())))
            }
            Pagination::Cursor {
                cursor_path,
                cursor_param,
            } => {
                let Some(cursor) = cursor_text(select(page.body, cursor_path)).map_err(error)?
                else {
                    return Ok(None);
                };
                let query = vec![(cursor_param.clone(), cursor)];
                if self.next == Some(PageRequest::Params(query.clone())) {
                    return Err(error(format!(
                        "the cursor at `{cursor_path}` did not change from the page before; stopping rather than reading one page forever"
                    )));
                }
                Ok(Some(PageRequest::Params(query)))
            }
            Pagination::NextUrl { next_url_path } => {
                let text = match select(page.body, next_url_path) {
                    Some(Value::String(s)) if !s.trim().is_empty() => s.trim(),
                    None | Some(Value::Null) | Some(Value::String(_)) => return Ok(None),
                    Some(other) => {
                        return Err(error(format!(
                            "the next URL at `{next_url_path}` is {}, not a string",
                            kind(other)
                        )));
                    }
                };
                next_url(page, text, &format!("the next URL at `{next_url_path}`"))
            }
            Pagination::LinkHeader => match page.link.as_deref().and_then(super::next_link) {
                Some(target) => next_url(page, &target, "the Link header's next URL"),
                None => Ok(None),
            },
        }
    }

    /// The query parameters of the current page number or offset.
    fn position_params(&self) -> Vec<(String, String)> {
        let pair = |name: &str, value: u64| (name.to_string(), value.to_string());
        match &self.style {
            Pagination::PageNumber {
                page_param,
                size_param,
                size,
                ..
            } => std::iter::once(pair(page_param, self.position))
                .chain(size_param.iter().map(|s| pair(s, *size)))
                .collect(),
            Pagination::Offset {
                offset_param,
                limit_param,
                limit,
            } => std::iter::once(pair(offset_param, self.position))
                .chain(limit_param.iter().map(|l| pair(l, *limit)))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The next page's URL: `text` resolved against the page's URL; an error
/// when it is no URL or the page itself (the message never echoes it: a
/// server may have put a secret in it).
fn next_url(
    page: &Page<'_>,
    text: &str,
    what: &str,
) -> Result<Option<PageRequest>, ConnectorError> {
    let error = |m: String| ConnectorError::data(format!("GET {}: {m}", page.shown));
    let url = page
        .url
        .join(text)
        .map_err(|e| error(format!("{what} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(error(format!("{what} is not an http(s) URL")));
    }
    if url == *page.url {
        return Err(error(format!(
            "{what} is the page itself; stopping rather than reading one page forever"
        )));
    }
    Ok(Some(PageRequest::Url(url)))
}

/// A cursor value as query text: strings (non-empty) and numbers; `None`
/// for no next page (missing, null, empty, `false`).
fn cursor_text(value: Option<&Value>) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(format!("the cursor is {}, not a string", kind(other))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The JSON pointer of a path: `""` is the whole body, a path starting
/// with `/` is a JSON pointer already, anything else is dotted
/// (`data.items`, `results.0.id`).
fn pointer(path: &str) -> String {
    let path = path.trim();
    if path.is_empty() || path.starts_with('/') {
        return path.to_string();
    }
    path.split('.')
        .map(|part| format!("/{}", part.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// The value at `path` in `body`: `""` is the body itself, `/a/0/b` a JSON
/// pointer, `a.0.b` a dotted path (array elements by index).
///
/// ```
/// use sluice_guest::http::select;
/// let body = serde_json::json!({"meta": {"next": "abc"}, "items": [{"id": 1}]});
/// assert_eq!(select(&body, "meta.next"), Some(&serde_json::json!("abc")));
/// assert_eq!(select(&body, "/items/0/id"), Some(&serde_json::json!(1)));
/// assert_eq!(select(&body, "items.0.id"), Some(&serde_json::json!(1)));
/// assert_eq!(select(&body, ""), Some(&body));
/// assert_eq!(select(&body, "meta.none"), None);
/// ```
pub fn select<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    body.pointer(&pointer(path))
}

/// Take the records at `path` (see [`select`]) out of `body`: the items of
/// an array, one record for an object, none for null. An error (for
/// people, without the body) when the path is missing, holds a scalar, or
/// an item is not an object.
///
/// ```
/// use sluice_guest::http::records;
/// let mut body = serde_json::json!({"data": [{"id": 1}, {"id": 2}], "page": 1});
/// assert_eq!(records(&mut body, "data").unwrap().len(), 2);
/// assert_eq!(body["page"], 1);
/// let mut bare = serde_json::json!([{"id": 1}]);
/// assert_eq!(records(&mut bare, "").unwrap().len(), 1);
/// assert!(records(&mut serde_json::json!({"data": 3}), "data").is_err());
/// ```
pub fn records(body: &mut Value, path: &str) -> Result<Vec<Value>, String> {
    let Some(found) = body.pointer_mut(&pointer(path)) else {
        return Err(format!("the body has no `{path}` (the records path)"));
    };
    let items = match found.take() {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        object @ Value::Object(_) => vec![object],
        other => {
            let at = if path.is_empty() { "the body" } else { path };
            return Err(format!("`{at}` is {}, not a list of records", kind(&other)));
        }
    };
    if let Some(i) = items.iter().position(|r| !r.is_object()) {
        return Err(format!(
            "record {i} of `{path}` is {}, not an object",
            kind(&items[i])
        ));
    }
    Ok(items)
}

#[cfg(test)]
#[path = "paginate_tests.rs"]
mod tests;
