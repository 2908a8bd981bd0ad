//! Encoding a batch for a file: JSON lines as they came (plus the
//! metadata fields when asked), or CSV rows under the file's columns.

use crate::output::Output;
use serde_json::{Map, Value};
use sluice_guest::{Batch, ConnectorError, Operation, Result};

/// The metadata column holding when the source extracted the record.
pub(crate) const EXTRACTED_AT: &str = "_sluice_extracted_at";
/// The metadata column holding the record's operation.
pub(crate) const OPERATION: &str = "_sluice_operation";

/// The name of `op` as the contract spells it.
pub(crate) fn op_name(op: Operation) -> &'static str {
    match op {
        Operation::Insert => "insert",
        Operation::Update => "update",
        Operation::Upsert => "upsert",
        Operation::Delete => "delete",
    }
}

/// The metadata of a batch's records: (extracted at, RFC 3339; operation).
pub(crate) fn metadata(batch: &Batch) -> (String, &'static str) {
    let at = chrono::DateTime::from_timestamp_millis(batch.extracted_at as i64)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    (at, op_name(batch.operation))
}

/// The batch's JSON lines, each with the metadata fields added before its
/// closing brace (the host has checked that every line is one object).
pub(crate) fn jsonl_with_metadata(batch: &Batch) -> Vec<u8> {
    let (at, op) = metadata(batch);
    let extra = format!("\"{EXTRACTED_AT}\":\"{at}\",\"{OPERATION}\":\"{op}\"}}\n");
    let mut out = Vec::with_capacity(batch.data.len() + batch.count as usize * extra.len());
    for line in batch.lines() {
        let line = line.trim_ascii_end();
        let Some(body) = line.strip_suffix(b"}") else {
            continue;
        };
        out.extend_from_slice(body);
        if !body.trim_ascii().ends_with(b"{") {
            out.push(b',');
        }
        out.extend_from_slice(extra.as_bytes());
    }
    out
}

fn csv_cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn objects(batch: &Batch) -> Result<Vec<Map<String, Value>>> {
    let mut rows = Vec::with_capacity(batch.count as usize);
    for (i, line) in batch.lines().enumerate() {
        match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(row)) => rows.push(row),
            _ => {
                return Err(ConnectorError::data(format!(
                    "record {} of the batch is not a JSON object",
                    i + 1
                ))
                .in_stream(&batch.stream));
            }
        }
    }
    Ok(rows)
}

/// Append `batch` to the CSV file `out` (its header first, if the file
/// has none yet; columns from the first record if nothing named them).
pub(crate) fn write_csv(out: &mut Output, batch: &Batch, with_metadata: bool) -> Result<()> {
    let mut rows = objects(batch)?;
    if rows.is_empty() {
        return Ok(());
    }
    if with_metadata {
        let (at, op) = metadata(batch);
        for row in &mut rows {
            row.insert(EXTRACTED_AT.into(), Value::String(at.clone()));
            row.insert(OPERATION.into(), Value::String(op.into()));
        }
    }
    let columns = out
        .columns
        .get_or_insert_with(|| rows[0].keys().cloned().collect())
        .clone();
    let internal = |e: csv::Error| ConnectorError::internal(e.to_string());
    let mut csv = csv::Writer::from_writer(Vec::new());
    if !out.header_written {
        csv.write_record(&columns).map_err(internal)?;
        out.header_written = true;
    }
    for row in &rows {
        if let Some(extra) = row.keys().find(|k| !columns.contains(k)) {
            return Err(ConnectorError::data(format!(
                "field `{extra}` is not a column of `{}` (a new field needs a new schema first)",
                out.path.display()
            ))
            .in_stream(&batch.stream));
        }
        csv.write_record(columns.iter().map(|c| csv_cell(row.get(c))))
            .map_err(internal)?;
    }
    let bytes = csv
        .into_inner()
        .map_err(|e| ConnectorError::internal(e.to_string()))?;
    out.write(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_goes_before_the_closing_brace() {
        let mut b = Batch::json_lines("s", 2, b"{\"a\":1}\n{ }\n".to_vec());
        b.extracted_at = 1_704_067_200_250;
        let text = String::from_utf8(jsonl_with_metadata(&b)).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["a"], 1);
        assert_eq!(lines[0][EXTRACTED_AT], "2024-01-01T00:00:00.250Z");
        assert_eq!(lines[1][OPERATION], "insert");
        assert_eq!(lines.len(), 2);
    }
}
