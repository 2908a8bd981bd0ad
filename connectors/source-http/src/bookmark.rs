//! Incremental state: the bookmark (the largest cursor value seen), how
//! cursor values compare, and what each checkpoint holds.
//!
//! A stream's records may come in any order, so its bookmark moves only
//! when the stream ends; checkpoints in between keep the bookmark the run
//! started from and carry the largest value so far as `progress` (the
//! Singer SDK's progress markers). Only a stream declared `sorted` moves
//! its bookmark after every page. A child stream has one bookmark over
//! all its parents' records: the largest over every parent (the Singer
//! SDK's state-partitioning rollup), so every parent's request next run
//! asks for what changed since that one value.

use crate::config::text;
use chrono::DateTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_guest::http::select;
use std::cmp::Ordering;

/// The saved state of an incremental stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bookmark {
    /// The cursor field it is a value of.
    pub cursor_field: String,
    /// Records newer than this are read next run.
    pub bookmark: Value,
    /// The largest value of the run so far (informational: a run that
    /// stops resumes from `bookmark`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Value>,
}

/// Order of two cursor values: RFC 3339 timestamps as instants, numbers
/// numerically, anything else as text.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    if let (Some(x), Some(y)) = (instant(a), instant(b)) {
        return x.cmp(&y);
    }
    if let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) {
        return x.partial_cmp(&y).unwrap_or(Ordering::Equal);
    }
    text(a).cmp(&text(b))
}

fn instant(v: &Value) -> Option<DateTime<chrono::FixedOffset>> {
    DateTime::parse_from_rfc3339(v.as_str()?).ok()
}

/// Tracks the bookmark of one stream during a read.
#[derive(Debug, Clone)]
pub struct Tracker {
    field: String,
    start: Option<Value>,
    max: Option<Value>,
    sorted: bool,
}

impl Tracker {
    /// A stream on `field` resuming from `start`; `sorted` when its records
    /// come in ascending cursor order.
    pub fn new(field: &str, start: Option<Value>, sorted: bool) -> Self {
        Tracker {
            field: field.to_string(),
            max: start.clone(),
            start,
            sorted,
        }
    }

    /// The bookmark the run started from, as the query parameter's value.
    pub fn filter(&self) -> Option<String> {
        self.start.as_ref().map(text)
    }

    /// Take in one record's cursor value (records without one are skipped).
    pub fn observe(&mut self, record: &Value) {
        let Some(value) = select(record, &self.field).filter(|v| !v.is_null()) else {
            return;
        };
        if self
            .max
            .as_ref()
            .is_none_or(|m| compare(value, m) == Ordering::Greater)
        {
            self.max = Some(value.clone());
        }
    }

    /// The checkpoint after a page; `None` while there is no bookmark.
    pub fn page_checkpoint(&self) -> Option<Bookmark> {
        if self.sorted {
            return self.end_checkpoint();
        }
        let bookmark = match (&self.start, &self.max) {
            (Some(start), max) => Bookmark {
                cursor_field: self.field.clone(),
                bookmark: start.clone(),
                progress: max.clone().filter(|m| m != start),
            },
            (None, _) => return None,
        };
        Some(bookmark)
    }

    /// The checkpoint at the stream's end: the largest value seen.
    pub fn end_checkpoint(&self) -> Option<Bookmark> {
        self.max.clone().map(|bookmark| Bookmark {
            cursor_field: self.field.clone(),
            bookmark,
            progress: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_compare_as_instants_numbers_as_numbers() {
        let gt = |a: Value, b: Value| compare(&a, &b) == Ordering::Greater;
        assert!(gt(
            json!("2024-01-01T10:00:00+02:00"),
            json!("2024-01-01T07:59:59Z")
        ));
        assert!(!gt(
            json!("2024-01-01T10:00:00+02:00"),
            json!("2024-01-01T08:00:01Z")
        ));
        assert!(gt(json!(10), json!(9)));
        assert!(gt(json!("b"), json!("a")));
        assert_eq!(
            compare(
                &json!("2024-01-01T00:00:00Z"),
                &json!("2024-01-01T00:00:00.000Z")
            ),
            Ordering::Equal
        );
    }

    #[test]
    fn an_unsorted_stream_moves_its_bookmark_at_the_end() {
        let mut t = Tracker::new("updated_at", Some(json!("2024-01-01T00:00:00Z")), false);
        assert_eq!(t.filter().as_deref(), Some("2024-01-01T00:00:00Z"));
        t.observe(&json!({"updated_at": "2024-03-01T00:00:00Z"}));
        t.observe(&json!({"updated_at": "2024-02-01T00:00:00Z"}));
        t.observe(&json!({"updated_at": null}));
        t.observe(&json!({"id": 1}));
        let page = t.page_checkpoint().unwrap();
        assert_eq!(page.bookmark, json!("2024-01-01T00:00:00Z"));
        assert_eq!(page.progress, Some(json!("2024-03-01T00:00:00Z")));
        let end = t.end_checkpoint().unwrap();
        assert_eq!(end.bookmark, json!("2024-03-01T00:00:00Z"));
        assert_eq!(end.progress, None);
        assert_eq!(
            serde_json::to_value(&end).unwrap(),
            json!({"cursor_field": "updated_at", "bookmark": "2024-03-01T00:00:00Z"})
        );
    }

    #[test]
    fn a_first_run_has_no_bookmark_until_its_end() {
        let mut t = Tracker::new("meta.seq", None, false);
        assert_eq!(t.filter(), None);
        t.observe(&json!({"meta": {"seq": 4}}));
        assert_eq!(t.page_checkpoint(), None);
        assert_eq!(t.end_checkpoint().unwrap().bookmark, json!(4));
        assert_eq!(Tracker::new("x", None, false).end_checkpoint(), None);
    }

    #[test]
    fn a_sorted_stream_moves_its_bookmark_every_page() {
        let mut t = Tracker::new("id", Some(json!(3)), true);
        t.observe(&json!({"id": 5}));
        assert_eq!(t.page_checkpoint().unwrap().bookmark, json!(5));
    }

    #[test]
    fn the_bookmark_never_goes_back() {
        let mut t = Tracker::new("v", Some(json!(10)), false);
        t.observe(&json!({"v": 7}));
        assert_eq!(t.end_checkpoint().unwrap().bookmark, json!(10));
    }
}
