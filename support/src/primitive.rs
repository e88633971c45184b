//! The synchronization primitives the shipped code is built on: std's normally, loom's under `--cfg loom`, so
//! that the loom models (`loom-models/tests/loom_*.rs`, run by `make test`) check the very code the notebooks use,
//! not a copy. The same idea as crossbeam-utils' private `primitive` module.
//!
//! Code in this crate that a loom model covers takes its `Arc`, `Mutex`, `Condvar`, atomics, `fence`, `thread` and
//! `thread_local!` from here, never from `std` directly.
#![allow(unused_imports)]

#[cfg(not(loom))]
pub(crate) use std::{
    sync::{
        atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering},
        Arc, Condvar, Mutex, MutexGuard,
    },
    thread, thread_local,
};

#[cfg(loom)]
pub(crate) use loom::{
    sync::{
        atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering},
        Arc, Condvar, Mutex, MutexGuard,
    },
    thread, thread_local,
};

#[cfg(loom)]
pub(crate) use loom::sync::{Mutex as ShortMutex, MutexGuard as ShortMutexGuard};
/// A lock for short critical sections that never wait on a condition variable: parking_lot's normally (it spins
/// briefly before sleeping, which pays off when a holder on the other core is about to let go, and it has no
/// poisoning), loom's under loom. Taken with [`lock_short`].
#[cfg(not(loom))]
pub(crate) use parking_lot::{Mutex as ShortMutex, MutexGuard as ShortMutexGuard};

/// Locks a [`ShortMutex`]. Under loom a poisoned lock is taken anyway, as parking_lot's would be.
#[cfg(not(loom))]
pub(crate) fn lock_short<T>(m: &ShortMutex<T>) -> ShortMutexGuard<'_, T> {
    m.lock()
}

/// Locks a [`ShortMutex`]. Under loom a poisoned lock is taken anyway, as parking_lot's would be.
#[cfg(loom)]
pub(crate) fn lock_short<T>(m: &ShortMutex<T>) -> ShortMutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
