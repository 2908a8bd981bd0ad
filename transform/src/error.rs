//! [`TransformError`]: why a plan cannot be built or a batch not
//! transformed, naming the stream and the step or line. The caller adds the
//! pipeline file path. No message ever contains a salt.

use std::fmt;

/// Where a stage of a plan comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A step of the pipeline file.
    Step {
        /// Its 1-based number in the stream's `transforms` list.
        number: usize,
        /// Its key, e.g. `"hash"`.
        key: &'static str,
    },
    /// A rename that moves a field off a destination's reserved key.
    ReservedKey,
    /// A schema-evolution policy stage (`"drop fields"`, `"drop rows"`).
    Policy(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Step { number, key } => write!(f, "transform {number} (`{key}`)"),
            Origin::ReservedKey => f.write_str("the reserved-key rename"),
            Origin::Policy(what) => write!(f, "the schema policy `{what}`"),
        }
    }
}

/// What is wrong with one step, against the schema at its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The step names a field the stream does not have there.
    #[error("unknown field `{field}`; {}", has_fields(known))]
    UnknownField {
        /// The name in the step.
        field: String,
        /// The stream's fields at that step.
        known: Vec<String>,
    },
    /// `upper` / `lower` of a field that is not a string.
    #[error("field `{field}` is {ty}, not a string")]
    NotAString {
        /// The field.
        field: String,
        /// Its type, e.g. `int64`.
        ty: String,
    },
    /// A rename onto a name another field has.
    #[error("cannot rename `{from}` to `{to}`: the stream already has a field `{to}`")]
    NameTaken {
        /// The field being renamed.
        from: String,
        /// The name already in use.
        to: String,
    },
    /// A `select` naming a field twice.
    #[error("`select` names field `{0}` twice")]
    Duplicate(String),
    /// A `set` constant whose type cannot be told.
    #[error("cannot tell the type of the value set on field `{field}`: {reason}")]
    UntypedConstant {
        /// The field.
        field: String,
        /// Why, e.g. "an empty list".
        reason: &'static str,
    },
    /// A `component` step, which the host runtime runs, not a plan.
    #[error(
        "component `{path}` runs in the host runtime, not in a plan; \
         cut the list with `sluice_transform::split` first"
    )]
    Component {
        /// The component file.
        path: String,
    },
}

/// An error building a [`Plan`](crate::Plan) or applying it to a batch.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransformError {
    /// A step does not fit the stream's schema at its position.
    #[error("{origin} of stream `{stream}`: {problem}")]
    Step {
        /// The stream.
        stream: String,
        /// The step.
        origin: Origin,
        /// What is wrong.
        problem: Problem,
    },
    /// A line of a batch is not JSON.
    #[error("stream `{stream}`, line {line} of the batch: not valid JSON: {source}")]
    InvalidJson {
        /// The stream.
        stream: String,
        /// The 1-based line number in the batch.
        line: usize,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A line of a batch is JSON but not an object.
    #[error("stream `{stream}`, line {line} of the batch: expected a JSON object, found {found}")]
    NotAnObject {
        /// The stream.
        stream: String,
        /// The 1-based line number in the batch.
        line: usize,
        /// What it is instead, e.g. `an array`.
        found: &'static str,
    },
    /// A transformed record could not be written back as JSON.
    #[error("stream `{stream}`, line {line} of the batch: cannot write the record: {source}")]
    Encode {
        /// The stream.
        stream: String,
        /// The 1-based line number in the batch.
        line: usize,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
}

impl TransformError {
    /// The stream the error is about.
    pub fn stream(&self) -> &str {
        match self {
            TransformError::Step { stream, .. }
            | TransformError::InvalidJson { stream, .. }
            | TransformError::NotAnObject { stream, .. }
            | TransformError::Encode { stream, .. } => stream,
        }
    }

    /// The step's problem, for an error about a step.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            TransformError::Step { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

/// `the stream has fields a, b, c`, or `the stream has no fields`.
fn has_fields(names: &[String]) -> String {
    if names.is_empty() {
        "the stream has no fields".to_string()
    } else {
        format!("the stream has fields {}", names.join(", "))
    }
}
