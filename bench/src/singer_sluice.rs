//! A Singer tap into a sluice destination: tap-jsonl as a process
//! endpoint of `sluice sync`, into dest-file, against the same tap piped
//! into its Singer target, so users see what moving only the destination
//! buys them.

use crate::peers::{PeerRun, TAP, venv};
use crate::proc::{median, reap, spawn};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// `sluice sync` of tap-jsonl over `input` (`records` lines) into
/// dest-file, `runs` times from a fresh destination and state.
pub fn tap_into_sluice(
    work: &Path,
    sluice: &Path,
    components: &Path,
    input: &Path,
    records: u64,
    runs: usize,
) -> Result<PeerRun, String> {
    let tap = venv(work, TAP)?.join("tap-jsonl");
    let dir = work.join("singer-sluice");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let pipeline = dir.join("tap-to-file.toml");
    let text = format!(
        "[source]\nkind = \"process\"\nprotocol = \"singer\"\ncommand = [{:?}]\n\
         config = {{ path = {:?}, stream_name = \"users\" }}\n\n\
         [destination]\ncomponent = {:?}\nconfig = {{ path = \"/out\" }}\n\
         dirs = [{{ host = \"out\", guest = \"/out\", write = true }}]\n",
        tap.display().to_string(),
        input.display().to_string(),
        components.join("dest-file.wasm").display().to_string()
    );
    std::fs::write(&pipeline, text).map_err(|e| e.to_string())?;
    let (secs, rss, written) = sync_runs(work, sluice, &pipeline, "users", runs)?;
    if written != records {
        return Err(format!(
            "dest-file holds {written} records, expected {records}"
        ));
    }
    Ok(PeerRun {
        records: written,
        secs,
        startup_secs: 0.0,
        peak_rss_kib: rss,
    })
}

/// `sluice sync pipeline` `runs` times, each from a fresh `out/` and
/// state beside the pipeline file (its destination is dest-file into
/// `out/`); returns the median seconds, the peak RSS (KiB) of the last
/// run and the records `out/<stream>.jsonl` holds after it.
pub fn sync_runs(
    work: &Path,
    sluice: &Path,
    pipeline: &Path,
    stream: &str,
    runs: usize,
) -> Result<(f64, u64, u64), String> {
    let dir = pipeline.parent().unwrap_or(Path::new("."));
    let cache = work.join("cache");
    let (mut secs, mut rss, mut written) = (Vec::new(), 0, 0);
    for _ in 0..runs.max(1) {
        for stale in [dir.join("out"), dir.join(".sluice")] {
            let _ = std::fs::remove_dir_all(stale);
        }
        std::fs::create_dir_all(dir.join("out")).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let child = spawn(
            Command::new(sluice)
                .arg("sync")
                .arg(pipeline)
                .env("SLUICE_CACHE_DIR", &cache)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .map_err(|e| format!("sluice sync: {e}"))?;
        let (ok, peak) = reap(child)?;
        secs.push(started.elapsed().as_secs_f64());
        if !ok {
            return Err(format!(
                "sluice sync {} failed (run it by hand to see why)",
                pipeline.display()
            ));
        }
        rss = peak;
        let out = dir.join("out").join(format!("{stream}.jsonl"));
        let data = std::fs::read(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        written = data.iter().filter(|b| **b == b'\n').count() as u64;
    }
    Ok((median(&mut secs), rss, written))
}
