//! When each pipeline of the store runs next, as the service that runs
//! it last planned: `pipeline` -> [`NextRun`] as JSON, in table
//! `schedules`. The last run is the newest of the run history.

use crate::{Result, SCHEDULES, StateStore};
use serde::{Deserialize, Serialize};

/// A pipeline's next planned run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextRun {
    /// The schedule, as people read it (`every 15m`, `cron ... (UTC)`).
    pub schedule: String,
    /// When it runs next (Unix ms); none: never again.
    pub at_ms: Option<u64>,
}

impl StateStore {
    /// Record `pipeline`'s next planned run.
    pub fn set_next_run(&self, pipeline: &str, next: &NextRun) -> Result<()> {
        self.guarded(|| {
            let txn = self.write_txn()?;
            {
                let mut table = self.open_write(&txn, SCHEDULES)?;
                let text = serde_json::to_string(next).expect("next run serialises");
                table
                    .insert(pipeline, text.as_str())
                    .map_err(|e| self.err(e))?;
            }
            self.commit(txn)
        })
    }

    /// `pipeline`'s next planned run, if a service planned one.
    pub fn next_run(&self, pipeline: &str) -> Result<Option<NextRun>> {
        self.guarded(|| {
            let txn = self.read_txn()?;
            let table = self.open_read(&txn, SCHEDULES)?;
            let Some(value) = table.get(pipeline).map_err(|e| self.err(e))? else {
                return Ok(None);
            };
            let key = || format!("{pipeline:?}");
            self.decode("schedules", key, value.value().as_bytes())
                .map(Some)
        })
    }
}
