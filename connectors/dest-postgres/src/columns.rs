//! Columns: how a sluice type becomes a PostgreSQL column, what a table
//! already has, and the `ALTER TABLE` clauses that take an existing table
//! to a new schema (new columns, safe widenings) or the reason it cannot.

use serde_json::Value;
use sluice_guest::{ConnectorError, Field, Result, Type};
use sluice_pg_client::sql::ident;

/// How a column's values are written as COPY text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `t` / `f`.
    Bool,
    /// Integers, floats and decimals: the number's text.
    Number,
    /// base64 text in JSON, `\x..` hex for `bytea`.
    Bytes,
    /// Text as it is (timestamps too: RFC 3339 is ISO 8601).
    Text,
    /// Any JSON value, as JSON text.
    Json,
}

/// A column of a table the connector writes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    /// The column name (a field name, or a system column's).
    pub name: String,
    /// The type as PostgreSQL's `format_type` spells it.
    pub pg: String,
    /// How values are encoded.
    pub kind: Kind,
    /// Whether the column is `NOT NULL`.
    pub not_null: bool,
    /// The value used when a record lacks the field.
    pub default: Option<Value>,
}

/// The PostgreSQL type of sluice type `ty`, as `format_type` spells it.
pub(crate) fn pg_type(ty: &Type) -> String {
    match ty {
        Type::Boolean => "boolean".into(),
        Type::Int8 | Type::Int16 => "smallint".into(),
        Type::Int32 => "integer".into(),
        Type::Int64 => "bigint".into(),
        Type::Float32 => "real".into(),
        Type::Float64 => "double precision".into(),
        Type::Bytes => "bytea".into(),
        Type::String => "text".into(),
        Type::Timestamp => "timestamp with time zone".into(),
        Type::Decimal { precision, scale } => format!("numeric({precision},{scale})"),
        Type::Array(_) | Type::Map(_) | Type::Struct(_) | Type::Union(_) => "jsonb".into(),
    }
}

fn kind(ty: &Type) -> Kind {
    match ty {
        Type::Boolean => Kind::Bool,
        Type::Int8
        | Type::Int16
        | Type::Int32
        | Type::Int64
        | Type::Float32
        | Type::Float64
        | Type::Decimal { .. } => Kind::Number,
        Type::Bytes => Kind::Bytes,
        Type::String | Type::Timestamp => Kind::Text,
        Type::Array(_) | Type::Map(_) | Type::Struct(_) | Type::Union(_) => Kind::Json,
    }
}

/// The sluice type a PostgreSQL column type holds, for widening checks;
/// `None` for types the connector does not create (or `jsonb`, whose
/// values are any compound type).
fn sluice_type(pg: &str) -> Option<Type> {
    Some(match pg {
        "boolean" => Type::Boolean,
        "smallint" => Type::Int16,
        "integer" => Type::Int32,
        "bigint" => Type::Int64,
        "real" => Type::Float32,
        "double precision" => Type::Float64,
        "bytea" => Type::Bytes,
        "text" => Type::String,
        "timestamp with time zone" => Type::Timestamp,
        _ => {
            let inner = pg.strip_prefix("numeric(")?.strip_suffix(')')?;
            let (p, s) = inner.split_once(',')?;
            Type::Decimal {
                precision: p.trim().parse().ok()?,
                scale: s.trim().parse().ok()?,
            }
        }
    })
}

impl Column {
    /// The column of `field`; `not_null` only where the mode allows it.
    pub(crate) fn of_field(field: &Field, not_null: bool) -> Column {
        Column {
            name: field.name.clone(),
            pg: pg_type(&field.ty),
            kind: kind(&field.ty),
            not_null: not_null && field.required,
            default: field.default.clone(),
        }
    }

    /// A column the connector adds itself.
    pub(crate) fn system(name: &str, pg: &str, not_null: bool) -> Column {
        let kind = if pg == "boolean" {
            Kind::Bool
        } else {
            Kind::Text
        };
        Column {
            name: name.into(),
            pg: pg.into(),
            kind,
            not_null,
            default: None,
        }
    }

    /// `"name" type [NOT NULL]`, for `CREATE TABLE`.
    pub(crate) fn ddl(&self, constraints: bool) -> String {
        let null = if constraints && self.not_null {
            " NOT NULL"
        } else {
            ""
        };
        format!("{} {}{null}", ident(&self.name), self.pg)
    }
}

/// A column a table already has, as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Existing {
    /// The column name.
    pub name: String,
    /// `format_type` of its type.
    pub pg: String,
    /// Whether it is `NOT NULL`.
    pub not_null: bool,
}

/// The SQL listing a table's columns: `$1` is the qualified table name.
pub(crate) const EXISTING_COLUMNS: &str = "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull \
     FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 \
     AND NOT a.attisdropped ORDER BY a.attnum";

/// The `ALTER TABLE` clauses taking a table with columns `existing` to
/// `wanted`: new columns are added (nullable: old rows have no value),
/// safe widenings change the column type, columns that became optional
/// (or that the schema no longer has) drop `NOT NULL`, except those in
/// `keep`. Any other type change is a config error naming the table, the
/// column and both types.
pub(crate) fn alterations(
    table: &str,
    existing: &[Existing],
    wanted: &[Column],
    keep: &[&str],
) -> Result<Vec<String>> {
    let mut clauses = Vec::new();
    for column in wanted {
        let Some(old) = existing.iter().find(|e| e.name == column.name) else {
            clauses.push(format!("ADD COLUMN {}", column.ddl(false)));
            continue;
        };
        let name = ident(&column.name);
        if old.pg != column.pg {
            if !widening(&old.pg, &column.pg) {
                return Err(ConnectorError::config(format!(
                    "table {table}: column `{}` is {} and the stream's schema now needs {}, \
                     which is not a safe widening; migrate the column by hand or write the \
                     stream to a new table",
                    column.name, old.pg, column.pg
                )));
            }
            let using = format!("{name}::{}", column.pg);
            clauses.push(format!(
                "ALTER COLUMN {name} TYPE {} USING {using}",
                column.pg
            ));
        }
        if old.not_null && !column.not_null && !keep.contains(&column.name.as_str()) {
            clauses.push(format!("ALTER COLUMN {name} DROP NOT NULL"));
        }
    }
    for old in existing {
        let gone = !wanted.iter().any(|c| c.name == old.name);
        if gone && old.not_null && !keep.contains(&old.name.as_str()) {
            clauses.push(format!("ALTER COLUMN {} DROP NOT NULL", ident(&old.name)));
        }
    }
    Ok(clauses)
}

/// Whether a column of type `old` may become `new` without losing values.
fn widening(old: &str, new: &str) -> bool {
    match (sluice_type(old), sluice_type(new)) {
        (Some(a), Some(b)) => sluice_guest::protocol::schema::widens(&a, &b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn existing(name: &str, pg: &str, not_null: bool) -> Existing {
        Existing {
            name: name.into(),
            pg: pg.into(),
            not_null,
        }
    }

    #[test]
    fn new_columns_are_added_and_widenings_altered() {
        let old = [
            existing("id", "bigint", true),
            existing("n", "integer", true),
            existing("gone", "text", true),
        ];
        let wanted = [
            Column::of_field(&Field::required("id", Type::Int64), true),
            Column::of_field(&Field::required("n", Type::Int64), true),
            Column::of_field(&Field::optional("c", Type::String), true),
        ];
        let clauses = alterations("t", &old, &wanted, &["id"]).unwrap();
        assert_eq!(
            clauses,
            [
                "ALTER COLUMN \"n\" TYPE bigint USING \"n\"::bigint",
                "ADD COLUMN \"c\" text",
                "ALTER COLUMN \"gone\" DROP NOT NULL",
            ]
        );
    }

    #[test]
    fn a_narrowing_names_table_column_and_types() {
        let old = [existing("n", "bigint", false)];
        let wanted = [Column::of_field(&Field::optional("n", Type::Int32), true)];
        let e = alterations("\"public\".\"t\"", &old, &wanted, &[]).unwrap_err();
        assert!(
            e.message
                .starts_with("table \"public\".\"t\": column `n` is bigint and the stream's schema now needs integer"),
            "{}",
            e.message
        );
        let dec = |p, s| {
            pg_type(&Type::Decimal {
                precision: p,
                scale: s,
            })
        };
        assert!(widening(&dec(10, 2), &dec(12, 2)));
        assert!(!widening(&dec(12, 2), &dec(10, 2)));
        assert!(widening("real", "double precision"));
        assert!(!widening("text", "jsonb"));
    }
}
