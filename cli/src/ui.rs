//! What people see: logs, progress bars, tables.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use sluice_protocol::{Catalog, Role, Spec, secret_fields};
use sluice_runtime::pipeline::{Pipeline, Progress, RunSummary};
use sluice_runtime::state::RunRecord;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tracing_subscriber::EnvFilter;

/// Logs to stderr; `RUST_LOG` overrides the -v level.
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "warn,sluice={level},sluice_runtime={level},sluice_cli={level}"
        ))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(verbose >= 2)
        .init();
}

/// One progress line per stream (shown on a terminal only).
pub struct Bars {
    multi: MultiProgress,
    bars: Arc<Mutex<HashMap<String, ProgressBar>>>,
}

impl Bars {
    pub fn new() -> Self {
        Bars {
            multi: MultiProgress::new(),
            bars: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn callback(&self) -> sluice_runtime::pipeline::ProgressFn {
        let multi = self.multi.clone();
        let bars = self.bars.clone();
        Arc::new(move |p: &Progress| {
            let mut bars = bars.lock().expect("progress lock");
            let bar = bars.entry(p.stream.clone()).or_insert_with(|| {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {prefix:<12} {human_pos:>11} records  {per_sec:>14}  {msg}",
                    )
                    .expect("valid template"),
                );
                bar.set_prefix(p.stream.clone());
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                bar
            });
            bar.set_position(p.records);
            bar.set_message(human_bytes(p.bytes));
            if p.done {
                bar.finish();
            }
        })
    }

    /// A spinner with `message` until the caller clears it.
    pub fn note(&self, message: &str) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_message(message.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    }

    pub fn finish(&self) {
        for bar in self.bars.lock().expect("progress lock").values() {
            bar.finish();
        }
        let _ = self.multi.clear();
    }
}

pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

pub fn table() -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t
}

pub fn print_spec(spec: &Spec, exported: &[Role]) {
    println!("{} {}", spec.name, spec.version);
    if let Some(doc) = &spec.documentation {
        println!("{doc}");
    }
    let roles: Vec<String> = exported
        .iter()
        .map(|r| format!("{r:?}").to_lowercase())
        .collect();
    println!("roles: {}", roles.join(", "));
    if !spec.sync_modes.is_empty() {
        println!("sync modes: {:?}", spec.sync_modes);
    }
    if !spec.write_modes.is_empty() {
        println!("write modes: {:?}", spec.write_modes);
        println!("operations: {:?}", spec.operations);
    }
    let secrets = secret_fields(&spec.config_schema);
    let required: Vec<&str> = spec.config_schema["required"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let mut t = table();
    t.set_header(["config field", "type", "required", "default", "description"]);
    if let Some(props) = spec.config_schema["properties"].as_object() {
        for (name, prop) in props {
            let mut ty = prop["type"].to_string().trim_matches('"').to_string();
            if secrets.contains(name) {
                ty.push_str(" (secret)");
            }
            t.add_row([
                name.clone(),
                ty,
                if required.contains(&name.as_str()) {
                    "yes".into()
                } else {
                    String::new()
                },
                prop.get("default")
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                prop["description"].as_str().unwrap_or("").to_string(),
            ]);
        }
    }
    println!("{t}");
    let c = &spec.capabilities;
    if !(c.hosts.is_empty() && c.dirs.is_empty() && c.env.is_empty()) {
        println!("asks to be granted:");
        for d in &c.dirs {
            println!("  dir:  {d}");
        }
        for h in &c.hosts {
            println!("  host: {h}");
        }
        for e in &c.env {
            println!("  env:  {e}");
        }
    }
}

/// The streams of `catalog`, with the `(from, to)` renames of each
/// stream's reserved-key fields listed in `renames`.
pub fn print_catalog(catalog: &Catalog, renames: &BTreeMap<String, Vec<(String, String)>>) {
    for s in &catalog.streams {
        println!("stream `{}`", s.name);
        println!("  primary key: {}", s.primary_key.join(", "));
        println!(
            "  cursor: {} (candidates: {})",
            s.default_cursor.as_deref().unwrap_or("-"),
            s.cursor_candidates.join(", ")
        );
        println!("  sync modes: {:?}", s.sync_modes);
        if let Some(props) = s.schema["properties"].as_object() {
            let fields: Vec<String> = props
                .iter()
                .map(|(k, v)| format!("{k}: {}", v["type"].to_string().trim_matches('"')))
                .collect();
            println!("  fields: {}", fields.join(", "));
        }
        for (from, to) in renames.get(&s.name).into_iter().flatten() {
            println!("  renamed (a key the destination reserves): {from} -> {to}");
        }
        for o in &s.operation_schemas {
            let required: Vec<&str> = o.schema["required"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            println!(
                "  operation {:?}: requires {}",
                o.operation,
                required.join(", ")
            );
        }
        for r in &s.relationships {
            println!(
                "  relationship {}: ({}) -> {}({})",
                r.name,
                r.fields.join(", "),
                r.target_stream,
                r.target_fields.join(", ")
            );
        }
    }
}

pub fn print_summary(summary: &RunSummary, pipeline: &Pipeline) {
    let secs = summary.duration_ms as f64 / 1000.0;
    let mut t = table();
    t.set_header(["stream", "status", "records", "bytes", "records/s"]);
    for s in &summary.run.streams {
        t.add_row([
            s.stream.clone(),
            s.outcome.to_string(),
            s.records.to_string(),
            human_bytes(s.bytes),
            if secs > 0.0 {
                format!("{:.0}", s.records as f64 / secs)
            } else {
                "-".into()
            },
        ]);
    }
    println!("{t}");
    println!(
        "pipeline `{}` run {}: {} in {:.2} s, {} records ({}), {:.0} records/s",
        summary.pipeline,
        summary.run.id,
        summary.run.status,
        secs,
        summary.records(),
        human_bytes(summary.bytes()),
        if secs > 0.0 {
            summary.records() as f64 / secs
        } else {
            0.0
        },
    );
    for s in summary
        .run
        .streams
        .iter()
        .filter_map(|s| s.outcome.error().map(|e| (&s.stream, e)))
    {
        println!("stream `{}` failed: {}", s.0, s.1);
    }
    if let Some(e) = &summary.run.error {
        println!("error: {e}");
    }
    for d in pipeline.destination.dirs.iter().filter(|d| d.write) {
        println!("output: {}", d.host.display());
    }
    println!("state:  {}", summary.state_store);
}

pub fn print_runs(runs: &[RunRecord]) {
    let mut t = table();
    t.set_header(["run", "status", "started", "seconds", "records", "error"]);
    let now = sluice_runtime::state::now_ms();
    for r in runs {
        let records: u64 = r.streams.iter().map(|s| s.records).sum();
        let secs = r
            .ended_at_ms
            .map(|e| format!("{:.2}", e.saturating_sub(r.started_at_ms) as f64 / 1000.0))
            .unwrap_or_else(|| "-".into());
        t.add_row([
            r.id.to_string(),
            r.status.to_string(),
            format!(
                "{} ({})",
                iso8601(r.started_at_ms),
                ago(now, r.started_at_ms)
            ),
            secs,
            records.to_string(),
            r.error.clone().unwrap_or_default(),
        ]);
    }
    println!("{t}");
}

/// A Unix time in milliseconds as ISO 8601 in UTC, to the second.
pub fn iso8601(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(
            || ms.to_string(),
            |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
}

/// How long before `now` the time `then` was, as people say it: "just
/// now", "42 s ago", "3 min ago", "5 h ago", "2 days ago".
pub fn ago(now: u64, then: u64) -> String {
    let ms = now.saturating_sub(then);
    if ms < 5_000 {
        "just now".into()
    } else {
        format!("{} ago", span(ms))
    }
}

/// A length of time in milliseconds as people say it: "3 s", "3 min",
/// "5 h", "2 days".
pub fn span(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0..120 => format!("{secs} s"),
        120..7_200 => format!("{} min", secs / 60),
        7_200..172_800 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_people_say_them() {
        assert_eq!(iso8601(1_796_169_600_000), "2026-12-02T00:00:00Z");
        let now = 1_796_169_600_000;
        assert_eq!(ago(now, now - 1_000), "just now");
        assert_eq!(ago(now, now - 42_000), "42 s ago");
        assert_eq!(ago(now, now - 180_000), "3 min ago");
        assert_eq!(ago(now, now - 5 * 3_600_000), "5 h ago");
        assert_eq!(ago(now, now - 2 * 86_400_000), "2 days ago");
        assert_eq!(ago(now, now + 5_000), "just now", "a clock that went back");
        assert_eq!(span(3_400), "3 s");
        assert_eq!(span(180_000), "3 min");
    }
}
