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
