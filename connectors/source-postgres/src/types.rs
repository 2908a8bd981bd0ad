//! PostgreSQL column types: their sluice type, how a value's text form
//! becomes JSON, and the select expression that reads it.
//!
//! Most values are read in PostgreSQL's own text output and turned into
//! JSON in Rust (measured faster than building JSON in SQL); arrays and
//! `json` are turned into JSON by the server (`to_json`, `::jsonb`), whose
//! output is already one line of JSON.

use sluice_guest::Type;
use sluice_pg_client::sql::ident;

/// One column of a table or view, as the system catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    /// The column's name.
    pub name: String,
    /// `format_type(atttypid, atttypmod)`: the SQL spelling of its type,
    /// used to cast bookmark values.
    pub sql_type: String,
    /// `typname` of its type (of the base type, for a domain): `int4`, `_text`, ...
    pub type_name: String,
    /// For an array, the `typname` of its element type.
    pub element: Option<String>,
    /// The type modifier (`numeric(p,s)`, `varchar(n)`); -1 when none.
    pub typmod: i32,
    /// Whether the column is `not null`.
    pub not_null: bool,
}

/// How a column's text form becomes a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// An integer: the text is a JSON number.
    Number,
    /// A float: a JSON number, or the string `"NaN"`, `"Infinity"`, `"-Infinity"`.
    Float,
    /// `t` / `f`.
    Bool,
    /// A JSON string of the text.
    Text,
    /// `2024-01-02 03:04:05.5+00` becomes `"2024-01-02T03:04:05.5Z"`.
    Timestamptz,
    /// `2024-01-02 03:04:05.5` (no zone, read as UTC) becomes `"2024-01-02T03:04:05.5Z"`.
    Timestamp,
    /// `\x0a0b` becomes base64 text.
    Bytea,
    /// The text is JSON already (from `to_json` or `::jsonb`).
    Json,
}

impl Column {
    /// Whether the column is an array.
    pub fn is_array(&self) -> bool {
        self.element.is_some()
    }

    /// The sluice type of the column's values.
    pub fn sluice_type(&self) -> Type {
        match &self.element {
            Some(element) => Type::Array(Box::new(element_type(element, self.typmod))),
            None => scalar(&self.type_name, self.typmod).0,
        }
    }

    /// How its selected value becomes JSON.
    pub fn encoding(&self) -> Encoding {
        match self.element {
            Some(_) => Encoding::Json,
            None => scalar(&self.type_name, self.typmod).1,
        }
    }

    /// The expression that selects it from the table aliased `t`.
    pub fn select_expr(&self) -> String {
        let col = format!("t.{}", ident(&self.name));
        match self.element.as_deref() {
            Some("numeric" | "money") => format!("to_json({col}::text[])"),
            Some("timestamp") => format!("to_json({col}::timestamptz[])"),
            Some("json") => format!("to_json({col}::jsonb[])"),
            Some(_) => format!("to_json({col})"),
            None if self.type_name == "json" => format!("{col}::jsonb"),
            None => col,
        }
    }

    /// Whether the column can be an incremental cursor: an integer or a
    /// timestamp.
    pub fn is_cursor_candidate(&self) -> bool {
        !self.is_array()
            && matches!(
                self.type_name.as_str(),
                "int2" | "int4" | "int8" | "timestamptz" | "timestamp"
            )
    }

    /// Whether the column is a 16-, 32- or 64-bit integer.
    pub fn is_integer(&self) -> bool {
        !self.is_array() && matches!(self.type_name.as_str(), "int2" | "int4" | "int8")
    }
}

/// The sluice type and the encoding of a scalar type.
fn scalar(name: &str, typmod: i32) -> (Type, Encoding) {
    match name {
        "int2" => (Type::Int16, Encoding::Number),
        "int4" => (Type::Int32, Encoding::Number),
        "int8" | "oid" => (Type::Int64, Encoding::Number),
        "float4" => (Type::Float32, Encoding::Float),
        "float8" => (Type::Float64, Encoding::Float),
        "numeric" => (numeric(typmod), Encoding::Text),
        "bool" => (Type::Boolean, Encoding::Bool),
        "bytea" => (Type::Bytes, Encoding::Bytea),
        "timestamptz" => (Type::Timestamp, Encoding::Timestamptz),
        "timestamp" => (Type::Timestamp, Encoding::Timestamp),
        "json" | "jsonb" => (json_type(), Encoding::Json),
        // text, varchar, char, name, uuid, enums, date, time, interval,
        // money, inet, ...: their text form.
        _ => (Type::String, Encoding::Text),
    }
}

/// The sluice type of an array's elements, as `select_expr` reads them.
fn element_type(name: &str, typmod: i32) -> Type {
    match name {
        // to_json writes bytea elements as `\x..` hex text.
        "bytea" => Type::String,
        _ => scalar(name, typmod).0,
    }
}

/// A JSON value (`json`, `jsonb`): sluice-schema has no "any JSON" type;
/// `map<string>` is the closest (an object). Records carry the stored value
/// as nested JSON, whatever its shape.
fn json_type() -> Type {
    Type::Map(Box::new(Type::String))
}

/// `numeric(p,s)` is `decimal(p,s)` when both fit the contract (`u8`,
/// `0 <= s <= p`); unconstrained numeric (any scale) is a string.
fn numeric(typmod: i32) -> Type {
    if typmod < 4 {
        return Type::String;
    }
    let bits = typmod - 4;
    let precision = (bits >> 16) & 0xffff;
    // Since PostgreSQL 15 the scale is an 11-bit signed number.
    let raw_scale = bits & 0x7ff;
    let scale = if raw_scale & 0x400 != 0 {
        raw_scale - 0x800
    } else {
        raw_scale
    };
    match (u8::try_from(precision), u8::try_from(scale)) {
        (Ok(p), Ok(s)) if s <= p => Type::Decimal {
            precision: p,
            scale: s,
        },
        _ => Type::String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(type_name: &str, element: Option<&str>, typmod: i32) -> Column {
        Column {
            name: "c".into(),
            sql_type: type_name.into(),
            type_name: type_name.into(),
            element: element.map(String::from),
            typmod,
            not_null: false,
        }
    }

    #[test]
    fn numeric_typmods() {
        // numeric(12,2): ((12 << 16) | 2) + 4
        assert_eq!(
            numeric((12 << 16 | 2) + 4),
            Type::Decimal {
                precision: 12,
                scale: 2
            }
        );
        assert_eq!(numeric(-1), Type::String);
        assert_eq!(numeric((300 << 16) + 4), Type::String);
        // numeric(3,-2): scale -2 in 11 bits
        assert_eq!(numeric((3 << 16 | 0x7fe) + 4), Type::String);
    }

    #[test]
    fn arrays_and_json_are_read_as_json() {
        let ints = col("_int4", Some("int4"), -1);
        assert_eq!(ints.sluice_type(), Type::Array(Box::new(Type::Int32)));
        assert_eq!(ints.encoding(), Encoding::Json);
        assert_eq!(ints.select_expr(), "to_json(t.\"c\")");
        assert_eq!(
            col("_numeric", Some("numeric"), -1).select_expr(),
            "to_json(t.\"c\"::text[])"
        );
        assert_eq!(col("json", None, -1).select_expr(), "t.\"c\"::jsonb");
        assert_eq!(col("text", None, -1).select_expr(), "t.\"c\"");
        assert!(col("timestamptz", None, -1).is_cursor_candidate());
        assert!(!col("_int8", Some("int8"), -1).is_cursor_candidate());
    }
}
