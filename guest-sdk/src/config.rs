//! Config parsing: JSON text -> defaults applied -> validated against the
//! spec's JSON Schema -> the connector's `Config` type.

use crate::{ConnectorError, Result};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sluice_protocol::{Spec, secret_fields};

/// Parse `text` as the config of a connector with `spec`.
///
/// Top-level `default`s of the schema fill missing properties; every schema
/// violation is reported with the field's path, and values of secret fields
/// are never echoed.
pub fn parse_config<T: DeserializeOwned>(spec: &Spec, text: &str) -> Result<T> {
    let value = validated_config(&spec.config_schema, text)?;
    serde_json::from_value(value)
        .map_err(|e| ConnectorError::config(format!("config does not fit the connector: {e}")))
}

/// The config `text` with defaults applied, checked against `schema`.
pub(crate) fn validated_config(schema: &Value, text: &str) -> Result<Value> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    let mut value: Value = serde_json::from_str(text)
        .map_err(|e| ConnectorError::config(format!("config is not valid JSON: {e}")))?;
    apply_defaults(schema, &mut value);
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| ConnectorError::internal(format!("the spec's config schema is invalid: {e}")))?;
    let secrets = secret_fields(schema);
    let problems: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| {
            let pointer = e.instance_path().to_string();
            let field = pointer.trim_start_matches('/').replace('/', ".");
            let secret = secrets
                .iter()
                .any(|s| field == *s || field.starts_with(&format!("{s}.")));
            let message = if secret {
                e.masked().to_string()
            } else {
                e.to_string()
            };
            if field.is_empty() {
                format!("config: {message}")
            } else {
                format!("config field `{field}`: {message}")
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(value)
    } else {
        Err(ConnectorError::config(problems.join("; ")))
    }
}

/// Fill properties missing from `value` with their schema `default`, at any
/// depth of nested objects.
pub(crate) fn apply_defaults(schema: &Value, value: &mut Value) {
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

    #[test]
    fn errors_name_the_field() {
        let e = validated_config(&schema(), r#"{"path": "/in", "count": 0}"#).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Config);
        assert!(e.message.contains("config field `count`"), "{}", e.message);
        let e = validated_config(&schema(), r#"{"count": 2}"#).unwrap_err();
        assert!(e.message.contains("\"path\" is a required property"), "{}", e.message);
    }

    #[test]
    fn secret_values_are_not_echoed() {
        let e = validated_config(&schema(), r#"{"path": "/in", "token": "hunter2"}"#).unwrap_err();
        assert!(e.message.contains("config field `token`"), "{}", e.message);
        assert!(!e.message.contains("hunter2"), "{}", e.message);
    }

    #[test]
    fn bad_json_is_a_config_error() {
        let e = validated_config(&schema(), "{nope").unwrap_err();
        assert!(e.message.starts_with("config is not valid JSON"), "{}", e.message);
    }
}
