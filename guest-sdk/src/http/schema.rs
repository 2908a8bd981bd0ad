//! JSON Schemas of the client's settings, for a connector's config schema:
//! each describes the shape its type deserialises from, with the SDK's
//! defaults.
//!
//! The secret parts of [`auth`] are marked `"secret": true` on properties
//! of the `auth` object itself (not inside `oneOf` branches), which is
//! where the host looks for secrets to redact.

use serde_json::{Value, json};

/// `{"type": "bearer" | "header" | "query" | "basic" | "none", ...}`:
/// [`Auth`](super::Auth). `token`, `value` and `password` are secrets.
///
/// ```
/// let schema = serde_json::json!({"type": "object", "properties": {"auth": sluice_guest::http::schema::auth()}});
/// assert_eq!(
///     sluice_guest::protocol::secret_fields(&schema),
///     ["auth.token", "auth.value", "auth.password"]
/// );
/// ```
pub fn auth() -> Value {
    let when = |kind: &str, required: &[&str]| {
        json!({
            "if": {"properties": {"type": {"const": kind}}, "required": ["type"]},
            "then": {"required": required}
        })
    };
    json!({
        "type": "object",
        "description": "How requests prove who sends them; the credentials go only to the base URL's host.",
        "required": ["type"],
        "additionalProperties": false,
        "properties": {
            "type": {"enum": ["none", "bearer", "header", "query", "basic"],
                     "description": "bearer: `Authorization: Bearer <token>`; header: `<name>: <value>`; query: `?<name>=<value>`; basic: `Authorization: Basic` of `<username>:<password>`."},
            "token": {"type": "string", "minLength": 1, "secret": true, "description": "The bearer token."},
            "name": {"type": "string", "minLength": 1, "description": "The header or query parameter name."},
            "value": {"type": "string", "minLength": 1, "secret": true, "description": "The header or query parameter value."},
            "username": {"type": "string", "description": "The basic-auth user name."},
            "password": {"type": "string", "secret": true, "description": "The basic-auth password."}
        },
        "allOf": [
            when("bearer", &["token"]),
            when("header", &["name", "value"]),
            when("query", &["name", "value"]),
            when("basic", &["username", "password"])
        ]
    })
}

/// `{"connect_ms", "first_byte_ms", "between_bytes_ms"}`:
/// [`Timeouts`](super::Timeouts).
pub fn timeouts() -> Value {
    let d = super::Timeouts::default();
    let ms = |default: u64, what: &str| {
        json!({"type": "integer", "minimum": 0, "default": default,
               "description": format!("{what}, in milliseconds (0: the host's own)." )})
    };
    json!({
        "type": "object",
        "description": "Per-request timeouts, handed to the host.",
        "additionalProperties": false,
        "default": {"connect_ms": d.connect_ms, "first_byte_ms": d.first_byte_ms, "between_bytes_ms": d.between_bytes_ms},
        "properties": {
            "connect_ms": ms(d.connect_ms, "Setting up the connection"),
            "first_byte_ms": ms(d.first_byte_ms, "Waiting for the first byte of the response"),
            "between_bytes_ms": ms(d.between_bytes_ms, "Waiting between two bytes of the response")
        }
    })
}

/// `{"max_retries", "base_ms", "max_ms"}`: [`Retry`](super::Retry).
pub fn retry() -> Value {
    let d = super::Retry::default();
    json!({
        "type": "object",
        "description": "Retries on 408, 429, 5xx and connection errors: exponential backoff with full jitter, or the server's Retry-After.",
        "additionalProperties": false,
        "default": {"max_retries": d.max_retries, "base_ms": d.base_ms, "max_ms": d.max_ms},
        "properties": {
            "max_retries": {"type": "integer", "minimum": 0, "maximum": 100, "default": d.max_retries,
                            "description": "Retries after the first attempt."},
            "base_ms": {"type": "integer", "minimum": 0, "default": d.base_ms,
                        "description": "The first backoff's upper bound; doubled each retry."},
            "max_ms": {"type": "integer", "minimum": 0, "default": d.max_ms,
                       "description": "The largest delay, and the longest Retry-After honoured."}
        }
    })
}

/// `{"type": "none" | "page_number" | "offset" | "cursor" | "next_url" |
/// "link_header", ...}`: [`Pagination`](super::Pagination).
pub fn pagination() -> Value {
    let name = |default: &str, what: &str| json!({"type": "string", "minLength": 1, "default": default, "description": what});
    let optional_name = |default: &str, what: &str| json!({"type": ["string", "null"], "minLength": 1, "default": default, "description": what});
    let size = json!({"type": "integer", "minimum": 1, "default": 100, "description": "Records asked for per page."});
    let path = |what: &str| json!({"type": "string", "minLength": 1, "description": what});
    let styles = [
        ("none", json!({})),
        (
            "page_number",
            json!({
                "page_param": name("page", "The page number's query parameter."),
                "size_param": optional_name("per_page", "The page size's query parameter (null: not sent)."),
                "size": size,
                "start": {"type": "integer", "minimum": 0, "default": 1, "description": "The first page's number."}
            }),
        ),
        (
            "offset",
            json!({
                "offset_param": name("offset", "The offset's query parameter."),
                "limit_param": optional_name("limit", "The page size's query parameter (null: not sent)."),
                "limit": size
            }),
        ),
        (
            "cursor",
            json!({
                "cursor_path": path("Where the next cursor is in the body (dotted path or JSON pointer)."),
                "cursor_param": name("cursor", "The query parameter carrying the cursor.")
            }),
        ),
        (
            "next_url",
            json!({"next_url_path": path("Where the next page's URL is in the body (dotted path or JSON pointer).")}),
        ),
        ("link_header", json!({})),
    ];
    let branches: Vec<Value> = styles
        .iter()
        .map(|(kind, props)| style_branch(kind, props))
        .collect();
    json!({
        "type": "object",
        "description": "How the endpoint pages; every style also stops at a page without records.",
        "required": ["type"],
        "default": {"type": "none"},
        "properties": {
            "type": {"enum": styles.iter().map(|(k, _)| *k).collect::<Vec<_>>()}
        },
        "allOf": branches
    })
}

/// `if type == kind then only these properties` (plus `type`); the
/// cursor and next-URL paths are required.
fn style_branch(kind: &str, props: &Value) -> Value {
    let mut properties = props.as_object().cloned().unwrap_or_default();
    properties.insert("type".into(), json!({"const": kind}));
    let required: Vec<&str> = ["cursor_path", "next_url_path"]
        .into_iter()
        .filter(|r| properties.contains_key(*r))
        .collect();
    json!({
        "if": {"properties": {"type": {"const": kind}}, "required": ["type"]},
        "then": {"properties": properties, "required": required, "additionalProperties": false}
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Auth, Pagination, Retry, Timeouts};
    use sluice_protocol::config::validate_config;

    fn check(schema: &Value, value: Value) -> Result<Value, String> {
        validate_config(schema, value).map_err(|e| e.message)
    }

    #[test]
    fn auth_requires_the_parts_of_its_type_and_hides_them() {
        let schema = auth();
        let ok = check(
            &schema,
            json!({"type": "header", "name": "X-Api-Key", "value": "T"}),
        )
        .unwrap();
        assert!(matches!(
            serde_json::from_value(ok).unwrap(),
            Auth::Header { .. }
        ));
        let e = check(&schema, json!({"type": "basic", "username": "u"})).unwrap_err();
        assert!(e.contains("password"), "{e}");
        let e = check(&schema, json!({"type": "bearer", "token": 5})).unwrap_err();
        assert!(!e.contains('5'), "a secret's value is not echoed: {e}");
        assert!(check(&schema, json!({"type": "oauth"})).is_err());
    }

    #[test]
    fn pagination_styles_take_their_own_fields_only() {
        let schema = pagination();
        for style in [
            json!({"type": "none"}),
            json!({"type": "page_number", "page_param": "p", "size": 10, "start": 0}),
            json!({"type": "offset", "limit_param": null}),
            json!({"type": "cursor", "cursor_path": "next_cursor"}),
            json!({"type": "next_url", "next_url_path": "next"}),
            json!({"type": "link_header"}),
        ] {
            let value = check(&schema, style.clone()).unwrap_or_else(|e| panic!("{style}: {e}"));
            serde_json::from_value::<Pagination>(value).unwrap();
        }
        let e = check(&schema, json!({"type": "offset", "page_param": "p"})).unwrap_err();
        assert!(e.contains("page_param"), "{e}");
        assert!(check(&schema, json!({"type": "cursor"})).is_err());
    }

    #[test]
    fn defaults_deserialise_to_the_sdk_defaults() {
        let t = timeouts();
        let r = retry();
        let timeouts: Timeouts = serde_json::from_value(t["default"].clone()).unwrap();
        let retry: Retry = serde_json::from_value(r["default"].clone()).unwrap();
        assert_eq!(timeouts, Timeouts::default());
        assert_eq!(retry, Retry::default());
    }
}
