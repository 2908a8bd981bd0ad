//! A server that stops talking: `GET /stall?ms=N` sends nothing at all
//! for N ms (the response's head included), `GET /gap?ms=N` sends the
//! head and the start of its body, then nothing for N ms, then the rest.
//! What a client's first-byte and between-bytes timeouts are for.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::Sleep;

/// Marks a response whose head the connection holds back this long
/// (taken off the response before it is sent, see [`crate::server`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stall(pub Duration);

/// The two parts of a `/gap` body; together, `{"data":[]}`.
const PARTS: [&str; 2] = ["{\"data\":", "[]}"];

/// A body that sends its first part, waits, then sends its second.
#[derive(Debug)]
pub struct GapBody {
    /// How many parts are out.
    sent: usize,
    gap: Pin<Box<Sleep>>,
    wait: Duration,
}

impl GapBody {
    /// A body with a gap of `wait` between its two parts. Made inside the
    /// server's runtime (the gap is a tokio timer), so on a request.
    pub fn new(wait: Duration) -> Self {
        GapBody {
            sent: 0,
            gap: Box::pin(tokio::time::sleep(wait)),
            wait,
        }
    }
}

impl Body for GapBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.sent {
            0 => {
                // The gap counts from the first part on.
                let wait = self.wait;
                self.gap.as_mut().reset(tokio::time::Instant::now() + wait);
            }
            1 => ready!(self.gap.as_mut().poll(cx)),
            _ => return Poll::Ready(None),
        }
        let part = PARTS[self.sent];
        self.sent += 1;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(part.as_bytes())))))
    }

    fn is_end_stream(&self) -> bool {
        self.sent == PARTS.len()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
