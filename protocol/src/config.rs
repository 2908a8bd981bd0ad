//! Config handling shared by host and guests: defaults from the spec's
//! JSON Schema, validation with field paths (the `validate` feature), and
//! secret redaction.

use crate::{ConnectorError, json_pointer, secret_paths};
use serde_json::Value;

type Result<T> = std::result::Result<T, ConnectorError>;

/// What stands in for a secret value wherever a config is shown.
pub const REDACTED: &str = "**********";

/// The config `text` with defaults applied, checked against `schema`.
///
/// Every schema violation is reported with the field's path (as
/// ``config field `a.b`: ...``); values of secret fields are never echoed.
pub fn validated_config(schema: &Value, text: &str) -> Result<Value> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ConnectorError::config(format!("config is not valid JSON: {e}")))?;
    validate_config(schema, value)
}

/// [`validated_config`] for a config that is already a JSON value.
///
/// With the `validate` feature off (the default in guests), only the
/// defaults are applied: the host validates every config against the
/// spec before any call, and a connector's deserialiser still refuses a
/// config that does not fit its types.
pub fn validate_config(schema: &Value, mut value: Value) -> Result<Value> {
    apply_defaults(schema, &mut value);
    check(schema, &value)?;
    Ok(value)
}

/// Every violation of `schema` by `value`, each naming its field.
#[cfg(feature = "validate")]
fn check(schema: &Value, value: &Value) -> Result<()> {
    let validator = jsonschema::validator_for(schema).map_err(|e| {
        ConnectorError::internal(format!("the spec's config schema is invalid: {e}"))
    })?;
    let secrets: Vec<String> = secret_paths(schema)
        .iter()
        .map(|p| json_pointer(p))
        .collect();
    // A secret pasted into another field must not be echoed either.
    let mut values = secret_values(schema, value);
    values.retain(|v| v.len() >= 4);
    let scrub = |text: String| {
        values.iter().fold(text, |text, v| {
            let quoted = Value::String(v.clone()).to_string();
            let escaped = &quoted[1..quoted.len() - 1];
            text.replace(v.as_str(), REDACTED)
                .replace(escaped, REDACTED)
        })
    };
    let problems: Vec<String> = validator
        .iter_errors(value)
        .map(|e| {
            let pointer = e.instance_path().to_string();
            let field = pointer.trim_start_matches('/').replace('/', ".");
            let secret = secrets
                .iter()
                .any(|s| pointer == *s || pointer.starts_with(&format!("{s}/")));
            let message = if secret {
                e.masked().to_string()
            } else {
                scrub(e.to_string())
            };
            if field.is_empty() {
                format!("config: {message}")
            } else {
                format!("config field `{field}`: {message}")
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConnectorError::config(problems.join("; ")))
    }
}

/// Without the `validate` feature the host's check is the only one.
#[cfg(not(feature = "validate"))]
fn check(_schema: &Value, _value: &Value) -> Result<()> {
    Ok(())
}

/// A copy of `config` with the value of every secret field of `schema`
/// replaced by [`REDACTED`]: safe to log, store or print.
pub fn redact(schema: &Value, config: &Value) -> Value {
    let mut out = config.clone();
    for path in secret_paths(schema) {
        if let Some(v) = out.pointer_mut(&json_pointer(&path)) {
            *v = Value::String(REDACTED.into());
        }
    }
    out
}

/// The values of the secret fields of `config` (non-empty), so that text
/// can be scrubbed of them.
pub fn secret_values(schema: &Value, config: &Value) -> Vec<String> {
    secret_paths(schema)
        .iter()
        .filter_map(|path| match config.pointer(&json_pointer(path))? {
            Value::String(s) => (!s.is_empty()).then(|| s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        })
        .collect()
}

/// Fill properties missing from `value` with their schema `default`, at any
/// depth of nested objects.
pub fn apply_defaults(schema: &Value, value: &mut Value) {
    let (Some(props), Some(obj)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object_mut(),
    ) else {
        return;
    };
    for (name, prop) in props {
        match obj.get_mut(name) {
            Some(existing) => apply_defaults(prop, existing),
            None => {
                if let Some(default) = prop.get("default") {
                    obj.insert(name.clone(), default.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["path"],
            "properties": {
                "path": {"type": "string"},
                "count": {"type": "integer", "minimum": 1, "default": 10},
                "token": {"type": "string", "minLength": 8, "secret": true}
            },
            "additionalProperties": false
        })
    }

    #[test]
    fn defaults_fill_missing_fields() {
        let v = validated_config(&schema(), r#"{"path": "/in"}"#).unwrap();
        assert_eq!(v, json!({"path": "/in", "count": 10}));
    }

    #[cfg(feature = "validate")]
    #[test]
    fn errors_name_the_field() {
        let e = validated_config(&schema(), r#"{"path": "/in", "count": 0}"#).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Config);
        assert!(e.message.contains("config field `count`"), "{}", e.message);
        let e = validated_config(&schema(), r#"{"count": 2}"#).unwrap_err();
        assert!(
            e.message.contains("\"path\" is a required property"),
            "{}",
            e.message
        );
    }

    #[test]
    fn secrets_whose_names_hold_dots_or_slashes_are_found() {
        let schema = json!({
            "type": "object",
            "properties": {
                "a.b": {"type": "string", "secret": true},
                "c/d": {"type": "string", "secret": true},
                "empty": {"type": "string", "secret": true}
            }
        });
        let config = json!({"a.b": "first-secret", "c/d": "second-secret", "empty": ""});
        let mut values = secret_values(&schema, &config);
        values.sort();
        assert_eq!(values, ["first-secret", "second-secret"]);
        let redacted = redact(&schema, &config).to_string();
        assert!(
            !redacted.contains("first-secret") && !redacted.contains("second-secret"),
            "{redacted}"
        );
    }

    #[cfg(feature = "validate")]
    #[test]
    fn a_secret_pasted_into_another_field_is_not_echoed() {
        let schema = json!({
            "type": "object",
            "properties": {
                "token": {"type": "string", "secret": true},
                "count": {"type": "integer"}
            }
        });
        let e = validate_config(&schema, json!({"token": "s3cr3t-x", "count": "s3cr3t-x"}))
            .unwrap_err()
            .message;
        assert!(
            e.contains("config field `count`") && !e.contains("s3cr3t-x"),
            "{e}"
        );
    }

    #[cfg(feature = "validate")]
    #[test]
    fn secret_values_are_not_echoed() {
        let e = validated_config(&schema(), r#"{"path": "/in", "token": "hunter2"}"#).unwrap_err();
        assert!(e.message.contains("config field `token`"), "{}", e.message);
        assert!(!e.message.contains("hunter2"), "{}", e.message);
    }

    #[test]
    fn redaction_hides_secrets_only() {
        let config = json!({"path": "/in", "token": "hunter2hunter2"});
        assert_eq!(
            redact(&schema(), &config),
            json!({"path": "/in", "token": REDACTED})
        );
        assert_eq!(
            secret_values(&schema(), &config),
            vec!["hunter2hunter2".to_string()]
        );
    }

    #[test]
    fn bad_json_is_a_config_error() {
        let e = validated_config(&schema(), "{nope").unwrap_err();
        assert!(
            e.message.starts_with("config is not valid JSON"),
            "{}",
            e.message
        );
    }
}
