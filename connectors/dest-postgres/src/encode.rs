//! One JSON-lines record to one `COPY ... (FORMAT text)` row, in a single
//! pass over the record with no intermediate `Value` for scalar fields.
//!
//! Values follow the sluice JSON encoding (see `sluice_schema::json_schema`):
//! booleans become `t`/`f`; numbers keep their JSON text (decimals usually
//! arrive as strings, which keeps every digit); bytes arrive as base64 and
//! are written as `bytea` hex (`\x0102`); strings and timestamps (RFC 3339,
//! which PostgreSQL reads as ISO 8601) are written as they are, escaped for
//! COPY; arrays, maps, structs and unions are written as their JSON text
//! for `jsonb`. A missing field takes its default, else NULL (`\N`), as
//! does `null`.

use crate::columns::{Column, Kind};
use base64::Engine;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use sluice_pg_client::sql::{COPY_NULL, copy_text};
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

/// Encodes records of one schema as COPY rows.
pub(crate) struct RowEncoder {
    columns: Vec<(String, Kind)>,
    index: HashMap<String, usize>,
    /// Each column's default, already encoded; `None`: NULL.
    defaults: Vec<Option<Vec<u8>>>,
    cells: Vec<Option<Range<usize>>>,
    scratch: Vec<u8>,
}

/// Why a record could not be encoded.
#[derive(Debug)]
pub(crate) enum RecordError {
    /// A field that is not a column of the table.
    Unknown(String),
    /// Not JSON, or a value of the wrong kind.
    Invalid(String),
}

impl RowEncoder {
    /// An encoder for rows of `columns`, in that order.
    pub(crate) fn new(columns: &[Column]) -> RowEncoder {
        let mut encoder = RowEncoder {
            columns: columns.iter().map(|c| (c.name.clone(), c.kind)).collect(),
            index: columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.name.clone(), i))
                .collect(),
            defaults: Vec::new(),
            cells: vec![None; columns.len()],
            scratch: Vec::with_capacity(4096),
        };
        encoder.defaults = columns
            .iter()
            .map(|c| c.default.as_ref().and_then(|d| encode_value(c, d)))
            .collect();
        encoder
    }

    /// Append the cells of `record` (tab-separated, no line end) to `out`.
    pub(crate) fn encode(&mut self, record: &[u8], out: &mut Vec<u8>) -> Result<(), RecordError> {
        self.cells.iter_mut().for_each(|c| *c = None);
        self.scratch.clear();
        let mut de = serde_json::Deserializer::from_slice(record);
        let mut unknown = None;
        let seed = RecordSeed {
            columns: &self.columns,
            index: &self.index,
            cells: &mut self.cells,
            scratch: &mut self.scratch,
            unknown: &mut unknown,
        };
        let parsed = seed.deserialize(&mut de).and_then(|()| de.end());
        if let Some(name) = unknown {
            return Err(RecordError::Unknown(name));
        }
        parsed.map_err(|e| RecordError::Invalid(e.to_string()))?;
        for (i, cell) in self.cells.iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            match (cell, &self.defaults[i]) {
                (Some(range), _) => out.extend_from_slice(&self.scratch[range.clone()]),
                (None, Some(default)) => out.extend_from_slice(default),
                (None, None) => out.extend_from_slice(COPY_NULL),
            }
        }
        Ok(())
    }
}

/// The COPY text of `value` in `column`; `None` when it is null or does
/// not fit (it then reaches the server as NULL and the server decides).
fn encode_value(column: &Column, value: &Value) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let seed = CellSeed {
        kind: column.kind,
        column: &column.name,
        out: &mut out,
    };
    match seed.deserialize(value.clone()) {
        Ok(true) => Some(out),
        _ => None,
    }
}

struct RecordSeed<'a> {
    columns: &'a [(String, Kind)],
    index: &'a HashMap<String, usize>,
    cells: &'a mut [Option<Range<usize>>],
    scratch: &'a mut Vec<u8>,
    unknown: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut hint = 0;
        while let Some(found) = map.next_key_seed(KeySeed {
            columns: self.columns,
            index: self.index,
            hint,
        })? {
            let Ok(i) = found else {
                *self.unknown = found.err();
                map.next_value::<IgnoredAny>()?;
                return Err(de::Error::custom("unknown field"));
            };
            hint = i + 1;
            let (name, kind) = &self.columns[i];
            let start = self.scratch.len();
            let seed = CellSeed {
                kind: *kind,
                column: name,
                out: self.scratch,
            };
            let present = map.next_value_seed(seed)?;
            self.cells[i] = present.then_some(start..self.scratch.len());
        }
        Ok(())
    }
}

/// Finds a key's column: the one after the previous key's first (records
/// usually list fields in schema order), else by name.
struct KeySeed<'a> {
    columns: &'a [(String, Kind)],
    index: &'a HashMap<String, usize>,
    hint: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Result<usize, String>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Result<usize, String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        if self.columns.get(self.hint).is_some_and(|(n, _)| n == key) {
            return Ok(Ok(self.hint));
        }
        Ok(self.index.get(key).copied().ok_or_else(|| key.to_string()))
    }
}

/// Writes one value as COPY text; `true` unless it is null.
struct CellSeed<'a> {
    kind: Kind,
    column: &'a str,
    out: &'a mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for CellSeed<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        if self.kind != Kind::Json {
            return d.deserialize_any(self);
        }
        let value = Value::deserialize(d)?;
        if value.is_null() {
            return Ok(false);
        }
        let text = serde_json::to_string(&value).map_err(de::Error::custom)?;
        copy_text(self.out, &text);
        Ok(true)
    }
}

use serde::Deserialize;

impl<'de> Visitor<'de> for CellSeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let what = match self.kind {
            Kind::Bool => "a boolean",
            Kind::Number => "a number (or its text)",
            Kind::Bytes => "base64 text",
            Kind::Text => "a string",
            Kind::Json => "a JSON value",
        };
        write!(f, "{what} for column `{}`", self.column)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        match self.kind {
            Kind::Bool => self.out.push(if v { b't' } else { b'f' }),
            Kind::Text => self
                .out
                .extend_from_slice(if v { b"true" } else { b"false" }),
            _ => return Err(de::Error::invalid_type(de::Unexpected::Bool(v), &self)),
        }
        Ok(true)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        if matches!(self.kind, Kind::Bool | Kind::Bytes) {
            return Err(de::Error::invalid_type(de::Unexpected::Signed(v), &self));
        }
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        Ok(true)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        if matches!(self.kind, Kind::Bool | Kind::Bytes) {
            return Err(de::Error::invalid_type(de::Unexpected::Unsigned(v), &self));
        }
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        Ok(true)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        if matches!(self.kind, Kind::Bool | Kind::Bytes) {
            return Err(de::Error::invalid_type(de::Unexpected::Float(v), &self));
        }
        self.out
            .extend_from_slice(ryu::Buffer::new().format(v).as_bytes());
        Ok(true)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        if self.kind != Kind::Bytes {
            copy_text(self.out, v);
            return Ok(true);
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v)
            .map_err(|e| E::custom(format!("column `{}`: not base64: {e}", self.column)))?;
        // `\x` with its backslash escaped for COPY, then hex digits.
        self.out.extend_from_slice(b"\\\\x");
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for b in bytes {
            self.out.push(HEX[usize::from(b >> 4)]);
            self.out.push(HEX[usize::from(b & 15)]);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_guest::{Field, Type};

    fn encoder(fields: &[Field]) -> RowEncoder {
        let columns: Vec<Column> = fields.iter().map(|f| Column::of_field(f, true)).collect();
        RowEncoder::new(&columns)
    }

    fn row(enc: &mut RowEncoder, record: &str) -> String {
        let mut out = Vec::new();
        enc.encode(record.as_bytes(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn each_kind_is_written_as_copy_text() {
        let mut enc = encoder(&[
            Field::required("b", Type::Boolean),
            Field::required("n", Type::Int64),
            Field::optional("f", Type::Float64),
            Field::optional("raw", Type::Bytes),
            Field::optional("s", Type::String),
            Field::optional("j", Type::Array(Box::new(Type::String))),
            Field::optional("d", Type::Int32).with_default(serde_json::json!(7)),
        ]);
        let text = row(
            &mut enc,
            r#"{"s":"a\tb\\c\nd","b":true,"n":-5,"f":1.5,"raw":"AQL/","j":["x","y\"z"]}"#,
        );
        assert_eq!(
            text,
            "t\t-5\t1.5\t\\\\x0102ff\ta\\tb\\\\c\\nd\t[\"x\",\"y\\\\\"z\"]\t7"
        );
        assert_eq!(
            row(&mut enc, r#"{"b":false,"n":1,"s":null}"#),
            "f\t1\t\\N\t\\N\t\\N\t\\N\t7"
        );
    }

    #[test]
    fn unknown_fields_and_wrong_kinds_are_named() {
        let mut enc = encoder(&[Field::required("n", Type::Int64)]);
        let mut out = Vec::new();
        match enc.encode(br#"{"n":1,"extra":2}"#, &mut out) {
            Err(RecordError::Unknown(name)) => assert_eq!(name, "extra"),
            other => panic!("{other:?}"),
        }
        match enc.encode(br#"{"n":{"a":1}}"#, &mut out) {
            Err(RecordError::Invalid(e)) => assert!(e.contains("column `n`"), "{e}"),
            other => panic!("{other:?}"),
        }
    }
}
