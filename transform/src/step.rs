//! [`Step`]: one transform of a stream as written in a pipeline file, one
//! `[[streams.transforms]]` table each, whose single key names the step.
//!
//! ```toml
//! [[streams.transforms]]
//! rename = { from = "email", to = "email_address" }
//! [[streams.transforms]]
//! select = ["id", "name"]
//! [[streams.transforms]]
//! hash = { field = "email", salt = "s3cret" }
//! [[streams.transforms]]
//! component = "transforms/my.wasm"
//! ```
//!
//! A table with no step key, an unknown key or two step keys is a serde
//! error naming the key(s). [`split`] cuts a list at its `component` steps,
//! which the host runtime runs; [`Plan`](crate::Plan) runs the rest.

use crate::filter::Predicate;
use crate::secret::Secret;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// One declarative transform of a stream's records.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `rename = { from, to }`: rename a field, keeping its position.
    Rename {
        /// The current name.
        from: String,
        /// The new name; no other field may have it.
        to: String,
    },
    /// `select = [...]`: keep only these fields, in this order.
    Select(Vec<String>),
    /// `drop = [...]`: remove these fields.
    Drop(Vec<String>),
    /// `upper = "field"`: upper-case a string field.
    Upper(String),
    /// `lower = "field"`: lower-case a string field.
    Lower(String),
    /// `hash = { field, salt }`: replace the value by the hex SHA-256 of
    /// the salt followed by the value's text.
    Hash {
        /// The field.
        field: String,
        /// Prepended to the value before hashing.
        salt: Secret,
    },
    /// `mask = { field, keep_last }`: replace all but the last characters
    /// by `*`.
    Mask {
        /// The field.
        field: String,
        /// How many trailing characters stay readable.
        keep_last: usize,
    },
    /// `set = { field, value }`: add or replace a field with a constant;
    /// the string `"now()"` means the time the batch is transformed.
    Set {
        /// The field.
        field: String,
        /// Any JSON constant, or `"now()"`.
        value: Value,
    },
    /// `filter = {...}`: keep only the records the predicate holds for.
    Filter(Predicate),
    /// `component = "path.wasm"` or `component = { path, config }`: a wasm
    /// transform that the host runtime runs; a [`Plan`](crate::Plan) does not.
    Component {
        /// The component file, relative to the pipeline file.
        path: String,
        /// The component's own configuration.
        config: Option<Value>,
        /// Its sandbox limits (`memory_mib`, `fuel`, `timeout_ms`, ...), as
        /// a connector's `limits` table; the host's defaults when absent.
        limits: Option<Value>,
    },
}

/// The step keys, in the order the docs list them.
pub const STEP_KEYS: &[&str] = &[
    "rename",
    "select",
    "drop",
    "upper",
    "lower",
    "hash",
    "mask",
    "set",
    "filter",
    "component",
];

impl Step {
    /// The key naming the step in a pipeline file, e.g. `"hash"`.
    pub fn key(&self) -> &'static str {
        match self {
            Step::Rename { .. } => "rename",
            Step::Select(_) => "select",
            Step::Drop(_) => "drop",
            Step::Upper(_) => "upper",
            Step::Lower(_) => "lower",
            Step::Hash { .. } => "hash",
            Step::Mask { .. } => "mask",
            Step::Set { .. } => "set",
            Step::Filter(_) => "filter",
            Step::Component { .. } => "component",
        }
    }

    /// The secrets the step holds (non-empty salts), which the host scrubs
    /// from every log line and error it prints.
    pub fn secret_values(&self) -> Vec<&str> {
        match self {
            Step::Hash { salt, .. } if !salt.expose().is_empty() => vec![salt.expose()],
            _ => Vec::new(),
        }
    }

    /// Whether this is a `component` step, run by the host, not by a plan.
    pub fn is_component(&self) -> bool {
        matches!(self, Step::Component { .. })
    }
}

/// A run of a stream's step list: either steps a [`Plan`](crate::Plan)
/// runs, or one `component` step for the host.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment<'a> {
    /// Consecutive non-component steps; pass them with `offset` to
    /// [`Plan::then_steps`](crate::Plan::then_steps) so errors keep the
    /// numbers of the pipeline file.
    Steps {
        /// How many steps of the list come before these.
        offset: usize,
        /// The steps.
        steps: &'a [Step],
    },
    /// A `component` step.
    Component {
        /// Its 1-based number in the list.
        number: usize,
        /// The component file.
        path: &'a str,
        /// Its configuration.
        config: Option<&'a Value>,
        /// Its sandbox limits, as written.
        limits: Option<&'a Value>,
    },
}

/// Cut a step list at its `component` steps, keeping order.
pub fn split(steps: &[Step]) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, step) in steps.iter().enumerate() {
        if let Step::Component {
            path,
            config,
            limits,
        } = step
        {
            if start < i {
                out.push(Segment::Steps {
                    offset: start,
                    steps: &steps[start..i],
                });
            }
            out.push(Segment::Component {
                number: i + 1,
                path,
                config: config.as_ref(),
                limits: limits.as_ref(),
            });
            start = i + 1;
        }
    }
    if start < steps.len() {
        out.push(Segment::Steps {
            offset: start,
            steps: &steps[start..],
        });
    }
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameArgs {
    from: String,
    to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HashArgs {
    field: String,
    salt: Secret,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaskArgs {
    field: String,
    keep_last: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetArgs {
    field: String,
    value: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentTable {
    path: String,
    #[serde(default)]
    config: Option<Value>,
    #[serde(default)]
    limits: Option<Value>,
}

/// `component = "path"` or `component = { path, config }`.
struct ComponentArgs(ComponentTable);

impl<'de> Deserialize<'de> for ComponentArgs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ComponentArgs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a component path or a table with `path` and `config`")
            }
            fn visit_str<E: de::Error>(self, path: &str) -> Result<ComponentArgs, E> {
                Ok(ComponentArgs(ComponentTable {
                    path: path.to_string(),
                    config: None,
                    limits: None,
                }))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ComponentArgs, A::Error> {
                let d = de::value::MapAccessDeserializer::new(map);
                ComponentTable::deserialize(d).map(ComponentArgs)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Step, D::Error> {
        d.deserialize_map(StepVisitor)
    }
}

struct StepVisitor;

impl<'de> Visitor<'de> for StepVisitor {
    type Value = Step;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a transform table with one step key (")?;
        f.write_str(&STEP_KEYS.join(", "))?;
        f.write_str(")")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Step, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom(format!(
                "a transform table needs one step key, one of {}",
                STEP_KEYS.join(", ")
            )));
        };
        let step = step_value(&key, &mut map)?;
        if let Some(extra) = map.next_key::<String>()? {
            return Err(de::Error::custom(format!(
                "a transform table has one step key, found `{key}` and `{extra}`; \
                 start a new [[streams.transforms]] table for each step"
            )));
        }
        Ok(step)
    }
}

/// Read the value of step key `key`.
fn step_value<'de, A: MapAccess<'de>>(key: &str, map: &mut A) -> Result<Step, A::Error> {
    Ok(match key {
        "rename" => {
            let RenameArgs { from, to } = map.next_value()?;
            Step::Rename { from, to }
        }
        "select" => Step::Select(map.next_value()?),
        "drop" => Step::Drop(map.next_value()?),
        "upper" => Step::Upper(map.next_value()?),
        "lower" => Step::Lower(map.next_value()?),
        "hash" => {
            let HashArgs { field, salt } = map.next_value()?;
            Step::Hash { field, salt }
        }
        "mask" => {
            let MaskArgs { field, keep_last } = map.next_value()?;
            Step::Mask { field, keep_last }
        }
        "set" => {
            let SetArgs { field, value } = map.next_value()?;
            Step::Set { field, value }
        }
        "filter" => Step::Filter(map.next_value()?),
        "component" => {
            let ComponentArgs(ComponentTable {
                path,
                config,
                limits,
            }) = map.next_value()?;
            Step::Component {
                path,
                config,
                limits,
            }
        }
        other => {
            return Err(de::Error::custom(format!(
                "unknown transform `{other}`, expected one of {}",
                STEP_KEYS.join(", ")
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(v: Value) -> Step {
        serde_json::from_value(v).unwrap()
    }

    fn err(v: Value) -> String {
        serde_json::from_value::<Step>(v).unwrap_err().to_string()
    }

    #[test]
    fn every_step_key_reads() {
        let r = step(json!({"rename": {"from": "a", "to": "b"}}));
        assert_eq!(
            r,
            Step::Rename {
                from: "a".into(),
                to: "b".into()
            }
        );
        assert_eq!(
            step(json!({"select": ["a"]})),
            Step::Select(vec!["a".into()])
        );
        assert_eq!(step(json!({"drop": ["a"]})), Step::Drop(vec!["a".into()]));
        assert_eq!(step(json!({"upper": "a"})), Step::Upper("a".into()));
        assert_eq!(step(json!({"lower": "a"})), Step::Lower("a".into()));
        let h = step(json!({"hash": {"field": "a", "salt": "s"}}));
        assert_eq!(
            h,
            Step::Hash {
                field: "a".into(),
                salt: Secret::new("s")
            }
        );
        let m = step(json!({"mask": {"field": "a", "keep_last": 4}}));
        assert_eq!(
            m,
            Step::Mask {
                field: "a".into(),
                keep_last: 4
            }
        );
        let s = step(json!({"set": {"field": "a", "value": [1]}}));
        assert_eq!(
            s,
            Step::Set {
                field: "a".into(),
                value: json!([1])
            }
        );
        let f = step(json!({"filter": {"field": "a", "op": "is null"}}));
        assert_eq!(f.key(), "filter");
    }

    #[test]
    fn a_component_is_a_path_or_a_table() {
        let c = step(json!({"component": "t.wasm"}));
        assert_eq!(
            c,
            Step::Component {
                path: "t.wasm".into(),
                config: None,
                limits: None,
            }
        );
        let c = step(json!({"component": {"path": "t.wasm", "config": {"n": 1}}}));
        assert_eq!(
            c,
            Step::Component {
                path: "t.wasm".into(),
                config: Some(json!({"n": 1})),
                limits: None,
            }
        );
        assert!(err(json!({"component": {"path": "t", "cfg": 1}})).contains("unknown field `cfg`"));
    }

    #[test]
    fn unknown_missing_or_extra_keys_are_named() {
        assert!(err(json!({"uppercase": "a"})).contains("unknown transform `uppercase`"));
        let two = err(json!({"upper": "a", "lower": "b"}));
        assert!(two.contains("`upper` and `lower`"), "{two}");
        assert!(err(json!({})).contains("needs one step key"));
        let inner = err(json!({"rename": {"from": "a", "too": "b"}}));
        assert!(inner.contains("unknown field `too`"), "{inner}");
        assert!(err(json!({"mask": {"field": "a"}})).contains("missing field `keep_last`"));
        assert!(err(json!("upper")).contains("a transform table"));
    }

    #[test]
    fn secrets_are_listed_and_never_printed() {
        let h = step(json!({"hash": {"field": "a", "salt": "s3cret"}}));
        assert_eq!(h.secret_values(), ["s3cret"]);
        assert!(!format!("{h:?}").contains("s3cret"));
        assert!(step(json!({"upper": "a"})).secret_values().is_empty());
        let empty = step(json!({"hash": {"field": "a", "salt": ""}}));
        assert!(empty.secret_values().is_empty());
    }

    #[test]
    fn split_cuts_at_components_keeping_numbers() {
        let steps = vec![
            Step::Upper("a".into()),
            Step::Component {
                path: "c.wasm".into(),
                config: None,
                limits: None,
            },
            Step::Lower("a".into()),
            Step::Drop(vec!["b".into()]),
        ];
        let parts = split(&steps);
        assert_eq!(parts.len(), 3);
        assert_eq!(
            parts[0],
            Segment::Steps {
                offset: 0,
                steps: &steps[..1]
            }
        );
        assert_eq!(
            parts[1],
            Segment::Component {
                number: 2,
                path: "c.wasm",
                config: None,
                limits: None,
            }
        );
        assert_eq!(
            parts[2],
            Segment::Steps {
                offset: 2,
                steps: &steps[2..]
            }
        );
        assert!(split(&[]).is_empty());
    }
}
