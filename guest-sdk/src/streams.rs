//! Reading the streams of a configured catalog one after another.

use crate::{
    BatchBuilder, ConfiguredCatalog, ConfiguredStream, ConnectorError, Message, Reader, Result,
    StreamState, StreamStatus,
};
use serde::Serialize;

/// What one [`StreamRead::read_batch`] call left of its stream.
#[derive(Debug)]
pub enum Step {
    /// The stream has more to read: call again.
    More,
    /// The stream is done; [`Streams`] reports it complete.
    Done,
    /// The stream failed: [`Streams`] reports the error as the contract's
    /// per-stream error and goes on with the next stream. (An `Err` from
    /// `read_batch` instead fails the whole read.)
    Failed(ConnectorError),
}

/// One configured stream as a source reads it, a batch at a time.
pub trait StreamRead {
    /// Read the next part of the stream (at most one batch) into `out`:
    /// records first, then a checkpoint that covers them.
    fn read_batch(&mut self, out: &mut StreamOutput<'_>) -> Result<Step>;
}

/// Where a [`StreamRead`] puts the messages of one of its streams.
#[derive(Debug)]
pub struct StreamOutput<'a> {
    stream: &'a str,
    messages: &'a mut Vec<Message>,
}

impl StreamOutput<'_> {
    /// The name of the stream.
    pub fn stream(&self) -> &str {
        self.stream
    }

    /// Emit what `batch` holds, if anything, leaving it empty.
    pub fn records(&mut self, batch: &mut BatchBuilder) {
        if let Some(batch) = batch.take() {
            self.messages.push(Message::Records(batch));
        }
    }

    /// Emit a checkpoint of the stream: `state`, as JSON, covers every
    /// record emitted before it. Read it back with [`State::get`](crate::State::get).
    pub fn checkpoint<T: Serialize>(&mut self, state: &T) -> Result<()> {
        let state =
            serde_json::to_value(state).map_err(|e| ConnectorError::internal(e.to_string()))?;
        self.messages.push(Message::State(StreamState {
            stream: self.stream.to_string(),
            state,
        }));
        Ok(())
    }

    /// Emit any other message.
    pub fn push(&mut self, message: Message) {
        self.messages.push(message);
    }
}

/// A [`Reader`] over the streams of a configured catalog, in its order: a
/// `Started` status before a stream's first messages, `Complete` after its
/// last, then the next stream; each `next` call reads one batch of one stream.
///
/// ```
/// use sluice_guest::*;
///
/// struct Countdown(u32);
///
/// impl StreamRead for Countdown {
///     fn read_batch(&mut self, out: &mut StreamOutput<'_>) -> Result<Step> {
///         let mut batch = BatchBuilder::new(out.stream(), 2);
///         while self.0 > 0 && !batch.is_full() {
///             batch.push(&serde_json::json!({"n": self.0}))?;
///             self.0 -= 1;
///         }
///         out.records(&mut batch);
///         out.checkpoint(&serde_json::json!({"left": self.0}))?;
///         Ok(if self.0 == 0 { Step::Done } else { Step::More })
///     }
/// }
///
/// let catalog = ConfiguredCatalog { streams: vec![ConfiguredStream::new("a")] };
/// let mut reader = Streams::open(catalog, |_| Ok(Countdown(3))).unwrap();
/// let first = reader.next().unwrap().unwrap();
/// assert!(matches!(&first[0], Message::Status(s, StreamStatus::Started) if s == "a"));
/// assert!(matches!(&first[1], Message::Records(b) if b.count == 2));
/// let second = reader.next().unwrap().unwrap();
/// assert!(matches!(second.last(), Some(Message::Status(_, StreamStatus::Complete))));
/// assert!(reader.next().unwrap().is_none());
/// ```
pub struct Streams<S> {
    runs: Vec<Run<S>>,
    current: usize,
}

struct Run<S> {
    name: String,
    started: bool,
    read: S,
}

impl<S> Streams<S> {
    /// Open each stream of `catalog`, in order, with `open`; its first
    /// error fails the read.
    pub fn open(
        catalog: ConfiguredCatalog,
        mut open: impl FnMut(ConfiguredStream) -> Result<S>,
    ) -> Result<Self> {
        let mut runs = Vec::with_capacity(catalog.streams.len());
        for stream in catalog.streams {
            let name = stream.name.clone();
            runs.push(Run {
                name,
                started: false,
                read: open(stream)?,
            });
        }
        Ok(Streams { runs, current: 0 })
    }
}

impl<S: StreamRead> Reader for Streams<S> {
    fn next(&mut self) -> Result<Option<Vec<Message>>> {
        let Some(run) = self.runs.get_mut(self.current) else {
            return Ok(None);
        };
        let mut messages = Vec::with_capacity(4);
        if !run.started {
            run.started = true;
            messages.push(Message::Status(run.name.clone(), StreamStatus::Started));
        }
        let mut out = StreamOutput {
            stream: &run.name,
            messages: &mut messages,
        };
        match run.read.read_batch(&mut out)? {
            Step::More => {}
            Step::Done => {
                messages.push(Message::Status(run.name.clone(), StreamStatus::Complete));
                self.current += 1;
            }
            Step::Failed(mut e) => {
                if e.stream.is_none() {
                    e = e.in_stream(&run.name);
                }
                messages.push(Message::StreamError(e));
                self.current += 1;
            }
        }
        Ok(Some(messages))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails at its first call when `fail`, else is done at once.
    struct Once {
        fail: bool,
    }

    impl StreamRead for Once {
        fn read_batch(&mut self, _: &mut StreamOutput<'_>) -> Result<Step> {
            Ok(match self.fail {
                true => Step::Failed(ConnectorError::data("row 7 is bad")),
                false => Step::Done,
            })
        }
    }

    #[test]
    fn a_failed_stream_is_reported_and_the_next_one_read() {
        let catalog = ConfiguredCatalog {
            streams: vec![ConfiguredStream::new("bad"), ConfiguredStream::new("good")],
        };
        let mut reader = Streams::open(catalog, |s| {
            Ok(Once {
                fail: s.name == "bad",
            })
        })
        .unwrap();
        let first = reader.next().unwrap().unwrap();
        let Message::StreamError(e) = &first[1] else {
            panic!("{first:?}")
        };
        assert_eq!(e.stream.as_deref(), Some("bad"));
        let second = reader.next().unwrap().unwrap();
        assert_eq!(second.len(), 2);
        assert!(matches!(&second[1], Message::Status(s, StreamStatus::Complete) if s == "good"));
        assert!(reader.next().unwrap().is_none());
    }

    #[test]
    fn an_open_error_fails_the_read() {
        let catalog = ConfiguredCatalog {
            streams: vec![ConfiguredStream::new("a")],
        };
        let r = Streams::<Once>::open(catalog, |s| {
            Err(ConnectorError::config("no").in_stream(s.name))
        });
        assert!(r.is_err());
    }
}
