//! Building JSON-lines batches, with field selection applied.

use crate::{Batch, ConfiguredStream, ConnectorError, Result};
use serde::Serialize;

/// Accumulates records of one stream into a JSON-lines [`Batch`].
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
        }
    }

    /// A builder for a configured stream: its name, keeping its selected fields.
    pub fn for_stream(stream: &ConfiguredStream, max_records: u32) -> Self {
        Self::new(stream.name.clone(), max_records).with_fields(stream.fields.clone())
    }

    /// Keep only `fields` of each record (all when empty).
    pub fn with_fields(mut self, fields: Vec<String>) -> Self {
        self.fields = fields;
        self
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

    /// The batch so far, leaving the builder empty; `None` if it is empty.
    pub fn take(&mut self) -> Option<Batch> {
        if self.count == 0 {
            return None;
        }
        let capacity = self.data.capacity();
        let data = std::mem::replace(&mut self.data, Vec::with_capacity(capacity));
        let count = std::mem::take(&mut self.count);
        Some(Batch::json_lines(self.stream.clone(), count, data))
    }

    fn encode_error(&self, e: serde_json::Error) -> ConnectorError {
        ConnectorError::data(format!("record cannot be encoded as JSON: {e}"))
            .in_stream(&self.stream)
    }
}
