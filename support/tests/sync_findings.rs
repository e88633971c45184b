//! Regression tests for findings 12 and 13 of issue 14: `Event` losing a `set()` that `clear()` follows at once,
//! and `Duration::MAX` ("wait forever") panicking where a timeout or a delay is turned into a deadline.
//! Each test failed on the code before the fix.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use support::sync::{Event, Semaphore, Timer};
use support::timing::Sampler;

const LONG: Duration = Duration::from_secs(10);

/// The waiters need this long to get from the barrier into `wait`: a few µs on an idle machine.
const SETTLE: Duration = Duration::from_millis(100);

/// Rounds of the set-then-clear test (Miri runs a few: it is some 100 times slower).
const ROUNDS: usize = if cfg!(miri) { 2 } else { 30 };

// --- Finding 12 ----------------------------------------------------------------------------------------------------

/// Python's `Event.wait` returns what `Condition.wait` returns: a thread blocked when `set()` is called is notified
/// and returns `True`, even when `clear()` follows at once (CPython's Lib/threading.py, `Event.wait`).
///
/// Whether a woken waiter gets to look before `clear()` runs is up to the scheduler, so one round can pass even
/// with a broken `Event` (before the fix, each of 5 runs here failed within its first 6 rounds); several rounds make a miss all but
/// certain. The loom model `event_set_then_clear_still_wakes_the_waiter` checks every interleaving.
#[test]
fn set_then_clear_at_once_still_releases_the_threads_already_waiting() {
    let ev = Event::new();
    for round in 0..ROUNDS {
        let ready = Barrier::new(4);
        let woken: Vec<bool> = thread::scope(|s| {
            let waiters: Vec<_> = (0..3)
                .map(|_| {
                    s.spawn(|| {
                        ready.wait();
                        ev.wait_timeout(Duration::from_secs(2))
                    })
                })
                .collect();
            ready.wait();
            thread::sleep(SETTLE);
            ev.set();
            ev.clear();
            waiters.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert_eq!(
            woken, [true; 3],
            "round {round}: a waiter missed a set() that clear() followed at once"
        );
    }
}

/// After the set-then-clear, a new wait blocks again: the flag is down.
#[test]
fn a_wait_that_starts_after_the_clear_blocks() {
    let ev = Event::new();
    ev.set();
    ev.clear();
    assert!(!ev.is_set());
    assert!(!ev.wait_timeout(Duration::from_millis(20)));
}

// --- Finding 13: Duration::MAX means "no deadline" -----------------------------------------------------------------

#[test]
fn semaphore_acquire_timeout_max_waits_for_the_permit() {
    let sem = Arc::new(Semaphore::new(1));
    let held = sem.acquire_owned();
    thread::scope(|s| {
        let borrowed = s.spawn(|| sem.acquire_timeout(Duration::MAX).is_some());
        let owned = s.spawn(|| sem.acquire_timeout_owned(Duration::MAX).is_some());
        thread::sleep(SETTLE);
        drop(held);
        assert!(borrowed
            .join()
            .expect("acquire_timeout(Duration::MAX) panicked"));
        assert!(owned
            .join()
            .expect("acquire_timeout_owned(Duration::MAX) panicked"));
    });
    assert_eq!(sem.available(), 1);
}

#[test]
fn event_wait_timeout_max_when_already_set() {
    let ev = Event::new();
    ev.set();
    assert!(ev.wait_timeout(Duration::MAX));
}

#[test]
fn event_wait_timeout_max_waits_for_set() {
    let ev = Event::new();
    thread::scope(|s| {
        let waiter = s.spawn(|| ev.wait_timeout(Duration::MAX));
        thread::sleep(SETTLE);
        ev.set();
        assert!(waiter.join().expect("wait_timeout(Duration::MAX) panicked"));
    });
}

#[test]
fn timer_after_max_never_fires_and_cancels() {
    let t = Timer::after(Duration::MAX, || {
        unreachable!("a timer due in Duration::MAX fired")
    });
    assert!(t.cancel(), "cancelled before it fired");
    assert!(t.wait(LONG));
    assert_eq!(t.fired(), 0);
}

#[test]
fn timer_every_max_never_fires_and_cancels() {
    let t = Timer::every(Duration::MAX, || {
        unreachable!("a timer due in Duration::MAX fired")
    });
    assert!(t.cancel());
    assert!(t.wait(LONG));
    assert_eq!(t.fired(), 0);
}

#[test]
fn timer_handle_wait_max() {
    let t = Timer::after(Duration::from_millis(1), || {});
    assert!(t.wait(Duration::MAX));
    assert_eq!(t.fired(), 1);
}

#[test]
fn sampler_with_period_max_samples_at_start_and_stop() {
    let sampler = Sampler::start(Duration::MAX, || 1.0);
    thread::sleep(Duration::from_millis(10));
    let samples = sampler.stop();
    assert_eq!(samples.len(), 2, "one sample at start, one at stop");
}

#[test]
#[cfg_attr(miri, ignore = "runs another program")]
fn output_with_timeout_max() {
    let out = support::process::output_with_timeout(
        &mut std::process::Command::new("true"),
        Duration::MAX,
    )
    .expect("`true` runs");
    assert!(out.status.success());
}
