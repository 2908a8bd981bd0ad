//! The `Link` header (RFC 8288), as paginated APIs use it:
//! `<https://api.example.com/items?page=2>; rel="next", <...>; rel="last"`.
//!
//! A small parser of its own: the crate for this (`parse_link_header`
//! 0.4) strips every quote and space before splitting at commas, so a
//! target holding a comma, a quoted parameter holding one, `rel="prev
//! next"` or a query parameter without `=` defeat it (the last fails the
//! whole header).

/// One link of a `Link` header: its target (as written, maybe relative)
/// and its relation types (lower-case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The URI reference between `<` and `>`.
    pub target: String,
    /// The `rel` parameter's relation types, lower-cased.
    pub rel: Vec<String>,
}

/// The links of a `Link` header value (several headers joined with `, `
/// are one value). Entries that are not `<target>; params` are skipped.
///
/// ```
/// use sluice_guest::http::parse_link_header;
/// let links = parse_link_header(r#"<https://x.test/a?page=2>; rel="next", </a?page=9>; rel=last"#);
/// assert_eq!(links[0].target, "https://x.test/a?page=2");
/// assert_eq!(links[0].rel, ["next"]);
/// assert_eq!(links[1].rel, ["last"]);
/// ```
pub fn parse_link_header(value: &str) -> Vec<Link> {
    split_outside_quotes(value, ',')
        .into_iter()
        .filter_map(parse_entry)
        .collect()
}

/// The target of the first link whose relation types hold `next`.
///
/// ```
/// use sluice_guest::http::next_link;
/// assert_eq!(next_link(r#"<b>; rel="prev", <c>; rel="next last""#), Some("c".to_string()));
/// assert_eq!(next_link(r#"<b>; rel="prev""#), None);
/// ```
pub fn next_link(value: &str) -> Option<String> {
    parse_link_header(value)
        .into_iter()
        .find(|l| l.rel.iter().any(|r| r == "next"))
        .map(|l| l.target)
}

fn parse_entry(entry: &str) -> Option<Link> {
    let entry = entry.trim();
    let rest = entry.strip_prefix('<')?;
    let (target, params) = rest.split_once('>')?;
    let mut rel = Vec::new();
    for param in split_outside_quotes(params, ';') {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("rel") && rel.is_empty() {
            rel = unquote(value.trim())
                .split_ascii_whitespace()
                .map(str::to_ascii_lowercase)
                .collect();
        }
    }
    Some(Link {
        target: target.trim().to_string(),
        rel,
    })
}

/// `text` split at each `sep` outside `"..."` and `<...>`.
fn split_outside_quotes(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut quoted, mut bracketed, mut escaped) = (false, false, false);
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' if !bracketed => quoted = !quoted,
            '<' if !quoted => bracketed = true,
            '>' if !quoted => bracketed = false,
            c if c == sep && !quoted && !bracketed => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A parameter value without its quotes (and quoted-pair escapes).
fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_style_headers() {
        let value = r#"<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last""#;
        let links = parse_link_header(value);
        assert_eq!(links.len(), 2);
        assert_eq!(
            next_link(value).as_deref(),
            Some("https://api.github.com/repositories/1/issues?page=2")
        );
    }

    #[test]
    fn commas_and_semicolons_inside_targets_and_quotes_do_not_split() {
        let value = r#"<http://x.test/a?ids=1,2;3>; title="a, b; c"; rel="next""#;
        let links = parse_link_header(value);
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].target, "http://x.test/a?ids=1,2;3");
        assert_eq!(links[0].rel, ["next"]);
    }

    #[test]
    fn rel_is_case_insensitive_and_may_list_several_types() {
        assert_eq!(next_link(r#"<a>; REL="Prev Next""#).as_deref(), Some("a"));
        assert_eq!(next_link("<a>;rel=next").as_deref(), Some("a"));
        assert_eq!(
            next_link(r#"<a>; rel="prev", <b>; rel="next""#).as_deref(),
            Some("b")
        );
        assert_eq!(next_link(r#"<a>; rel="nextpage""#), None);
        assert_eq!(unquote(r#""a\"b""#), r#"a"b"#);
    }

    #[test]
    fn flags_without_values_in_targets_are_kept() {
        let value = r#"<http://x.test/a?page=2&flag>; rel="next""#;
        assert_eq!(
            next_link(value).as_deref(),
            Some("http://x.test/a?page=2&flag")
        );
    }

    #[test]
    fn malformed_entries_are_skipped() {
        assert!(parse_link_header("").is_empty());
        assert!(parse_link_header("garbage").is_empty());
        let links = parse_link_header(r#"nope, <b>; rel="next""#);
        assert_eq!(links.len(), 1);
        assert_eq!(next_link(r#"<c>"#), None);
    }
}
