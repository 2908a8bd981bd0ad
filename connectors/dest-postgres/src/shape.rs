//! The shape of one stream's table and the SQL of each write mode: the
//! `CREATE TABLE`, the staging table, the set-based statements that apply
//! a staged transaction (`append_dedup`, `history`), and the swap that
//! ends an `overwrite` load.

use crate::columns::Column;
use crate::config::{EXTRACTED_AT, HistoryColumns};
use sluice_pg_client::sql::{ident, ident_list};

/// The staging column holding each staged record's arrival order.
pub(crate) const SEQ: &str = "_sluice_seq";
/// The staging column holding `u` (insert, update, upsert) or `d` (delete).
pub(crate) const OP: &str = "_sluice_op";

/// Everything the SQL of one stream depends on.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    /// The columns of the record's fields, in schema order.
    pub fields: Vec<Column>,
    /// The primary key fields (empty: none).
    pub primary_key: Vec<String>,
    /// Whether the table gets a PRIMARY KEY constraint (not in append:
    /// appending keeps every record, re-sent ones too).
    pub keyed: bool,
    /// Whether the table has `_sluice_extracted_at`.
    pub metadata: bool,
    /// The validity columns, in `history` mode.
    pub history: Option<HistoryColumns>,
    /// The timestamp field whose value starts a version (`history`); the
    /// batch's extraction time when `None`.
    pub cursor: Option<String>,
}

impl Shape {
    /// Every column of the stream's table: fields, metadata, validity.
    pub(crate) fn table_columns(&self) -> Vec<Column> {
        let mut columns = self.fields.clone();
        if self.metadata {
            columns.push(Column::system(
                EXTRACTED_AT,
                "timestamp with time zone",
                false,
            ));
        }
        if let Some(h) = &self.history {
            columns.push(Column::system(
                &h.valid_from,
                "timestamp with time zone",
                true,
            ));
            columns.push(Column::system(
                &h.valid_to,
                "timestamp with time zone",
                false,
            ));
            columns.push(Column::system(&h.is_current, "boolean", true));
        }
        columns
    }

    /// The table's primary key columns (with `valid_from` in history mode).
    pub(crate) fn key_columns(&self) -> Vec<&str> {
        if !self.keyed {
            return Vec::new();
        }
        let mut key: Vec<&str> = self.primary_key.iter().map(String::as_str).collect();
        if let Some(h) = &self.history
            && !key.is_empty()
        {
            key.push(&h.valid_from);
        }
        key
    }

    /// `CREATE TABLE` of the stream's table (or its overwrite load table)
    /// `table`: a logged table with the primary key.
    pub(crate) fn create(&self, table: &str) -> String {
        let mut parts: Vec<String> = self.table_columns().iter().map(|c| c.ddl(true)).collect();
        let key = self.key_columns();
        if !key.is_empty() {
            parts.push(format!("PRIMARY KEY ({})", ident_list(key)));
        }
        format!("CREATE TABLE {table} ({})", parts.join(", "))
    }

    /// The columns a COPY into the table itself names (append, overwrite).
    pub(crate) fn copy_columns(&self) -> Vec<String> {
        let mut names: Vec<String> = self.fields.iter().map(|c| c.name.clone()).collect();
        if self.metadata {
            names.push(EXTRACTED_AT.into());
        }
        names
    }

    /// `CREATE TEMP TABLE` of a transaction's staging table: arrival order,
    /// operation, every field (all nullable: deletes carry only the key),
    /// and the extraction time. It goes away at commit.
    pub(crate) fn create_stage(&self, stage: &str) -> String {
        let mut parts = vec![format!("{SEQ} bigint"), format!("{OP} \"char\"")];
        parts.extend(self.fields.iter().map(|c| c.ddl(false)));
        parts.push(format!("{EXTRACTED_AT} timestamp with time zone"));
        format!(
            "CREATE TEMP TABLE {} ({}) ON COMMIT DROP",
            ident(stage),
            parts.join(", ")
        )
    }

    /// The column list of a COPY into the staging table.
    pub(crate) fn stage_columns(&self) -> Vec<String> {
        let mut names = vec![SEQ.to_string(), OP.to_string()];
        names.extend(self.fields.iter().map(|c| c.name.clone()));
        names.push(EXTRACTED_AT.into());
        names
    }

    fn field_names(&self) -> Vec<&str> {
        self.fields.iter().map(|c| c.name.as_str()).collect()
    }

    /// Field names plus the metadata column when the table has it.
    fn stored_names(&self) -> Vec<&str> {
        let mut names = self.field_names();
        if self.metadata {
            names.push(EXTRACTED_AT);
        }
        names
    }

    /// `a.k1 = b.k1 AND a.k2 = b.k2` over the primary key fields.
    fn key_join(&self, a: &str, b: &str) -> String {
        let on: Vec<String> = self
            .primary_key
            .iter()
            .map(|k| format!("{a}.{k} = {b}.{k}", k = ident(k)))
            .collect();
        on.join(" AND ")
    }

    /// The `append_dedup` statement: the last staged record per key wins;
    /// keys whose last record is a delete are deleted, the others inserted
    /// or updated (rows whose fields did not change are left alone).
    pub(crate) fn dedup(&self, table: &str, stage: &str) -> String {
        let key = ident_list(self.primary_key.iter().map(String::as_str));
        let stored = self.stored_names();
        let cols = ident_list(stored.iter().copied());
        let updates: Vec<&str> = stored
            .iter()
            .copied()
            .filter(|c| !self.primary_key.iter().any(|k| k == c))
            .collect();
        let conflict = if updates.is_empty() {
            "DO NOTHING".to_string()
        } else {
            let set: Vec<String> = updates
                .iter()
                .map(|c| format!("{c} = EXCLUDED.{c}", c = ident(c)))
                .collect();
            let fields: Vec<&str> = updates
                .iter()
                .copied()
                .filter(|c| *c != EXTRACTED_AT)
                .collect();
            let changed = if fields.is_empty() {
                String::new()
            } else {
                let mine: Vec<String> = fields.iter().map(|c| format!("t.{}", ident(c))).collect();
                let theirs: Vec<String> = fields
                    .iter()
                    .map(|c| format!("EXCLUDED.{}", ident(c)))
                    .collect();
                format!(
                    " WHERE ({}) IS DISTINCT FROM ({})",
                    mine.join(", "),
                    theirs.join(", ")
                )
            };
            format!("DO UPDATE SET {}{changed}", set.join(", "))
        };
        format!(
            "WITH last AS MATERIALIZED (SELECT DISTINCT ON ({key}) * FROM pg_temp.{stage} \
               ORDER BY {key}, {SEQ} DESC), \
             gone AS (DELETE FROM {table} t USING last s WHERE s.{OP} = 'd' AND {join} RETURNING 1) \
             INSERT INTO {table} AS t ({cols}) SELECT {cols} FROM last WHERE {OP} <> 'd' \
             ON CONFLICT ({key}) {conflict}",
            stage = ident(stage),
            join = self.key_join("t", "s"),
        )
    }

    /// The `history` statement (SCD type 2), set-based over the staged
    /// transaction:
    /// 1. `s`: one staged record per key and valid-from time (the last one
    ///    sent), valid-from being the cursor field or the extraction time;
    /// 2. `ev`: of those, the ones newer than everything the table knows of
    ///    the key (its latest valid_from or valid_to): older ones are stale,
    ///    equal ones re-delivered;
    /// 3. `chain`: each touched key's current version followed by its
    ///    events, in time order; an upsert equal to the one before it opens
    ///    nothing, a delete closes the open version (if any);
    /// 4. the current versions that a later event ends are closed, and the
    ///    upserts that open a version are inserted, each valid until the
    ///    next effective event.
    pub(crate) fn history(&self, table: &str, stage: &str) -> String {
        let h = self.history.clone().unwrap_or_default();
        let (vf, vt, cur) = (
            ident(&h.valid_from),
            ident(&h.valid_to),
            ident(&h.is_current),
        );
        let key = ident_list(self.primary_key.iter().map(String::as_str));
        let stored = ident_list(self.stored_names());
        let stage_vf = match &self.cursor {
            Some(c) => format!("coalesce({}, {EXTRACTED_AT})", ident(c)),
            None => EXTRACTED_AT.to_string(),
        };
        let same: Vec<String> = self
            .field_names()
            .iter()
            .map(|c| format!("(lag({c}) OVER w) IS NOT DISTINCT FROM {c}", c = ident(c)))
            .collect();
        let prefixed = |p: &str| -> String {
            let cols: Vec<String> = self
                .stored_names()
                .iter()
                .map(|c| format!("{p}.{}", ident(c)))
                .collect();
            cols.join(", ")
        };
        let cursorless = match &self.cursor {
            Some(c) => format!("{} IS NULL", ident(c)),
            None => "true".to_string(),
        };
        format!(
            "WITH keys AS (SELECT DISTINCT {key} FROM pg_temp.{stage}), \
             hw AS (SELECT {tkey}, max(greatest(t.{vf}, coalesce(t.{vt}, t.{vf}))) AS _sluice_hw \
               FROM {table} t JOIN keys k ON {tk_join} GROUP BY {tkey}), \
             s0 AS (SELECT st.*, {stage_vf} AS _sluice_raw, h._sluice_hw FROM pg_temp.{stage} st \
               LEFT JOIN hw h ON {sth_join}), \
             s1 AS (SELECT s0.*, CASE WHEN {OP} = 'd' AND {cursorless} THEN greatest(_sluice_raw, \
               _sluice_hw, max(_sluice_raw) OVER (PARTITION BY {key} ORDER BY {SEQ} \
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) ELSE _sluice_raw END AS _sluice_vf \
               FROM s0), \
             s AS MATERIALIZED (SELECT DISTINCT ON ({key}, _sluice_vf, {OP}) * FROM s1 \
               ORDER BY {key}, _sluice_vf, {OP}, {SEQ} DESC), \
             ev AS MATERIALIZED (SELECT * FROM s WHERE _sluice_hw IS NULL OR _sluice_vf > _sluice_hw \
               OR ({OP} = 'd' AND _sluice_vf = _sluice_hw)), \
             chain AS (\
               SELECT 'c'::\"char\" AS _sluice_kind, {t_cols}, t.{vf} AS _sluice_vf, 0::bigint AS _sluice_ord \
                 FROM {table} t WHERE t.{cur} AND EXISTS (SELECT 1 FROM ev e WHERE {te_join}) \
               UNION ALL SELECT e.{OP}, {e_cols}, e._sluice_vf, e.{SEQ} FROM ev e), \
             marked AS (SELECT c.*, lag(_sluice_kind) OVER w AS _sluice_prev, {same} AS _sluice_same \
               FROM chain c WINDOW w AS (PARTITION BY {key} ORDER BY _sluice_vf, _sluice_ord)), \
             eff AS (SELECT * FROM marked WHERE _sluice_kind = 'c' \
               OR (_sluice_kind = 'u' AND (_sluice_prev IS NULL OR _sluice_prev = 'd' OR NOT _sluice_same)) \
               OR (_sluice_kind = 'd' AND _sluice_prev IN ('c', 'u'))), \
             fin AS MATERIALIZED (SELECT f.*, lead(_sluice_vf) OVER (PARTITION BY {key} ORDER BY _sluice_vf, _sluice_ord) \
               AS _sluice_next FROM eff f), \
             closed AS (UPDATE {table} t SET {vt} = f._sluice_next, {cur} = false FROM fin f \
               WHERE f._sluice_kind = 'c' AND f._sluice_next IS NOT NULL AND {tf_join} \
               AND t.{vf} = f._sluice_vf RETURNING 1) \
             INSERT INTO {table} ({stored}, {vf}, {vt}, {cur}) \
               SELECT {stored}, _sluice_vf, _sluice_next, _sluice_next IS NULL FROM fin \
               WHERE _sluice_kind = 'u'",
            stage = ident(stage),
            same = if same.is_empty() {
                "true".to_string()
            } else {
                same.join(" AND ")
            },
            tkey = prefixed_key(&self.primary_key, "t"),
            tk_join = self.key_join("t", "k"),
            sth_join = self.key_join("st", "h"),
            te_join = self.key_join("t", "e"),
            tf_join = self.key_join("t", "f"),
            t_cols = prefixed("t"),
            e_cols = prefixed("e"),
        )
    }
}

fn prefixed_key(key: &[String], p: &str) -> String {
    let cols: Vec<String> = key.iter().map(|k| format!("{p}.{}", ident(k))).collect();
    cols.join(", ")
}

/// The statements that replace `table` by the finished load table `load`
/// (both qualified; `load_name` and `name` unqualified) in the current
/// transaction: readers see the old rows until it commits, the new ones
/// after, never a mix.
pub(crate) fn swap(table: &str, load: &str, name: &str) -> String {
    format!(
        "DROP TABLE IF EXISTS {table}; ALTER TABLE {load} RENAME TO {}",
        ident(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_guest::{Field, Type};

    fn shape(history: bool) -> Shape {
        Shape {
            fields: vec![
                Column::of_field(&Field::required("id", Type::Int64), true),
                Column::of_field(&Field::optional("name", Type::String), true),
            ],
            primary_key: vec!["id".into()],
            keyed: true,
            metadata: true,
            history: history.then(HistoryColumns::default),
            cursor: None,
        }
    }

    #[test]
    fn tables_are_logged_with_their_primary_key() {
        assert_eq!(
            shape(false).create("\"public\".\"u\""),
            "CREATE TABLE \"public\".\"u\" (\"id\" bigint NOT NULL, \"name\" text, \
             \"_sluice_extracted_at\" timestamp with time zone, PRIMARY KEY (\"id\"))"
        );
        let h = shape(true).create("u");
        assert!(
            h.contains("\"_valid_from\" timestamp with time zone NOT NULL"),
            "{h}"
        );
        assert!(h.ends_with("PRIMARY KEY (\"id\", \"_valid_from\"))"), "{h}");
    }

    #[test]
    fn dedup_is_one_statement_with_the_last_row_per_key() {
        let sql = shape(false).dedup("\"public\".\"u\"", "stage");
        assert!(
            sql.starts_with("WITH last AS MATERIALIZED (SELECT DISTINCT ON (\"id\")"),
            "{sql}"
        );
        assert!(sql.contains("ORDER BY \"id\", _sluice_seq DESC"), "{sql}");
        assert!(
            sql.contains("ON CONFLICT (\"id\") DO UPDATE SET \"name\" = EXCLUDED.\"name\""),
            "{sql}"
        );
        assert_eq!(sql.matches(';').count(), 0);
    }
}
