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
        frontend::query(sql, &mut self.write)?;
        self.flush()?;
        loop {
            match self.next()? {
                Message::CopyInResponse(_) => break,
                Message::NoticeResponse(_) => {}
                Message::ErrorResponse(e) => {
                    let e = Error::Server(Box::new(server_error(&e)?));
                    self.finish_with(None)?;
                    return Err(e);
                }
                _ => return Err(Error::Protocol("expected CopyInResponse".into())),
            }
        }
        Ok(CopyIn {
            client: self,
            pending: Vec::with_capacity(CHUNK + 64 * 1024),
            done: false,
        })
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
        let mut rows = 0;
        let mut error = None;
        loop {
            match self.client.next()? {
                Message::CommandComplete(c) => rows = affected(c.tag()?),
                Message::ErrorResponse(e) => {
                    error.get_or_insert(Error::Server(Box::new(server_error(&e)?)));
                }
                Message::ReadyForQuery(r) => {
                    self.client.status = r.status();
                    return error.map_or(Ok(rows), Err);
                }
                _ => {}
            }
        }
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
