//! `COPY ... FROM STDIN`: stream rows to the server in large chunks.

use crate::conn::{Client, server_error};
use crate::error::{Error, Result};
use crate::query::affected;
use postgres_protocol::message::{backend::Message, frontend};

/// Bytes buffered before they are sent as `CopyData` messages.
const CHUNK: usize = 256 * 1024;

/// A `COPY ... FROM STDIN` in progress. Write the rows in the format the
/// statement names, then [`CopyIn::finish`]; dropped unfinished, the copy
/// is aborted and nothing it sent is kept.
pub struct CopyIn<'a> {
    client: &'a mut Client,
    pending: Vec<u8>,
    done: bool,
}

impl std::fmt::Debug for CopyIn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyIn")
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Client {
    /// Start `sql`, a `COPY ... FROM STDIN` statement.
    pub fn copy_in(&mut self, sql: &str) -> Result<CopyIn<'_>> {
        self.start_copy(sql)?;
        Ok(CopyIn {
            client: self,
            pending: Vec::with_capacity(CHUNK + 64 * 1024),
            done: false,
        })
    }

    /// Send `sql` (`COPY ... FROM STDIN`) and wait until the server takes data.
    fn start_copy(&mut self, sql: &str) -> Result<()> {
        self.ready()?;
        frontend::query(sql, &mut self.write)?;
        self.flush()?;
        loop {
            match self.next()? {
                Message::CopyInResponse(_) => return Ok(()),
                Message::NoticeResponse(_) => {}
                Message::ErrorResponse(e) => {
                    let e = Error::Server(Box::new(server_error(&e)?));
                    self.finish_with(None)?;
                    return Err(e);
                }
                _ => return Err(Error::Protocol("expected CopyInResponse".into())),
            }
        }
    }

    /// Read a finished copy's outcome: the rows the server took.
    fn copy_outcome(&mut self) -> Result<u64> {
        let mut rows = 0;
        let mut error = None;
        loop {
            match self.next()? {
                Message::CommandComplete(c) => rows = affected(c.tag()?),
                Message::ErrorResponse(e) => {
                    error.get_or_insert(Error::Server(Box::new(server_error(&e)?)));
                }
                Message::ReadyForQuery(r) => {
                    self.status = r.status();
                    return error.map_or(Ok(rows), Err);
                }
                _ => {}
            }
        }
    }

    /// Start `sql` (`COPY ... FROM STDIN`) and keep it open across calls,
    /// so the server parses rows while the caller makes the next ones: put
    /// rows in [`Client::copy_buffer`], call [`Client::copy_maybe_send`],
    /// and end it with [`Client::copy_end`] (or [`Client::copy_abort`]).
    /// Meanwhile other statements fail. The server reports a bad row only
    /// at the end.
    pub fn copy_begin(&mut self, sql: &str) -> Result<()> {
        self.start_copy(sql)?;
        self.copy = Some(Vec::with_capacity(CHUNK + 64 * 1024));
        Ok(())
    }

    /// Whether a COPY opened with [`Client::copy_begin`] is open.
    pub fn copying(&self) -> bool {
        self.copy.is_some()
    }

    /// The buffer of the open COPY (empty and unused when none is open).
    pub fn copy_buffer(&mut self) -> &mut Vec<u8> {
        self.copy.get_or_insert_with(Vec::new)
    }

    /// Send the open COPY's buffer when it is large enough.
    pub fn copy_maybe_send(&mut self) -> Result<()> {
        if self.copy.as_ref().is_some_and(|b| b.len() >= CHUNK) {
            self.queue_copy()?;
            self.flush()?;
        }
        Ok(())
    }

    fn queue_copy(&mut self) -> Result<()> {
        if let Some(buf) = self.copy.as_mut().filter(|b| !b.is_empty()) {
            let data = frontend::CopyData::new(&buf[..])?;
            data.write(&mut self.write);
            buf.clear();
        }
        Ok(())
    }

    /// End the open COPY and return how many rows the server took (or the
    /// first row it refused).
    pub fn copy_end(&mut self) -> Result<u64> {
        if self.copy.is_none() {
            return Err(Error::Protocol("no COPY is open".into()));
        }
        self.queue_copy()?;
        self.copy = None;
        // The last rows and CopyDone in one write (see CopyIn::finish).
        frontend::copy_done(&mut self.write);
        self.flush()?;
        self.copy_outcome()
    }

    /// Abandon the open COPY: nothing it sent is kept.
    pub fn copy_abort(&mut self) -> Result<()> {
        if self.copy.take().is_none() {
            return Ok(());
        }
        frontend::copy_fail("aborted by the client", &mut self.write)?;
        self.flush()?;
        let _ = self.finish_with(None);
        Ok(())
    }
}

impl CopyIn<'_> {
    /// Append `data` (whole or partial rows; the server only sees the
    /// concatenation).
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        self.pending.extend_from_slice(data);
        if self.pending.len() >= CHUNK {
            self.send()?;
        }
        Ok(())
    }

    /// The buffer rows are written into directly; call
    /// [`CopyIn::maybe_send`] after writing.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.pending
    }

    /// Send the buffer when it is large enough.
    pub fn maybe_send(&mut self) -> Result<()> {
        if self.pending.len() >= CHUNK {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> Result<()> {
        self.queue()?;
        self.client.flush()
    }

    /// Put the buffered rows in the client's write buffer as `CopyData`.
    fn queue(&mut self) -> Result<()> {
        if !self.pending.is_empty() {
            let data = frontend::CopyData::new(&self.pending[..])?;
            data.write(&mut self.client.write);
            self.pending.clear();
        }
        Ok(())
    }

    /// End the copy and return how many rows the server took.
    pub fn finish(mut self) -> Result<u64> {
        // The last rows and CopyDone go out in one write: as two, the small
        // second one waits for the server's delayed ACK (Nagle) wherever
        // TCP_NODELAY cannot be set, as in the WASI sandbox.
        self.queue()?;
        self.done = true;
        frontend::copy_done(&mut self.client.write);
        self.client.flush()?;
        self.client.copy_outcome()
    }
}

impl Drop for CopyIn<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let _ = frontend::copy_fail("aborted by the client", &mut self.client.write);
        if self.client.flush().is_ok() {
            let _ = self.client.finish_with(None);
        }
    }
}
