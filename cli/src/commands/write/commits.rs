//! What `write --format singer|airbyte` holds between commits: the
//! batches, schema changes and stream ends gathered since the last commit,
//! and the states received, each printed only once the destination has
//! committed every record before it.
//!
//! Nothing is handed to the destination before the commit that covers it,
//! so a run that stops on a bad line leaves the destination exactly as
//! the last printed state says, whatever the destination does with
//! uncommitted writes. Only when more than [`HOLD_BYTES`] wait (a source
//! that sends states rarely) is what is held written ahead of its commit,
//! to bound memory: the pending states are committed first, and what is
//! written ahead is committed with the next state, which covers it.

use sluice_protocol::Batch;
use sluice_protocol::schema::SchemaId;
use tokio::time::{Duration, Instant};

/// How many bytes of records are held before they are written ahead of
/// their commit.
pub const HOLD_BYTES: usize = 64 << 20;

/// One thing to hand the destination, in input order.
pub enum Held {
    /// Records.
    Batch(Batch),
    /// The stream's batches follow this registered schema from now on.
    Schema(String, SchemaId),
    /// The source finished the stream.
    Complete(String),
}

/// What is held, and the states waiting for a commit.
pub struct Commits {
    held: Vec<Held>,
    /// How many of `held` the latest state covers.
    covered: usize,
    held_bytes: usize,
    /// The state lines received since the last commit: the latest of each
    /// scope (Singer: one; Airbyte: a stream, the global or legacy state).
    pending: Vec<(String, String)>,
    interval: Duration,
    last: Instant,
}

impl Commits {
    /// Nothing held; commits at most every `interval`.
    pub fn new(interval: Duration) -> Self {
        Commits {
            held: Vec::new(),
            covered: 0,
            held_bytes: 0,
            pending: Vec::new(),
            interval,
            last: Instant::now(),
        }
    }

    /// Hold `item` until the commit that covers it.
    pub fn hold(&mut self, item: Held) {
        if let Held::Batch(b) = &item {
            self.held_bytes += b.data.len();
        }
        self.held.push(item);
    }

    /// A state (its message `line`) covering everything held so far.
    pub fn state(&mut self, scope: String, line: String) {
        self.covered = self.held.len();
        self.pending.retain(|(s, _)| *s != scope);
        self.pending.push((scope, line));
    }

    /// At the end of input: everything held is covered.
    pub fn cover_all(&mut self) {
        self.covered = self.held.len();
    }

    /// When the pending states are due to be committed, if any wait.
    pub fn due(&self) -> Option<Instant> {
        (!self.pending.is_empty()).then(|| self.last + self.interval)
    }

    /// Whether a commit is due now.
    pub fn is_due(&self) -> bool {
        self.due().is_some_and(|d| d <= Instant::now())
    }

    /// Take what the next commit covers.
    pub fn take_covered(&mut self) -> Vec<Held> {
        let rest = self.held.split_off(self.covered);
        let covered = std::mem::replace(&mut self.held, rest);
        self.covered = 0;
        self.held_bytes = self.held.iter().map(bytes).sum();
        covered
    }

    /// Whether more than [`HOLD_BYTES`] of records are held.
    pub fn over_limit(&self) -> bool {
        self.held_bytes > HOLD_BYTES
    }

    /// Take everything held, to write it ahead of its commit. Commit the
    /// pending states first: what is taken must not be committed under
    /// a state that does not cover it.
    pub fn take_all(&mut self) -> Vec<Held> {
        debug_assert!(self.pending.is_empty(), "commit the pending states first");
        self.covered = 0;
        self.held_bytes = 0;
        std::mem::take(&mut self.held)
    }

    /// The destination committed: the state lines to print now.
    pub fn committed(&mut self) -> Vec<String> {
        self.last = Instant::now();
        self.pending.drain(..).map(|(_, line)| line).collect()
    }
}

fn bytes(item: &Held) -> usize {
    match item {
        Held::Batch(b) => b.data.len(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: u32) -> Held {
        Held::Batch(Batch::json_lines("s", n, b"{}\n".repeat(n as usize)))
    }

    #[test]
    fn a_commit_takes_only_what_the_latest_state_covers() {
        let mut c = Commits::new(Duration::ZERO);
        assert!(c.due().is_none(), "no state, nothing due");
        c.hold(batch(1));
        c.hold(batch(2));
        c.state("s".into(), "first".into());
        c.state("s".into(), "second".into());
        c.hold(batch(3));
        assert!(c.is_due());
        let covered = c.take_covered();
        assert_eq!(covered.len(), 2);
        assert_eq!(c.committed(), vec!["second".to_string()]);
        assert!(c.due().is_none());
        c.cover_all();
        assert_eq!(c.take_covered().len(), 1, "the batch after the state");
    }

    #[test]
    fn states_of_other_scopes_wait_together() {
        let mut c = Commits::new(Duration::from_secs(3600));
        c.state("a".into(), "a1".into());
        c.state("b".into(), "b1".into());
        c.state("a".into(), "a2".into());
        assert!(!c.is_due(), "the interval has not passed");
        assert_eq!(c.committed(), vec!["b1".to_string(), "a2".to_string()]);
    }
}
