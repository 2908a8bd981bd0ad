//! Running an [`Action`] on one record, a `serde_json::Map` parsed once
//! per line.
//!
//! Values of an unexpected kind never fail a batch:
//! - `upper` / `lower` leave non-strings (numbers, booleans, null, lists,
//!   tables) unchanged;
//! - `hash` and `mask` work on the value's text: a string as is, anything
//!   else as its compact JSON (`42`, `true`, `[1,2]`); `null` stays `null`;
//! - `mask` replaces every character but the last `keep_last` (Unicode
//!   scalar values) by `*`; a value of at most `keep_last` characters is
//!   masked entirely, so a mask never reveals a whole value;
//! - a field a record lacks is left missing by every step but `set`.

use crate::compile::{Action, Constant};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// A record: one JSON object.
pub(crate) type Record = Map<String, Value>;

impl Action {
    /// Apply to `row`; `false` when the record is dropped. `now` is the
    /// RFC 3339 text `set ... "now()"` writes.
    pub(crate) fn run(&self, row: &mut Record, now: &str) -> bool {
        match self {
            Action::Rename { from, to } => rename(row, from, to),
            Action::Select(names) => select(row, names),
            Action::Drop(names) => names.iter().for_each(|n| drop(row.shift_remove(n))),
            Action::Upper(f) => map_string(row, f, |s| s.to_uppercase()),
            Action::Lower(f) => map_string(row, f, |s| s.to_lowercase()),
            Action::Hash { field, salt } => map_text(row, field, |t| hash(salt.expose(), t)),
            Action::Mask { field, keep_last } => map_text(row, field, |t| mask(t, *keep_last)),
            Action::Set { field, value } => set(row, field, value, now),
            Action::Filter(p) => return p.matches(row),
            Action::DropRows(names) => return drop_row_values(row, names),
        }
        true
    }
}

/// Rename in place; a record that already has `to` loses that value (only
/// possible in a schemaless stream: with a schema the plan refuses it).
fn rename(row: &mut Record, from: &str, to: &str) {
    if from == to {
        return;
    }
    let Some(mut i) = row.keys().position(|k| k == from) else {
        return;
    };
    if let Some(j) = row.keys().position(|k| k == to) {
        row.shift_remove(to);
        i -= usize::from(j < i);
    }
    if let Some(value) = row.shift_remove(from) {
        row.shift_insert(i, to.to_string(), value);
    }
}

fn select(row: &mut Record, names: &[String]) {
    let mut kept = Map::with_capacity(names.len());
    for name in names {
        if let Some((k, v)) = row.shift_remove_entry(name) {
            kept.insert(k, v);
        }
    }
    *row = kept;
}

fn map_string(row: &mut Record, field: &str, f: impl Fn(&str) -> String) {
    if let Some(Value::String(s)) = row.get_mut(field) {
        *s = f(s);
    }
}

/// Replace a non-null value by `f` of its text.
fn map_text(row: &mut Record, field: &str, f: impl Fn(&str) -> String) {
    let Some(value) = row.get_mut(field) else {
        return;
    };
    let text = match &*value {
        Value::Null => return,
        Value::String(s) => f(s),
        other => f(&other.to_string()),
    };
    *value = Value::String(text);
}

fn hash(salt: &str, text: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(text.as_bytes());
    hex::encode(h.finalize())
}

fn mask(text: &str, keep_last: usize) -> String {
    let len = text.chars().count();
    let hidden = if len <= keep_last {
        len
    } else {
        len - keep_last
    };
    let mut out = "*".repeat(hidden);
    out.extend(text.chars().skip(hidden));
    out
}

fn set(row: &mut Record, field: &str, value: &Constant, now: &str) {
    let value = match value {
        Constant::Value(v) => v.clone(),
        Constant::Now => Value::String(now.to_string()),
    };
    row.insert(field.to_string(), value);
}

/// Keep the record only when every field is missing or null, and remove
/// those fields from it.
fn drop_row_values(row: &mut Record, names: &[String]) -> bool {
    if names
        .iter()
        .any(|n| row.get(n.as_str()).is_some_and(|v| !v.is_null()))
    {
        return false;
    }
    names.iter().for_each(|n| drop(row.shift_remove(n)));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_keeps_the_tail_and_hides_short_values_entirely() {
        assert_eq!(mask("4111111111111234", 4), "************1234");
        assert_eq!(mask("1234", 4), "****");
        assert_eq!(mask("12", 4), "**");
        assert_eq!(mask("", 4), "");
        assert_eq!(mask("héllo", 2), "***lo");
        assert_eq!(mask("abc", 0), "***");
    }

    #[test]
    fn hash_is_sha256_of_salt_then_value() {
        // sha256("s3cretalice@example.com")
        let expected = hex::encode(Sha256::digest(b"s3cretalice@example.com"));
        assert_eq!(hash("s3cret", "alice@example.com"), expected);
        assert_eq!(expected.len(), 64);
    }

    #[test]
    fn rename_keeps_the_position_and_replaces_a_taken_name() {
        let mut row: Record = serde_json::from_str(r#"{"a":1,"b":2,"c":3}"#).unwrap();
        rename(&mut row, "b", "x");
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            r#"{"a":1,"x":2,"c":3}"#
        );
        rename(&mut row, "c", "a");
        assert_eq!(serde_json::to_string(&row).unwrap(), r#"{"x":2,"a":3}"#);
        rename(&mut row, "missing", "y");
        assert_eq!(row.len(), 2);
    }
}
