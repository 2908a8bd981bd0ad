//! `transform-example`: keeps the records that have an email address and
//! adds the address's `domain`.
//!
//! Inserts, updates and upserts whose `email` (config `field`) is missing,
//! null, or not an address (`local@domain`) are dropped; the others gain
//! `domain`, the part after the last `@`, lowercased. Deletes pass through
//! unchanged (they hold only a key). The output schema is the input's with
//! the email field required and `domain` (a required string) added; a
//! schemaless stream stays schemaless.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use sluice_guest::{
    Batch, BatchBuilder, Catalog, Connector, ConnectorError, Field, Operation, Result, Schema,
    Spec, Transform, Transformer, Type, transform_spec,
};

/// The transform-example connector.
pub struct EmailDomain;

/// Config of transform-example.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// The field holding the email address.
    pub field: String,
}

/// The field the domain goes into.
const DOMAIN: &str = "domain";

impl Connector for EmailDomain {
    type Config = Config;

    fn spec() -> Spec {
        let mut spec = transform_spec(
            "transform-example",
            env!("CARGO_PKG_VERSION"),
            json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "field": {"type": "string", "minLength": 1, "default": "email",
                              "description": "The field holding the email address."}
                }
            }),
        );
        spec.documentation = Some(
            "Drops records without an email address; adds its `domain`. Deletes pass through."
                .into(),
        );
        spec
    }

    fn discover(_: &Config) -> Result<Catalog> {
        Ok(Catalog::default())
    }
}

/// The output schema: the email field required, `domain` added.
fn output_schema(stream: &str, field: &str, input: &Schema) -> Result<Schema> {
    if input.field(field).is_none() {
        return Err(ConnectorError::config(format!(
            "the stream has no field `{field}` to take the domain from (set `field`)"
        ))
        .in_stream(stream));
    }
    let mut fields: Vec<Field> = input
        .fields
        .iter()
        .filter(|f| f.name != DOMAIN)
        .cloned()
        .map(|f| match f.name == field {
            true => Field::required(f.name, Type::String),
            false => f,
        })
        .collect();
    fields.push(Field::required(DOMAIN, Type::String));
    Ok(Schema::new(fields))
}

impl Transform for EmailDomain {
    type Transformer = Domains;

    fn open(
        config: Config,
        stream: &str,
        input: Option<Schema>,
    ) -> Result<(Domains, Option<Schema>)> {
        let output = match &input {
            Some(schema) => Some(output_schema(stream, &config.field, schema)?),
            None => None,
        };
        Ok((
            Domains {
                field: config.field,
            },
            output,
        ))
    }
}

/// Rewrites the batches of one stream.
pub struct Domains {
    field: String,
}

/// The domain of `email`, if it is an address.
fn domain(email: &str) -> Option<String> {
    let (local, domain) = email.rsplit_once('@')?;
    (!local.is_empty() && !domain.is_empty()).then(|| domain.to_ascii_lowercase())
}

impl Domains {
    /// `row` with its domain, or `None` if it has no address.
    fn rewrite(&self, mut row: Map<String, Value>) -> Option<Map<String, Value>> {
        let domain = domain(row.get(&self.field)?.as_str()?)?;
        row.insert(DOMAIN.into(), Value::String(domain));
        Some(row)
    }
}

impl Transformer for Domains {
    fn transform(&mut self, batch: Batch) -> Result<Vec<Batch>> {
        if batch.operation == Operation::Delete {
            return Ok(vec![batch]);
        }
        let mut out = BatchBuilder::new(&batch.stream, u32::MAX).operation(batch.operation);
        for (i, line) in batch.lines().enumerate() {
            let row = match serde_json::from_slice::<Value>(line) {
                Ok(Value::Object(row)) => row,
                _ => {
                    return Err(ConnectorError::data(format!(
                        "record {} of the batch is not a JSON object",
                        i + 1
                    ))
                    .in_stream(&batch.stream));
                }
            };
            if let Some(row) = self.rewrite(row) {
                out.push(&row)?;
            }
        }
        Ok(out
            .take()
            .map(|b| Batch {
                extracted_at: batch.extracted_at,
                ..b
            })
            .into_iter()
            .collect())
    }
}

sluice_guest::export_transform!(EmailDomain);

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_guest::native;

    fn input() -> Schema {
        Schema::new(vec![
            Field::required("id", Type::Int64),
            Field::optional("email", Type::String),
        ])
    }

    #[test]
    fn drops_records_without_an_address_and_adds_the_domain() {
        let (mut t, output) =
            native::open_transform::<EmailDomain>("{}", "users", Some(input())).unwrap();
        let output = output.unwrap();
        assert_eq!(output.names(), ["id", "email", "domain"]);
        assert!(output.field("email").unwrap().required);
        let mut batch = Batch::json_lines(
            "users",
            4,
            b"{\"id\":1,\"email\":\"a@Example.com\"}\n{\"id\":2}\n{\"id\":3,\"email\":null}\n{\"id\":4,\"email\":\"nope\"}\n".to_vec(),
        );
        batch.extracted_at = 42;
        let out = t.transform(batch).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].count, 1);
        assert_eq!(
            out[0].data,
            b"{\"id\":1,\"email\":\"a@Example.com\",\"domain\":\"example.com\"}\n"
        );
        assert_eq!(out[0].extracted_at, 42);
        assert_eq!(out[0].schema_id.as_deref(), Some(output.id().as_str()));
    }

    #[test]
    fn deletes_pass_and_a_missing_field_is_a_config_error() {
        let (mut t, _) =
            native::open_transform::<EmailDomain>("{}", "users", Some(input())).unwrap();
        let mut delete = Batch::json_lines("users", 1, b"{\"id\":2}\n".to_vec());
        delete.operation = Operation::Delete;
        assert_eq!(t.transform(delete.clone()).unwrap()[0].data, delete.data);
        let e =
            native::open_transform::<EmailDomain>(r#"{"field": "mail"}"#, "users", Some(input()))
                .err()
                .unwrap();
        assert_eq!(e.stream.as_deref(), Some("users"));
        let (_, none) = native::open_transform::<EmailDomain>("{}", "users", None).unwrap();
        assert!(none.is_none());
    }
}
