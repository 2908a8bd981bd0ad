//! A few fields of a JSON record, without building the rest of it.
//!
//! A source that forwards JSON lines as they are (source-file, a tap's
//! output) still needs each record's cursor, and sometimes its primary
//! key. Parsing the whole line into a [`Value`] for that costs most of the
//! read; [`pick`] walks the line once with serde_json, checking all of it,
//! and builds values only for the fields asked for.

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// The top-level fields `names` of the JSON object `line`, in the order of
/// `names` (`None` where a field is absent). The whole line is checked as
/// JSON; anything that is not one object is an error.
///
/// ```
/// let line = br#"{"id": 7, "name": "Ada", "tags": ["x"], "updated_at": "2026-01-02"}"#;
/// let got = sluice_guest::json::pick(line, &["updated_at", "id", "nope"]).unwrap();
/// assert_eq!(got, [Some("2026-01-02".into()), Some(7.into()), None]);
/// assert!(sluice_guest::json::pick(b"[1, 2]", &["id"]).is_err());
/// assert!(sluice_guest::json::pick(br#"{"id": 1} {"#, &["id"]).is_err());
/// ```
pub fn pick(line: &[u8], names: &[&str]) -> Result<Vec<Option<Value>>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let picked = Pick { names }.deserialize(&mut de)?;
    de.end()?;
    Ok(picked)
}

/// Deserializes an object, keeping the values of `names` only.
struct Pick<'n> {
    names: &'n [&'n str],
}

impl<'de> DeserializeSeed<'de> for Pick<'_> {
    type Value = Vec<Option<Value>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Pick<'_> {
    type Value = Vec<Option<Value>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = vec![None; self.names.len()];
        while let Some(at) = map.next_key_seed(Key { names: self.names })? {
            match at {
                Some(i) => out[i] = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// Deserializes a key into its index in `names`, without allocating.
struct Key<'n> {
    names: &'n [&'n str],
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.names.iter().position(|n| *n == key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn picks_fields_anywhere_in_the_object_and_skips_nested_ones() {
        let line = br#"{"a": {"id": 99, "x": [1, {"y": 2}]}, "id": 1, "s": "q\"uote \u00e9"}"#;
        let got = pick(line, &["id", "s", "a"]).unwrap();
        assert_eq!(got[0], Some(json!(1)));
        assert_eq!(got[1], Some(json!("q\"uote é")));
        assert_eq!(got[2], Some(json!({"id": 99, "x": [1, {"y": 2}]})));
    }

    #[test]
    fn an_escaped_key_still_matches_and_a_repeated_key_keeps_the_last() {
        let got = pick(br#"{"i\u0064": 1, "id": 2}"#, &["id"]).unwrap();
        assert_eq!(got, [Some(json!(2))]);
    }

    #[test]
    fn broken_lines_are_errors_naming_where() {
        for bad in [
            &b"{\"id\": 1"[..],
            b"{\"id\" 1}",
            b"\"id\"",
            b"{\"id\": tru}",
        ] {
            let e = pick(bad, &["id"]).unwrap_err();
            assert!(e.to_string().contains("column"), "{e}");
        }
        assert_eq!(pick(b" {} ", &["id"]).unwrap(), [None]);
    }
}
