//! The records the store keeps, as JSON: a stream's saved state, and the
//! history of runs with the outcome of every stream.
//!
//! Outcomes are enums with serde names; the JSON keeps the shape of the
//! first format (`"status": "failed", "error": "..."`), so stores written
//! before the enums read unchanged.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// A stream's persisted state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedState {
    /// The connector's state (a bookmark, a cursor).
    pub state: Value,
    /// When it was committed (Unix milliseconds).
    pub committed_at_ms: u64,
    /// The run that committed it.
    #[serde(default)]
    pub run_id: u64,
}

/// How a stream of a run ended (or that it has not ended yet).
///
/// Stored as `"status"` (plus `"error"` and `"transient"` for a failure)
/// inside the stream's entry of a [`RunRecord`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StreamOutcome {
    /// Still moving (the first format called it `incomplete`).
    #[default]
    #[serde(alias = "incomplete")]
    Running,
    /// The source finished it and the destination committed all of it.
    Succeeded,
    /// It failed; its records up to its last persisted checkpoint are kept.
    Failed {
        /// Whether the error was transient (worth another attempt) and the
        /// run gave up only because its retries ran out.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        transient: bool,
        /// What failed, naming the connector and the call.
        error: String,
    },
    /// The process stopped (killed, the machine went down) before the
    /// stream ended; the next run resumes from its last checkpoint.
    Interrupted,
}

impl StreamOutcome {
    /// A failure with its error.
    pub fn failed(transient: bool, error: impl Into<String>) -> Self {
        StreamOutcome::Failed {
            transient,
            error: error.into(),
        }
    }

    /// Whether the stream is still moving.
    pub fn is_running(&self) -> bool {
        matches!(self, StreamOutcome::Running)
    }

    /// Whether the stream succeeded.
    pub fn is_succeeded(&self) -> bool {
        matches!(self, StreamOutcome::Succeeded)
    }

    /// Whether the stream failed.
    pub fn is_failed(&self) -> bool {
        matches!(self, StreamOutcome::Failed { .. })
    }

    /// The error, when the stream failed.
    pub fn error(&self) -> Option<&str> {
        match self {
            StreamOutcome::Failed { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The name stored as `status` (`running`, `succeeded`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            StreamOutcome::Running => "running",
            StreamOutcome::Succeeded => "succeeded",
            StreamOutcome::Failed { .. } => "failed",
            StreamOutcome::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for StreamOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Per-stream figures of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamRun {
    /// Stream name.
    pub stream: String,
    /// Records written to the destination.
    pub records: u64,
    /// Bytes of records written.
    pub bytes: u64,
    /// Records dropped on the way (by a `filter` transform or the
    /// `discard_row` schema policy).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped: u64,
    /// The registry id of the schema the stream accepted in this run (the
    /// source's, after the evolution policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The latest extraction time (Unix milliseconds) of a batch written in
    /// this run, when the source stamps batches: now minus this is the
    /// stream's lag, as `sluice_export_lag_seconds` measures it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extracted_at_ms: Option<u64>,
    /// How it ended (`status`, and `error` when it failed).
    #[serde(flatten)]
    pub outcome: StreamOutcome,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl StreamRun {
    /// A stream about to run.
    pub fn new(stream: impl Into<String>) -> Self {
        StreamRun {
            stream: stream.into(),
            ..StreamRun::default()
        }
    }
}

/// How a run ended (or that it has not ended yet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// In progress.
    #[default]
    Running,
    /// Every stream succeeded.
    Succeeded,
    /// At least one stream failed, or the run could not start.
    Failed,
    /// The process running it stopped before it ended (found so by the
    /// next run of the same pipeline).
    Interrupted,
}

impl RunStatus {
    /// The name stored as `status`.
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One `sync` of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Run id, increasing per pipeline.
    pub id: u64,
    /// Start (Unix milliseconds).
    pub started_at_ms: u64,
    /// End (Unix milliseconds); `None` while running or if the process died.
    pub ended_at_ms: Option<u64>,
    /// How it ended.
    pub status: RunStatus,
    /// Per-stream figures.
    pub streams: Vec<StreamRun>,
    /// Attempts made: 1, plus one per retry after a transient error.
    #[serde(default = "one")]
    pub attempts: u32,
    /// The run's error, if it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn one() -> u32 {
    1
}

impl RunRecord {
    /// A run that starts now, with these streams running.
    pub fn start(id: u64, streams: &[&str]) -> Self {
        RunRecord {
            id,
            started_at_ms: crate::now_ms(),
            ended_at_ms: None,
            status: RunStatus::Running,
            streams: streams.iter().map(|s| StreamRun::new(*s)).collect(),
            attempts: 1,
            error: None,
        }
    }

    /// Whether the run is recorded as in progress.
    pub fn is_running(&self) -> bool {
        self.status == RunStatus::Running
    }

    /// The run as it is left when its process stopped before it ended.
    pub(crate) fn interrupted(mut self) -> Self {
        self.status = RunStatus::Interrupted;
        for s in &mut self.streams {
            if s.outcome.is_running() {
                s.outcome = StreamOutcome::Interrupted;
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stream_runs_keep_the_first_formats_json() {
        let failed = StreamRun {
            stream: "users".into(),
            records: 3,
            bytes: 30,
            outcome: StreamOutcome::failed(false, "boom"),
            ..StreamRun::default()
        };
        assert_eq!(
            serde_json::to_value(&failed).unwrap(),
            json!({"stream": "users", "records": 3, "bytes": 30, "status": "failed", "error": "boom"})
        );
        let old = json!({"stream": "users", "records": 0, "bytes": 0, "status": "incomplete"});
        let run: StreamRun = serde_json::from_value(old).unwrap();
        assert_eq!(run.outcome, StreamOutcome::Running);
        let transient = StreamOutcome::failed(true, "busy");
        let text = serde_json::to_string(&StreamRun {
            outcome: transient.clone(),
            ..StreamRun::new("a")
        })
        .unwrap();
        assert!(text.contains(r#""transient":true"#), "{text}");
        let back: StreamRun = serde_json::from_str(&text).unwrap();
        assert_eq!(back.outcome, transient);
    }

    #[test]
    fn an_interrupted_run_marks_its_running_streams() {
        let mut run = RunRecord::start(4, &["a", "b"]);
        run.streams[0].outcome = StreamOutcome::Succeeded;
        let run = run.interrupted();
        assert_eq!(run.status, RunStatus::Interrupted);
        assert_eq!(run.streams[0].outcome, StreamOutcome::Succeeded);
        assert_eq!(run.streams[1].outcome, StreamOutcome::Interrupted);
        assert_eq!(
            serde_json::to_value(run.status).unwrap(),
            json!("interrupted")
        );
    }
}
