//! What changed between two versions of a schema, and which type changes
//! are safe widenings.
//!
//! [`diff`] walks the old schema's fields in order, then lists the new
//! fields. Paths are dotted for struct fields (`address.city`), with `[]`
//! for an array's items and `{}` for a map's values (`tags[]`,
//! `orders[].total`). A struct whose new version [widens](widens()) the old
//! one is reported by its nested changes; any other struct change is one
//! [`Change::Incompatible`] at the struct. Defaults are not compared.

use std::fmt;

use crate::{Field, Schema, Type};

/// One difference between an old and a new schema.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A field only the new schema has.
    Added {
        /// The field's path.
        path: String,
        /// Its type.
        ty: Type,
    },
    /// A field only the old schema has.
    Removed {
        /// The field's path.
        path: String,
    },
    /// A type change that is a safe widening.
    Widened {
        /// The field's path.
        path: String,
        /// The old type.
        from: Type,
        /// The new type.
        to: Type,
    },
    /// A type change that is not a safe widening.
    Incompatible {
        /// The field's path.
        path: String,
        /// The old type.
        from: Type,
        /// The new type.
        to: Type,
    },
    /// A required field became optional.
    Optional {
        /// The field's path.
        path: String,
    },
    /// An optional field became required.
    Required {
        /// The field's path.
        path: String,
    },
}

impl Change {
    /// The path of the field this change is about.
    pub fn path(&self) -> &str {
        match self {
            Change::Added { path, .. }
            | Change::Removed { path }
            | Change::Widened { path, .. }
            | Change::Incompatible { path, .. }
            | Change::Optional { path }
            | Change::Required { path } => path,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Added { path, ty } => write!(f, "field `{path}` was added with type {ty}"),
            Change::Removed { path } => write!(f, "field `{path}` was removed"),
            Change::Widened { path, from, to } => {
                write!(f, "field `{path}` widened from {from} to {to}")
            }
            Change::Incompatible { path, from, to } => write!(
                f,
                "field `{path}` changed type from {from} to {to}, which is not a safe widening"
            ),
            Change::Optional { path } => write!(f, "field `{path}` became optional"),
            Change::Required { path } => write!(f, "field `{path}` became required"),
        }
    }
}

/// The changes from `old` to `new`: for each old field in order, removed
/// or its type and required changes; then each added field in order.
pub fn diff(old: &Schema, new: &Schema) -> Vec<Change> {
    let mut changes = Vec::new();
    diff_fields("", &old.fields, &new.fields, &mut changes);
    changes
}

/// The changes of one field present in both versions, its path `path`.
pub(crate) fn diff_field(path: &str, old: &Field, new: &Field, out: &mut Vec<Change>) {
    diff_type(path, &old.ty, &new.ty, out);
    let path = path.to_string();
    match (old.required, new.required) {
        (true, false) => out.push(Change::Optional { path }),
        (false, true) => out.push(Change::Required { path }),
        _ => {}
    }
}

fn diff_fields(prefix: &str, old: &[Field], new: &[Field], out: &mut Vec<Change>) {
    for before in old {
        let path = join(prefix, &before.name);
        match find(new, &before.name) {
            Some(after) => diff_field(&path, before, after, out),
            None => out.push(Change::Removed { path }),
        }
    }
    for after in new.iter().filter(|f| find(old, &f.name).is_none()) {
        out.push(Change::Added {
            path: join(prefix, &after.name),
            ty: after.ty.clone(),
        });
    }
}

fn diff_type(path: &str, old: &Type, new: &Type, out: &mut Vec<Change>) {
    if old == new {
        return;
    }
    let (from, to) = (old.clone(), new.clone());
    match (old, new) {
        (Type::Struct(a), Type::Struct(b)) if widens(old, new) => diff_fields(path, a, b, out),
        (Type::Array(a), Type::Array(b)) => diff_type(&format!("{path}[]"), a, b, out),
        (Type::Map(a), Type::Map(b)) => diff_type(&format!("{path}{{}}"), a, b, out),
        _ if widens(old, new) => out.push(Change::Widened {
            path: path.into(),
            from,
            to,
        }),
        _ => out.push(Change::Incompatible {
            path: path.into(),
            from,
            to,
        }),
    }
}

/// Whether every value of type `from` is also a value of type `to`, so a
/// destination column of type `to` can take the old data as it is.
///
/// Every type widens to itself. Beyond that: `int8` < `int16` < `int32` <
/// `int64`; any integer to `float64`; `int8`/`int16` to `float32`;
/// `float32` to `float64`; `decimal(p,s)` to `decimal(p2,s2)` when `s2 >=
/// s` and `p2-s2 >= p-s`; an integer to a decimal with enough integer
/// digits (3, 5, 10, 19 for int8..int64); arrays and maps when their items
/// widen; a type to a union with a member it widens to, and a union to a
/// type every member widens to; a struct to a struct that has every old
/// field (by name, in any order) with a type the old one widens to, and
/// possibly more fields. Required flags are not types: they are reported
/// as [`Change::Optional`] / [`Change::Required`]. Everything else
/// (`string` to `int64`, `int64` to `string`, `float64` to `decimal`,
/// `timestamp` to `string`, ...) is not a widening.
pub fn widens(from: &Type, to: &Type) -> bool {
    if from == to {
        return true;
    }
    match (from, to) {
        (Type::Union(members), _) => members.iter().all(|m| widens(m, to)),
        (_, Type::Union(members)) => members.iter().any(|m| widens(from, m)),
        (Type::Array(a), Type::Array(b)) | (Type::Map(a), Type::Map(b)) => widens(a, b),
        (Type::Struct(a), Type::Struct(b)) => struct_widens(a, b),
        (Type::Float32, Type::Float64) => true,
        (
            Type::Decimal { precision, scale },
            Type::Decimal {
                precision: p2,
                scale: s2,
            },
        ) => s2 >= scale && integer_digits(*p2, *s2) >= integer_digits(*precision, *scale),
        _ => int_widens(from, to),
    }
}

fn int_widens(from: &Type, to: &Type) -> bool {
    let Some(rank) = int_rank(from) else {
        return false;
    };
    match to {
        Type::Float64 => true,
        Type::Float32 => rank <= 1,
        Type::Decimal { precision, scale } => {
            integer_digits(*precision, *scale) >= [3, 5, 10, 19][rank]
        }
        other => int_rank(other).is_some_and(|r| r >= rank),
    }
}

fn int_rank(ty: &Type) -> Option<usize> {
    match ty {
        Type::Int8 => Some(0),
        Type::Int16 => Some(1),
        Type::Int32 => Some(2),
        Type::Int64 => Some(3),
        _ => None,
    }
}

/// Digits before the point (negative when the scale exceeds the precision).
fn integer_digits(precision: u8, scale: u8) -> i16 {
    i16::from(precision) - i16::from(scale)
}

fn struct_widens(old: &[Field], new: &[Field]) -> bool {
    old.iter()
        .all(|before| find(new, &before.name).is_some_and(|after| widens(&before.ty, &after.ty)))
}

fn find<'a>(fields: &'a [Field], name: &str) -> Option<&'a Field> {
    fields.iter().find(|f| f.name == name)
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
