//! Turning a [`Step`] into an [`Action`]: check every field it names
//! against the schema at its position and compute the schema after it.
//!
//! Schema effects: `rename` renames in place; `select` keeps the listed
//! fields in the listed order; `drop` removes; `upper`/`lower` need a
//! `string` field and keep it; `hash` and `mask` make the field a `string`
//! (required-ness kept); `set` adds or replaces the field, required, with
//! the constant's type (`now()` is a `timestamp`; `null` keeps an existing
//! field's type and makes it optional); `filter` only checks its fields.

use crate::error::Problem;
use crate::filter::Predicate;
use crate::secret::Secret;
use crate::step::Step;
use serde_json::Value;
use sluice_schema::{Field, Schema, Type};

/// The string a `set` step writes for "the time of the transform".
pub const NOW: &str = "now()";

/// A step ready to run on records.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    Rename {
        from: String,
        to: String,
    },
    Select(Vec<String>),
    Drop(Vec<String>),
    Upper(String),
    Lower(String),
    Hash {
        field: String,
        salt: Secret,
    },
    Mask {
        field: String,
        keep_last: usize,
    },
    Set {
        field: String,
        value: Constant,
    },
    Filter(Predicate),
    /// Drop records with a non-null value in any of these fields, and the
    /// (null) fields from the records kept.
    DropRows(Vec<String>),
}

/// What a `set` step writes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Constant {
    Value(Value),
    Now,
}

/// Check `step` against `schema` (when known), update it, and compile.
pub(crate) fn step(step: &Step, schema: Option<&mut Schema>) -> Result<Action, Problem> {
    let action = action(step.clone())?;
    if let Some(schema) = schema {
        reshape(step, schema)?;
    }
    Ok(action)
}

/// The action of a step; a `component` has none.
fn action(step: Step) -> Result<Action, Problem> {
    Ok(match step {
        Step::Rename { from, to } => Action::Rename { from, to },
        Step::Select(names) => Action::Select(names),
        Step::Drop(names) => Action::Drop(names),
        Step::Upper(field) => Action::Upper(field),
        Step::Lower(field) => Action::Lower(field),
        Step::Hash { field, salt } => Action::Hash { field, salt },
        Step::Mask { field, keep_last } => Action::Mask { field, keep_last },
        Step::Set { field, value } if value == NOW => Action::Set {
            field,
            value: Constant::Now,
        },
        Step::Set { field, value } => Action::Set {
            field,
            value: Constant::Value(value),
        },
        Step::Filter(p) => Action::Filter(p),
        Step::Component { path, .. } => return Err(Problem::Component { path }),
    })
}

/// The schema effect of one step, with its checks.
fn reshape(step: &Step, schema: &mut Schema) -> Result<(), Problem> {
    match step {
        Step::Rename { from, to } => rename(schema, from, to),
        Step::Select(names) => select(schema, names),
        Step::Drop(names) => {
            names.iter().try_for_each(|n| index(schema, n).map(drop))?;
            schema.fields.retain(|f| !names.contains(&f.name));
            Ok(())
        }
        Step::Upper(field) | Step::Lower(field) => {
            let f = &schema.fields[index(schema, field)?];
            match f.ty {
                Type::String => Ok(()),
                _ => Err(Problem::NotAString {
                    field: field.clone(),
                    ty: describe(&f.ty),
                }),
            }
        }
        Step::Hash { field, .. } | Step::Mask { field, .. } => {
            let i = index(schema, field)?;
            schema.fields[i].ty = Type::String;
            schema.fields[i].default = None;
            Ok(())
        }
        Step::Set { field, value } => set(schema, field, value),
        Step::Filter(p) => p
            .fields()
            .into_iter()
            .try_for_each(|n| index(schema, n).map(drop)),
        Step::Component { .. } => Ok(()),
    }
}

/// The position of field `name`, or the error listing the known fields.
fn index(schema: &Schema, name: &str) -> Result<usize, Problem> {
    schema
        .fields
        .iter()
        .position(|f| f.name == name)
        .ok_or_else(|| Problem::UnknownField {
            field: name.to_string(),
            known: schema.names().into_iter().map(str::to_string).collect(),
        })
}

fn rename(schema: &mut Schema, from: &str, to: &str) -> Result<(), Problem> {
    let i = index(schema, from)?;
    if from != to && schema.field(to).is_some() {
        return Err(Problem::NameTaken {
            from: from.to_string(),
            to: to.to_string(),
        });
    }
    schema.fields[i].name = to.to_string();
    Ok(())
}

fn select(schema: &mut Schema, names: &[String]) -> Result<(), Problem> {
    let mut kept = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(Problem::Duplicate(name.clone()));
        }
        kept.push(schema.fields[index(schema, name)?].clone());
    }
    schema.fields = kept;
    Ok(())
}

fn set(schema: &mut Schema, name: &str, value: &Value) -> Result<(), Problem> {
    let position = schema.fields.iter().position(|f| f.name == name);
    let field = match (value, position) {
        (Value::Null, Some(i)) => Field::optional(name, schema.fields[i].ty.clone()),
        (Value::String(s), _) if s == NOW => Field::required(name, Type::Timestamp),
        _ => Field::required(name, infer(value).map_err(|reason| untyped(name, reason))?),
    };
    match position {
        Some(i) => schema.fields[i] = field,
        None => schema.fields.push(field),
    }
    Ok(())
}

fn untyped(field: &str, reason: &'static str) -> Problem {
    Problem::UntypedConstant {
        field: field.to_string(),
        reason,
    }
}

/// The type of a JSON constant: lists of one type are arrays of it, lists
/// of several are arrays of their union, tables are structs.
fn infer(value: &Value) -> Result<Type, &'static str> {
    Ok(match value {
        Value::Null => return Err("it is null, and the stream has no such field"),
        Value::Bool(_) => Type::Boolean,
        Value::Number(n) if n.is_i64() => Type::Int64,
        Value::Number(_) => Type::Float64,
        Value::String(_) => Type::String,
        Value::Array(items) => Type::Array(Box::new(element_type(items)?)),
        Value::Object(map) => Type::Struct(
            map.iter()
                .map(|(k, v)| Ok(Field::required(k.clone(), infer(v)?)))
                .collect::<Result<_, &'static str>>()?,
        ),
    })
}

fn element_type(items: &[Value]) -> Result<Type, &'static str> {
    let mut types: Vec<Type> = Vec::new();
    for item in items {
        let t = infer(item).map_err(|_| "a list holds a null")?;
        if !types.contains(&t) {
            types.push(t);
        }
    }
    match types.len() {
        0 => Err("it is an empty list"),
        1 => Ok(types.remove(0)),
        _ => Ok(Type::Union(types)),
    }
}

/// A type as people write it: `string`, `int64`, `array`, ...
pub(crate) fn describe(ty: &Type) -> String {
    let name = match ty {
        Type::Decimal { precision, scale } => return format!("decimal({precision}, {scale})"),
        Type::Array(_) => "an array",
        Type::Map(_) => "a map",
        Type::Struct(_) => "a struct",
        Type::Union(_) => "a union",
        other => return format!("{other:?}").to_lowercase(),
    };
    name.to_string()
}

/// `drop fields` of a schema policy: names the schema lacks are ignored.
pub(crate) fn drop_fields(names: &[String], schema: Option<&mut Schema>) -> Action {
    if let Some(schema) = schema {
        schema.fields.retain(|f| !names.contains(&f.name));
    }
    Action::Drop(names.to_vec())
}

/// `drop rows` of a schema policy: the fields leave the schema too.
pub(crate) fn drop_rows(names: &[String], schema: Option<&mut Schema>) -> Action {
    if let Some(schema) = schema {
        schema.fields.retain(|f| !names.contains(&f.name));
    }
    Action::DropRows(names.to_vec())
}
