//! Reading one table inside the run's snapshot, a batch at a time, through
//! a server-side cursor (`DECLARE ... NO SCROLL CURSOR`, `FETCH FORWARD n`):
//! never more than one batch of rows in memory.
//!
//! - Full refresh: every row (of the partition's key range), in the
//!   server's order.
//! - Incremental: rows after the bookmark `(cursor, key)` up to the
//!   snapshot's largest cursor value, in `(cursor, key)` order, with a
//!   checkpoint of the last row's `(cursor, key)` after every batch.

use crate::catalog::Table;
use crate::discover::{partition_key, row_schema};
use crate::encode::RowEncoder;
use crate::pg_error;
use crate::types::Column;
use serde::{Deserialize, Serialize};
use sluice_guest::{
    BatchBuilder, ConfiguredStream, ConnectorError, Level, Partition, Result, State, Step,
    StreamOutput, StreamRead, SyncMode, log,
};
use sluice_pg_client::sql::{ident, literal};
use sluice_pg_client::{Client, Rows};
use std::cell::RefCell;
use std::rc::Rc;

/// The saved state of an incremental stream: the `(cursor, key)` of the
/// last row emitted, each value in PostgreSQL's text form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bookmark {
    /// The cursor column.
    pub cursor_field: String,
    /// The last emitted row's cursor value.
    pub cursor: String,
    /// The last emitted row's primary key values, in key order (the tie-breaker).
    pub key: Vec<String>,
}

/// What an incremental read orders and filters by.
struct Incremental {
    cursor: Column,
    key: Vec<Column>,
    after: Option<Bookmark>,
}

/// One configured stream of the source: one table or view.
pub struct PgStream {
    db: Rc<RefCell<Client>>,
    table: Table,
    selected: Vec<Column>,
    incremental: Option<Incremental>,
    partition: Option<(String, Partition)>,
    cursor_name: String,
    batch_rows: u32,
    declared: bool,
    encoder: RowEncoder,
    line: Vec<u8>,
    batch: BatchBuilder,
}

/// How a stream is read: the connection, its table, the run's state, the
/// batch size and a number unique among the run's streams.
pub(crate) struct Open<'a> {
    pub db: Rc<RefCell<Client>>,
    pub tables: &'a [Table],
    pub state: &'a State,
    pub batch_rows: u32,
    pub index: usize,
}

impl PgStream {
    /// Prepare to read `stream`; nothing is queried until the first batch.
    pub(crate) fn open(how: Open<'_>, stream: ConfiguredStream) -> Result<PgStream> {
        let name = stream.name.as_str();
        let config_error = |m: String| ConnectorError::config(m).in_stream(name);
        let Some(table) = how.tables.iter().find(|t| t.stream == name) else {
            return Err(config_error(format!(
                "no table or view `{name}` in the configured schemas"
            )));
        };
        let selected = selected_columns(table, &stream)?;
        let names: Vec<&str> = selected.iter().map(|c| c.name.as_str()).collect();
        let encoder = RowEncoder::new(&names, selected.iter().map(Column::encoding).collect());
        let batch = BatchBuilder::for_stream(&stream, how.batch_rows).schema(&row_schema(table))?;
        let incremental = match stream.sync_mode {
            SyncMode::Incremental => Some(incremental(table, &stream, how.state)?),
            SyncMode::FullRefresh => None,
        };
        let partition = match stream.partition.filter(|p| p.count > 1) {
            None => None,
            Some(p) => match partition_key(table) {
                Some(key) => Some((key.to_string(), p)),
                None => {
                    return Err(config_error(format!(
                        "`{name}` cannot be read in partitions: its primary key is not one integer column"
                    )));
                }
            },
        };
        Ok(PgStream {
            db: how.db,
            table: table.clone(),
            selected,
            incremental,
            partition,
            cursor_name: format!("sluice_read_{}", how.index),
            batch_rows: how.batch_rows,
            declared: false,
            encoder,
            line: Vec::with_capacity(1024),
            batch,
        })
    }

    fn stream(&self) -> &str {
        &self.table.stream
    }

    fn query(&self, sql: &str) -> Result<Rows> {
        self.db
            .borrow_mut()
            .query(sql, &[])
            .map_err(|e| self.error(&e))
    }

    fn send_fetch(&self) -> Result<()> {
        let fetch = format!(
            "fetch forward {} from {}",
            self.batch_rows, self.cursor_name
        );
        self.db
            .borrow_mut()
            .send_query(&fetch, &[])
            .map_err(|e| self.error(&e))
    }

    fn execute(&self, sql: &str) -> Result<()> {
        self.db
            .borrow_mut()
            .batch_execute(sql)
            .map_err(|e| self.error(&e))
    }

    fn error(&self, e: &sluice_pg_client::Error) -> ConnectorError {
        let mut error = pg_error(e).in_stream(self.stream());
        error.message = format!("reading {}: {}", self.table.qualified(), error.message);
        error
    }

    /// The conditions of the partition's key range, or `None` when the
    /// partition is empty. Ranges split `[min, max]` of the key in the
    /// snapshot into `count` equal parts; the first and last are open-ended.
    fn partition_filter(&self) -> Result<Option<Vec<String>>> {
        let Some((key, p)) = &self.partition else {
            return Ok(Some(Vec::new()));
        };
        let key = format!("t.{}", ident(key));
        let rows = self.query(&format!(
            "select min({key})::text, max({key})::text from {} t",
            self.table.qualified()
        ))?;
        let bound = |i| rows.get(0, i).and_then(|v: &str| v.parse::<i128>().ok());
        let (Some(min), Some(max)) = (bound(0), bound(1)) else {
            return Ok(None);
        };
        let span = max - min + 1;
        let edge = |i: u32| min + span * i128::from(i) / i128::from(p.count);
        let mut filter = Vec::new();
        if p.index > 0 {
            filter.push(format!("{key} >= {}", edge(p.index)));
        }
        if p.index + 1 < p.count {
            filter.push(format!("{key} < {}", edge(p.index + 1)));
        }
        Ok(Some(filter))
    }

    /// Declare the server-side cursor; `false` when there is nothing to read.
    fn declare(&mut self) -> Result<bool> {
        let Some(mut filter) = self.partition_filter()? else {
            return Ok(false);
        };
        let mut select: Vec<String> = self.selected.iter().map(Column::select_expr).collect();
        if select.is_empty() {
            // No field selected: the records are `{}`; keys still follow.
            select.push("null".into());
        }
        let mut order = String::new();
        if let Some(inc) = &self.incremental {
            let cursor = format!("t.{}", ident(&inc.cursor.name));
            let where_ = filter_sql(&filter);
            let rows = self.query(&format!(
                "select max({cursor})::text from {} t{where_}",
                self.table.qualified()
            ))?;
            let Some(upper) = rows.get(0, 0) else {
                return Ok(false);
            };
            log(
                Level::Info,
                &format!(
                    "{}: reading up to {} = {upper}",
                    self.stream(),
                    inc.cursor.name
                ),
            );
            filter.push(format!("{cursor} <= {}", typed(upper, &inc.cursor)));
            if let Some(after) = &inc.after {
                filter.push(after_bookmark(inc, after));
            }
            let keys: Vec<String> = std::iter::once(&inc.cursor)
                .chain(&inc.key)
                .map(|c| format!("t.{}", ident(&c.name)))
                .collect();
            order = format!(" order by {}", keys.join(", "));
            select.extend(keys);
        }
        let sql = format!(
            "declare {} no scroll cursor for select {} from {} t{}{order}",
            self.cursor_name,
            select.join(", "),
            self.table.qualified(),
            filter_sql(&filter),
        );
        self.execute(&sql)?;
        Ok(true)
    }

    /// Encode `rows` into the batch; the bookmark of the last row, when incremental.
    fn fill(&mut self, rows: &Rows) -> Option<Bookmark> {
        for row in &rows.rows {
            self.line.clear();
            self.encoder.push(&mut self.line, row);
            self.batch.push_json_line(&self.line);
        }
        let inc = self.incremental.as_ref()?;
        let last = rows.rows.last()?;
        let at = self.selected.len().max(1);
        let text = |i: usize| last.get(at + i).unwrap_or_default().to_string();
        Some(Bookmark {
            cursor_field: inc.cursor.name.clone(),
            cursor: text(0),
            key: (1..=inc.key.len()).map(text).collect(),
        })
    }
}

impl StreamRead for PgStream {
    /// One batch. The next `FETCH` is sent before this batch is encoded, so
    /// the server produces it meanwhile; it is always received before the
    /// stream ends, so the connection is free for the next stream.
    fn read_batch(&mut self, out: &mut StreamOutput<'_>) -> Result<Step> {
        if !self.declared {
            if !self.declare()? {
                return Ok(Step::Done);
            }
            self.declared = true;
            self.send_fetch()?;
        }
        let rows = self
            .db
            .borrow_mut()
            .receive_rows()
            .map_err(|e| self.error(&e))?;
        let more = rows.rows.len() >= self.batch_rows as usize;
        if more {
            self.send_fetch()?;
        }
        let bookmark = self.fill(&rows);
        out.records(&mut self.batch);
        if let Some(bookmark) = bookmark {
            out.checkpoint(&bookmark)?;
            if let Some(inc) = &mut self.incremental {
                inc.after = Some(bookmark);
            }
        }
        if more {
            return Ok(Step::More);
        }
        self.execute(&format!("close {}", self.cursor_name))?;
        Ok(Step::Done)
    }
}

/// ` where a and b`, or nothing.
fn filter_sql(filter: &[String]) -> String {
    match filter.is_empty() {
        true => String::new(),
        false => format!(" where {}", filter.join(" and ")),
    }
}

/// `'value'::type`.
fn typed(value: &str, column: &Column) -> String {
    format!("{}::{}", literal(value), column.sql_type)
}

/// `(t.cursor, t.key) > (bookmark)`: rows after the last one emitted, ties
/// on the cursor broken by the key.
fn after_bookmark(inc: &Incremental, after: &Bookmark) -> String {
    let columns: Vec<&Column> = std::iter::once(&inc.cursor).chain(&inc.key).collect();
    let values: Vec<&str> = std::iter::once(after.cursor.as_str())
        .chain(after.key.iter().map(String::as_str))
        .collect();
    let names: Vec<String> = columns
        .iter()
        .map(|c| format!("t.{}", ident(&c.name)))
        .collect();
    let typed: Vec<String> = columns
        .iter()
        .zip(values)
        .map(|(c, v)| typed(v, c))
        .collect();
    format!("({}) > ({})", names.join(", "), typed.join(", "))
}

/// The columns a stream selects, in table order; an error naming a
/// selected field that is no column.
fn selected_columns(table: &Table, stream: &ConfiguredStream) -> Result<Vec<Column>> {
    if let Some(missing) = stream.fields.iter().find(|f| table.column(f).is_none()) {
        return Err(ConnectorError::config(format!(
            "selected field `{missing}` is no column of {}",
            table.qualified()
        ))
        .in_stream(&stream.name));
    }
    Ok(table
        .columns
        .iter()
        .filter(|c| stream.fields.is_empty() || stream.fields.contains(&c.name))
        .cloned()
        .collect())
}

/// The cursor, key and saved bookmark of an incremental stream.
fn incremental(table: &Table, stream: &ConfiguredStream, state: &State) -> Result<Incremental> {
    let name = stream.name.as_str();
    let config_error = |m: String| ConnectorError::config(m).in_stream(name);
    let cursor_field = stream
        .cursor_field
        .clone()
        .or_else(|| crate::discover::stream_info(table, &[]).default_cursor)
        .ok_or_else(|| {
            config_error(format!(
                "incremental sync of `{name}` needs a cursor field (one of its integer or timestamp columns)"
            ))
        })?;
    let Some(cursor) = table.column(&cursor_field).cloned() else {
        return Err(config_error(format!(
            "cursor field `{cursor_field}` is no column of {}",
            table.qualified()
        )));
    };
    let key_names = match table.primary_key.is_empty() {
        true => &stream.primary_key,
        false => &table.primary_key,
    };
    if key_names.is_empty() {
        return Err(config_error(format!(
            "incremental sync of `{name}` needs a primary key to break ties on `{cursor_field}`; {} has none",
            table.qualified()
        )));
    }
    let mut key = Vec::with_capacity(key_names.len());
    for k in key_names {
        let column = table.column(k).cloned().ok_or_else(|| {
            config_error(format!(
                "primary key `{k}` is no column of {}",
                table.qualified()
            ))
        })?;
        key.push(column);
    }
    let saved = state.get::<Bookmark>(name)?;
    let after = saved
        .clone()
        .filter(|b| b.cursor_field == cursor_field && b.key.len() == key.len());
    if let (Some(b), None) = (&saved, &after) {
        log(
            Level::Warn,
            &format!(
                "{name}: the saved bookmark is on `{}` with {} key values, the stream now on `{cursor_field}` with {}: reading from the start",
                b.cursor_field,
                b.key.len(),
                key.len()
            ),
        );
    }
    Ok(Incremental { cursor, key, after })
}
