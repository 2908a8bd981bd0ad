//! Statements: the simple protocol for scripts, the extended protocol for
//! one statement with text parameters and text results.

use crate::conn::{Client, server_error};
use crate::error::{Error, Result};
use bytes::Bytes;
use fallible_iterator::FallibleIterator;
use postgres_protocol::IsNull;
use postgres_protocol::message::{backend::Message, frontend};
use std::ops::Range;

/// A result column: its name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column's name (or alias).
    pub name: String,
    /// The OID of its type (`pg_type.oid`): 20 is `int8`, 25 `text`, ...
    pub type_oid: u32,
}

/// One row of a result, in text format.
#[derive(Debug, Clone)]
pub struct Row {
    buf: Bytes,
    ranges: Vec<Option<Range<usize>>>,
}

impl Row {
    /// Column `i` as text; `None` for NULL (or no such column).
    pub fn get(&self, i: usize) -> Option<&str> {
        let bytes = self.get_bytes(i)?;
        // The session's client_encoding is UTF8.
        std::str::from_utf8(bytes).ok()
    }

    /// Column `i`'s raw bytes; `None` for NULL.
    pub fn get_bytes(&self, i: usize) -> Option<&[u8]> {
        let range = self.ranges.get(i)?.clone()?;
        Some(&self.buf[range])
    }

    /// How many columns.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// The rows of a statement and its columns.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// The result's columns.
    pub columns: Vec<Column>,
    /// The rows.
    pub rows: Vec<Row>,
    /// Rows the statement affected, from its command tag (`INSERT 0 5`).
    pub affected: u64,
}

impl Rows {
    /// Row `row`, column `col`, as text.
    pub fn get(&self, row: usize, col: usize) -> Option<&str> {
        self.rows.get(row)?.get(col)
    }

    /// The index of the column named `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

impl Client {
    /// Run one or more `;`-separated statements with the simple protocol,
    /// discarding their rows. Stops at the first error.
    pub fn batch_execute(&mut self, sql: &str) -> Result<()> {
        self.ready()?;
        frontend::query(sql, &mut self.write)?;
        self.flush()?;
        self.finish_with(None)
    }

    /// Run one statement with text parameters (`$1`, `$2`, ...; `None` is
    /// NULL) and return the rows it affected.
    pub fn execute(&mut self, sql: &str, params: &[Option<&str>]) -> Result<u64> {
        Ok(self.query(sql, params)?.affected)
    }

    /// Run one statement with text parameters and return its rows as text.
    pub fn query(&mut self, sql: &str, params: &[Option<&str>]) -> Result<Rows> {
        self.send_query(sql, params)?;
        self.receive_rows()
    }

    /// Send one statement without waiting for its result, so the server
    /// works on it while the caller does something else (pipelining, e.g.
    /// the next `FETCH` of a cursor while the last batch is processed).
    /// Take its result with [`receive_rows`](Self::receive_rows) before
    /// anything else is sent; [`query`](Self::query) is the two in a row.
    pub fn send_query(&mut self, sql: &str, params: &[Option<&str>]) -> Result<()> {
        self.send_extended(sql, params)
    }

    /// The rows of the statement [`send_query`](Self::send_query) sent.
    pub fn receive_rows(&mut self) -> Result<Rows> {
        let mut rows = Rows::default();
        let mut error = None;
        loop {
            match self.next()? {
                Message::ParseComplete | Message::BindComplete | Message::NoData => {}
                Message::RowDescription(d) => {
                    let mut fields = d.fields();
                    while let Some(f) = fields.next()? {
                        rows.columns.push(Column {
                            name: f.name().to_string(),
                            type_oid: f.type_oid(),
                        });
                    }
                }
                Message::DataRow(r) => {
                    let ranges = r.ranges().collect()?;
                    rows.rows.push(Row {
                        buf: r.buffer_bytes().clone(),
                        ranges,
                    });
                }
                Message::CommandComplete(c) => rows.affected = affected(c.tag()?),
                Message::EmptyQueryResponse | Message::NoticeResponse(_) => {}
                Message::ErrorResponse(e) => {
                    error.get_or_insert(Error::Server(Box::new(server_error(&e)?)));
                }
                Message::ReadyForQuery(r) => {
                    self.status = r.status();
                    return error.map_or(Ok(rows), Err);
                }
                _ => return Err(Error::Protocol("in a query's result".into())),
            }
        }
    }

    fn send_extended(&mut self, sql: &str, params: &[Option<&str>]) -> Result<()> {
        self.ready()?;
        frontend::parse("", sql, std::iter::empty(), &mut self.write)?;
        let bound = frontend::bind(
            "",
            "",
            std::iter::once(0),
            params.iter(),
            |p, buf| match p {
                Some(v) => {
                    buf.extend_from_slice(v.as_bytes());
                    Ok(IsNull::No)
                }
                None => Ok(IsNull::Yes),
            },
            std::iter::once(0),
            &mut self.write,
        );
        bound.map_err(|e| match e {
            frontend::BindError::Conversion(e) => Error::Protocol(e.to_string()),
            frontend::BindError::Serialization(e) => Error::Io(e),
        })?;
        frontend::describe(b'P', "", &mut self.write)?;
        frontend::execute("", 0, &mut self.write)?;
        frontend::sync(&mut self.write);
        self.flush()
    }
}

/// The row count at the end of a command tag: `INSERT 0 5`, `UPDATE 3`,
/// `COPY 10`, `SELECT 2`.
pub(crate) fn affected(tag: &str) -> u64 {
    tag.rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
