//! `GET /big?mib=M`: a `{"data":[...]}` body of about `M` MiB, made one
//! chunk at a time as the client reads it, never whole in memory.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

/// About how many bytes each chunk carries.
const CHUNK: usize = 64 * 1024;

/// The filler each record carries, so a record is about 250 bytes.
const PAYLOAD: &str = concat!(
    "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz",
    "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz",
    "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdef",
);

/// The streamed body: records `{"id":n,"name":"big-n","payload":"..."}`
/// until about `target` bytes are out, then the closing `]}`.
#[derive(Debug)]
pub struct BigBody {
    target: u64,
    sent: u64,
    next_id: u64,
    done: bool,
}

impl BigBody {
    /// A body of about `mib` MiB.
    pub fn new(mib: u64) -> Self {
        BigBody {
            target: mib.saturating_mul(1024 * 1024),
            sent: 0,
            next_id: 1,
            done: false,
        }
    }

    /// The next chunk: the opening (with the first chunk), records, and the
    /// closing (with the last chunk).
    fn chunk(&mut self) -> Bytes {
        let mut out = String::with_capacity(CHUNK + 512);
        if self.sent == 0 {
            out.push_str("{\"data\":[");
        }
        while out.len() < CHUNK && self.sent + (out.len() as u64) < self.target {
            if self.next_id > 1 {
                out.push(',');
            }
            let id = self.next_id;
            out.push_str(&format!(
                "{{\"id\":{id},\"name\":\"big-{id}\",\"payload\":\"{PAYLOAD}\"}}"
            ));
            self.next_id += 1;
        }
        if self.sent + (out.len() as u64) >= self.target {
            out.push_str("]}");
            self.done = true;
        }
        self.sent += out.len() as u64;
        Bytes::from(out)
    }
}

impl Body for BigBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.done {
            return Poll::Ready(None);
        }
        Poll::Ready(Some(Ok(Frame::data(self.chunk()))))
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(mut body: BigBody) -> (String, usize) {
        let mut text = String::new();
        let mut chunks = 0;
        while !body.done {
            let chunk = body.chunk();
            assert!(chunk.len() <= CHUNK + 512);
            text.push_str(std::str::from_utf8(&chunk).unwrap());
            chunks += 1;
        }
        (text, chunks)
    }

    #[test]
    fn about_the_size_asked_and_valid_json() {
        let (text, chunks) = whole(BigBody::new(2));
        let mib = 1024 * 1024;
        assert!(
            (2 * mib..2 * mib + 1024).contains(&text.len()),
            "{}",
            text.len()
        );
        assert!(chunks > 20);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let data = value["data"].as_array().unwrap();
        assert_eq!(data[0]["id"], 1);
        assert_eq!(data.last().unwrap()["id"], data.len());
    }

    #[test]
    fn zero_mib_is_an_empty_list() {
        let (text, _) = whole(BigBody::new(0));
        assert_eq!(text, "{\"data\":[]}");
    }
}
