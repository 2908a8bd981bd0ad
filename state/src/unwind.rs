//! Leaking redb objects that are dropped while a panic unwinds.
//!
//! redb (4.4) panics on some damaged files instead of returning an error,
//! and `StateStore` catches those panics (`catch_unwind`). But while such a
//! panic unwinds, the transactions and tables open in the frames it leaves
//! are dropped, and their `Drop` impls call into redb again: a `Table`
//! hands itself back to its transaction (`close_table`, behind a mutex the
//! first panic may have poisoned), a transaction aborts. Those destructors
//! may panic too, and a panic in a destructor while unwinding aborts the
//! process: no `catch_unwind` can turn that into an error.
//!
//! So every redb database, transaction and table that sluice-state opens is
//! held in a [`LeakOnUnwind`]: dropped while the thread panics, it leaks the
//! object instead of running its destructor. A leaked write transaction
//! keeps the database's write slot taken, so the next `begin_write` would
//! wait for it forever: after a caught panic the store is poisoned and
//! refuses every later call (see `StateStore::guarded`).

use std::ops::{Deref, DerefMut};

/// A value whose destructor is skipped, and the value leaked, when it is
/// dropped during a panic.
pub(crate) struct LeakOnUnwind<T>(Option<T>);

impl<T> LeakOnUnwind<T> {
    pub(crate) fn new(value: T) -> Self {
        LeakOnUnwind(Some(value))
    }

    /// The value, to be consumed (a transaction's `commit`).
    pub(crate) fn into_inner(mut self) -> T {
        self.0.take().expect("the value is there until it is taken")
    }
}

impl<T> Deref for LeakOnUnwind<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.0
            .as_ref()
            .expect("the value is there until it is taken")
    }
}

impl<T> DerefMut for LeakOnUnwind<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0
            .as_mut()
            .expect("the value is there until it is taken")
    }
}

impl<T> Drop for LeakOnUnwind<T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            std::mem::forget(self.0.take());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    /// Panics when dropped, as a redb table may on a damaged file.
    struct PanicsOnDrop;

    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("dropped");
        }
    }

    #[test]
    fn a_value_dropped_while_unwinding_is_leaked() {
        // Without the wrapper this would be a panic in a destructor during
        // cleanup: an abort of the whole test binary.
        let caught = catch_unwind(AssertUnwindSafe(|| {
            let _held = LeakOnUnwind::new(PanicsOnDrop);
            panic!("the first panic");
        }));
        let payload = caught.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"the first panic"));
    }

    #[test]
    fn a_value_dropped_normally_is_dropped() {
        let counted = std::rc::Rc::new(());
        drop(LeakOnUnwind::new(counted.clone()));
        assert_eq!(std::rc::Rc::strong_count(&counted), 1);
        let inner = LeakOnUnwind::new(counted.clone()).into_inner();
        assert_eq!(std::rc::Rc::strong_count(&counted), 2);
        drop(inner);
        assert_eq!(std::rc::Rc::strong_count(&counted), 1);
    }
}
