//! One row's text values as one JSON line, with exact values: numbers as
//! PostgreSQL prints them, decimals as strings that keep every digit,
//! timestamps as RFC 3339 UTC, bytea as base64, JSON as nested JSON.

use crate::types::Encoding;
use base64::Engine;
use sluice_pg_client::Row;

/// Writes rows of one select list as JSON objects.
#[derive(Debug, Clone)]
pub(crate) struct RowEncoder {
    /// `{"a":`, `,"b":`, ...: each field's key, with what comes before it.
    keys: Vec<Vec<u8>>,
    encodings: Vec<Encoding>,
    scratch: Vec<u8>,
}

impl RowEncoder {
    /// An encoder for fields `names`, whose values are columns
    /// `0..names.len()` of each row, encoded as `encodings` say.
    pub fn new(names: &[&str], encodings: Vec<Encoding>) -> RowEncoder {
        let keys = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut key = vec![if i == 0 { b'{' } else { b',' }];
                serde_json::to_writer(&mut key, name).expect("a string encodes");
                key.push(b':');
                key
            })
            .collect();
        RowEncoder {
            keys,
            encodings,
            scratch: Vec::new(),
        }
    }

    /// Append `row` as one JSON object (no newline).
    pub fn push(&mut self, out: &mut Vec<u8>, row: &Row) {
        for (i, (key, encoding)) in self.keys.iter().zip(&self.encodings).enumerate() {
            out.extend_from_slice(key);
            match row.get_bytes(i) {
                None => out.extend_from_slice(b"null"),
                Some(text) => value(out, &mut self.scratch, *encoding, text),
            }
        }
        if self.keys.is_empty() {
            out.push(b'{');
        }
        out.push(b'}');
    }
}

/// Append the JSON of one non-null value whose text form is `text`.
fn value(out: &mut Vec<u8>, scratch: &mut Vec<u8>, encoding: Encoding, text: &[u8]) {
    match encoding {
        Encoding::Number | Encoding::Json => out.extend_from_slice(text),
        Encoding::Float => match text {
            b"NaN" | b"Infinity" | b"-Infinity" => string(out, text),
            _ => out.extend_from_slice(text),
        },
        Encoding::Bool => out.extend_from_slice(if text == b"t" { b"true" } else { b"false" }),
        Encoding::Text => string(out, text),
        Encoding::Timestamptz => timestamp(out, text, b"+00"),
        Encoding::Timestamp => timestamp(out, text, b""),
        Encoding::Bytea => bytea(out, scratch, text),
    }
}

/// A JSON string of UTF-8 text (the session's encoding is UTF8).
fn string(out: &mut Vec<u8>, text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    serde_json::to_writer(&mut *out, text.as_ref()).expect("a string encodes");
}

/// `2024-01-02 03:04:05.5{zone}` as `"2024-01-02T03:04:05.5Z"`; anything
/// else (`infinity`, years BC, beyond 9999) as PostgreSQL prints it.
fn timestamp(out: &mut Vec<u8>, text: &[u8], zone: &[u8]) {
    let Some(local) = text.strip_suffix(zone) else {
        return string(out, text);
    };
    let iso = local.len() >= 19
        && local[10] == b' '
        && local[4] == b'-'
        && local[..4].iter().all(u8::is_ascii_digit)
        && local[11..]
            .iter()
            .all(|b| b.is_ascii_digit() || *b == b':' || *b == b'.');
    if !iso {
        return string(out, text);
    }
    out.push(b'"');
    out.extend_from_slice(&local[..10]);
    out.push(b'T');
    out.extend_from_slice(&local[11..]);
    out.extend_from_slice(b"Z\"");
}

/// `\x0a0b` (bytea's hex output) as a base64 string.
fn bytea(out: &mut Vec<u8>, scratch: &mut Vec<u8>, text: &[u8]) {
    let Some(hex) = text.strip_prefix(b"\\x") else {
        return string(out, text);
    };
    scratch.clear();
    for pair in hex.chunks_exact(2) {
        scratch.push(nibble(pair[0]) << 4 | nibble(pair[1]));
    }
    out.push(b'"');
    let start = out.len();
    let encoded_len = scratch.len().div_ceil(3) * 4;
    out.resize(start + encoded_len, 0);
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(&scratch[..], &mut out[start..])
        .expect("sized for the encoding");
    out.truncate(start + written);
    out.push(b'"');
}

fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(encoding: Encoding, text: &str) -> String {
        let mut out = Vec::new();
        value(&mut out, &mut Vec::new(), encoding, text.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn values_keep_their_exact_form() {
        assert_eq!(one(Encoding::Number, "-42"), "-42");
        assert_eq!(one(Encoding::Float, "1.5e+300"), "1.5e+300");
        assert_eq!(one(Encoding::Float, "NaN"), "\"NaN\"");
        assert_eq!(one(Encoding::Bool, "t"), "true");
        assert_eq!(
            one(Encoding::Text, "12345678901234567.89"),
            "\"12345678901234567.89\""
        );
        assert_eq!(one(Encoding::Text, "a\t\"b\"\n\\"), r#""a\t\"b\"\n\\""#);
        assert_eq!(
            one(Encoding::Timestamptz, "2024-01-02 03:04:05.123456+00"),
            "\"2024-01-02T03:04:05.123456Z\""
        );
        assert_eq!(
            one(Encoding::Timestamp, "2024-01-02 03:04:05"),
            "\"2024-01-02T03:04:05Z\""
        );
        assert_eq!(one(Encoding::Timestamptz, "infinity"), "\"infinity\"");
        assert_eq!(
            one(Encoding::Timestamptz, "0044-03-15 12:00:00+00 BC"),
            "\"0044-03-15 12:00:00+00 BC\""
        );
        assert_eq!(one(Encoding::Bytea, "\\x00ff10"), "\"AP8Q\"");
        assert_eq!(one(Encoding::Bytea, "\\x"), "\"\"");
        assert_eq!(one(Encoding::Json, "{\"a\": [1, 2]}"), "{\"a\": [1, 2]}");
    }
}
