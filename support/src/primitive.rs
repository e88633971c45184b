//! The synchronization primitives the shipped code is built on: std's normally, loom's under `--cfg loom`, so
//! that the loom models (`support/tests/loom_*.rs`, run by `make test`) check the very code the notebooks use,
//! not a copy. The same idea as crossbeam-utils' private `primitive` module.
//!
//! Code in this crate that a loom model covers takes its `Arc`, `Mutex`, `Condvar`, atomics and `thread` from
//! here, never from `std` directly.
#![allow(unused_imports)]

#[cfg(not(loom))]
pub(crate) use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Condvar, Mutex, MutexGuard,
    },
    thread,
};

#[cfg(loom)]
pub(crate) use loom::{
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Condvar, Mutex, MutexGuard,
    },
    thread,
};
