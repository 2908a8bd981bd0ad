//! The predicate of a `filter` step: what it is, how it reads from a
//! pipeline file, and how it is evaluated on a record.
//!
//! Semantics, chosen to be predictable rather than clever:
//! - a missing field is the same as `null`;
//! - numbers compare numerically (`1 = 1.0`), strings lexically (by
//!   Unicode scalar value, i.e. byte order of UTF-8), booleans only with
//!   `=`, `!=` and `in`;
//! - a comparison between values of different kinds (a string field
//!   against a number, or a null field against anything) is **false**,
//!   for `!=` too: `country != "NL"` drops rows without a country. Write
//!   `any = [{ field = "country", op = "!=", value = "NL" }, { field =
//!   "country", op = "is null" }]` to keep them;
//! - `not` is plain negation of its predicate, so it does keep those rows;
//! - `all = []` is true and `any = []` is false.

use serde::Deserialize;
use serde_json::{Map, Number, Value};
use std::cmp::Ordering;

/// A condition on a record; the record passes the filter when it holds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawPredicate")]
pub enum Predicate {
    /// A test of one top-level field: `{ field, op, value }`.
    Field {
        /// The field's name.
        field: String,
        /// The operator and its operand.
        test: Test,
    },
    /// Every one holds: `{ all = [...] }`.
    All(Vec<Predicate>),
    /// At least one holds: `{ any = [...] }`.
    Any(Vec<Predicate>),
    /// The predicate does not hold: `{ not = {...} }`.
    Not(Box<Predicate>),
}

/// An operator with its operand, as checked when the config is read.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `=`: equal (a boolean, number or string).
    Eq(Value),
    /// `!=`: of the same kind and not equal.
    Ne(Value),
    /// `<` (a number or string).
    Lt(Value),
    /// `<=` (a number or string).
    Le(Value),
    /// `>` (a number or string).
    Gt(Value),
    /// `>=` (a number or string).
    Ge(Value),
    /// `in`: equal to one of the list.
    In(Vec<Value>),
    /// `is null`: null or missing.
    IsNull,
    /// `is not null`: present and not null.
    IsNotNull,
}

/// The operators as written in a pipeline file.
#[derive(Debug, Clone, Copy, Deserialize)]
enum Op {
    #[serde(rename = "=", alias = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "in")]
    In,
    #[serde(rename = "is null")]
    IsNull,
    #[serde(rename = "is not null")]
    IsNotNull,
}

/// Every key a predicate table may have; checked in [`Predicate::try_from`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPredicate {
    field: Option<String>,
    op: Option<Op>,
    value: Option<Value>,
    all: Option<Vec<Predicate>>,
    any: Option<Vec<Predicate>>,
    not: Option<Box<Predicate>>,
}

impl TryFrom<RawPredicate> for Predicate {
    type Error = String;

    fn try_from(raw: RawPredicate) -> Result<Predicate, String> {
        let field_keys = raw.field.is_some() || raw.op.is_some() || raw.value.is_some();
        let kinds = [
            field_keys,
            raw.all.is_some(),
            raw.any.is_some(),
            raw.not.is_some(),
        ];
        match kinds.iter().filter(|k| **k).count() {
            0 => return Err(NEEDS_ONE.to_string()),
            1 => {}
            _ => return Err(format!("{NEEDS_ONE}, not several in one table")),
        }
        if let Some(all) = raw.all {
            return Ok(Predicate::All(all));
        }
        if let Some(any) = raw.any {
            return Ok(Predicate::Any(any));
        }
        if let Some(not) = raw.not {
            return Ok(Predicate::Not(not));
        }
        let field = raw.field.ok_or("a filter condition needs `field`")?;
        let op = raw
            .op
            .ok_or_else(|| format!("the condition on `{field}` needs `op`"))?;
        let test = test(op, raw.value).map_err(|e| format!("the condition on `{field}`: {e}"))?;
        Ok(Predicate::Field { field, test })
    }
}

const NEEDS_ONE: &str =
    "a filter needs either `field` and `op` (and `value`), or one of `all`, `any`, `not`";

/// Check an operator's operand and pair them.
fn test(op: Op, value: Option<Value>) -> Result<Test, String> {
    let scalar = |v: Option<Value>, name: &str| match v {
        Some(v @ (Value::Bool(_) | Value::Number(_) | Value::String(_))) => Ok(v),
        Some(_) => Err(format!(
            "`{name}` needs a boolean, number or string `value`"
        )),
        None => Err(format!("`{name}` needs a `value`")),
    };
    let ordered = |v: Option<Value>, name: &str| match v {
        Some(v @ (Value::Number(_) | Value::String(_))) => Ok(v),
        _ => Err(format!("`{name}` needs a number or string `value`")),
    };
    let none = |v: Option<Value>, t: Test, name: &str| match v {
        None => Ok(t),
        Some(_) => Err(format!("`{name}` takes no `value`")),
    };
    match op {
        Op::Eq => scalar(value, "=").map(Test::Eq),
        Op::Ne => scalar(value, "!=").map(Test::Ne),
        Op::Lt => ordered(value, "<").map(Test::Lt),
        Op::Le => ordered(value, "<=").map(Test::Le),
        Op::Gt => ordered(value, ">").map(Test::Gt),
        Op::Ge => ordered(value, ">=").map(Test::Ge),
        Op::In => match value {
            Some(Value::Array(list)) => Ok(Test::In(list)),
            _ => Err("`in` needs a list `value`".to_string()),
        },
        Op::IsNull => none(value, Test::IsNull, "is null"),
        Op::IsNotNull => none(value, Test::IsNotNull, "is not null"),
    }
}

impl Predicate {
    /// Whether the record satisfies the predicate.
    pub fn matches(&self, record: &Map<String, Value>) -> bool {
        match self {
            Predicate::Field { field, test } => {
                test.holds(record.get(field.as_str()).unwrap_or(&Value::Null))
            }
            Predicate::All(all) => all.iter().all(|p| p.matches(record)),
            Predicate::Any(any) => any.iter().any(|p| p.matches(record)),
            Predicate::Not(not) => !not.matches(record),
        }
    }

    /// Every field the predicate names, in order, with repeats.
    pub fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Predicate::Field { field, .. } => out.push(field),
            Predicate::All(ps) | Predicate::Any(ps) => {
                ps.iter().for_each(|p| p.collect_fields(out));
            }
            Predicate::Not(p) => p.collect_fields(out),
        }
    }
}

impl Test {
    /// Whether a field's value (`null` when missing) passes.
    pub fn holds(&self, value: &Value) -> bool {
        match self {
            Test::Eq(v) => compare(value, v) == Some(Ordering::Equal),
            Test::Ne(v) => matches!(compare(value, v), Some(o) if o != Ordering::Equal),
            Test::Lt(v) => compare(value, v) == Some(Ordering::Less),
            Test::Le(v) => matches!(compare(value, v), Some(Ordering::Less | Ordering::Equal)),
            Test::Gt(v) => compare(value, v) == Some(Ordering::Greater),
            Test::Ge(v) => matches!(compare(value, v), Some(Ordering::Greater | Ordering::Equal)),
            Test::In(list) => list
                .iter()
                .any(|v| compare(value, v) == Some(Ordering::Equal)),
            Test::IsNull => value.is_null(),
            Test::IsNotNull => !value.is_null(),
        }
    }
}

/// The order of two values of the same kind; `None` for different kinds,
/// nulls, and kinds without an order (arrays and objects only compare
/// equal or not).
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => compare_numbers(a, b),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) if a == b => {
            Some(Ordering::Equal)
        }
        _ => None,
    }
}

/// Integers compare exactly; anything involving a float compares as `f64`.
fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (a.as_i64(), b.as_i64()) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (a.as_u64(), b.as_u64()) {
        return Some(a.cmp(&b));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(v: Value) -> Predicate {
        serde_json::from_value(v).unwrap()
    }

    fn row(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn numbers_compare_numerically_and_strings_lexically() {
        let adult = p(json!({"field": "age", "op": ">=", "value": 18}));
        assert!(adult.matches(&row(json!({"age": 18}))));
        assert!(adult.matches(&row(json!({"age": 18.5}))));
        assert!(!adult.matches(&row(json!({"age": 9}))));
        let late = p(json!({"field": "name", "op": ">", "value": "m"}));
        assert!(late.matches(&row(json!({"name": "zoe"}))));
        assert!(!late.matches(&row(json!({"name": "Zoe"}))));
        assert!(p(json!({"field": "x", "op": "=", "value": 1})).matches(&row(json!({"x": 1.0}))));
    }

    #[test]
    fn less_than_matches_below_and_rejects_at_and_above() {
        let minor = p(json!({"field": "age", "op": "<", "value": 18}));
        assert_eq!(
            minor,
            Predicate::Field {
                field: "age".into(),
                test: Test::Lt(json!(18))
            }
        );
        assert!(minor.matches(&row(json!({"age": 17}))));
        assert!(minor.matches(&row(json!({"age": 17.5}))));
        assert!(minor.matches(&row(json!({"age": -1}))));
        assert!(!minor.matches(&row(json!({"age": 18}))));
        assert!(!minor.matches(&row(json!({"age": 18.0}))));
        assert!(!minor.matches(&row(json!({"age": 30}))));
        assert!(
            !minor.matches(&row(json!({"age": "17"}))),
            "a string is not below 18"
        );
        assert!(!minor.matches(&row(json!({"age": null}))));
        assert!(
            !minor.matches(&row(json!({}))),
            "a missing field is not below 18"
        );
        let early = p(json!({"field": "name", "op": "<", "value": "m"}));
        assert!(early.matches(&row(json!({"name": "ada"}))));
        assert!(
            early.matches(&row(json!({"name": "Zoe"}))),
            "upper case sorts first"
        );
        assert!(!early.matches(&row(json!({"name": "m"}))));
        assert!(!early.matches(&row(json!({"name": "zoe"}))));
        let big = p(json!({"field": "n", "op": "<", "value": 9007199254740993_i64}));
        assert!(big.matches(&row(json!({"n": 9007199254740992_i64}))));
        assert!(!big.matches(&row(json!({"n": 9007199254740993_i64}))));
    }

    #[test]
    fn at_most_matches_below_and_at_and_rejects_above() {
        let at_most = p(json!({"field": "age", "op": "<=", "value": 18}));
        assert_eq!(
            at_most,
            Predicate::Field {
                field: "age".into(),
                test: Test::Le(json!(18))
            }
        );
        assert!(at_most.matches(&row(json!({"age": 17}))));
        assert!(at_most.matches(&row(json!({"age": 18}))));
        assert!(at_most.matches(&row(json!({"age": 18.0}))));
        assert!(!at_most.matches(&row(json!({"age": 18.5}))));
        assert!(!at_most.matches(&row(json!({"age": 19}))));
        assert!(!at_most.matches(&row(json!({"age": "18"}))));
        assert!(!at_most.matches(&row(json!({}))));
        let upto_m = p(json!({"field": "name", "op": "<=", "value": "m"}));
        assert!(upto_m.matches(&row(json!({"name": "m"}))));
        assert!(upto_m.matches(&row(json!({"name": "ada"}))));
        assert!(!upto_m.matches(&row(json!({"name": "ma"}))));
        assert!(
            err(json!({"field": "a", "op": "<=", "value": [1]}))
                .contains("`<=` needs a number or string")
        );
    }

    #[test]
    fn mismatched_kinds_and_nulls_are_false_even_for_not_equal() {
        let ne = p(json!({"field": "age", "op": "!=", "value": 18}));
        assert!(!ne.matches(&row(json!({"age": "18"}))));
        assert!(!ne.matches(&row(json!({}))));
        assert!(ne.matches(&row(json!({"age": 19}))));
        let ge = p(json!({"field": "age", "op": ">=", "value": 18}));
        assert!(!ge.matches(&row(json!({"age": "99"}))));
        let not = p(json!({"not": {"field": "age", "op": "=", "value": 18}}));
        assert!(not.matches(&row(json!({}))));
    }

    #[test]
    fn in_and_null_tests() {
        let nl_be = p(json!({"field": "country", "op": "in", "value": ["NL", "BE"]}));
        assert!(nl_be.matches(&row(json!({"country": "BE"}))));
        assert!(!nl_be.matches(&row(json!({"country": "DE"}))));
        let null = p(json!({"field": "vip", "op": "is null"}));
        assert!(null.matches(&row(json!({"vip": null}))));
        assert!(null.matches(&row(json!({}))));
        assert!(!null.matches(&row(json!({"vip": false}))));
        let some = p(json!({"field": "vip", "op": "is not null"}));
        assert!(some.matches(&row(json!({"vip": false}))));
    }

    #[test]
    fn nested_all_and_any() {
        let f = p(json!({"all": [
            {"field": "age", "op": ">=", "value": 18},
            {"any": [
                {"field": "country", "op": "in", "value": ["NL", "BE"]},
                {"field": "vip", "op": "is not null"}
            ]}
        ]}));
        assert!(f.matches(&row(json!({"age": 20, "country": "NL"}))));
        assert!(f.matches(&row(json!({"age": 20, "country": "DE", "vip": true}))));
        assert!(!f.matches(&row(json!({"age": 20, "country": "DE"}))));
        assert!(!f.matches(&row(json!({"age": 17, "country": "NL"}))));
        assert_eq!(f.fields(), ["age", "country", "vip"]);
        assert!(p(json!({"all": []})).matches(&row(json!({}))));
        assert!(!p(json!({"any": []})).matches(&row(json!({}))));
    }

    #[test]
    fn big_integers_compare_exactly() {
        let f = p(json!({"field": "n", "op": ">", "value": 9007199254740992_i64}));
        assert!(f.matches(&row(json!({"n": 9007199254740993_i64}))));
    }

    fn err(v: Value) -> String {
        serde_json::from_value::<Predicate>(v)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn malformed_predicates_are_refused_with_the_reason() {
        assert!(err(json!({"field": "a", "op": "~", "value": 1})).contains("unknown variant `~`"));
        assert!(
            err(json!({"field": "a", "op": "=", "valeu": 1})).contains("unknown field `valeu`")
        );
        assert!(err(json!({"field": "a", "op": "in", "value": 1})).contains("`in` needs a list"));
        assert!(err(json!({"field": "a", "op": "is null", "value": 1})).contains("takes no"));
        assert!(err(json!({"field": "a", "op": "<", "value": true})).contains("number or string"));
        assert!(err(json!({"field": "a", "op": "="})).contains("needs a `value`"));
        assert!(err(json!({"field": "a"})).contains("needs `op`"));
        assert!(err(json!({})).contains("a filter needs either"));
        assert!(err(json!({"field": "a", "op": "is null", "all": []})).contains("not several"));
    }
}
