//! Renames that move a stream's fields off the column names a destination
//! reserves for itself (its own key, metadata columns like `_loaded_at`).
//!
//! A destination declares `reserved_keys`, the first element being its
//! fixed primary-key column or `""` when it has none. The host turns
//! [`renames`] into stages appended after the user's steps with
//! [`Plan::then_renames`](crate::Plan::then_renames).

use sluice_schema::Schema;
use std::collections::HashSet;

/// The `(from, to)` renames for `schema`'s top-level fields whose name is
/// in `reserved`: `_` is appended until the name is neither a field of the
/// stream, nor reserved, nor the target of an earlier rename. Names match
/// exactly (case-sensitively).
///
/// When the destination's primary key (`reserved[0]`, non-empty) is also
/// the source's (`source_primary_key == [reserved[0]]`), that field is
/// left alone: it is the key the destination wants.
///
/// ```
/// use sluice_schema::{Field, Schema, Type};
/// let schema = Schema::new(vec![
///     Field::required("_key", Type::String),
///     Field::required("_key_", Type::String),
/// ]);
/// let reserved = vec!["".to_string(), "_key".to_string()];
/// let renames = sluice_transform::reserved::renames(&schema, &reserved, &[]);
/// assert_eq!(renames, [("_key".to_string(), "_key__".to_string())]);
/// ```
pub fn renames(
    schema: &Schema,
    reserved: &[String],
    source_primary_key: &[String],
) -> Vec<(String, String)> {
    let is_reserved = |name: &str| reserved.iter().any(|r| !r.is_empty() && r == name);
    let exempt = match (reserved.first(), source_primary_key) {
        (Some(pk), [source]) if !pk.is_empty() && pk == source => Some(pk.as_str()),
        _ => None,
    };
    let mut taken: HashSet<String> = schema.fields.iter().map(|f| f.name.clone()).collect();
    let mut out = Vec::new();
    for field in &schema.fields {
        if !is_reserved(&field.name) || exempt == Some(field.name.as_str()) {
            continue;
        }
        let mut name = field.name.clone();
        loop {
            name.push('_');
            if !taken.contains(&name) && !is_reserved(&name) {
                break;
            }
        }
        taken.insert(name.clone());
        out.push((field.name.clone(), name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_schema::{Field, Type};

    fn schema(names: &[&str]) -> Schema {
        Schema::new(
            names
                .iter()
                .map(|n| Field::required(*n, Type::String))
                .collect(),
        )
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(f, t)| (f.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn a_reserved_field_gets_an_underscore() {
        let r = renames(&schema(&["id", "_key"]), &strings(&["", "_key"]), &[]);
        assert_eq!(r, pairs(&[("_key", "_key_")]));
    }

    #[test]
    fn repeated_collisions_skip_taken_and_reserved_names() {
        let s = schema(&["_key", "_key_", "_id"]);
        let r = renames(&s, &strings(&["", "_key", "_id", "_id_"]), &[]);
        assert_eq!(r, pairs(&[("_key", "_key__"), ("_id", "_id__")]));
        // Two reserved fields competing for the same free name.
        let s = schema(&["a", "a_"]);
        let r = renames(&s, &strings(&["", "a", "a_"]), &[]);
        assert_eq!(r, pairs(&[("a", "a__"), ("a_", "a___")]));
    }

    #[test]
    fn the_shared_primary_key_is_left_alone() {
        let s = schema(&["_key", "_seq"]);
        let reserved = strings(&["_key", "_seq"]);
        let r = renames(&s, &reserved, &strings(&["_key"]));
        assert_eq!(r, pairs(&[("_seq", "_seq_")]));
        // A compound source key does not match the destination's single one.
        let r = renames(&s, &reserved, &strings(&["_key", "_seq"]));
        assert_eq!(r.len(), 2);
        // Without a destination key nothing is exempt.
        let r = renames(
            &schema(&["_key"]),
            &strings(&["", "_key"]),
            &strings(&["_key"]),
        );
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn no_reserved_keys_no_renames() {
        assert!(renames(&schema(&["_key", "id"]), &[], &[]).is_empty());
        assert!(renames(&schema(&["_key", "id"]), &strings(&[""]), &[]).is_empty());
    }
}
