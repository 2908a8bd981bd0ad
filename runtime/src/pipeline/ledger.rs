//! The per-stream ledger of a run: for every stream its counts, its
//! outcome, the checkpoint waiting for a destination commit, and whether
//! the source finished it. One place holds what a run knows of a stream.

use serde_json::Value;
use sluice_protocol::{ConfiguredCatalog, ConfiguredStream};
use sluice_state::{StreamOutcome, StreamRun};
use std::collections::BTreeMap;

/// A stream's place in the ledger (an index into the run's streams).
pub(crate) type StreamId = usize;

/// What a run knows of one stream.
#[derive(Debug)]
struct Entry {
    /// Name, counts and outcome, as the run history keeps them.
    run: StreamRun,
    /// The source's latest checkpoint, not yet persisted.
    pending: Option<Value>,
    /// The source finished the stream; it succeeds at the next commit.
    source_done: bool,
    /// The destination was told the stream is complete.
    told_complete: bool,
    /// Part of the current attempt.
    in_attempt: bool,
    /// The stream's partitions, when the attempt reads it in several.
    parts: Option<Parts>,
}

/// The partitions of a stream read in several at once.
#[derive(Debug)]
struct Parts {
    /// Each partition's latest state (saved or checkpointed).
    states: Vec<Option<Value>>,
    /// Which partitions the source finished.
    done: Vec<bool>,
}

/// Every stream of a run, in the catalog's order.
#[derive(Debug)]
pub(crate) struct StreamLedger {
    entries: Vec<Entry>,
    by_name: BTreeMap<String, StreamId>,
}

impl StreamLedger {
    /// A ledger for the streams of `catalog`, all running.
    pub(crate) fn new(catalog: &ConfiguredCatalog) -> Self {
        let entries: Vec<Entry> = catalog
            .streams
            .iter()
            .map(|s| Entry {
                run: StreamRun::new(s.name.clone()),
                pending: None,
                source_done: false,
                told_complete: false,
                in_attempt: false,
                parts: None,
            })
            .collect();
        let by_name = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.run.stream.clone(), i))
            .collect();
        StreamLedger { entries, by_name }
    }

    /// Start an attempt: the streams of `catalog` that did not succeed
    /// and did not fail for good run (again), from their last persisted
    /// checkpoint. Returns them as the attempt's catalog.
    pub(crate) fn begin_attempt(&mut self, catalog: &ConfiguredCatalog) -> ConfiguredCatalog {
        let mut streams: Vec<ConfiguredStream> = Vec::new();
        for e in &mut self.entries {
            let again = match &e.run.outcome {
                StreamOutcome::Running => true,
                StreamOutcome::Failed { transient, .. } => *transient,
                StreamOutcome::Succeeded | StreamOutcome::Interrupted => false,
            };
            e.in_attempt = again;
            e.source_done = false;
            e.told_complete = false;
            e.pending = None;
            e.parts = None;
            if again {
                e.run.outcome = StreamOutcome::Running;
                streams.extend(catalog.stream(&e.run.stream).cloned());
            }
        }
        ConfiguredCatalog { streams }
    }

    /// The stream called `name`, if it is part of the current attempt.
    pub(crate) fn find(&self, name: &str) -> Option<StreamId> {
        self.by_name
            .get(name)
            .copied()
            .filter(|&i| self.entries[i].in_attempt)
    }

    /// The stream's name.
    pub(crate) fn name(&self, i: StreamId) -> &str {
        &self.entries[i].run.stream
    }

    /// Whether the stream failed (its later data is ignored).
    pub(crate) fn is_failed(&self, i: StreamId) -> bool {
        self.entries[i].run.outcome.is_failed()
    }

    /// Count a batch the destination accepted, extracted at
    /// `extracted_at_ms` (0: unknown).
    pub(crate) fn add(
        &mut self,
        i: StreamId,
        records: u64,
        bytes: u64,
        extracted_at_ms: u64,
    ) -> &StreamRun {
        let run = &mut self.entries[i].run;
        run.records += records;
        run.bytes += bytes;
        if extracted_at_ms > 0 {
            run.extracted_at_ms = run.extracted_at_ms.max(Some(extracted_at_ms));
        }
        run
    }

    /// Count records the schema policy or a filter dropped.
    pub(crate) fn dropped(&mut self, i: StreamId, records: u32) {
        self.entries[i].run.dropped += u64::from(records);
    }

    /// The schema the stream accepted (told to the destination).
    pub(crate) fn schema(&mut self, i: StreamId, id: Option<sluice_schema::SchemaId>) {
        if let Some(id) = id {
            self.entries[i].run.schema = Some(id.0);
        }
    }

    /// Hold a checkpoint of a stream until the next destination commit.
    pub(crate) fn checkpoint(&mut self, i: StreamId, state: Value) {
        let e = &mut self.entries[i];
        if !e.run.outcome.is_failed() {
            e.pending = Some(state);
        }
    }

    /// This attempt reads the stream in partitions, saved with `states`.
    pub(crate) fn split(&mut self, i: StreamId, states: Vec<Option<Value>>) {
        let done = vec![false; states.len()];
        self.entries[i].parts = Some(Parts { states, done });
    }

    /// Partition `part` of a split stream checkpointed `state`; returns
    /// the state of the whole stream, every partition's latest. A stream
    /// that is not split has only its own state.
    pub(crate) fn part_state(&mut self, i: StreamId, part: Option<u32>, state: Value) -> Value {
        let (Some(parts), Some(part)) = (&mut self.entries[i].parts, part) else {
            return state;
        };
        if let Some(slot) = parts.states.get_mut(part as usize) {
            *slot = Some(state);
        }
        super::shares::partitioned_state(&parts.states)
    }

    /// The source finished partition `part` of the stream (or, with
    /// `None`, the stream): the stream is finished once every partition is.
    pub(crate) fn part_finished(&mut self, i: StreamId, part: Option<u32>) {
        let whole = match (&mut self.entries[i].parts, part) {
            (Some(parts), Some(part)) => {
                if let Some(done) = parts.done.get_mut(part as usize) {
                    *done = true;
                }
                parts.done.iter().all(|d| *d)
            }
            _ => true,
        };
        if whole {
            self.source_finished(i);
        }
    }

    /// The source said it finished the stream.
    pub(crate) fn source_finished(&mut self, i: StreamId) {
        let e = &mut self.entries[i];
        if e.run.outcome.is_running() {
            e.source_done = true;
        }
    }

    /// The streams the source finished whose destination has not been told
    /// yet, by name; they count as told from now on.
    pub(crate) fn take_finished(&mut self) -> Vec<(StreamId, String)> {
        let mut names = Vec::new();
        for (i, e) in self.entries.iter_mut().enumerate() {
            if e.source_done && !e.told_complete && e.run.outcome.is_running() {
                e.told_complete = true;
                names.push((i, e.run.stream.clone()));
            }
        }
        names
    }

    /// The source ended cleanly: every running stream of the attempt is
    /// finished, whether it said so or not.
    pub(crate) fn source_ended(&mut self) {
        for e in self.entries.iter_mut().filter(|e| e.in_attempt) {
            if e.run.outcome.is_running() {
                e.source_done = true;
            }
        }
    }

    /// Fail one stream; the others go on. A checkpoint it already sent
    /// still covers records the destination accepted, so it is kept.
    pub(crate) fn fail(&mut self, i: StreamId, transient: bool, error: String) {
        let e = &mut self.entries[i];
        e.run.outcome = StreamOutcome::failed(transient, error);
        e.source_done = false;
    }

    /// The attempt stopped: its streams still running fail with `error`.
    pub(crate) fn fail_running(&mut self, transient: bool, error: &str) {
        for e in self.entries.iter_mut().filter(|e| e.in_attempt) {
            if e.run.outcome.is_running() {
                e.run.outcome = StreamOutcome::failed(transient, error);
            }
        }
    }

    /// The run was stopped: its streams still running are interrupted.
    pub(crate) fn interrupt_running(&mut self) {
        for e in self.entries.iter_mut().filter(|e| e.in_attempt) {
            if e.run.outcome.is_running() {
                e.run.outcome = StreamOutcome::Interrupted;
            }
        }
    }

    /// Whether a commit would persist or finish anything.
    pub(crate) fn has_uncommitted(&self) -> bool {
        self.entries
            .iter()
            .any(|e| e.pending.is_some() || e.source_done)
    }

    /// The checkpoints waiting for a commit, by stream.
    pub(crate) fn pending(&self) -> BTreeMap<String, Value> {
        self.entries
            .iter()
            .filter_map(|e| Some((e.run.stream.clone(), e.pending.clone()?)))
            .collect()
    }

    /// The held checkpoints are persisted; the streams stay as they are.
    pub(crate) fn clear_pending(&mut self) {
        for e in &mut self.entries {
            e.pending = None;
        }
    }

    /// The destination committed and the checkpoints are persisted: the
    /// streams the source finished succeed. Returns them.
    pub(crate) fn committed(&mut self) -> Vec<&StreamRun> {
        let mut done = Vec::new();
        for e in &mut self.entries {
            e.pending = None;
            if std::mem::take(&mut e.source_done) {
                e.run.outcome = StreamOutcome::Succeeded;
                done.push(&e.run);
            }
        }
        done
    }

    /// Streams of the current attempt that failed with a transient error.
    pub(crate) fn transient_failures(&self) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| e.in_attempt)
            .filter(|e| {
                matches!(
                    e.run.outcome,
                    StreamOutcome::Failed {
                        transient: true,
                        ..
                    }
                )
            })
            .map(|e| e.run.stream.as_str())
            .collect()
    }

    /// Streams that did not succeed.
    pub(crate) fn unsucceeded(&self) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| !e.run.outcome.is_succeeded())
            .map(|e| e.run.stream.as_str())
            .collect()
    }

    /// How many streams the run has.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The streams as the run history keeps them.
    pub(crate) fn into_runs(self) -> Vec<StreamRun> {
        self.entries.into_iter().map(|e| e.run).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalog(names: &[&str]) -> ConfiguredCatalog {
        ConfiguredCatalog {
            streams: names
                .iter()
                .map(|n| ConfiguredStream::new(n.to_string()))
                .collect(),
        }
    }

    #[test]
    fn a_stream_succeeds_only_at_the_commit_after_its_source_finished() {
        let all = catalog(&["a", "b"]);
        let mut l = StreamLedger::new(&all);
        assert_eq!(l.begin_attempt(&all).streams.len(), 2);
        let a = l.find("a").unwrap();
        l.add(a, 10, 100, 2_000);
        // The latest extraction time is kept; a batch without one keeps it.
        l.add(a, 5, 50, 1_000);
        let run = l.add(a, 0, 0, 0);
        assert_eq!(
            (run.records, run.bytes, run.extracted_at_ms),
            (15, 150, Some(2_000))
        );
        l.checkpoint(a, json!({"c": 1}));
        l.source_finished(a);
        assert!(l.has_uncommitted());
        assert_eq!(l.pending()["a"], json!({"c": 1}));
        let done: Vec<&str> = l.committed().iter().map(|r| r.stream.as_str()).collect();
        assert_eq!(done, ["a"]);
        assert!(!l.has_uncommitted());
        assert_eq!(l.unsucceeded(), ["b"]);
    }

    #[test]
    fn failed_streams_keep_their_checkpoint_and_only_transient_ones_run_again() {
        let all = catalog(&["a", "b", "c"]);
        let mut l = StreamLedger::new(&all);
        l.begin_attempt(&all);
        let (a, b) = (l.find("a").unwrap(), l.find("b").unwrap());
        l.checkpoint(a, json!(1));
        l.fail(a, false, "bad row".into());
        l.checkpoint(a, json!(2));
        assert_eq!(l.pending()["a"], json!(1), "nothing after the failure");
        l.fail(b, true, "busy".into());
        l.fail_running(false, "the destination went away");
        assert_eq!(l.transient_failures(), ["b"]);
        let again = l.begin_attempt(&all);
        assert_eq!(again.streams.len(), 1);
        assert_eq!(again.streams[0].name, "b");
        assert!(l.find("a").is_none() && l.find("c").is_none());
        let runs = l.into_runs();
        assert_eq!(runs[0].outcome.error(), Some("bad row"));
        assert!(runs[1].outcome.is_running());
        assert_eq!(runs[2].outcome.error(), Some("the destination went away"));
    }

    #[test]
    fn a_split_stream_keeps_every_partitions_state_and_ends_with_the_last() {
        let all = catalog(&["a"]);
        let mut l = StreamLedger::new(&all);
        l.begin_attempt(&all);
        let a = l.find("a").unwrap();
        l.split(a, vec![Some(json!(1)), None]);
        let whole = l.part_state(a, Some(1), json!(7));
        assert_eq!(whole, json!({"_sluice_partitions": [1, 7]}));
        l.checkpoint(a, whole);
        l.part_finished(a, Some(1));
        assert!(l.take_finished().is_empty(), "partition 0 is still reading");
        l.part_finished(a, Some(0));
        assert_eq!(l.take_finished(), [(a, "a".to_string())]);
        // A new attempt reads from what is persisted, split afresh.
        l.fail(a, true, "busy".into());
        l.begin_attempt(&all);
        assert_eq!(l.part_state(a, Some(0), json!(2)), json!(2), "not split");
    }
}
