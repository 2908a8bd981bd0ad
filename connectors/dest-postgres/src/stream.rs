//! One configured stream: its table (created or evolved to the schema the
//! writer is told), how its batches reach the server (COPY into the table,
//! the overwrite load table, or a staging table), and what its part of a
//! commit does.

use crate::columns::{Column, EXISTING_COLUMNS, Existing, alterations};
use crate::config::{Config, EXTRACTED_AT};
use crate::encode::{RecordError, RowEncoder};
use crate::error::pg_error;
use crate::shape::{Shape, swap};
use sluice_guest::{
    Batch, BatchFormat, ConfiguredStream, ConnectorError, Operation, Result, Schema, Type,
    WriteMode,
};
use sluice_pg_client::Client;
use sluice_pg_client::sql::{copy_text, ident, ident_list, qualified};

/// The longest identifier PostgreSQL keeps (longer ones are cut silently).
const MAX_IDENT: usize = 63;
/// The suffix of an overwrite load table.
pub(crate) const LOAD_SUFFIX: &str = "__sluice_load";

/// Where an overwrite load stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    /// Not started in this run.
    None,
    /// Created in the open transaction.
    InTransaction,
    /// Created in a committed transaction of this run.
    Committed,
}

/// A stream and its table.
pub(crate) struct Stream {
    /// The stream as configured.
    pub config: ConfiguredStream,
    /// `"schema"."stream"`.
    pub table: String,
    load: String,
    stage: String,
    metadata: bool,
    history: crate::config::HistoryColumns,
    schema: Option<Schema>,
    shape: Option<Shape>,
    encoder: Option<RowEncoder>,
    /// Whether the table written to matches the shape in this transaction.
    synced: bool,
    load_state: Load,
    stage_exists: bool,
    staged: u64,
    /// `complete()` was called: the overwrite swap is due at the next commit.
    pub complete: bool,
}

impl Stream {
    /// A configured stream of a writer with `config`; `index` names its
    /// staging table.
    pub(crate) fn new(config: &Config, stream: ConfiguredStream, index: usize) -> Result<Stream> {
        let name = &stream.name;
        let err = |m: String| Err(ConnectorError::config(m).in_stream(name));
        let needs_key = matches!(
            stream.write_mode,
            WriteMode::AppendDedup | WriteMode::History
        );
        if needs_key && stream.primary_key.is_empty() {
            let mode = mode_name(stream.write_mode);
            return err(format!(
                "stream `{name}` is written in {mode} mode, which needs a primary key; \
                 set `primary_key` for it in the pipeline"
            ));
        }
        let longest = match stream.write_mode {
            WriteMode::Overwrite => name.len() + LOAD_SUFFIX.len(),
            _ => name.len(),
        };
        if longest > MAX_IDENT || name.is_empty() {
            return err(format!(
                "stream `{name}` cannot name a PostgreSQL table: names (and `{name}{LOAD_SUFFIX}` \
                 in overwrite mode) must be 1 to {MAX_IDENT} bytes"
            ));
        }
        Ok(Stream {
            table: qualified(&config.schema, name),
            load: qualified(&config.schema, &format!("{name}{LOAD_SUFFIX}")),
            stage: format!("_sluice_stage_{index}"),
            metadata: config.metadata,
            history: config.history.clone(),
            schema: None,
            shape: None,
            encoder: None,
            synced: false,
            load_state: Load::None,
            stage_exists: false,
            staged: 0,
            complete: false,
            config: stream,
        })
    }

    fn name(&self) -> &str {
        &self.config.name
    }

    fn mode(&self) -> WriteMode {
        self.config.write_mode
    }

    fn staging(&self) -> bool {
        matches!(self.mode(), WriteMode::AppendDedup | WriteMode::History)
    }

    /// The table rows go into: the load table while overwriting.
    fn write_table(&self) -> &str {
        match self.mode() {
            WriteMode::Overwrite => &self.load,
            _ => &self.table,
        }
    }

    fn fail(&self, e: &sluice_pg_client::Error, what: &str) -> ConnectorError {
        pg_error(e, Some(self.name()), what)
    }

    /// Whether batches already follow `schema`.
    pub(crate) fn follows(&self, schema: &Schema) -> bool {
        self.schema.as_ref() == Some(schema)
    }

    /// Batches from now on follow `schema`: evolve the table before them.
    pub(crate) fn set_schema(&mut self, db: &mut Client, schema: &Schema) -> Result<()> {
        if self.follows(schema) {
            return Ok(());
        }
        if self.stage_exists {
            // Rows staged under the old schema are applied first.
            self.apply(db)?;
            let drop = format!("DROP TABLE pg_temp.{}", ident(&self.stage));
            db.batch_execute(&drop)
                .map_err(|e| self.fail(&e, "cannot drop the staging table"))?;
            self.stage_exists = false;
        }
        self.schema = Some(schema.clone());
        self.shape = None;
        self.encoder = None;
        self.synced = false;
        if self.mode() != WriteMode::Overwrite || self.load_state != Load::None {
            self.sync(db)?;
        }
        Ok(())
    }

    /// The shape of the current schema (from the configured stream's JSON
    /// Schema when the writer was told none).
    fn shape(&mut self) -> Result<&Shape> {
        if self.shape.is_none() {
            let shape = self.make_shape()?;
            self.encoder = Some(RowEncoder::new(&shape.fields));
            self.shape = Some(shape);
        }
        Ok(self.shape.as_ref().expect("set above"))
    }

    fn make_shape(&mut self) -> Result<Shape> {
        let name = self.name().to_string();
        let schema = match &self.schema {
            Some(s) => s.clone(),
            None => Schema::from_json_schema(&self.config.schema).map_err(|e| {
                ConnectorError::config(format!(
                    "stream `{name}` has no registry schema and its JSON Schema cannot be read: {e}"
                ))
                .in_stream(&name)
            })?,
        };
        if schema.fields.is_empty() {
            return Err(ConnectorError::config(format!(
                "stream `{name}` has no fields: a table needs a schema with at least one field"
            ))
            .in_stream(&name));
        }
        for key in &self.config.primary_key {
            if schema.field(key).is_none() {
                return Err(ConnectorError::config(format!(
                    "primary key field `{key}` of stream `{name}` is not in its schema"
                ))
                .in_stream(&name));
            }
        }
        let history = (self.mode() == WriteMode::History).then(|| self.history.clone());
        let mut reserved = vec![EXTRACTED_AT];
        if let Some(h) = &history {
            reserved.extend([
                h.valid_from.as_str(),
                h.valid_to.as_str(),
                h.is_current.as_str(),
            ]);
        }
        if let Some(f) = schema
            .fields
            .iter()
            .find(|f| reserved.contains(&f.name.as_str()))
        {
            return Err(ConnectorError::config(format!(
                "field `{}` of stream `{name}` has the name of a column dest-postgres adds itself; \
                 rename the field or the column (`history` in the config)",
                f.name
            ))
            .in_stream(&name));
        }
        let cursor = self
            .config
            .cursor_field
            .clone()
            .filter(|c| schema.field(c).is_some_and(|f| f.ty == Type::Timestamp));
        Ok(Shape {
            fields: schema
                .fields
                .iter()
                .map(|f| Column::of_field(f, true))
                .collect(),
            primary_key: self.config.primary_key.clone(),
            keyed: self.mode() != WriteMode::Append,
            metadata: self.metadata,
            history,
            cursor,
        })
    }

    /// The columns `table` has now; empty when it does not exist.
    fn existing(&self, db: &mut Client, table: &str) -> Result<Vec<Existing>> {
        let rows = db
            .query(EXISTING_COLUMNS, &[Some(table)])
            .map_err(|e| self.fail(&e, &format!("cannot read the columns of {table}")))?;
        Ok(rows
            .rows
            .iter()
            .map(|r| Existing {
                name: r.get(0).unwrap_or_default().to_string(),
                pg: r.get(1).unwrap_or_default().to_string(),
                not_null: r.get(2) == Some("t"),
            })
            .collect())
    }

    /// Create the table written to, or evolve it to the current shape.
    fn sync(&mut self, db: &mut Client) -> Result<()> {
        let shape = self.shape()?.clone();
        let table = self.write_table().to_string();
        let existing = self.existing(db, &table)?;
        let sql = if existing.is_empty() {
            shape.create(&table)
        } else {
            let mut keep = shape.key_columns();
            if let Some(h) = &shape.history {
                keep.extend([h.valid_from.as_str(), h.is_current.as_str()]);
            }
            let clauses = alterations(&table, &existing, &shape.table_columns(), &keep)
                .map_err(|e| e.in_stream(self.name()))?;
            if clauses.is_empty() {
                self.synced = true;
                return Ok(());
            }
            format!("ALTER TABLE {table} {}", clauses.join(", "))
        };
        db.batch_execute(&sql)
            .map_err(|e| self.fail(&e, &format!("cannot create or alter table {table}")))?;
        self.synced = true;
        Ok(())
    }

    /// Overwrite: make sure the stream's table exists, then load into a
    /// fresh load table (a leftover one of a failed run is dropped).
    fn start_load(&mut self, db: &mut Client) -> Result<()> {
        let shape = self.shape()?.clone();
        if self.existing(db, &self.table.clone())?.is_empty() {
            db.batch_execute(&shape.create(&self.table))
                .map_err(|e| self.fail(&e, &format!("cannot create table {}", self.table)))?;
        }
        let sql = format!(
            "DROP TABLE IF EXISTS {}; {}",
            self.load,
            shape.create(&self.load)
        );
        db.batch_execute(&sql)
            .map_err(|e| self.fail(&e, &format!("cannot create the load table {}", self.load)))?;
        self.load_state = Load::InTransaction;
        self.synced = true;
        Ok(())
    }

    /// Apply one batch (the writer has begun the transaction); `open`: the
    /// COPY this stream's previous batch left open is still open. Returns
    /// whether a COPY is open now.
    pub(crate) fn write(
        &mut self,
        db: &mut Client,
        batch: &Batch,
        seq: &mut u64,
        open: bool,
    ) -> Result<bool> {
        self.check_operation(batch.operation)?;
        let BatchFormat::JsonLines = batch.format;
        self.shape()?;
        if !self.synced {
            if self.mode() == WriteMode::Overwrite && self.load_state == Load::None {
                self.start_load(db)?;
            } else {
                self.sync(db)?;
            }
        }
        if self.staging() && !self.stage_exists {
            let stage = self.stage.clone();
            let sql = self.shape()?.create_stage(&stage);
            db.batch_execute(&sql)
                .map_err(|e| self.fail(&e, "cannot create the staging table"))?;
            self.stage_exists = true;
        }
        if batch.count == 0 {
            return Ok(open);
        }
        self.copy(db, batch, seq, open)?;
        Ok(true)
    }

    fn check_operation(&self, op: Operation) -> Result<()> {
        let refused = match self.mode() {
            WriteMode::Append if op == Operation::Delete => "append_dedup or history",
            WriteMode::Overwrite if op == Operation::Delete => "append_dedup or history",
            _ => return Ok(()),
        };
        Err(ConnectorError::data(format!(
            "stream `{}` is written in {} mode, which cannot apply deletes; \
             write it in {refused} mode to apply them",
            self.name(),
            mode_name(self.mode())
        ))
        .in_stream(self.name()))
    }

    /// COPY the batch's records into the write table or the staging
    /// table: into the COPY of this stream that is still open when
    /// `open`, else a new one, left open for the stream's next batch.
    fn copy(&mut self, db: &mut Client, batch: &Batch, seq: &mut u64, open: bool) -> Result<()> {
        let staging = self.staging();
        let shape = self.shape.as_ref().expect("shaped before copying");
        let (target, columns) = if staging {
            (
                format!("pg_temp.{}", ident(&self.stage)),
                shape.stage_columns(),
            )
        } else {
            (self.write_table().to_string(), shape.copy_columns())
        };
        let mut suffix = Vec::new();
        if staging || shape.metadata {
            suffix.push(b'\t');
            copy_text(&mut suffix, &timestamp(batch.extracted_at));
        }
        let name = self.config.name.clone();
        let table = self.write_table().to_string();
        if !open {
            let sql = format!(
                "COPY {target} ({}) FROM STDIN",
                ident_list(columns.iter().map(String::as_str))
            );
            db.copy_begin(&sql)
                .map_err(|e| pg_error(&e, Some(&name), &format!("cannot start loading {table}")))?;
        }
        let op = if batch.operation == Operation::Delete {
            b'd'
        } else {
            b'u'
        };
        let encoder = self.encoder.as_mut().expect("shaped before copying");
        for (i, line) in batch.lines().enumerate() {
            let buf = db.copy_buffer();
            if staging {
                *seq += 1;
                buf.extend_from_slice(itoa::Buffer::new().format(*seq).as_bytes());
                buf.extend_from_slice(&[b'\t', op, b'\t']);
            }
            encoder
                .encode(line, buf)
                .map_err(|e| record_error(e, i + 1, &name, &table))?;
            buf.extend_from_slice(&suffix);
            buf.push(b'\n');
            db.copy_maybe_send()
                .map_err(|e| pg_error(&e, Some(&name), &format!("cannot load {table}")))?;
        }
        if staging {
            self.staged += u64::from(batch.count);
        }
        Ok(())
    }

    /// End this stream's open COPY: the server reports any row it refused.
    pub(crate) fn end_copy(&mut self, db: &mut Client) -> Result<()> {
        let name = self.config.name.clone();
        db.copy_end().map(drop).map_err(|e| {
            let table = self.write_table().to_string();
            pg_error(
                &e,
                Some(&name),
                &format!("cannot load stream `{name}` into {table}"),
            )
        })
    }

    /// Apply the staged records (append_dedup, history) to the table.
    fn apply(&mut self, db: &mut Client) -> Result<()> {
        if self.staged == 0 {
            return Ok(());
        }
        let shape = self.shape.as_ref().expect("staged rows have a shape");
        let sql = match self.mode() {
            WriteMode::History => shape.history(&self.table, &self.stage),
            _ => shape.dedup(&self.table, &self.stage),
        };
        db.execute(&sql, &[]).map_err(|e| {
            self.fail(
                &e,
                &format!("cannot apply stream `{}` to {}", self.name(), self.table),
            )
        })?;
        self.staged = 0;
        Ok(())
    }

    /// This stream's part of a commit: staged records applied; a completed
    /// overwrite load swapped in.
    pub(crate) fn finish(&mut self, db: &mut Client) -> Result<()> {
        self.apply(db)?;
        if !(self.complete && self.mode() == WriteMode::Overwrite) {
            return Ok(());
        }
        if self.load_state == Load::None {
            // A stream with no rows this run: it is replaced by an empty table.
            self.start_load(db)?;
        }
        let name = self.config.name.clone();
        db.batch_execute(&swap(&self.table, &self.load, &name))
            .map_err(|e| {
                self.fail(
                    &e,
                    &format!("cannot swap the loaded table into {}", self.table),
                )
            })?;
        self.rename_key(db)?;
        self.load_state = Load::None;
        self.synced = false;
        Ok(())
    }

    /// After a swap the key constraint still has the load table's name:
    /// give it the table's usual `<name>_pkey`.
    fn rename_key(&self, db: &mut Client) -> Result<()> {
        let sql =
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'p'";
        let rows = db
            .query(sql, &[Some(&self.table)])
            .map_err(|e| self.fail(&e, "cannot read the key constraint"))?;
        let wanted = format!("{}_pkey", self.name());
        let Some(current) = rows.get(0, 0) else {
            return Ok(());
        };
        if current == wanted || wanted.len() > MAX_IDENT {
            return Ok(());
        }
        let taken = db
            .query("SELECT 1 FROM pg_class WHERE relname = $1 AND relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = to_regclass($2))",
                &[Some(&wanted), Some(&self.table)])
            .map_err(|e| self.fail(&e, "cannot read the catalog"))?;
        if !taken.rows.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
            self.table,
            ident(current),
            ident(&wanted)
        );
        db.batch_execute(&sql)
            .map_err(|e| self.fail(&e, "cannot rename the key constraint"))
    }

    /// The transaction committed.
    pub(crate) fn committed(&mut self) {
        self.stage_exists = false;
        self.staged = 0;
        self.complete = false;
        if self.load_state == Load::InTransaction {
            self.load_state = Load::Committed;
        }
    }

    /// The transaction rolled back: forget what it created.
    pub(crate) fn rolled_back(&mut self) {
        self.stage_exists = false;
        self.staged = 0;
        self.synced = false;
        if self.load_state == Load::InTransaction {
            self.load_state = Load::None;
        }
    }

    /// Whether the table has a primary key on exactly `fields` (append
    /// tables have none; history tables are keyed by version).
    pub(crate) fn keyed_on(&self, fields: &[String]) -> bool {
        let mut a = self.config.primary_key.clone();
        let mut b = fields.to_vec();
        a.sort();
        b.sort();
        matches!(self.mode(), WriteMode::AppendDedup | WriteMode::Overwrite)
            && !a.is_empty()
            && a == b
    }
}

/// A record that does not fit, as a data error naming stream and table.
fn record_error(e: RecordError, record: usize, stream: &str, table: &str) -> ConnectorError {
    let message = match e {
        RecordError::Unknown(field) => format!(
            "record {record} of a batch of stream `{stream}` has field `{field}`, which is not a \
             column of {table} (a new field needs a new schema first)"
        ),
        RecordError::Invalid(why) => {
            format!("record {record} of a batch of stream `{stream}` does not fit {table}: {why}")
        }
    };
    ConnectorError::data(message).in_stream(stream)
}

/// `ms` since the epoch as RFC 3339 text.
pub(crate) fn timestamp(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The mode's name as pipeline files spell it.
pub(crate) fn mode_name(mode: WriteMode) -> &'static str {
    match mode {
        WriteMode::Append => "append",
        WriteMode::Overwrite => "overwrite",
        WriteMode::AppendDedup => "append_dedup",
        WriteMode::History => "history",
    }
}
