//! The one error type of this crate: a schema that cannot be read, from
//! JSON Schema or from the contract's flat type table.

/// Why a JSON Schema or a type table is not a valid [`Schema`](crate::Schema).
///
/// JSON Schema errors name the JSON pointer of the offending subschema as a
/// URI fragment (`#`, `#/properties/address/properties/city`); type table
/// errors name the field path (`address.city`, `tags[]`, `attrs{}`,
/// `value|1` for the second member of a union).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// A keyword or subschema holds a value of the wrong kind.
    #[error("schema at `{path}`: expected {expected}, found {found}")]
    Unexpected {
        /// Where, as a JSON pointer fragment.
        path: String,
        /// What was expected there.
        expected: &'static str,
        /// What was found, as (shortened) JSON text.
        found: String,
    },
    /// A `type` that JSON Schema does not define.
    #[error("schema at `{path}`: unknown type `{name}`")]
    UnknownType {
        /// Where, as a JSON pointer fragment.
        path: String,
        /// The unknown type name.
        name: String,
    },
    /// A keyword this crate does not resolve (such as `$ref`).
    #[error("schema at `{path}`: `{keyword}` is not supported")]
    Unsupported {
        /// Where, as a JSON pointer fragment.
        path: String,
        /// The keyword.
        keyword: &'static str,
    },
    /// The top-level schema does not describe an object (a row).
    #[error("schema at `{path}`: a row schema must be an object schema, found {found}")]
    NotARow {
        /// Where, as a JSON pointer fragment (`#`).
        path: String,
        /// What was found, as (shortened) JSON text.
        found: String,
    },
    /// Types nested deeper than the limit.
    #[error("`{path}`: types nest deeper than {limit} levels")]
    TooDeep {
        /// Where: a JSON pointer fragment or a field path.
        path: String,
        /// The nesting limit.
        limit: usize,
    },
    /// A type table index past the end of the table.
    #[error("field `{path}`: type index {index} is out of range (the table has {len} types)")]
    IndexOutOfRange {
        /// The field path.
        path: String,
        /// The bad index.
        index: u32,
        /// How many types the table has.
        len: usize,
    },
    /// A type table entry that (indirectly) contains itself.
    #[error("field `{path}`: type {index} contains itself")]
    Cycle {
        /// The field path.
        path: String,
        /// The index reached again.
        index: u32,
    },
    /// A type table that expands to more type nodes than the limit.
    #[error("field `{path}`: the type table expands to more than {limit} types")]
    TooLarge {
        /// The field path where the limit was reached.
        path: String,
        /// The limit.
        limit: usize,
    },
    /// Two fields of one struct (or of the row) share a name.
    #[error("field `{path}` is declared twice")]
    DuplicateField {
        /// The path of the second declaration.
        path: String,
    },
    /// A default that is not valid JSON text.
    #[error("field `{path}`: the default is not valid JSON")]
    BadDefault {
        /// The field path.
        path: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}
