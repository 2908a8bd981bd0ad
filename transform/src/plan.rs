//! [`Plan`]: a stream's transforms checked against its schema, with the
//! schema they produce, ready to run on JSON-lines batches.
//!
//! A plan is a list of stages run in order on each record. Stages come
//! from the pipeline's steps ([`Plan::then_steps`]), from a destination's
//! reserved keys ([`Plan::then_renames`]) and from the schema-evolution
//! policy ([`Plan::then_drop_fields`], [`Plan::then_drop_rows`]), in the
//! order the host adds them; all run in the same pass over the batch.

use crate::compile::{self, Action};
use crate::error::{Origin, Problem, TransformError};
use crate::record::Record;
use crate::step::Step;
use crate::time;
use serde_json::Value;
use sluice_schema::Schema;

/// A stream's transforms, checked, with their output schema.
#[derive(Debug, Clone)]
pub struct Plan {
    stream: String,
    stages: Vec<Stage>,
    schema: Option<Schema>,
}

#[derive(Debug, Clone)]
struct Stage {
    origin: Origin,
    action: Action,
}

/// A transformed batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// JSON lines, each ending in `\n`.
    pub data: Vec<u8>,
    /// How many records `data` holds.
    pub count: u32,
    /// How many records were dropped (by `filter` or the `drop rows` policy).
    pub dropped: u32,
}

impl Plan {
    /// Check `steps` of `stream` against its `input` schema (`None` for a
    /// schemaless stream, whose field names cannot be checked) and compute
    /// the output schema. Steps are numbered from 1 in errors. A
    /// `component` step is refused: cut the list with
    /// [`split`](crate::split) and run components in the host.
    ///
    /// ```
    /// use sluice_schema::{Field, Schema, Type};
    /// use sluice_transform::{Plan, Step};
    ///
    /// let input = Schema::new(vec![
    ///     Field::required("id", Type::Int64),
    ///     Field::optional("name", Type::String),
    /// ]);
    /// let steps: Vec<Step> = serde_json::from_str(r#"[{"upper": "name"}, {"select": ["name"]}]"#)?;
    /// let plan = Plan::new("users", &steps, Some(&input))?;
    /// assert_eq!(plan.output_schema().unwrap().names(), ["name"]);
    /// let out = plan.apply(b"{\"id\":1,\"name\":\"ada\"}\n")?;
    /// assert_eq!(out.data, b"{\"name\":\"ADA\"}\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(
        stream: &str,
        steps: &[Step],
        input: Option<&Schema>,
    ) -> Result<Plan, TransformError> {
        Plan::identity(stream, input).then_steps(0, steps)
    }

    /// A plan with no stages: records pass unchanged with schema `input`.
    pub fn identity(stream: &str, input: Option<&Schema>) -> Plan {
        Plan {
            stream: stream.to_string(),
            stages: Vec::new(),
            schema: input.cloned(),
        }
    }

    /// Append pipeline steps, checked against the schema after the stages
    /// so far; they are numbered from `offset + 1` in errors (the offset of
    /// a [`Segment::Steps`](crate::Segment::Steps)).
    pub fn then_steps(mut self, offset: usize, steps: &[Step]) -> Result<Plan, TransformError> {
        for (i, step) in steps.iter().enumerate() {
            let origin = Origin::Step {
                number: offset + i + 1,
                key: step.key(),
            };
            let action = compile::step(step, self.schema.as_mut())
                .map_err(|problem| self.error(origin.clone(), problem))?;
            self.stages.push(Stage { origin, action });
        }
        Ok(self)
    }

    /// Append renames `(from, to)`, such as
    /// [`reserved::renames`](crate::reserved::renames) computes from
    /// [`Plan::output_schema`].
    pub fn then_renames(mut self, renames: &[(String, String)]) -> Result<Plan, TransformError> {
        for (from, to) in renames {
            let step = Step::Rename {
                from: from.clone(),
                to: to.clone(),
            };
            let action = compile::step(&step, self.schema.as_mut())
                .map_err(|problem| self.error(Origin::ReservedKey, problem))?;
            self.stages.push(Stage {
                origin: Origin::ReservedKey,
                action,
            });
        }
        Ok(self)
    }

    /// Append the policy stage removing these fields from every record and
    /// from the schema; names the schema lacks are ignored.
    pub fn then_drop_fields(mut self, names: &[String]) -> Plan {
        if !names.is_empty() {
            let action = compile::drop_fields(names, self.schema.as_mut());
            self.stages.push(Stage {
                origin: Origin::Policy("drop fields"),
                action,
            });
        }
        self
    }

    /// Append the policy stage dropping every record with a non-null value
    /// in any of these fields (counted in [`Applied::dropped`]); the fields
    /// leave the records kept and the schema.
    pub fn then_drop_rows(mut self, names: &[String]) -> Plan {
        if !names.is_empty() {
            let action = compile::drop_rows(names, self.schema.as_mut());
            self.stages.push(Stage {
                origin: Origin::Policy("drop rows"),
                action,
            });
        }
        self
    }

    /// The stream.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The schema of the records [`Plan::apply`] writes; `None` for a
    /// schemaless stream.
    pub fn output_schema(&self) -> Option<&Schema> {
        self.schema.as_ref()
    }

    /// Whether the plan has no stages, so batches can be forwarded unparsed.
    pub fn is_identity(&self) -> bool {
        self.stages.is_empty()
    }

    /// The salts of the plan's `hash` steps, to scrub from logs and errors.
    pub fn secret_values(&self) -> Vec<&str> {
        self.stages
            .iter()
            .filter_map(|s| match &s.action {
                Action::Hash { salt, .. } if !salt.expose().is_empty() => Some(salt.expose()),
                _ => None,
            })
            .collect()
    }

    /// Where each stage comes from, in order.
    pub fn origins(&self) -> impl Iterator<Item = &Origin> {
        self.stages.iter().map(|s| &s.origin)
    }

    /// Run the plan on a batch of JSON lines: each line is parsed once,
    /// goes through every stage, and is written once, ending in `\n`. A
    /// last line without `\n` is accepted. Every record of one call gets
    /// the same `now()` time.
    pub fn apply(&self, data: &[u8]) -> Result<Applied, TransformError> {
        let now = if self.uses_now() {
            time::now_rfc3339()
        } else {
            String::new()
        };
        let mut out = Applied {
            data: Vec::with_capacity(data.len()),
            count: 0,
            dropped: 0,
        };
        for (i, line) in lines(data).enumerate() {
            let mut row = self.parse(i + 1, line)?;
            if !self.stages.iter().all(|s| s.action.run(&mut row, &now)) {
                out.dropped = out.dropped.saturating_add(1);
                continue;
            }
            serde_json::to_writer(&mut out.data, &row).map_err(|source| {
                TransformError::Encode {
                    stream: self.stream.clone(),
                    line: i + 1,
                    source,
                }
            })?;
            out.data.push(b'\n');
            out.count = out.count.saturating_add(1);
        }
        Ok(out)
    }

    fn uses_now(&self) -> bool {
        self.stages.iter().any(|s| {
            matches!(
                &s.action,
                Action::Set {
                    value: compile::Constant::Now,
                    ..
                }
            )
        })
    }

    fn parse(&self, line: usize, text: &[u8]) -> Result<Record, TransformError> {
        let stream = self.stream.clone();
        match serde_json::from_slice::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(other) => Err(TransformError::NotAnObject {
                stream,
                line,
                found: kind(&other),
            }),
            Err(source) => Err(TransformError::InvalidJson {
                stream,
                line,
                source,
            }),
        }
    }

    fn error(&self, origin: Origin, problem: Problem) -> TransformError {
        TransformError::Step {
            stream: self.stream.clone(),
            origin,
            problem,
        }
    }
}

/// The records of a batch: its non-empty lines, as the host's batch check
/// counts them.
fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|b| *b == b'\n').filter(|line| !line.is_empty())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
