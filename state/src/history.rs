//! The run history: `(pipeline, run id)` -> [`RunRecord`] as JSON, in
//! table `runs`, ids counting up from 1 per pipeline. A store keeps the
//! newest [`RUNS_KEPT`] runs of each pipeline: starting a run forgets the
//! older ones, so a pipeline that runs every second for months holds as
//! much history as one that ran a thousand times (a service reads it at
//! every run).

use crate::{RUNS, Result, RunRecord, StateStore};
use redb::ReadableTable;

/// How many runs of one pipeline a store keeps, newest first.
pub const RUNS_KEPT: u64 = 1_000;

impl StateStore {
    /// Record the start of a run of `streams`; returns its id. Runs older
    /// than the newest [`RUNS_KEPT`] are forgotten in the same transaction.
    ///
    /// A last run of the same pipeline still recorded as running was left
    /// by a process that stopped before it ended (a store is open in one
    /// process at a time): it is marked [`crate::RunStatus::Interrupted`].
    pub fn start_run(&self, pipeline: &str, streams: &[&str]) -> Result<u64> {
        self.guarded(|| {
            let txn = self.write_txn()?;
            let id;
            {
                let mut table = self.open_write(&txn, RUNS)?;
                let last = table
                    .range((pipeline, 0)..=(pipeline, u64::MAX))
                    .map_err(|e| self.err(e))?
                    .next_back()
                    .transpose()
                    .map_err(|e| self.err(e))?
                    .map(|(k, v)| (k.value().1, v.value().to_string()));
                let (last, left) = match last {
                    Some((id, text)) => (id, serde_json::from_str::<RunRecord>(&text).ok()),
                    None => (0, None),
                };
                if let Some(run) = left.filter(RunRecord::is_running) {
                    let text = serde_json::to_string(&run.interrupted()).expect("run serialises");
                    table
                        .insert((pipeline, last), text.as_str())
                        .map_err(|e| self.err(e))?;
                }
                id = last + 1;
                let record = RunRecord::start(id, streams);
                let text = serde_json::to_string(&record).expect("run serialises");
                table
                    .insert((pipeline, id), text.as_str())
                    .map_err(|e| self.err(e))?;
                if id > RUNS_KEPT {
                    let forgotten = (pipeline, 0)..=(pipeline, id - RUNS_KEPT);
                    table
                        .retain_in(forgotten, |_, _| false)
                        .map_err(|e| self.err(e))?;
                }
            }
            self.commit(txn)?;
            Ok(id)
        })
    }

    /// Store the final record of a run.
    pub fn finish_run(&self, pipeline: &str, record: &RunRecord) -> Result<()> {
        self.guarded(|| {
            let txn = self.write_txn()?;
            {
                let mut table = self.open_write(&txn, RUNS)?;
                let text = serde_json::to_string(record).expect("run serialises");
                table
                    .insert((pipeline, record.id), text.as_str())
                    .map_err(|e| self.err(e))?;
            }
            self.commit(txn)
        })
    }

    /// The kept runs of `pipeline`, newest first.
    pub fn runs(&self, pipeline: &str) -> Result<Vec<RunRecord>> {
        let mut out = Vec::new();
        self.runs_while(pipeline, |run| {
            out.push(run);
            true
        })?;
        Ok(out)
    }

    /// The newest `n` runs of `pipeline`, newest first.
    pub fn recent_runs(&self, pipeline: &str, n: usize) -> Result<Vec<RunRecord>> {
        let mut out = Vec::new();
        if n > 0 {
            self.runs_while(pipeline, |run| {
                out.push(run);
                out.len() < n
            })?;
        }
        Ok(out)
    }

    /// Hand the runs of `pipeline` to `visit`, newest first, while it
    /// returns true: a search for the newest run that did something reads
    /// no further than that run.
    pub fn runs_while(
        &self,
        pipeline: &str,
        mut visit: impl FnMut(RunRecord) -> bool,
    ) -> Result<()> {
        self.guarded(|| {
            let txn = self.read_txn()?;
            let table = self.open_read(&txn, RUNS)?;
            for entry in table
                .range((pipeline, 0)..=(pipeline, u64::MAX))
                .map_err(|e| self.err(e))?
                .rev()
            {
                let (key, value) = entry.map_err(|e| self.err(e))?;
                let key = || format!("({pipeline:?}, {})", key.value().1);
                if !visit(self.decode("runs", key, value.value().as_bytes())?) {
                    break;
                }
            }
            Ok(())
        })
    }
}
