//! loom models of the spin lock that lesson 16 (`notebooks/16_atomics_and_memory_ordering.ipynb`) builds in steps:
//! the right version (`compare_exchange(false, true, Acquire, Relaxed)` to lock, `store(false, Release)` to unlock) and two wrong ones, each of
//! which loom must catch:
//!
//! - `Relaxed` orderings: the lock still excludes (the `compare_exchange` is one atomic step), but the unlock no longer
//!   *publishes* the protected data — the next holder may not see the last holder's writes. On x86 this never shows
//!   in a test run (its stores and loads are ordered anyway); loom explores the weaker memory model Rust promises and
//!   reports a causality violation on the `UnsafeCell`;
//! - check-then-set: `load` and then `store(true)` instead of one `compare_exchange` — two threads both see "unlocked" and both
//!   get in. This one also fails in an ordinary run (the lesson shows it); loom finds the interleaving every time.
//!
//! The code is the notebook's, with loom's `UnsafeCell` (which tracks every access to the data) in place of std's,
//! and `loom::hint::spin_loop` in the spin loop (loom has to know that the thread waits for another). The orderings
//! are a parameter, so that the right and the wrong version are the same code. The lock is taken with
//! `compare_exchange`, not `swap` as in "Rust Atomics and Locks" ch. 4: a failed `swap` still writes `true`, and with
//! a new write on every turn of the spin loop loom's search did not finish ("Model exceeded maximum number of
//! branches"); a failed `compare_exchange` writes nothing.
//!
//! Run: `make loom` (`RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p loom-models --release`), part
//! of `make test`; only these models: add `--test loom_spin_lock`.
#![cfg(loom)]

use loom::cell::{MutPtr, UnsafeCell};
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use std::ops::{Deref, DerefMut};

/// How `lock` and `unlock` are written.
#[derive(Clone, Copy)]
enum Version {
    /// `compare_exchange(false, true, Acquire, _)` … `store(false, Release)`: the lesson's spin lock.
    Right,
    /// `compare_exchange(false, true, Relaxed, _)` … `store(false, Relaxed)`: excludes, but publishes nothing.
    Relaxed,
    /// `load(Acquire)` == false, then `store(true, …)`: two steps, another thread can get in between.
    LoadThenStore,
}

struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
    version: Version,
}

// Safety: the lock hands out access to `value` to one thread at a time (when `version` is `Right`), so sharing a
// `SpinLock<T>` between threads is sharing a `T` that moves between them: `T: Send` is what that needs.
unsafe impl<T: Send> Sync for SpinLock<T> {}

struct Guard<'a, T> {
    lock: &'a SpinLock<T>,
    value: MutPtr<T>, // loom counts the cell as written while this pointer lives
}

impl<T> SpinLock<T> {
    fn new(value: T, version: Version) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
            version,
        }
    }

    fn lock(&self) -> Guard<'_, T> {
        match self.version {
            Version::Right => {
                while self
                    .locked
                    .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_err()
                {
                    loom::hint::spin_loop();
                }
            }
            Version::Relaxed => {
                while self
                    .locked
                    .compare_exchange(false, true, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
                {
                    loom::hint::spin_loop();
                }
            }
            Version::LoadThenStore => {
                while self.locked.load(Ordering::Acquire) {
                    loom::hint::spin_loop();
                }
                self.locked.store(true, Ordering::Relaxed);
            }
        }
        Guard {
            lock: self,
            value: self.value.get_mut(),
        }
    }
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // Safety: this guard exists, so the lock is held: no other thread touches the value until `drop` below.
        unsafe { self.value.deref() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // Safety: as in `deref`; `&mut self` makes this the only reference the guard hands out at a time.
        unsafe { self.value.deref() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        let release = match self.lock.version {
            Version::Right | Version::LoadThenStore => Ordering::Release,
            Version::Relaxed => Ordering::Relaxed,
        };
        self.lock.locked.store(false, release);
    }
}

/// Two threads each push their number under the lock; then both numbers are there.
fn two_threads_push(version: Version) {
    loom::model(move || {
        let lock = Arc::new(SpinLock::new(Vec::new(), version));
        let threads: Vec<_> = (1..=2)
            .map(|i| {
                let lock = Arc::clone(&lock);
                thread::spawn(move || lock.lock().push(i))
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut seen = lock.lock().clone();
        seen.sort();
        assert_eq!(seen, [1, 2], "an update was lost");
    });
}

/// Runs a model that must fail, and returns the first line of loom's message (printed with `--nocapture`).
fn caught(version: Version) -> String {
    let failure = std::panic::catch_unwind(|| two_threads_push(version))
        .expect_err("loom found no interleaving that breaks this version");
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| failure.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    let first = message.lines().next().unwrap_or_default().to_string();
    println!("loom caught it: {first}");
    first
}

#[test]
fn spin_lock_acquire_release_is_correct() {
    two_threads_push(Version::Right);
    println!("loom: every interleaving passed");
}

#[test]
fn spin_lock_with_relaxed_orderings_is_caught() {
    let message = caught(Version::Relaxed);
    assert!(message.contains("Causality violation"), "{message}");
}

#[test]
fn spin_lock_load_then_store_is_caught() {
    // Two messages are possible, whichever failing interleaving loom reaches first: "currently writing to cell" (both
    // threads inside at once) or "Causality violation" (the second got in after the first, without happens-before).
    let message = caught(Version::LoadThenStore);
    assert!(
        message.contains("Causality violation") || message.contains("currently writing"),
        "{message}"
    );
}
