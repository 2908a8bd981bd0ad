//! `sluice_protocol::config`: a connector's config checked against the
//! JSON Schema in its spec, defaults applied, secrets redacted.
//!
//! Input: `<schema JSON> 0xFF <config text>` (0xFF never occurs in UTF-8,
//! so it cannot clash with either part; without it the whole input is the
//! schema and the config is empty). Nothing may panic, and the redaction
//! must keep its promise, checked against an independent walk of the
//! schema: every value at a secret path of the config is replaced by
//! `REDACTED` in `redact`'s output and listed by `secret_values`.
//!
//! Known divergences (docs/fuzzing.md, "Findings") are tolerated unless
//! `SLUICE_FUZZ_STRICT=1`: secret property names that are empty or contain
//! `.`, `/` or `~`, secrets under arrays, empty-string secrets, and
//! defaults inside a defaulted object.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sluice_protocol::config::{
    REDACTED, apply_defaults, redact, secret_values, validate_config, validated_config,
};

/// Secret paths of `schema` as lists of property names (not dotted
/// strings, so names with dots stay intact).
fn secret_paths(schema: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, prop) in props {
        prefix.push(name.clone());
        let marked = |k: &str| prop.get(k).and_then(Value::as_bool) == Some(true);
        if marked("secret") || marked("airbyte_secret") {
            out.push(prefix.clone());
        }
        secret_paths(prop, prefix, out);
        prefix.pop();
    }
}

/// The value at `path`, following objects only.
fn at<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, k| v.as_object()?.get(k))
}

/// Whether `redacted` hides what is at `path`: it holds `REDACTED` there
/// or at an ancestor (a secret object redacted as a whole).
fn hidden(redacted: &Value, path: &[String]) -> bool {
    let mut node = redacted;
    for k in path {
        if node.as_str() == Some(REDACTED) {
            return true;
        }
        match node.as_object().and_then(|o| o.get(k)) {
            Some(next) => node = next,
            None => return false,
        }
    }
    node.as_str() == Some(REDACTED)
}

/// Whether a path hits one of the known, reported divergences.
fn known_divergence(path: &[String]) -> bool {
    path.iter()
        .any(|k| k.is_empty() || k.contains('.') || k.contains('/') || k.contains('~'))
}

fn check_redaction(schema: &Value, config: &Value) {
    let strict = sluice_fuzz::strict();
    let redacted = redact(schema, config);
    // Redacting twice changes nothing more.
    assert_eq!(redact(schema, &redacted), redacted);
    let values = secret_values(schema, config);
    let mut paths = Vec::new();
    secret_paths(schema, &mut Vec::new(), &mut paths);
    assert_eq!(
        paths.len(),
        sluice_protocol::secret_fields(schema).len(),
        "secret_fields finds as many secrets as an independent walk"
    );
    let mut expected = Vec::new();
    for path in &paths {
        if !strict && known_divergence(path) {
            continue;
        }
        let Some(value) = at(config, path) else {
            continue;
        };
        assert!(
            hidden(&redacted, path),
            "secret {path:?} is not redacted\nconfig:   {config}\nredacted: {redacted}"
        );
        match value {
            Value::Null => {}
            Value::String(s) if s.is_empty() => {}
            Value::String(s) => expected.push(s.clone()),
            other => expected.push(other.to_string()),
        }
    }
    for v in &expected {
        assert!(
            values.contains(v),
            "secret value {v:?} is not in secret_values {values:?}\nconfig: {config}"
        );
    }
    if strict {
        // Nothing else: not "\"\"" for an empty string, not values reached
        // through arrays.
        for v in &values {
            assert!(
                expected.contains(v),
                "secret_values has {v:?}, which is no secret of the config\nconfig: {config}\nexpected: {expected:?}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |b| *b == 0xff);
    let schema_bytes = parts.next().unwrap_or_default();
    let config_bytes = parts.next().unwrap_or_default();
    let Ok(schema) = serde_json::from_slice::<Value>(schema_bytes) else {
        return;
    };
    let _ = sluice_protocol::secret_fields(&schema);
    let Ok(config_text) = std::str::from_utf8(config_bytes) else {
        return;
    };

    let checked = validated_config(&schema, config_text);
    let config: Value = if config_text.trim().is_empty() {
        Value::Object(Default::default())
    } else {
        match serde_json::from_str(config_text) {
            Ok(v) => v,
            Err(_) => {
                assert!(checked.is_err(), "invalid JSON accepted as a config");
                return;
            }
        }
    };
    // validated_config is validate_config of the parsed text.
    let direct = validate_config(&schema, config.clone());
    assert_eq!(checked.is_ok(), direct.is_ok());
    if let (Ok(a), Ok(b)) = (&checked, &direct) {
        assert_eq!(a, b);
    }
    if let Err(e) = &direct {
        let _ = e.to_string();
    }

    let mut defaulted = config.clone();
    apply_defaults(&schema, &mut defaulted);
    if sluice_fuzz::strict() {
        // Defaults apply "at any depth" in one go, so a second pass adds
        // nothing (known divergence: not inside a defaulted object).
        let mut twice = defaulted.clone();
        apply_defaults(&schema, &mut twice);
        assert_eq!(twice, defaulted, "a second apply_defaults added more");
    }

    check_redaction(&schema, &config);
    check_redaction(&schema, &defaulted);
});
