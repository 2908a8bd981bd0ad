//! What the system catalog (`pg_catalog`) says about the configured
//! schemas: their tables (and views), columns, primary keys and foreign
//! keys, and the stream name of each table.

use crate::types::Column;
use crate::{Config, pg_error};
use sluice_guest::{ConnectorError, Result};
use sluice_pg_client::{Client, Rows};
use std::collections::HashMap;

/// A table or view the source offers as a stream.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    /// `pg_class.oid`, as text.
    pub oid: String,
    /// Its schema.
    pub schema: String,
    /// Its name within the schema.
    pub name: String,
    /// The stream name: `name`, or `schema.name` when another configured
    /// schema has a table of the same name.
    pub stream: String,
    /// Its columns, in order.
    pub columns: Vec<Column>,
    /// Its primary key columns, in key order (empty: none).
    pub primary_key: Vec<String>,
    /// Its foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
}

/// A foreign key of a table.
#[derive(Debug, Clone)]
pub(crate) struct ForeignKey {
    /// The constraint's name.
    pub name: String,
    /// Its columns in this table.
    pub columns: Vec<String>,
    /// `oid` of the table it references.
    pub target: String,
    /// The referenced columns.
    pub target_columns: Vec<String>,
}

impl Table {
    /// `"schema"."name"`.
    pub fn qualified(&self) -> String {
        sluice_pg_client::sql::qualified(&self.schema, &self.name)
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// `{"a","b"}`: a text array literal, for `= any($1::text[])`.
fn text_array<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = items
        .into_iter()
        .map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", quoted.join(","))
}

fn query(db: &mut Client, sql: &str, params: &[Option<&str>]) -> Result<Rows> {
    db.query(sql, params).map_err(|e| pg_error(&e))
}

fn text(rows: &Rows, row: usize, col: usize) -> String {
    rows.get(row, col).unwrap_or_default().to_string()
}

const TABLES: &str = "select c.oid::text, n.nspname, c.relname \
     from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
     where n.nspname = any($1::text[]) and c.relkind = any($2::\"char\"[]) and not c.relispartition \
     order by n.nspname, c.relname";

/// The tables (and views, when configured) of the configured schemas,
/// narrowed to `tables` when it is set, with their columns and keys.
pub(crate) fn load(db: &mut Client, config: &Config) -> Result<Vec<Table>> {
    let kinds = if config.include_views {
        "{r,p,v,m}"
    } else {
        "{r,p}"
    };
    let schemas = text_array(config.schemas.iter().map(String::as_str));
    let rows = query(db, TABLES, &[Some(&schemas), Some(kinds)])?;
    let mut tables: Vec<Table> = (0..rows.rows.len())
        .map(|i| Table {
            oid: text(&rows, i, 0),
            schema: text(&rows, i, 1),
            name: text(&rows, i, 2),
            stream: String::new(),
            columns: Vec::new(),
            primary_key: Vec::new(),
            foreign_keys: Vec::new(),
        })
        .collect();
    name_streams(&mut tables);
    if let Some(wanted) = &config.tables {
        tables = narrow(tables, wanted, &config.schemas)?;
    }
    if !tables.is_empty() {
        add_details(db, &mut tables)?;
    }
    Ok(tables)
}

/// Stream names: the table's name, or `schema.name` when it is not unique.
fn name_streams(tables: &mut [Table]) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for t in tables.iter() {
        *counts.entry(t.name.clone()).or_default() += 1;
    }
    for t in tables.iter_mut() {
        t.stream = if counts[&t.name] > 1 {
            format!("{}.{}", t.schema, t.name)
        } else {
            t.name.clone()
        };
    }
}

/// The tables named in `wanted` (by name, stream name or `schema.name`);
/// an error naming any entry that matches none.
fn narrow(tables: Vec<Table>, wanted: &[String], schemas: &[String]) -> Result<Vec<Table>> {
    let matches = |t: &Table, w: &str| {
        w == t.name || w == t.stream || *w == format!("{}.{}", t.schema, t.name)
    };
    if let Some(missing) = wanted
        .iter()
        .find(|w| !tables.iter().any(|t| matches(t, w)))
    {
        return Err(ConnectorError::config(format!(
            "`tables` names `{missing}`, which is no table in the schemas {schemas:?}"
        )));
    }
    Ok(tables
        .into_iter()
        .filter(|t| wanted.iter().any(|w| matches(t, w)))
        .collect())
}

fn add_details(db: &mut Client, tables: &mut [Table]) -> Result<()> {
    let oids = text_array(tables.iter().map(|t| t.oid.as_str()));
    let mut by_oid: HashMap<String, usize> = HashMap::new();
    for (i, t) in tables.iter().enumerate() {
        by_oid.insert(t.oid.clone(), i);
    }
    add_columns(db, &oids, tables, &by_oid)?;
    add_primary_keys(db, &oids, tables, &by_oid)?;
    add_foreign_keys(db, &oids, tables, &by_oid)
}

const COLUMNS: &str = "select a.attrelid::text, a.attname, format_type(a.atttypid, a.atttypmod), \
       bt.typname, et.typname, \
       case when t.typtype = 'd' then t.typtypmod else a.atttypmod end, a.attnotnull \
     from pg_catalog.pg_attribute a \
     join pg_catalog.pg_type t on t.oid = a.atttypid \
     join pg_catalog.pg_type bt on bt.oid = case when t.typtype = 'd' then t.typbasetype else t.oid end \
     left join pg_catalog.pg_type et on et.oid = bt.typelem and bt.typcategory = 'A' \
     where a.attrelid = any($1::oid[]) and a.attnum > 0 and not a.attisdropped \
     order by a.attrelid, a.attnum";

fn add_columns(
    db: &mut Client,
    oids: &str,
    tables: &mut [Table],
    by_oid: &HashMap<String, usize>,
) -> Result<()> {
    let rows = query(db, COLUMNS, &[Some(oids)])?;
    for i in 0..rows.rows.len() {
        let Some(&t) = by_oid.get(rows.get(i, 0).unwrap_or_default()) else {
            continue;
        };
        tables[t].columns.push(Column {
            name: text(&rows, i, 1),
            sql_type: text(&rows, i, 2),
            type_name: text(&rows, i, 3),
            element: rows.get(i, 4).map(String::from),
            typmod: rows.get(i, 5).and_then(|m| m.parse().ok()).unwrap_or(-1),
            not_null: rows.get(i, 6) == Some("t"),
        });
    }
    Ok(())
}

const PRIMARY_KEYS: &str = "select con.conrelid::text, a.attname \
     from pg_catalog.pg_constraint con \
     cross join lateral unnest(con.conkey) with ordinality as k(attnum, ord) \
     join pg_catalog.pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum \
     where con.contype = 'p' and con.conrelid = any($1::oid[]) \
     order by con.conrelid, k.ord";

fn add_primary_keys(
    db: &mut Client,
    oids: &str,
    tables: &mut [Table],
    by_oid: &HashMap<String, usize>,
) -> Result<()> {
    let rows = query(db, PRIMARY_KEYS, &[Some(oids)])?;
    for i in 0..rows.rows.len() {
        if let Some(&t) = by_oid.get(rows.get(i, 0).unwrap_or_default()) {
            tables[t].primary_key.push(text(&rows, i, 1));
        }
    }
    Ok(())
}

const FOREIGN_KEYS: &str = "select con.conrelid::text, con.conname, con.confrelid::text, \
       a.attname, fa.attname \
     from pg_catalog.pg_constraint con \
     cross join lateral unnest(con.conkey, con.confkey) with ordinality as k(attnum, fattnum, ord) \
     join pg_catalog.pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum \
     join pg_catalog.pg_attribute fa on fa.attrelid = con.confrelid and fa.attnum = k.fattnum \
     where con.contype = 'f' and con.conrelid = any($1::oid[]) \
     order by con.conrelid, con.conname, k.ord";

fn add_foreign_keys(
    db: &mut Client,
    oids: &str,
    tables: &mut [Table],
    by_oid: &HashMap<String, usize>,
) -> Result<()> {
    let rows = query(db, FOREIGN_KEYS, &[Some(oids)])?;
    for i in 0..rows.rows.len() {
        let Some(&t) = by_oid.get(rows.get(i, 0).unwrap_or_default()) else {
            continue;
        };
        let name = text(&rows, i, 1);
        let keys = &mut tables[t].foreign_keys;
        if keys.last().is_none_or(|k| k.name != name) {
            keys.push(ForeignKey {
                name,
                columns: Vec::new(),
                target: text(&rows, i, 2),
                target_columns: Vec::new(),
            });
        }
        let key = keys.last_mut().expect("pushed above");
        key.columns.push(text(&rows, i, 3));
        key.target_columns.push(text(&rows, i, 4));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_literals_quote_their_items() {
        assert_eq!(text_array(["public", "a\"b\\c"]), r#"{"public","a\"b\\c"}"#);
        assert_eq!(text_array([]), "{}");
    }
}
