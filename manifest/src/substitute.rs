//! `${ENV}` in pipeline files.

use crate::{Error, Result};
use serde_json::Value;

/// Replace `${NAME}` in `text` with the environment variable `NAME`.
pub(crate) fn substitute(text: &str, key: &str, file: &str) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(Error {
                file: file.into(),
                message: format!("`{key}`: `${{` without a closing `}}`"),
            });
        };
        let var = &after[..end];
        let value = std::env::var(var).map_err(|_| Error {
            file: file.into(),
            message: format!(
                "`{key}` uses ${{{var}}}, but the environment variable {var} is not set"
            ),
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

pub(crate) fn substitute_json(value: &mut Value, key: &str, file: &str) -> Result<()> {
    match value {
        Value::String(s) => *s = substitute(s, key, file)?,
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                substitute_json(v, &format!("{key}[{i}]"), file)?;
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                substitute_json(v, &format!("{key}.{k}"), file)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The values of the environment variables `text` names as `${NAME}`
/// (those that are set).
pub(crate) fn env_values(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        if let Ok(v) = std::env::var(&after[..end]) {
            out.push(v);
        }
        rest = &after[end + 1..];
    }
    out
}

/// [`env_values`] of every string in `value`.
pub(crate) fn env_values_json(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => env_values(s),
        Value::Array(items) => items.iter().flat_map(env_values_json).collect(),
        Value::Object(map) => map.values().flat_map(env_values_json).collect(),
        _ => Vec::new(),
    }
}
