//! The PostgreSQL scenarios: one throwaway server (`sluice-pg-server`,
//! durable: fsync and synchronous commit on) for the whole run, every row
//! against it, each in a schema of its own.
//!
//! sluice's figures are the whole `sluice sync` process of a pipeline file
//! (start-up, compile-cache load, discover, the run, the last commit),
//! nothing subtracted, and its peak RSS. Before every timed run the table
//! it writes is emptied and a `CHECKPOINT` taken, so no run pays for the
//! previous one's dirty pages.

use crate::pg_peers::{self, PeerFigures};
use crate::proc::{Outcome, median, run_counting};
use crate::report::{Ctx, met, mib, rate, write_users};
use serde_json::{Value, json};
use sluice_pg_server::Server;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable pipeline files take the password from, so it
/// is never written into them.
const PASSWORD_VAR: &str = "SLUICE_BENCH_PG_PASSWORD";
/// The faker generation in which every user differs from generation 0
/// (generation g changes the ids ending in g % 100; 1..=100 covers all).
const ALL_CHANGED: u64 = 100;

/// Targets, from the design.
const TARGET_COPY_RATIO: f64 = 0.9;
const TARGET_RSS_MIB: f64 = 64.0;
const TARGET_DEDUP_RATE: f64 = 350_000.0;
const TARGET_PEER_FACTOR: f64 = 10.0;

/// Sizes and repetitions of the PostgreSQL scenarios.
pub(crate) struct PgPlan {
    /// Rows of the main scenarios.
    pub rows: u64,
    /// Timed runs of each (medians are reported).
    pub runs: usize,
    /// Rows the Singer peers move.
    pub peer_rows: u64,
    /// Timed runs of each peer.
    pub peer_runs: usize,
}

/// Median wall time and peak RSS of some runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// Median seconds.
    pub secs: f64,
    /// Median peak RSS, KiB.
    pub rss_kib: u64,
}

impl Timing {
    fn of(outcomes: &[Outcome]) -> Timing {
        let mut secs: Vec<f64> = outcomes.iter().map(|o| o.secs).collect();
        let mut rss: Vec<f64> = outcomes.iter().map(|o| o.peak_rss_kib as f64).collect();
        Timing {
            secs: median(&mut secs),
            rss_kib: median(&mut rss) as u64,
        }
    }

    /// Rows per second for `rows`.
    pub fn rate(&self, rows: u64) -> f64 {
        rows as f64 / self.secs
    }
}

/// The server and where the scenarios keep their files.
pub(crate) struct PgBench<'a> {
    ctx: &'a Ctx,
    /// The server every row runs against.
    pub pg: Server,
    /// `<work>/pg`.
    pub dir: PathBuf,
}

/// Every PostgreSQL row. A server that cannot start gives one
/// "unavailable" row; a sluice scenario that fails is an error.
pub(crate) fn rows(ctx: &Ctx, plan: &PgPlan) -> Result<Vec<String>, String> {
    let pg = match Server::start() {
        Ok(pg) => pg,
        Err(e) => {
            let why = sluice_pg_server::error_chain(&e);
            return Ok(vec![format!(
                "| PostgreSQL scenarios | unavailable: {} | | | | |",
                cell(&why)
            )]);
        }
    };
    let dir = ctx.work.join("pg");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let bench = PgBench { ctx, pg, dir };
    bench.precompile()?;
    let n = plan.rows;
    let mut rows = vec![bench.append_row(n, plan.runs)?];
    rows.push(bench.dedup_row(n, plan.runs)?);
    rows.push(bench.history_row(n, plan.runs)?);
    let read = bench.read_row(n, plan.runs)?;
    rows.push(read);
    rows.push(bench.pg_to_pg_row(n, plan.runs)?);
    rows.extend(bench.peer_rows(plan)?);
    eprintln!("sluice-bench: postgres: done");
    Ok(rows)
}

/// `text` made safe for a table cell.
pub(crate) fn cell(text: &str) -> String {
    text.replace('|', "/").replace('\n', " ")
}

/// A JSON object as a TOML inline table.
pub(crate) fn inline(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k} = {}", inline(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// One end of a pipeline file.
enum End<'a> {
    /// source-faker users: count and generation.
    Faker(u64, u64),
    /// source-postgres, the `users` table of a schema.
    PgSource(&'a str),
    /// dest-postgres into a schema, with or without the metadata column.
    PgDest(&'a str, bool),
    /// dest-file, JSON lines into a host directory.
    File(&'a Path),
}

impl PgBench<'_> {
    /// The connection part of both PostgreSQL connectors' configs.
    fn login(&self) -> Value {
        json!({
            "host": self.pg.host(),
            "port": self.pg.port(),
            "user": self.pg.user(),
            "password": format!("${{{PASSWORD_VAR}}}"),
            "database": self.pg.database(),
        })
    }

    /// `component`, `config` and grants of one end.
    fn endpoint(&self, end: &End) -> String {
        let component = |name: &str| self.ctx.components.join(format!("{name}.wasm"));
        let hosts = format!("hosts = [\"{}:{}\"]", self.pg.host(), self.pg.port());
        let (name, config, grant) = match end {
            End::Faker(count, generation) => (
                "source-faker",
                json!({"count": count, "generation": generation}),
                String::new(),
            ),
            End::PgSource(schema) => {
                let mut c = self.login();
                c["schemas"] = json!([schema]);
                c["tables"] = json!(["users"]);
                ("source-postgres", c, hosts)
            }
            End::PgDest(schema, metadata) => {
                let mut c = self.login();
                c["schema"] = json!(schema);
                c["metadata"] = json!(metadata);
                ("dest-postgres", c, hosts)
            }
            End::File(out) => (
                "dest-file",
                json!({"path": "/out"}),
                format!("dirs = [{{ host = {out:?}, guest = \"/out\", write = true }}]"),
            ),
        };
        format!(
            "component = {:?}\nconfig = {}\n{grant}\n",
            component(name),
            inline(&config)
        )
    }

    /// Write the pipeline file `<dir>/<name>/pipeline.toml`: `users`, full
    /// refresh, written in `mode`.
    fn pipeline(&self, name: &str, source: End, dest: End, mode: &str) -> Result<PathBuf, String> {
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let text = format!(
            "name = {name:?}\n[source]\n{}[destination]\n{}[[streams]]\nname = \"users\"\nsync_mode = \"full_refresh\"\nwrite_mode = \"{mode}\"\n",
            self.endpoint(&source),
            self.endpoint(&dest),
        );
        let file = dir.join("pipeline.toml");
        std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
        Ok(file)
    }

    /// The whole `sluice sync` process of `pipeline`.
    fn sync(&self, pipeline: &Path) -> Result<Outcome, String> {
        run_counting(
            Command::new(&self.ctx.sluice)
                .arg("sync")
                .arg(pipeline)
                .arg("--json")
                .env("SLUICE_CACHE_DIR", self.dir.join("cache"))
                .env(PASSWORD_VAR, self.pg.password()),
            "",
        )
    }

    /// Compile the components into the cache the syncs use, so that no
    /// timed run pays for it (`sluice spec` loads, and so caches, each).
    fn precompile(&self) -> Result<(), String> {
        for name in [
            "source-faker",
            "dest-postgres",
            "source-postgres",
            "dest-file",
        ] {
            run_counting(
                Command::new(&self.ctx.sluice)
                    .arg("spec")
                    .arg(self.ctx.components.join(format!("{name}.wasm")))
                    .env("SLUICE_CACHE_DIR", self.dir.join("cache")),
                "",
            )?;
        }
        Ok(())
    }

    /// Run `sql`; errors carry psql's message.
    pub(crate) fn sql(&self, sql: &str) -> Result<String, String> {
        self.pg
            .sql(sql)
            .map_err(|e| sluice_pg_server::error_chain(&e))
    }

    /// `select count(*)` of `table` (with an optional `where`), checked.
    pub(crate) fn expect_rows(&self, table: &str, filter: &str, want: u64) -> Result<(), String> {
        let got = self.sql(&format!("SELECT count(*) FROM {table} {filter}"))?;
        if got.trim() != want.to_string() {
            return Err(format!(
                "{table} {filter}: {} rows, expected {want}",
                got.trim()
            ));
        }
        Ok(())
    }

    /// Empty `schema` (dropped and created again) and checkpoint.
    pub(crate) fn fresh_schema(&self, schema: &str) -> Result<(), String> {
        self.sql(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; CHECKPOINT"
        ))
        .map(drop)
    }

    /// Row 1: dest-postgres `append` against `psql \copy` of the same rows.
    fn append_row(&self, n: u64, runs: usize) -> Result<String, String> {
        let file = self.pipeline(
            "append",
            End::Faker(n, 0),
            End::PgDest("b_append", false),
            "append",
        )?;
        // An uncounted first run makes the table (and warms the page cache).
        self.fresh_schema("b_append")?;
        self.sync(&file)?;
        self.expect_rows("b_append.users", "", n)?;
        // dest-postgres makes append tables without a key (a key may come
        // again); the comparison is the one users ask about: appending into
        // their own logged table with a primary key.
        self.sql("ALTER TABLE b_append.users ADD PRIMARY KEY (id)")?;
        let csv = self.dir.join("users.csv");
        let csv_text = csv.display().to_string().replace('\'', "''");
        self.sql(&format!(
            "\\copy b_append.users TO '{csv_text}' WITH (FORMAT csv)\n\
             DROP SCHEMA IF EXISTS b_copy CASCADE; CREATE SCHEMA b_copy;\n\
             CREATE TABLE b_copy.users (LIKE b_append.users INCLUDING ALL)"
        ))?;
        let (mut sluice, mut psql) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            self.sql("TRUNCATE b_append.users; CHECKPOINT")?;
            sluice.push(self.sync(&file)?);
            self.expect_rows("b_append.users", "", n)?;
            self.sql("TRUNCATE b_copy.users; CHECKPOINT")?;
            let copy = format!("\\copy b_copy.users FROM '{csv_text}' WITH (FORMAT csv)");
            psql.push(run_counting(self.pg.psql().args(["-c", &copy]), "")?);
            self.expect_rows("b_copy.users", "", n)?;
        }
        let (s, p) = (Timing::of(&sluice), Timing::of(&psql));
        let ratio = p.secs / s.secs;
        log("append", n, &s);
        Ok(format!(
            "| PostgreSQL `append`, {n} faker users -> dest-postgres (logged table, `id` primary key, no metadata column; whole `sluice sync` process, nothing subtracted) vs `psql \\copy` of the same rows (CSV) into the same kind of table | {} ({} RSS) | `psql \\copy` {} | {ratio:.2}x psql's speed | >= 0.9x psql; peak RSS < 64 MiB | {} ; {} |",
            rate(s.rate(n)),
            mib(s.rss_kib),
            rate(p.rate(n)),
            met(ratio >= TARGET_COPY_RATIO),
            met((s.rss_kib as f64 / 1024.0) < TARGET_RSS_MIB),
        ))
    }

    /// The initial load and the changes (generation 0, then every user
    /// changed) of `mode` into `schema`, `runs` times from an empty table.
    fn load_and_change(
        &self,
        mode: &str,
        schema: &str,
        n: u64,
        runs: usize,
    ) -> Result<(Timing, Timing), String> {
        let dest = End::PgDest(schema, true);
        let first = self.pipeline(&format!("{mode}-0"), End::Faker(n, 0), dest, mode)?;
        let dest = End::PgDest(schema, true);
        let changed = self.pipeline(
            &format!("{mode}-{ALL_CHANGED}"),
            End::Faker(n, ALL_CHANGED),
            dest,
            mode,
        )?;
        let table = format!("{schema}.users");
        let rows_after = if mode == "history" { 2 * n } else { n };
        let (mut loads, mut changes) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            self.fresh_schema(schema)?;
            loads.push(self.sync(&first)?);
            self.expect_rows(&table, "", n)?;
            self.sql("CHECKPOINT")?;
            changes.push(self.sync(&changed)?);
            self.expect_rows(&table, "", rows_after)?;
        }
        if mode == "history" {
            self.expect_rows(&table, "WHERE _is_current", n)?;
        }
        Ok((Timing::of(&loads), Timing::of(&changes)))
    }

    /// Row 2: `append_dedup` into an empty table, then upserts of every key.
    fn dedup_row(&self, n: u64, runs: usize) -> Result<String, String> {
        let (load, upsert) = self.load_and_change("append_dedup", "b_dedup", n, runs)?;
        log("append_dedup load", n, &load);
        log("append_dedup upserts", n, &upsert);
        Ok(format!(
            "| PostgreSQL `append_dedup`: {n} users into an empty table / {n} upserts of existing keys (faker generation {ALL_CHANGED}: every user changed); whole `sluice sync` process | {} / {} ({} / {} RSS) | | | >= 350 k rows/s | {} ; {} |",
            rate(load.rate(n)),
            rate(upsert.rate(n)),
            mib(load.rss_kib),
            mib(upsert.rss_kib),
            met(load.rate(n) >= TARGET_DEDUP_RATE),
            met(upsert.rate(n) >= TARGET_DEDUP_RATE),
        ))
    }

    /// Row 3: `history` (SCD type 2): a first load, then every row changed.
    fn history_row(&self, n: u64, runs: usize) -> Result<String, String> {
        let (load, change) = self.load_and_change("history", "b_history", n, runs)?;
        log("history load", n, &load);
        log("history changes", n, &change);
        Ok(format!(
            "| PostgreSQL `history` (SCD type 2): first load of {n} users / {n} changes (each closes a version and adds one); whole `sluice sync` process | {} / {} ({} / {} RSS) | | | | |",
            rate(load.rate(n)),
            rate(change.rate(n)),
            mib(load.rss_kib),
            mib(change.rss_kib),
        ))
    }

    /// source-postgres -> dest-file of `schema.users` (`n` rows).
    pub(crate) fn read_rate(&self, schema: &str, n: u64, runs: usize) -> Result<Timing, String> {
        let out = self.dir.join(format!("out-{schema}"));
        let file = self.pipeline(
            &format!("read-{schema}"),
            End::PgSource(schema),
            End::File(&out),
            "overwrite",
        )?;
        let mut outcomes = Vec::new();
        for _ in 0..runs {
            let _ = std::fs::remove_dir_all(&out);
            std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            outcomes.push(self.sync(&file)?);
            let lines = count_lines(&out)?;
            if lines != n {
                return Err(format!(
                    "source-postgres -> dest-file wrote {lines} records, expected {n}"
                ));
            }
        }
        let _ = std::fs::remove_dir_all(&out);
        Ok(Timing::of(&outcomes))
    }

    /// Row 4: source-postgres -> dest-file of the `append` row's table.
    fn read_row(&self, n: u64, runs: usize) -> Result<String, String> {
        let t = self.read_rate("b_append", n, runs)?;
        log("source-postgres -> dest-file", n, &t);
        Ok(format!(
            "| source-postgres -> dest-file (JSON lines), {n}-row table (the `append` row's); whole `sluice sync` process | {} ({} RSS) | | | | |",
            rate(t.rate(n)),
            mib(t.rss_kib),
        ))
    }

    /// Row 5: source-postgres -> dest-postgres `append`, same server.
    fn pg_to_pg_row(&self, n: u64, runs: usize) -> Result<String, String> {
        let file = self.pipeline(
            "pg-to-pg",
            End::PgSource("b_append"),
            End::PgDest("b_pgpg", true),
            "append",
        )?;
        let mut outcomes = Vec::new();
        for _ in 0..runs {
            self.fresh_schema("b_pgpg")?;
            outcomes.push(self.sync(&file)?);
            self.expect_rows("b_pgpg.users", "", n)?;
        }
        let t = Timing::of(&outcomes);
        log("source-postgres -> dest-postgres", n, &t);
        Ok(format!(
            "| source-postgres -> dest-postgres (`append`, with the metadata column), {n} rows, one server; whole `sluice sync` process | {} ({} RSS) | | | | |",
            rate(t.rate(n)),
            mib(t.rss_kib),
        ))
    }

    /// Row 6: the Singer peers, each against sluice on the same work.
    fn peer_rows(&self, plan: &PgPlan) -> Result<Vec<String>, String> {
        let n = plan.peer_rows.min(plan.rows);
        let runs = plan.peer_runs;
        // The peers' input: the first n rows of the `append` row's table.
        self.fresh_schema("b_peer")?;
        self.sql(&format!(
            "CREATE TABLE b_peer.users (LIKE b_append.users INCLUDING ALL);\n\
             INSERT INTO b_peer.users SELECT * FROM b_append.users WHERE id <= {n}; CHECKPOINT"
        ))?;
        self.expect_rows("b_peer.users", "", n)?;
        let mut rows = Vec::new();
        // sluice's equivalents at the peers' size.
        let (upsert, _) = self.load_and_change("append_dedup", "b_dedup_peer", n, runs.max(1))?;
        let users = self.ctx.work.join("input").join(format!("users-{n}.jsonl"));
        write_users(&users, n)?;
        rows.push(match pg_peers::target_postgres(self, &users, n, runs) {
            Ok(p) => peer_row(
                &format!("Singer `pipelinewise-target-postgres` loading {n} users (a file of Singer SCHEMA, RECORD and STATE messages; it upserts on `key_properties`) vs sluice source-faker -> dest-postgres `append_dedup` of {n} users into an empty table"),
                upsert,
                n,
                &p,
            ),
            Err(e) => unavailable("Singer `pipelinewise-target-postgres`", &e),
        });
        let read = self.read_rate("b_peer", n, runs.max(1))?;
        rows.push(match pg_peers::tap_postgres(self, "b_peer", n, runs) {
            Ok(p) => peer_row(
                &format!("Singer `pipelinewise-tap-postgres` (FULL_TABLE) reading a {n}-row table to a pipe vs sluice source-postgres -> dest-file of the same table"),
                read,
                n,
                &p,
            ),
            Err(e) => unavailable("Singer `pipelinewise-tap-postgres`", &e),
        });
        Ok(rows)
    }

    /// The work directory of the harness.
    pub(crate) fn work(&self) -> &Path {
        &self.ctx.work
    }
}

/// A peer's row: sluice's whole process against the peer's.
fn peer_row(what: &str, sluice: Timing, n: u64, p: &PeerFigures) -> String {
    let peer_rate = n as f64 / p.secs;
    let factor = sluice.rate(n) / peer_rate;
    format!(
        "| {what} | {} end to end ({} RSS) | {} incl. start-up ({}; `--help` {:.2} s); {} RSS | sluice {factor:.1}x faster | >= 10x | {} |",
        rate(sluice.rate(n)),
        mib(sluice.rss_kib),
        rate(peer_rate),
        p.version,
        p.startup_secs,
        mib(p.rss_kib),
        met(factor >= TARGET_PEER_FACTOR),
    )
}

fn unavailable(what: &str, why: &str) -> String {
    eprintln!("sluice-bench: {what} unavailable: {why}");
    format!("| {what} | unavailable: {} | | | | |", cell(why))
}

fn log(what: &str, n: u64, t: &Timing) {
    eprintln!(
        "sluice-bench: postgres {what:32} {n:>9} rows: {} ({} RSS)",
        rate(t.rate(n)),
        mib(t.rss_kib)
    );
}

/// Lines of every file in `dir`, read in chunks: this process must stay
/// small, as a child's peak RSS counts what it was forked from.
fn count_lines(dir: &Path) -> Result<u64, String> {
    use std::io::Read;
    let mut lines = 0;
    let mut chunk = vec![0; 1 << 20];
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let mut file =
            std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        loop {
            let n = file
                .read(&mut chunk)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if n == 0 {
                break;
            }
            lines += chunk[..n].iter().filter(|b| **b == b'\n').count() as u64;
        }
    }
    Ok(lines)
}
