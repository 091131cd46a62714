//! One way to take the crate's `std::sync` locks: go on when the lock is
//! poisoned.
//!
//! A lock is poisoned when a thread panicked while holding it. The locks in
//! hisock guard short critical sections (a queue, a map of streams, a
//! handler table, the server's registry) that run no application code and
//! leave their data consistent after every statement, so a panic inside one
//! is a bug in hisock, not a half-done update. Refusing the data then would
//! only spread that one panic to every task that touches the same connection
//! or server; a networking library keeps the other connections going.

use std::sync::{Mutex, MutexGuard};
#[cfg(not(target_arch = "wasm32"))]
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks `mutex`, poisoned or not (see the module docs for why).
#[inline]
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The lock of data that is read far more often than it changes (the
/// handler tables): an `RwLock` where there are threads. In the browser,
/// which has one thread, a `Mutex`: the same there (a reader never waits,
/// and no guard is held across a call into other code), and it keeps std's
/// `RwLock`, whose unlock asserts with integer formatting, out of the
/// `.wasm`.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type ReadMostly<T> = RwLock<T>;
/// See the native definition.
#[cfg(target_arch = "wasm32")]
pub(crate) type ReadMostly<T> = Mutex<T>;

/// Takes `rwlock` for reading, poisoned or not (see the module docs for why).
#[cfg(not(target_arch = "wasm32"))]
#[inline]
pub(crate) fn read_lock<T: ?Sized>(rwlock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    rwlock
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Takes `rwlock` for writing, poisoned or not (see the module docs for why).
#[cfg(not(target_arch = "wasm32"))]
#[inline]
pub(crate) fn write_lock<T: ?Sized>(rwlock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    rwlock
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A [`ReadMostly`] lock taken for reading: in the browser, its mutex.
#[cfg(target_arch = "wasm32")]
#[inline]
pub(crate) fn read_lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    lock(mutex)
}

/// A [`ReadMostly`] lock taken for writing: in the browser, its mutex.
#[cfg(target_arch = "wasm32")]
#[inline]
pub(crate) fn write_lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    lock(mutex)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `run`, which panics holding a lock, on a thread of its own.
    fn poison(run: impl FnOnce() + Send) {
        assert!(std::thread::scope(|s| s.spawn(run).join()).is_err());
    }

    #[test]
    fn a_poisoned_mutex_still_hands_out_its_data() {
        let mutex = Mutex::new(1);
        poison(|| {
            let _guard = lock(&mutex);
            panic!("poisoning the mutex on purpose");
        });
        assert!(mutex.is_poisoned());
        *lock(&mutex) += 1;
        assert_eq!(*lock(&mutex), 2);
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn a_poisoned_rwlock_still_hands_out_its_data() {
        let rwlock = RwLock::new(1);
        poison(|| {
            let _guard = write_lock(&rwlock);
            panic!("poisoning the rwlock on purpose");
        });
        assert!(rwlock.is_poisoned());
        *write_lock(&rwlock) += 1;
        assert_eq!(*read_lock(&rwlock), 2);
    }
}
