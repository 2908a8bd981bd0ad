//! Schema evolution policies, after dlt's schema contracts for columns and
//! data types: what a destination is told when a stream's schema changes,
//! and what happens to the records that do not fit.
//!
//! [`evolve`] compares the schema a destination was last told (`known`)
//! with the one a source now reports (`incoming`), using [`diff`](crate::diff()):
//!
//! | change | `evolve` | `freeze` | `discard_value` | `discard_row` |
//! |---|---|---|---|---|
//! | new field ([`Policy::new_fields`]) | appended as declared | [`Violation`] | left out, in `drop_fields` | left out, in `drop_rows_with` |
//! | widened type ([`Policy::type_changes`]) | the wider type | [`Violation`] | old type (made optional), in `drop_fields` | old type, in `drop_rows_with` |
//! | type change that does not widen | [`Violation`] | [`Violation`] | as for a widening | as for a widening |
//! | removed field | kept, made optional | same | same | same |
//! | required -> optional | made optional | same | same | same |
//! | optional -> required | stays optional (earlier records lack it) | same | same | same |
//!
//! New fields are told as the source declares them (required flag and
//! default included), after all the known fields, in the source's order.
//! A field whose values are discarded is told as optional, since records
//! then lack it.
//!
//! Changes inside a struct (`address.zip` added, `orders[].total` widened)
//! are judged one by one under the policy of their kind, but records are
//! trimmed or dropped by top-level field: the top-level field goes into
//! `drop_fields` / `drop_rows_with` (the strongest action wins: a dropped
//! row over a dropped value) and keeps its known type; messages name the
//! nested path. When a struct field evolves, its nested fields are merged
//! like the row's: known fields first, new ones appended. (A struct that
//! loses a field does not [widen](crate::widens), so that is a type change
//! that does not widen.)
//!
//! When nothing changed, [`Evolution::schema`] is exactly `known`; the
//! first time (`known` is `None`) the incoming schema is accepted as it is
//! and no changes are listed.

// A `Violation` carries the refused `Change` (two types) by value; it
// ends a stream's run at most once, so its size costs nothing.
#![allow(clippy::result_large_err)]

use serde::{Deserialize, Serialize};

use crate::diff::diff_field;
use crate::{Change, Field, Schema, Type, widens};

/// What to do with one kind of schema change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Tell the destination the new schema.
    #[default]
    Evolve,
    /// Refuse the change: [`evolve`] returns a [`Violation`].
    Freeze,
    /// Keep the known schema and drop the field's values from records.
    DiscardValue,
    /// Keep the known schema and drop (and count) records that have a
    /// non-null value in the field.
    DiscardRow,
}

/// The evolution policy of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Fields the known schema lacks.
    pub new_fields: Action,
    /// Fields whose type changed.
    pub type_changes: Action,
}

/// What [`evolve`] decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Evolution {
    /// The schema to tell the destination.
    pub schema: Schema,
    /// Top-level fields to remove from every record.
    pub drop_fields: Vec<String>,
    /// Top-level fields where a non-null value gets the record dropped
    /// (and counted).
    pub drop_rows_with: Vec<String>,
    /// Every change between the known and the incoming schema, as [`diff`](crate::diff()) lists them.
    pub changes: Vec<Change>,
}

/// Why a schema change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The policy freezes this kind of change.
    Frozen,
    /// The type change is not a safe widening, and the policy would have
    /// the destination take it.
    NotAWidening,
}

/// A schema change the stream's policy refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct Violation {
    /// The path of the field (`age`, `address.zip`).
    pub field: String,
    /// The refused change.
    pub change: Change,
    /// Why it is refused.
    pub reason: Reason,
}

impl Violation {
    fn new(change: &Change, reason: Reason) -> Violation {
        Violation {
            field: change.path().to_string(),
            change: change.clone(),
            reason,
        }
    }

    fn message(&self) -> String {
        let field = &self.field;
        match (&self.change, self.reason) {
            (Change::Added { ty, .. }, _) => {
                format!("field `{field}`: new field of type {ty}, but new fields are frozen")
            }
            (Change::Widened { from, to, .. } | Change::Incompatible { from, to, .. }, reason) => {
                match reason {
                    Reason::Frozen => {
                        format!("field `{field}`: {from} -> {to}, but type changes are frozen")
                    }
                    Reason::NotAWidening => {
                        format!("field `{field}`: {from} -> {to} is not a safe widening")
                    }
                }
            }
            (change, _) => format!("field `{field}`: {change} is refused"),
        }
    }
}

/// Decides what to tell the destination about `incoming`, given the schema
/// it was last told (`known`, `None` the first time) and the policy; see
/// the [module docs](self) for the rules.
///
/// ```
/// use sluice_schema::{Action, Field, Policy, Schema, Type, evolve};
///
/// let known = Schema::new(vec![Field::required("id", Type::Int32)]);
/// let incoming = Schema::new(vec![
///     Field::required("id", Type::Int64),
///     Field::optional("email", Type::String),
/// ]);
/// let policy = Policy { new_fields: Action::DiscardValue, type_changes: Action::Evolve };
/// let evolution = evolve(Some(&known), &incoming, &policy)?;
/// assert_eq!(evolution.schema, Schema::new(vec![Field::required("id", Type::Int64)]));
/// assert_eq!(evolution.drop_fields, ["email"]);
///
/// let frozen = Policy { type_changes: Action::Freeze, ..policy };
/// let refused = evolve(Some(&known), &incoming, &frozen).unwrap_err();
/// assert_eq!(refused.to_string(), "field `id`: int32 -> int64, but type changes are frozen");
/// # Ok::<(), sluice_schema::Violation>(())
/// ```
pub fn evolve(
    known: Option<&Schema>,
    incoming: &Schema,
    policy: &Policy,
) -> Result<Evolution, Violation> {
    let Some(known) = known else {
        return Ok(Evolution {
            schema: incoming.clone(),
            ..Evolution::default()
        });
    };
    let mut out = Evolution::default();
    for before in &known.fields {
        match incoming.field(&before.name) {
            Some(after) => out.changed(before, after, policy)?,
            None => out.removed(before),
        }
    }
    for after in &incoming.fields {
        if known.field(&after.name).is_none() {
            out.added(after, policy.new_fields)?;
        }
    }
    Ok(out)
}

impl Evolution {
    fn removed(&mut self, before: &Field) {
        self.changes.push(Change::Removed {
            path: before.name.clone(),
        });
        self.schema.fields.push(Field {
            required: false,
            ..before.clone()
        });
    }

    fn added(&mut self, after: &Field, action: Action) -> Result<(), Violation> {
        let change = Change::Added {
            path: after.name.clone(),
            ty: after.ty.clone(),
        };
        match action {
            Action::Evolve => self.schema.fields.push(after.clone()),
            Action::Freeze => return Err(Violation::new(&change, Reason::Frozen)),
            Action::DiscardValue => self.drop_fields.push(after.name.clone()),
            Action::DiscardRow => self.drop_rows_with.push(after.name.clone()),
        }
        self.changes.push(change);
        Ok(())
    }

    fn changed(&mut self, before: &Field, after: &Field, policy: &Policy) -> Result<(), Violation> {
        let mut changes = Vec::new();
        diff_field(&before.name, before, after, &mut changes);
        let mut outcome = Action::Evolve;
        for change in &changes {
            outcome = stronger(outcome, judge(change, policy)?);
        }
        let name = before.name.clone();
        let told = match outcome {
            Action::DiscardValue => {
                self.drop_fields.push(name);
                Field {
                    required: false,
                    ..before.clone()
                }
            }
            Action::DiscardRow => {
                self.drop_rows_with.push(name);
                Field {
                    required: before.required && after.required,
                    ..before.clone()
                }
            }
            _ => merge_field(before, after),
        };
        self.schema.fields.push(told);
        self.changes.extend(changes);
        Ok(())
    }
}

/// The action the policy takes on one change of a known field, or the
/// violation.
fn judge(change: &Change, policy: &Policy) -> Result<Action, Violation> {
    let action = match change {
        Change::Added { .. } => policy.new_fields,
        Change::Widened { .. } => policy.type_changes,
        Change::Incompatible { .. } => match policy.type_changes {
            Action::Evolve | Action::Freeze => {
                return Err(Violation::new(change, Reason::NotAWidening));
            }
            discard => discard,
        },
        _ => Action::Evolve,
    };
    if action == Action::Freeze {
        return Err(Violation::new(change, Reason::Frozen));
    }
    Ok(action)
}

/// Of two non-freezing actions, the one that drops more.
fn stronger(a: Action, b: Action) -> Action {
    let rank = |action| match action {
        Action::DiscardRow => 2,
        Action::DiscardValue => 1,
        _ => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// The told field when every change to it evolves.
fn merge_field(before: &Field, after: &Field) -> Field {
    Field {
        name: before.name.clone(),
        ty: merge_type(&before.ty, &after.ty),
        required: before.required && after.required,
        default: before.default.clone(),
    }
}

fn merge_type(before: &Type, after: &Type) -> Type {
    match (before, after) {
        (Type::Struct(a), Type::Struct(b)) => Type::Struct(merge_fields(a, b)),
        (Type::Array(a), Type::Array(b)) => Type::Array(Box::new(merge_type(a, b))),
        (Type::Map(a), Type::Map(b)) => Type::Map(Box::new(merge_type(a, b))),
        _ if before != after && widens(before, after) => after.clone(),
        _ => before.clone(),
    }
}

fn merge_fields(before: &[Field], after: &[Field]) -> Vec<Field> {
    let find = |fields: &'_ [Field], name: &str| fields.iter().find(|f| f.name == name).is_some();
    let mut merged: Vec<Field> = before
        .iter()
        .map(|old| match after.iter().find(|f| f.name == old.name) {
            Some(new) => merge_field(old, new),
            None => Field {
                required: false,
                ..old.clone()
            },
        })
        .collect();
    merged.extend(after.iter().filter(|new| !find(before, &new.name)).cloned());
    merged
}

#[cfg(test)]
#[path = "evolve_tests.rs"]
mod tests;
