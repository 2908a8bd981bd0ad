//! Building JSON-lines batches, with field selection applied, stamped with
//! their schema id, operation and extraction time.

use crate::protocol::schema::Schema;
use crate::{Batch, BatchFormat, ConfiguredStream, ConnectorError, Operation, Result};
use serde::Serialize;

/// Accumulates records of one stream into a JSON-lines [`Batch`].
///
/// [`schema`](Self::schema) registers the records' schema (reduced to the
/// selected fields) and stamps its id on every batch;
/// [`operation`](Self::operation) says what the records do (inserts unless
/// told otherwise); [`take`](Self::take) stamps the extraction time.
///
/// ```
/// use sluice_guest::{BatchBuilder, ConfiguredStream, Operation};
/// use sluice_guest::protocol::schema::{Field, Schema, Type};
/// let schema = Schema::new(vec![
///     Field::required("id", Type::Int64),
///     Field::optional("name", Type::String),
/// ]);
/// let stream = ConfiguredStream { fields: vec!["id".into()], ..ConfiguredStream::new("users") };
/// let mut deletes = BatchBuilder::for_stream(&stream, 100)
///     .schema(&schema)?
///     .operation(Operation::Delete);
/// deletes.push(&serde_json::json!({"id": 7, "name": "gone"}))?;
/// let batch = deletes.take().unwrap();
/// assert_eq!(batch.operation, Operation::Delete);
/// assert_eq!(batch.data, b"{\"id\":7}\n");
/// // The registered schema is the selected part of the stream's.
/// let id = batch.schema_id.unwrap();
/// let registered = sluice_guest::registry::fetch(&id)?.unwrap();
/// assert_eq!(registered.names(), ["id"]);
/// assert!(batch.extracted_at > 0);
/// # Ok::<(), sluice_guest::ConnectorError>(())
/// ```
///
/// ```
/// use sluice_guest::BatchBuilder;
/// let mut b = BatchBuilder::new("users", 2).with_fields(vec!["id".into()]);
/// b.push(&serde_json::json!({"id": 1, "name": "a"})).unwrap();
/// b.push(&serde_json::json!({"id": 2, "name": "b"})).unwrap();
/// assert!(b.is_full());
/// let batch = b.take().unwrap();
/// assert_eq!(batch.data, b"{\"id\":1}\n{\"id\":2}\n");
/// assert!(b.take().is_none());
/// ```
#[derive(Debug)]
pub struct BatchBuilder {
    stream: String,
    max_records: u32,
    fields: Vec<String>,
    data: Vec<u8>,
    count: u32,
    operation: Operation,
    schema_id: Option<String>,
}

impl BatchBuilder {
    /// A builder for `stream` that is full at `max_records`.
    pub fn new(stream: impl Into<String>, max_records: u32) -> Self {
        BatchBuilder {
            stream: stream.into(),
            max_records: max_records.max(1),
            fields: Vec::new(),
            data: Vec::new(),
            count: 0,
            operation: Operation::Insert,
            schema_id: None,
        }
    }

    /// A builder for a configured stream: its name, keeping its selected fields.
    pub fn for_stream(stream: &ConfiguredStream, max_records: u32) -> Self {
        Self::new(stream.name.clone(), max_records).with_fields(stream.fields.clone())
    }

    /// Keep only `fields` of each record (all when empty). Call it before
    /// [`schema`](Self::schema), which registers the selected fields only.
    pub fn with_fields(mut self, fields: Vec<String>) -> Self {
        self.fields = fields;
        self
    }

    /// The records follow `schema`: register it (its selected fields; once
    /// per reader, see [`registry::register`](crate::registry::register))
    /// and stamp its id on every batch.
    pub fn schema(mut self, schema: &Schema) -> Result<Self> {
        self.set_schema(schema)?;
        Ok(self)
    }

    /// From the next batch on, the records follow `schema` (as
    /// [`schema`](Self::schema), for a stream whose schema changes).
    pub fn set_schema(&mut self, schema: &Schema) -> Result<()> {
        let selected = Schema::new(
            schema
                .fields
                .iter()
                .filter(|f| self.fields.is_empty() || self.fields.contains(&f.name))
                .cloned()
                .collect(),
        );
        self.schema_id = Some(crate::registry::register(&self.stream, &selected)?);
        Ok(())
    }

    /// The records' operation (inserts by default).
    pub fn operation(mut self, operation: Operation) -> Self {
        self.operation = operation;
        self
    }

    /// The registry id stamped on the batches, if a schema was given.
    pub fn schema_id(&self) -> Option<&str> {
        self.schema_id.as_deref()
    }

    /// The stream this builder fills.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// Append one record.
    pub fn push<T: Serialize>(&mut self, record: &T) -> Result<()> {
        let encoded = if self.fields.is_empty() {
            serde_json::to_writer(&mut self.data, record)
        } else {
            let mut value = serde_json::to_value(record).map_err(|e| self.encode_error(e))?;
            if let Some(obj) = value.as_object_mut() {
                obj.retain(|k, _| self.fields.iter().any(|f| f == k));
            }
            serde_json::to_writer(&mut self.data, &value)
        };
        encoded.map_err(|e| self.encode_error(e))?;
        self.data.push(b'\n');
        self.count += 1;
        Ok(())
    }

    /// Append one record that is already a JSON object on one line.
    pub fn push_json_line(&mut self, line: &[u8]) {
        self.data.extend_from_slice(line);
        self.data.push(b'\n');
        self.count += 1;
    }

    /// Whether the batch has reached its size.
    pub fn is_full(&self) -> bool {
        self.count >= self.max_records
    }

    /// Whether the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The batch so far, extracted now, leaving the builder empty; `None`
    /// if it is empty.
    pub fn take(&mut self) -> Option<Batch> {
        if self.count == 0 {
            return None;
        }
        let capacity = self.data.capacity();
        Some(Batch {
            stream: self.stream.clone(),
            schema_id: self.schema_id.clone(),
            operation: self.operation,
            extracted_at: crate::protocol::now_ms(),
            count: std::mem::take(&mut self.count),
            format: BatchFormat::JsonLines,
            data: std::mem::replace(&mut self.data, Vec::with_capacity(capacity)),
        })
    }

    fn encode_error(&self, e: serde_json::Error) -> ConnectorError {
        ConnectorError::data(format!("record cannot be encoded as JSON: {e}"))
            .in_stream(&self.stream)
    }
}
