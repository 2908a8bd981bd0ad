//! Catalogs at the edges: Singer catalogs (with `selected` and
//! replication metadata) and Airbyte catalogs and configured catalogs, to
//! and from sluice's [`Catalog`] and [`ConfiguredCatalog`].
//!
//! What sluice knows of a stream and neither protocol has a place for
//! (per-operation schemas, relationships, partitions, cursor candidates)
//! travels with it: in Singer's stream metadata under `sluice-*` keys, in
//! an Airbyte stream's `json_schema` under `x-sluice`. Reading a catalog
//! back restores it, so nothing is lost on a round trip.

use crate::airbyte;
use serde_json::{Map, Value, json};
use sluice_protocol::{
    Catalog, ConfiguredCatalog, ConfiguredStream, OperationSchema, Relationship, StreamInfo,
    SyncMode, WriteMode,
};

/// What sluice keeps of a stream that the protocols do not carry.
fn extras(s: &StreamInfo) -> Map<String, Value> {
    let mut m = Map::new();
    if !s.operation_schemas.is_empty() {
        m.insert("operation-schemas".into(), json!(s.operation_schemas));
    }
    if !s.relationships.is_empty() {
        m.insert("relationships".into(), json!(s.relationships));
    }
    if s.partitioned {
        m.insert("partitioned".into(), json!(true));
    }
    if !s.cursor_candidates.is_empty() {
        m.insert("cursor-candidates".into(), json!(s.cursor_candidates));
    }
    if let Some(c) = &s.default_cursor {
        m.insert("default-cursor".into(), json!(c));
    }
    m.insert("sync-modes".into(), json!(s.sync_modes));
    m
}

/// Put back onto `s` what [`extras`] kept (keys missing are left alone).
fn restore(s: &mut StreamInfo, m: &Map<String, Value>) -> Result<(), String> {
    fn get<T: serde::de::DeserializeOwned>(
        m: &Map<String, Value>,
        key: &str,
    ) -> Result<Option<T>, String> {
        m.get(key)
            .map(|v| serde_json::from_value(v.clone()))
            .transpose()
            .map_err(|e| format!("sluice `{key}`: {e}"))
    }
    if let Some(v) = get::<Vec<OperationSchema>>(m, "operation-schemas")? {
        s.operation_schemas = v;
    }
    if let Some(v) = get::<Vec<Relationship>>(m, "relationships")? {
        s.relationships = v;
    }
    if let Some(v) = get::<bool>(m, "partitioned")? {
        s.partitioned = v;
    }
    if let Some(v) = get::<Vec<String>>(m, "cursor-candidates")? {
        s.cursor_candidates = v;
    }
    if let Some(v) = get::<String>(m, "default-cursor")? {
        s.default_cursor = Some(v);
    }
    if let Some(v) = get::<Vec<SyncMode>>(m, "sync-modes")? {
        s.sync_modes = v;
    }
    Ok(())
}

// ---- Singer ----

/// A Singer catalog (as a tap's `--discover` prints) of `catalog`; with
/// `configured`, the streams and fields it selects are marked `selected`
/// with their replication method and key.
pub fn to_singer(catalog: &Catalog, configured: Option<&ConfiguredCatalog>) -> Value {
    let streams: Vec<Value> = catalog
        .streams
        .iter()
        .map(|s| singer_stream(s, configured.and_then(|c| c.stream(&s.name))))
        .collect();
    json!({"streams": streams})
}

fn singer_stream(s: &StreamInfo, selected: Option<&ConfiguredStream>) -> Value {
    let mut top = Map::new();
    top.insert("inclusion".into(), json!("available"));
    top.insert("table-key-properties".into(), json!(s.primary_key));
    top.insert("valid-replication-keys".into(), json!(s.cursor_candidates));
    if !s.sync_modes.contains(&SyncMode::Incremental) {
        top.insert("forced-replication-method".into(), json!("FULL_TABLE"));
    }
    for (k, v) in extras(s) {
        top.insert(format!("sluice-{k}"), v);
    }
    if let Some(c) = selected {
        top.insert("selected".into(), json!(true));
        let (method, key) = replication(c);
        top.insert("replication-method".into(), json!(method));
        if let Some(key) = key {
            top.insert("replication-key".into(), json!(key));
        }
    }
    let mut metadata = vec![json!({"breadcrumb": [], "metadata": top})];
    let fields = s.schema.get("properties").and_then(Value::as_object);
    for name in fields.into_iter().flat_map(|p| p.keys()) {
        let automatic = s.primary_key.contains(name);
        let mut m = json!({"inclusion": if automatic { "automatic" } else { "available" }});
        if let Some(c) = selected {
            m["selected"] = json!(automatic || c.selects(name));
        }
        metadata.push(json!({"breadcrumb": ["properties", name], "metadata": m}));
    }
    let mut out = json!({
        "tap_stream_id": s.name,
        "stream": s.name,
        "schema": s.schema,
        "key_properties": s.primary_key,
        "metadata": metadata,
    });
    // The singer-sdk reads a selected stream's replication from the
    // entry itself; older taps from the metadata above.
    if let Some(c) = selected {
        let (method, key) = replication(c);
        out["replication_method"] = json!(method);
        if let Some(key) = key {
            out["replication_key"] = json!(key);
        }
    }
    out
}

/// Singer's replication method and key for a configured stream.
fn replication(c: &ConfiguredStream) -> (&'static str, Option<&str>) {
    match c.sync_mode {
        SyncMode::Incremental => ("INCREMENTAL", c.cursor_field.as_deref()),
        SyncMode::FullRefresh => ("FULL_TABLE", None),
    }
}

/// A tap's own catalog (`tap_catalog`, kept exactly as it printed it)
/// with the streams of `configured` selected, with their fields,
/// replication method and key, and every other stream deselected.
pub fn select_in_singer(tap_catalog: &Value, configured: &ConfiguredCatalog) -> Value {
    let mut out = tap_catalog.clone();
    for stream in out
        .get_mut("streams")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let id = singer_id(stream).to_string();
        let chosen = configured.stream(&id);
        let metadata = stream
            .as_object_mut()
            .map(|o| o.entry("metadata").or_insert_with(|| json!([])));
        let Some(Value::Array(entries)) = metadata else {
            continue;
        };
        if !entries.iter().any(|e| breadcrumb(e).is_empty()) {
            entries.push(json!({"breadcrumb": [], "metadata": {}}));
        }
        for entry in entries.iter_mut() {
            let path = breadcrumb(entry);
            let Some(m) = entry.get_mut("metadata").and_then(Value::as_object_mut) else {
                continue;
            };
            match (path.as_slice(), chosen) {
                ([], Some(c)) => {
                    m.insert("selected".into(), json!(true));
                    let (method, key) = replication(c);
                    m.insert("replication-method".into(), json!(method));
                    match key {
                        Some(k) => m.insert("replication-key".into(), json!(k)),
                        None => m.remove("replication-key"),
                    };
                }
                ([], None) => {
                    m.insert("selected".into(), json!(false));
                }
                ([_, field], Some(c)) => {
                    let automatic = m.get("inclusion").and_then(Value::as_str) == Some("automatic");
                    m.insert("selected".into(), json!(automatic || c.selects(field)));
                }
                _ => {}
            }
        }
    }
    out
}

/// A Singer stream's id: `tap_stream_id`, else `stream`.
fn singer_id(stream: &Value) -> &str {
    stream
        .get("tap_stream_id")
        .or_else(|| stream.get("stream"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The breadcrumb of a metadata entry, as strings.
fn breadcrumb(entry: &Value) -> Vec<String> {
    entry
        .get("breadcrumb")
        .and_then(Value::as_array)
        .map(|b| {
            b.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Singer metadata of one breadcrumb.
type Metadata = Map<String, Value>;

/// The stream-level (`[]`) and field-level (`["properties", f]`) metadata
/// of a Singer stream.
fn singer_metadata(stream: &Value) -> (Metadata, Vec<(String, Metadata)>) {
    let mut top = Map::new();
    let mut fields = Vec::new();
    for entry in stream
        .get("metadata")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(m) = entry.get("metadata").and_then(Value::as_object) else {
            continue;
        };
        match breadcrumb(entry).as_slice() {
            [] => top = m.clone(),
            [p, f] if p == "properties" => fields.push((f.clone(), m.clone())),
            _ => {}
        }
    }
    (top, fields)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// sluice's catalog of a Singer catalog (a tap's `--discover` output).
pub fn from_singer(catalog: &Value) -> Result<Catalog, String> {
    let streams = catalog
        .get("streams")
        .and_then(Value::as_array)
        .ok_or("a Singer catalog needs a `streams` list")?;
    let mut out = Vec::new();
    for s in streams {
        let name = singer_id(s);
        if name.is_empty() {
            return Err(
                "every stream of a Singer catalog needs `tap_stream_id` or `stream`".into(),
            );
        }
        let (top, _) = singer_metadata(s);
        let schema = s.get("schema").cloned().unwrap_or_else(|| json!({}));
        let mut info = StreamInfo::new(name, schema);
        info.primary_key = match s.get("key_properties") {
            Some(k) => strings(Some(k)),
            None => strings(top.get("table-key-properties")),
        };
        info.cursor_candidates = strings(top.get("valid-replication-keys"));
        let full_only =
            top.get("forced-replication-method").and_then(Value::as_str) == Some("FULL_TABLE");
        info.sync_modes = if full_only {
            vec![SyncMode::FullRefresh]
        } else {
            vec![SyncMode::FullRefresh, SyncMode::Incremental]
        };
        if let Some(c) = top.get("replication-key").and_then(Value::as_str) {
            info.default_cursor = Some(c.to_string());
        } else if info.cursor_candidates.len() == 1 {
            info.default_cursor = info.cursor_candidates.first().cloned();
        }
        let kept: Map<String, Value> = top
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("sluice-")?.to_string(), v.clone())))
            .collect();
        restore(&mut info, &kept).map_err(|e| format!("stream `{name}`: {e}"))?;
        out.push(info);
    }
    Ok(Catalog { streams: out })
}

/// The streams a Singer catalog selects (`selected` metadata), as sluice
/// configures them: replication method and key, selected fields (all when
/// none is marked), key properties.
pub fn configured_from_singer(catalog: &Value) -> Result<ConfiguredCatalog, String> {
    let discovered = from_singer(catalog)?;
    let mut streams = Vec::new();
    for (s, info) in catalog
        .get("streams")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .zip(&discovered.streams)
    {
        let (top, fields) = singer_metadata(s);
        let selected = top
            .get("selected")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            || s.get("selected").and_then(Value::as_bool) == Some(true);
        if !selected {
            continue;
        }
        let mut c = ConfiguredStream::new(info.name.clone());
        c.schema = info.schema.clone();
        c.primary_key = info.primary_key.clone();
        let method = top
            .get("replication-method")
            .or_else(|| top.get("forced-replication-method"))
            .or_else(|| s.get("replication_method"))
            .and_then(Value::as_str);
        if method == Some("INCREMENTAL") {
            c.sync_mode = SyncMode::Incremental;
            c.cursor_field = top
                .get("replication-key")
                .or_else(|| s.get("replication_key"))
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        let marked: Vec<&(String, Metadata)> = fields
            .iter()
            .filter(|(_, m)| m.contains_key("selected"))
            .collect();
        if !marked.is_empty() {
            c.fields = fields
                .iter()
                .filter(|(_, m)| {
                    m.get("selected").and_then(Value::as_bool) == Some(true)
                        || m.get("inclusion").and_then(Value::as_str) == Some("automatic")
                })
                .map(|(f, _)| f.clone())
                .collect();
        }
        streams.push(c);
    }
    Ok(ConfiguredCatalog { streams })
}

// ---- Airbyte ----

/// An `AirbyteCatalog` of `catalog`.
pub fn to_airbyte(catalog: &Catalog) -> Value {
    let streams: Vec<Value> = catalog.streams.iter().map(airbyte_stream).collect();
    json!({"streams": streams})
}

fn airbyte_stream(s: &StreamInfo) -> Value {
    let mut schema = s.schema.clone();
    if let Value::Object(o) = &mut schema {
        o.insert("x-sluice".into(), Value::Object(extras(s)));
    }
    let modes: Vec<&str> = s
        .sync_modes
        .iter()
        .map(|m| airbyte::sync_mode(*m))
        .collect();
    let mut out = json!({
        "name": s.name,
        "json_schema": schema,
        "supported_sync_modes": modes,
        "source_defined_cursor": s.default_cursor.is_some(),
        "is_resumable": s.sync_modes.contains(&SyncMode::Incremental),
    });
    if let Some(c) = &s.default_cursor {
        out["default_cursor_field"] = json!([c]);
    }
    if !s.primary_key.is_empty() {
        let pk: Vec<Vec<&str>> = s.primary_key.iter().map(|k| vec![k.as_str()]).collect();
        out["source_defined_primary_key"] = json!(pk);
    }
    out
}

/// A `ConfiguredAirbyteCatalog` of `configured`, each stream as
/// `catalog` (the Airbyte source's own, when it is one) describes it.
/// Fails for a write mode Airbyte has no name for (`history`).
pub fn to_airbyte_configured(
    catalog: &Value,
    configured: &ConfiguredCatalog,
) -> Result<Value, String> {
    let mut streams = Vec::new();
    for c in &configured.streams {
        let stream = catalog
            .get("streams")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|s| s.get("name").and_then(Value::as_str) == Some(&c.name))
            .cloned()
            .unwrap_or_else(|| json!({"name": c.name, "json_schema": c.schema, "supported_sync_modes": ["full_refresh", "incremental"]}));
        let mode = airbyte::destination_sync_mode(c.write_mode).ok_or_else(|| {
            format!(
                "stream `{}`: Airbyte has no destination sync mode for `{:?}`",
                c.name, c.write_mode
            )
        })?;
        let mut s = json!({
            "stream": stream,
            "sync_mode": airbyte::sync_mode(c.sync_mode),
            "destination_sync_mode": mode,
        });
        if let Some(cursor) = &c.cursor_field {
            s["cursor_field"] = json!([cursor]);
        }
        if !c.primary_key.is_empty() {
            let pk: Vec<Vec<&str>> = c.primary_key.iter().map(|k| vec![k.as_str()]).collect();
            s["primary_key"] = json!(pk);
        }
        streams.push(s);
    }
    Ok(json!({"streams": streams}))
}

/// The first element of each path of an Airbyte key (`[["id"], ["org"]]`).
fn key_fields(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_array()?.first()?.as_str().map(str::to_string))
        .collect()
}

/// sluice's catalog of an `AirbyteCatalog`.
pub fn from_airbyte(catalog: &Value) -> Result<Catalog, String> {
    let streams = catalog
        .get("streams")
        .and_then(Value::as_array)
        .ok_or("an Airbyte catalog needs a `streams` list")?;
    streams
        .iter()
        .map(from_airbyte_stream)
        .collect::<Result<_, _>>()
        .map(|streams| Catalog { streams })
}

fn from_airbyte_stream(s: &Value) -> Result<StreamInfo, String> {
    let name = s
        .get("name")
        .and_then(Value::as_str)
        .ok_or("every stream of an Airbyte catalog needs a `name`")?;
    let mut schema = s.get("json_schema").cloned().unwrap_or_else(|| json!({}));
    let kept = match &mut schema {
        Value::Object(o) => o.remove("x-sluice"),
        _ => None,
    };
    let mut info = StreamInfo::new(name, schema);
    info.sync_modes = s
        .get("supported_sync_modes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| match m.as_str()? {
            "full_refresh" => Some(SyncMode::FullRefresh),
            "incremental" => Some(SyncMode::Incremental),
            _ => None,
        })
        .collect();
    info.primary_key = key_fields(s.get("source_defined_primary_key"));
    info.default_cursor = strings(s.get("default_cursor_field")).into_iter().next();
    info.cursor_candidates = info.default_cursor.iter().cloned().collect();
    if let Some(Value::Object(m)) = &kept {
        restore(&mut info, m).map_err(|e| format!("stream `{name}`: {e}"))?;
    }
    Ok(info)
}

/// The streams of a `ConfiguredAirbyteCatalog`, as sluice configures them.
pub fn configured_from_airbyte(catalog: &Value) -> Result<ConfiguredCatalog, String> {
    let streams = catalog
        .get("streams")
        .and_then(Value::as_array)
        .ok_or("a configured Airbyte catalog needs a `streams` list")?;
    let mut out = Vec::new();
    for s in streams {
        let info = from_airbyte_stream(
            s.get("stream")
                .ok_or("every configured stream needs a `stream`")?,
        )?;
        let mut c = ConfiguredStream::new(info.name.clone());
        c.schema = info.schema;
        c.sync_mode = match s.get("sync_mode").and_then(Value::as_str) {
            Some("incremental") => SyncMode::Incremental,
            _ => SyncMode::FullRefresh,
        };
        c.cursor_field = strings(s.get("cursor_field"))
            .into_iter()
            .next()
            .or(info.default_cursor);
        if c.sync_mode == SyncMode::FullRefresh {
            c.cursor_field = None;
        }
        c.primary_key = match key_fields(s.get("primary_key")) {
            k if k.is_empty() => info.primary_key,
            k => k,
        };
        c.write_mode = match s.get("destination_sync_mode").and_then(Value::as_str) {
            Some("overwrite") => WriteMode::Overwrite,
            Some("append_dedup" | "overwrite_dedup") => WriteMode::AppendDedup,
            _ => WriteMode::Append,
        };
        out.push(c);
    }
    Ok(ConfiguredCatalog { streams: out })
}

#[cfg(test)]
mod tests;
