//! The state stores of the pipelines a scheduler runs, each open only
//! while something uses it: pipelines that share a store share one open
//! handle (redb lets one process open a file at a time), and a store
//! nobody uses is closed, so another process may take it.

use sluice_state::{Result, StateStore};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

/// Open stores by path.
#[derive(Clone, Default)]
pub(super) struct Stores {
    open: Arc<Mutex<HashMap<PathBuf, Weak<StateStore>>>>,
}

impl Stores {
    /// The store at `path`: the handle already open, or a new one. Fails
    /// when another process has it open.
    pub(super) fn open(&self, path: &Path) -> Result<Arc<StateStore>> {
        let mut open = self.open.lock().expect("stores lock");
        if let Some(store) = open.get(path).and_then(Weak::upgrade) {
            return Ok(store);
        }
        open.retain(|_, w| w.strong_count() > 0);
        let store = Arc::new(StateStore::open(path)?);
        open.insert(path.to_path_buf(), Arc::downgrade(&store));
        Ok(store)
    }
}
