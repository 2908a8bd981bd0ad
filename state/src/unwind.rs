//! Catching panics of redb destructors that run while a panic unwinds.
//!
//! redb (4.4) panics on some damaged files instead of returning an error,
//! and `StateStore` catches those panics (`catch_unwind`). But while such a
//! panic unwinds, the transactions and tables open in the frames it leaves
//! are dropped, and their `Drop` impls call into redb again: a `Table`
//! hands itself back to its transaction (`close_table`, behind a mutex the
//! first panic may have poisoned), a transaction aborts. Those destructors
//! may panic too, and a panic escaping a destructor while unwinding aborts
//! the process: no `catch_unwind` further up can turn that into an error.
//!
//! So every redb database, transaction and table that sluice-state opens is
//! held in a [`CatchOnUnwind`]: dropped while the thread panics, it runs the
//! destructor under its own `catch_unwind`, so a second panic stops there.
//! (If a destructor does panic, the fields it holds are still dropped as
//! that second panic unwinds; only a third panic among them would abort.)
//!
//! Leaking the object instead, so that no redb code runs at all while
//! unwinding, is not an option: every redb transaction and table holds the
//! database's memory and open file, and a fuzz run that leaked them ran out
//! of file descriptors (20,000 in 240 s). After a caught panic the store is
//! poisoned anyway (see `StateStore::guarded`).

use std::ops::{Deref, DerefMut};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A value whose destructor, when it runs during a panic, cannot abort the
/// process with a second panic: that panic is caught.
pub(crate) struct CatchOnUnwind<T>(Option<T>);

impl<T> CatchOnUnwind<T> {
    pub(crate) fn new(value: T) -> Self {
        CatchOnUnwind(Some(value))
    }

    /// The value, to be consumed (a transaction's `commit`).
    pub(crate) fn into_inner(mut self) -> T {
        self.0.take().expect("the value is there until it is taken")
    }
}

impl<T> Deref for CatchOnUnwind<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.0
            .as_ref()
            .expect("the value is there until it is taken")
    }
}

impl<T> DerefMut for CatchOnUnwind<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0
            .as_mut()
            .expect("the value is there until it is taken")
    }
}

impl<T> Drop for CatchOnUnwind<T> {
    fn drop(&mut self) {
        let Some(value) = self.0.take() else {
            return;
        };
        if std::thread::panicking() {
            let _ = catch_unwind(AssertUnwindSafe(|| drop(value)));
        } else {
            drop(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    /// Panics when dropped, as a redb table may on a damaged file; holds a
    /// counted reference, to see that it is released all the same.
    struct PanicsOnDrop(#[allow(dead_code)] Rc<()>);

    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("dropped");
        }
    }

    #[test]
    fn a_panic_of_its_destructor_while_unwinding_is_caught() {
        // Without the wrapper this would be a panic in a destructor during
        // cleanup: an abort of the whole test binary.
        let counted = Rc::new(());
        let caught = catch_unwind(AssertUnwindSafe(|| {
            let _held = CatchOnUnwind::new(PanicsOnDrop(counted.clone()));
            panic!("the first panic");
        }));
        let payload = caught.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"the first panic"));
        assert_eq!(Rc::strong_count(&counted), 1, "nothing is leaked");
    }

    #[test]
    fn a_value_dropped_normally_is_dropped() {
        let counted = Rc::new(());
        drop(CatchOnUnwind::new(counted.clone()));
        assert_eq!(Rc::strong_count(&counted), 1);
        let inner = CatchOnUnwind::new(counted.clone()).into_inner();
        assert_eq!(Rc::strong_count(&counted), 2);
        drop(inner);
        assert_eq!(Rc::strong_count(&counted), 1);
    }
}
