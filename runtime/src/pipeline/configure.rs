//! The configured catalog: stream selections (a pipeline file's
//! `[[streams]]`, or the CLI's `--stream`/`--fields`) checked against what
//! the source offers and the destination accepts, with every default
//! filled in.

use serde_json::Value;
use sluice_manifest::StreamSelection;
use sluice_protocol::{
    Catalog, ConfiguredCatalog, ConfiguredStream, Spec, StreamInfo, SyncMode, WriteMode,
};

/// A stream selection that does not fit the connectors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectionError {
    /// Selection `index` (stream `stream`) cannot be configured.
    #[error("streams[{index}] (`{stream}`): {problem}")]
    Stream {
        /// Its position among the selections.
        index: usize,
        /// The stream it names.
        stream: String,
        /// What is wrong.
        problem: String,
    },
    /// Nothing is selected and the source offers nothing.
    #[error("no stream to sync: the source offers none")]
    Empty,
}

/// Configure `selections` (empty: every stream the source offers) against
/// the source's `catalog` and, when there is one, the `destination`'s spec.
pub fn configure(
    selections: &[StreamSelection],
    catalog: &Catalog,
    destination: Option<&Spec>,
) -> Result<ConfiguredCatalog, SelectionError> {
    let all: Vec<StreamSelection>;
    let selections = if selections.is_empty() {
        all = catalog
            .streams
            .iter()
            .map(|s| StreamSelection::new(s.name.clone()))
            .collect();
        &all
    } else {
        selections
    };
    let mut streams = Vec::with_capacity(selections.len());
    for (index, sel) in selections.iter().enumerate() {
        let stream = configure_stream(sel, &selections[..index], catalog, destination).map_err(
            |problem| SelectionError::Stream {
                index,
                stream: sel.name.clone(),
                problem,
            },
        )?;
        streams.push(stream);
    }
    keep_configured_relationships(&mut streams);
    if streams.is_empty() {
        return Err(SelectionError::Empty);
    }
    Ok(ConfiguredCatalog { streams })
}

/// One selection; `before` are the selections ahead of it.
fn configure_stream(
    sel: &StreamSelection,
    before: &[StreamSelection],
    catalog: &Catalog,
    destination: Option<&Spec>,
) -> Result<ConfiguredStream, String> {
    if before.iter().any(|s| s.name == sel.name) {
        return Err("the stream is listed twice".into());
    }
    let Some(info) = catalog.stream(&sel.name) else {
        let offered: Vec<&str> = catalog.streams.iter().map(|s| s.name.as_str()).collect();
        return Err(format!(
            "the source offers no such stream; it offers: {}",
            offered.join(", ")
        ));
    };
    check_fields(sel, info)?;
    check_partition(sel, info)?;
    let sync_mode = sync_mode(sel, info)?;
    let cursor_field = cursor_field(sel, info, sync_mode)?;
    let write_mode = write_mode(sel, sync_mode, destination)?;
    let primary_key = if sel.primary_key.is_empty() {
        info.primary_key.clone()
    } else {
        sel.primary_key.clone()
    };
    if write_mode == WriteMode::AppendDedup && primary_key.is_empty() {
        return Err("append_dedup needs a `primary_key`".into());
    }
    let mut schema = info.schema.clone();
    if !sel.fields.is_empty()
        && let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut)
    {
        props.retain(|k, _| sel.fields.contains(k));
    }
    Ok(ConfiguredStream {
        name: sel.name.clone(),
        fields: sel.fields.clone(),
        sync_mode,
        cursor_field,
        primary_key,
        write_mode,
        schema,
        partition: sel.partition,
        relationships: info.relationships.clone(),
    })
}

/// Keep the relationships whose target stream is configured too and whose
/// fields are all selected on both sides: a destination can only refer to
/// what it gets.
fn keep_configured_relationships(streams: &mut [ConfiguredStream]) {
    let selected: Vec<(String, ConfiguredStream)> = streams
        .iter()
        .map(|s| (s.name.clone(), s.clone()))
        .collect();
    let find = |name: &str| selected.iter().find(|(n, _)| n == name).map(|(_, s)| s);
    for stream in streams.iter_mut() {
        let own = find(&stream.name).cloned();
        stream.relationships.retain(|r| {
            let Some(target) = find(&r.target_stream) else {
                return false;
            };
            let own = own.as_ref().expect("a configured stream finds itself");
            r.fields.iter().all(|f| own.selects(f))
                && r.target_fields.iter().all(|f| target.selects(f))
        });
    }
}

/// A partition must be a share the source can read.
fn check_partition(sel: &StreamSelection, info: &StreamInfo) -> Result<(), String> {
    let Some(p) = sel.partition else {
        return Ok(());
    };
    if p.count == 0 || p.index >= p.count {
        return Err(format!(
            "`partition` must have 0 <= index < count (got index {} of count {})",
            p.index, p.count
        ));
    }
    if !info.partitioned {
        return Err("the source cannot read this stream in partitions (its catalog does not say `partitioned`)".into());
    }
    Ok(())
}

/// Selected fields and primary key fields must be in the stream's schema.
fn check_fields(sel: &StreamSelection, info: &StreamInfo) -> Result<(), String> {
    let Some(props) = info.schema.get("properties").and_then(Value::as_object) else {
        return Ok(());
    };
    match sel
        .fields
        .iter()
        .chain(sel.primary_key.iter())
        .find(|f| !props.contains_key(*f))
    {
        Some(f) => Err(format!(
            "field `{f}` is not in the stream's schema (fields: {})",
            props.keys().cloned().collect::<Vec<_>>().join(", ")
        )),
        None => Ok(()),
    }
}

/// The selected sync mode, else incremental where the stream has a default
/// cursor, else full refresh.
fn sync_mode(sel: &StreamSelection, info: &StreamInfo) -> Result<SyncMode, String> {
    let default_incremental =
        info.sync_modes.contains(&SyncMode::Incremental) && info.default_cursor.is_some();
    let sync_mode = sel.sync_mode.unwrap_or(if default_incremental {
        SyncMode::Incremental
    } else {
        SyncMode::FullRefresh
    });
    if !info.sync_modes.is_empty() && !info.sync_modes.contains(&sync_mode) {
        return Err(format!(
            "the stream does not support sync_mode {sync_mode:?}"
        ));
    }
    Ok(sync_mode)
}

/// The cursor: needed for an incremental sync, and one of the candidates.
fn cursor_field(
    sel: &StreamSelection,
    info: &StreamInfo,
    sync_mode: SyncMode,
) -> Result<Option<String>, String> {
    let cursor = sel.cursor_field.clone().or(info.default_cursor.clone());
    if sync_mode == SyncMode::FullRefresh {
        return Ok(cursor);
    }
    let Some(cursor) = cursor else {
        return Err(format!(
            "incremental sync needs `cursor_field` (candidates: {})",
            info.cursor_candidates.join(", ")
        ));
    };
    if !info.cursor_candidates.is_empty() && !info.cursor_candidates.contains(&cursor) {
        return Err(format!(
            "`{cursor}` cannot be a cursor; candidates: {}",
            info.cursor_candidates.join(", ")
        ));
    }
    Ok(Some(cursor))
}

/// The selected write mode, else append for incremental and overwrite for
/// full refresh (append where the destination cannot overwrite, as a
/// Singer target cannot); the destination must support it.
fn write_mode(
    sel: &StreamSelection,
    sync_mode: SyncMode,
    destination: Option<&Spec>,
) -> Result<WriteMode, String> {
    let supports = |m: WriteMode| {
        destination.is_none_or(|d| d.write_modes.is_empty() || d.write_modes.contains(&m))
    };
    let write_mode = sel.write_mode.unwrap_or(match sync_mode {
        SyncMode::Incremental => WriteMode::Append,
        SyncMode::FullRefresh if supports(WriteMode::Overwrite) => WriteMode::Overwrite,
        SyncMode::FullRefresh => WriteMode::Append,
    });
    if let Some(d) = destination
        && !d.write_modes.is_empty()
        && !d.write_modes.contains(&write_mode)
    {
        return Err(format!(
            "destination `{}` does not support write_mode {write_mode:?} (it supports {:?})",
            d.name, d.write_modes
        ));
    }
    Ok(write_mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sluice_protocol::{Relationship, StreamInfo};

    fn info(name: &str, relationships: Vec<Relationship>) -> StreamInfo {
        StreamInfo {
            relationships,
            primary_key: vec!["id".into()],
            ..StreamInfo::new(name, json!({"type": "object"}))
        }
    }

    fn rel(from: &str, field: &str, to: &str) -> Relationship {
        Relationship {
            name: format!("{from}_{to}"),
            fields: vec![field.into()],
            target_stream: to.into(),
            target_fields: vec!["id".into()],
        }
    }

    #[test]
    fn configured_streams_keep_only_relationships_to_what_is_configured() {
        let catalog = Catalog {
            streams: vec![
                info("users", vec![]),
                info("orders", vec![rel("orders", "user_id", "users")]),
                info("events", vec![rel("events", "user_id", "users")]),
            ],
        };
        let all = configure(&[], &catalog, None).unwrap();
        assert_eq!(
            all.streams[1].relationships,
            catalog.streams[1].relationships
        );
        // Without users, nothing can refer to it.
        let some = [
            StreamSelection::new("orders".to_string()),
            StreamSelection::new("events".to_string()),
        ];
        let c = configure(&some, &catalog, None).unwrap();
        assert!(c.streams.iter().all(|s| s.relationships.is_empty()));
        // A relationship over a field that is not selected goes too.
        let mut orders = StreamSelection::new("orders".to_string());
        orders.fields = vec!["id".into()];
        let c = configure(
            &[StreamSelection::new("users".to_string()), orders],
            &catalog,
            None,
        )
        .unwrap();
        assert!(c.streams[1].relationships.is_empty());
    }
}
