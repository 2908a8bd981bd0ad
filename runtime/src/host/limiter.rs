//! The memory limit of a store, recording which limit stopped the guest.

use crate::error::Limit;

/// Records which limit stopped the guest, so a trap can be named.
#[derive(Debug)]
pub(crate) struct Limiter {
    max_memory: usize,
    pub(crate) hit: Option<Limit>,
}

impl Limiter {
    /// A limiter allowing `max_memory` bytes per linear memory.
    pub(crate) fn new(max_memory: usize) -> Self {
        Limiter {
            max_memory,
            hit: None,
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.hit = Some(Limit::Memory {
                limit: self.max_memory,
                requested: desired,
            });
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}
