//! Writing SQL and COPY text safely: quoted identifiers and literals, and
//! values in `COPY ... (FORMAT text)` encoding.

/// `name` as a quoted identifier: `"my ""table"""`.
pub fn ident(name: &str) -> String {
    postgres_protocol::escape::escape_identifier(name)
}

/// `schema.name`, both quoted.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// `value` as a quoted literal: `'it''s'` (or `E'...'` with backslashes).
pub fn literal(value: &str) -> String {
    postgres_protocol::escape::escape_literal(value)
}

/// A comma-separated list of quoted identifiers.
pub fn ident_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names.into_iter().map(ident).collect::<Vec<_>>().join(", ")
}

/// Append `value` to a COPY text row: backslash, tab, newline and carriage
/// return escaped.
pub fn copy_text(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// The COPY text spelling of NULL.
pub const COPY_NULL: &[u8] = b"\\N";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_copy_reads_specially() {
        let mut out = Vec::new();
        copy_text(&mut out, "a\tb\nc\\d\re");
        assert_eq!(out, b"a\\tb\\nc\\\\d\\re");
        out.clear();
        copy_text(&mut out, "plain ünïcode 'quotes'");
        assert_eq!(out, "plain ünïcode 'quotes'".as_bytes());
    }

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(ident("my \"t\""), "\"my \"\"t\"\"\"");
        assert_eq!(qualified("public", "users"), "\"public\".\"users\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(ident_list(["a", "b"]), "\"a\", \"b\"");
    }
}
