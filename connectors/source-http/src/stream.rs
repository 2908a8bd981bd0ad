//! Reading one configured stream: pages into batches, the schema
//! registered before the records it covers, and a checkpoint after the
//! records of every call.

use crate::bookmark::{Bookmark, Tracker};
use crate::config::{Config, StreamConfig, typed_schema};
use crate::infer::Inferred;
use crate::pages::Walk;
use serde_json::Value;
use sluice_guest::http::Client;
use sluice_guest::{
    BatchBuilder, ConfiguredStream, ConnectorError, Level, Result, State, Step, StreamOutput,
    StreamRead, SyncMode, log,
};
use std::cell::RefCell;
use std::rc::Rc;

/// The most pages one call reads (a child stream whose parents have no
/// children would otherwise send request after request in one call).
const MAX_PAGES_PER_CALL: usize = 50;

/// One configured stream of source-http.
pub struct HttpStream {
    name: String,
    client: Rc<RefCell<Client>>,
    walk: Walk,
    batch: BatchBuilder,
    inferred: Option<Inferred>,
    tracker: Option<Tracker>,
}

impl HttpStream {
    /// Prepare to read `stream` (nothing is fetched before the first
    /// batch), resuming an incremental one from its saved bookmark.
    pub fn open(
        config: &Config,
        client: Rc<RefCell<Client>>,
        stream: ConfiguredStream,
        state: &State,
    ) -> Result<HttpStream> {
        let name = stream.name.clone();
        let Some(own) = config.stream(&name) else {
            return Err(ConnectorError::config(format!(
                "stream `{name}` is not in the config's `streams`"
            ))
            .in_stream(&name));
        };
        let tracker = match stream.sync_mode {
            SyncMode::Incremental => Some(tracker(own, &stream, state)?),
            SyncMode::FullRefresh => None,
        };
        let filter = own
            .incremental
            .as_ref()
            .zip(tracker.as_ref().and_then(Tracker::filter))
            .map(|(inc, value)| (inc.param.clone(), value));
        let walk = Walk::new(config, &name, filter)?;
        let mut batch = BatchBuilder::for_stream(&stream, config.batch_size);
        let inferred = match &own.schema {
            Some(schema) => {
                batch.set_schema(&typed_schema(&name, schema)?)?;
                None
            }
            None => Some(Inferred::default()),
        };
        Ok(HttpStream {
            name,
            client,
            walk,
            batch,
            inferred,
            tracker,
        })
    }

    /// Put one page's records into the batch: the inferred schema widened
    /// (and registered anew) first if they bring something new.
    fn take(&mut self, records: Vec<Value>) -> Result<()> {
        if let Some(inferred) = &mut self.inferred
            && inferred.observe(&records)
        {
            let schema = typed_schema(&self.name, &inferred.json_schema())?;
            self.batch.set_schema(&schema)?;
        }
        for record in &records {
            if let Some(tracker) = &mut self.tracker {
                tracker.observe(record);
            }
            self.batch.push(record)?;
        }
        Ok(())
    }

    /// Read pages until the batch is full, the stream ends, or the call
    /// has read its share of pages; whether the stream ended.
    fn fill(&mut self) -> Result<bool> {
        for _ in 0..MAX_PAGES_PER_CALL {
            let page = self.walk.next_page(&mut self.client.borrow_mut())?;
            let Some(page) = page else {
                return Ok(true);
            };
            self.take(page.records)?;
            if self.batch.is_full() {
                break;
            }
        }
        Ok(false)
    }
}

impl StreamRead for HttpStream {
    fn read_batch(&mut self, out: &mut StreamOutput<'_>) -> Result<Step> {
        let done = self.fill()?;
        out.records(&mut self.batch);
        let checkpoint = self.tracker.as_ref().and_then(|t| match done {
            true => t.end_checkpoint(),
            false => t.page_checkpoint(),
        });
        if let Some(checkpoint) = checkpoint {
            out.checkpoint(&checkpoint)?;
        }
        Ok(if done { Step::Done } else { Step::More })
    }
}

/// The bookmark tracker of an incremental stream: from the saved state
/// when it is on the same cursor field, else from `incremental.start`.
fn tracker(own: &StreamConfig, stream: &ConfiguredStream, state: &State) -> Result<Tracker> {
    let name = stream.name.as_str();
    let Some(inc) = &own.incremental else {
        return Err(ConnectorError::config(format!(
            "stream `{name}` cannot be read incrementally: its config has no `incremental`"
        ))
        .in_stream(name));
    };
    if let Some(asked) = stream
        .cursor_field
        .as_ref()
        .filter(|c| **c != inc.cursor_field)
    {
        return Err(ConnectorError::config(format!(
            "stream `{name}` is incremental on `{}` (its `incremental.cursor_field`), not on `{asked}`",
            inc.cursor_field
        ))
        .in_stream(name));
    }
    let saved = state
        .get::<Bookmark>(name)?
        .filter(|b| !b.bookmark.is_null());
    let start = match saved {
        Some(b) if b.cursor_field == inc.cursor_field => Some(b.bookmark),
        Some(b) => {
            log(
                Level::Warn,
                &format!(
                    "{name}: the saved bookmark is on `{}`, the stream now on `{}`: starting over",
                    b.cursor_field, inc.cursor_field
                ),
            );
            inc.start.clone().map(Value::String)
        }
        None => inc.start.clone().map(Value::String),
    };
    Ok(Tracker::new(&inc.cursor_field, start, inc.sorted))
}
