//! Walking a stream's pages: one endpoint through its pagination, or, for
//! a child stream, the endpoint once per parent record with the path's
//! placeholders filled from it.
//!
//! A child walks its parent's endpoint itself (every parent record, with
//! the parent's params and pagination but without its incremental filter,
//! so a parent that did not change still has its new children read).

use crate::config::{Config, StreamConfig, text};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use sluice_guest::http::{Client, Pager, records, select};
use sluice_guest::{ConnectorError, Result};
use std::collections::VecDeque;

/// What a path placeholder's value may hold unencoded: RFC 3986's
/// unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One page of a stream.
#[derive(Debug)]
pub struct Fetched {
    /// Its records (JSON objects).
    pub records: Vec<Value>,
}

/// The values filling a path's placeholders: (name, value).
type Context = Vec<(String, String)>;

/// Every page of one stream, across its parent's records.
pub struct Walk {
    stream: StreamConfig,
    query: Vec<(String, String)>,
    parent: Option<Box<ParentFeed>>,
    current: Option<(String, Pager)>,
    started: bool,
}

/// The parent records a child stream is read for.
struct ParentFeed {
    walk: Walk,
    fields: Vec<String>,
    queue: VecDeque<Context>,
}

impl Walk {
    /// The pages of stream `name` of `config`, with `filter` (the
    /// incremental parameter, if any) added to each request.
    pub fn new(config: &Config, name: &str, filter: Option<(String, String)>) -> Result<Walk> {
        let Some(stream) = config.stream(name) else {
            return Err(
                ConnectorError::config(format!("no stream `{name}` is configured")).in_stream(name),
            );
        };
        let parent = match &stream.parent {
            None => None,
            Some(p) => Some(Box::new(ParentFeed {
                walk: Walk::new(config, &p.stream, None)?,
                fields: p.fields.clone(),
                queue: VecDeque::new(),
            })),
        };
        let mut query = stream.query();
        query.extend(filter);
        Ok(Walk {
            stream: stream.clone(),
            query,
            parent,
            current: None,
            started: false,
        })
    }

    /// The next page, `None` after the last one.
    pub fn next_page(&mut self, client: &mut Client) -> Result<Option<Fetched>> {
        loop {
            if let Some(page) = self.next_of_current(client)? {
                return Ok(Some(page));
            }
            let Some(context) = self.next_context(client)? else {
                return Ok(None);
            };
            let path = fill(&self.stream.path, &context);
            self.current = Some((path, Pager::new(self.stream.pagination.clone())));
        }
    }

    /// The next page of the current path, if it has one more.
    fn next_of_current(&mut self, client: &mut Client) -> Result<Option<Fetched>> {
        let Some((path, pager)) = &mut self.current else {
            return Ok(None);
        };
        let Some(next) = pager.next_request().cloned() else {
            self.current = None;
            return Ok(None);
        };
        let in_stream = |e: ConnectorError| e.in_stream(&self.stream.name);
        let response = client
            .get_page(path, &self.query, &next)
            .map_err(in_stream)?;
        let mut body = response.json().map_err(in_stream)?;
        let records = records(&mut body, &self.stream.records_path)
            .map_err(|e| in_stream(response.data_error(&e)))?;
        pager
            .advance(&response.page(&body, records.len()))
            .map_err(in_stream)?;
        Ok(Some(Fetched { records }))
    }

    /// The next parent record's placeholder values; one empty context for
    /// a stream without a parent.
    fn next_context(&mut self, client: &mut Client) -> Result<Option<Context>> {
        let Some(feed) = &mut self.parent else {
            let first = !self.started;
            self.started = true;
            return Ok(first.then(Vec::new));
        };
        loop {
            if let Some(context) = feed.queue.pop_front() {
                return Ok(Some(context));
            }
            let Some(page) = feed.walk.next_page(client)? else {
                return Ok(None);
            };
            for record in &page.records {
                let context = context_of(record, &feed.fields, &feed.walk.stream.name)
                    .map_err(|e| e.in_stream(&self.stream.name))?;
                feed.queue.push_back(context);
            }
        }
    }
}

/// The placeholder values a parent record gives.
fn context_of(record: &Value, fields: &[String], parent: &str) -> Result<Context> {
    fields
        .iter()
        .map(|field| match select(record, field) {
            Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => {
                Ok((field.clone(), text(v)))
            }
            _ => Err(ConnectorError::data(format!(
                "a record of parent stream `{parent}` has no value in `{field}` to fill the path"
            ))),
        })
        .collect()
}

/// `path` with each `{name}` replaced by its value, percent-encoded as a
/// path segment.
pub fn fill(path: &str, context: &Context) -> String {
    context
        .iter()
        .fold(path.to_string(), |path, (name, value)| {
            let encoded = utf8_percent_encode(value, SEGMENT).to_string();
            path.replace(&format!("{{{name}}}"), &encoded)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_are_filled_encoded() {
        let ctx = vec![
            ("id".to_string(), "7".to_string()),
            ("slug".to_string(), "a b/c".to_string()),
        ];
        assert_eq!(
            fill("/users/{id}/orders/{slug}", &ctx),
            "/users/7/orders/a%20b%2Fc"
        );
    }

    #[test]
    fn parent_records_give_contexts_or_say_what_is_missing() {
        let fields = vec!["id".to_string()];
        let ctx = context_of(&json!({"id": 3, "name": "x"}), &fields, "users").unwrap();
        assert_eq!(ctx, [("id".to_string(), "3".to_string())]);
        let e = context_of(&json!({"name": "x"}), &fields, "users").unwrap_err();
        assert!(
            e.message
                .contains("parent stream `users` has no value in `id`"),
            "{}",
            e.message
        );
    }
}
