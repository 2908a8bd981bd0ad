//! The one check of a batch on its way from a source to a destination:
//! no larger than the source's `limits.batch_mib`, and what its header
//! says (UTF-8, one JSON object per line, the declared count).

use crate::error::{Call, Error, Limit};
use sluice_protocol::Batch;
use sluice_protocol::batch::{self, BatchError};

/// Why a batch is not forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchFault {
    /// Larger than the source may hand over: the source is stopped.
    TooLarge(Limit),
    /// Not what its header says: its stream fails.
    Invalid(BatchError),
}

/// Check `batch` from a source allowed batches of `max_bytes`.
pub fn check_batch(batch: &Batch, max_bytes: usize) -> Result<(), BatchFault> {
    if batch.data.len() > max_bytes {
        return Err(BatchFault::TooLarge(Limit::Batch {
            max_bytes,
            bytes: batch.data.len(),
        }));
    }
    batch::check(batch).map(drop).map_err(BatchFault::Invalid)
}

impl BatchFault {
    /// The error of source `connector` that sent the batch of `stream`.
    pub fn into_error(self, connector: &str, stream: &str) -> Error {
        let connector = connector.to_string();
        match self {
            BatchFault::TooLarge(limit) => Error::Limit {
                connector,
                call: Call::Next,
                limit,
            },
            BatchFault::Invalid(e) => Error::Protocol {
                connector,
                call: Call::Next,
                message: format!("a batch of stream `{stream}` is invalid: {e}"),
            },
        }
    }
}
