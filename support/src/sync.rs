//! The synchronization primitives Python's `threading` has and Rust's std lacks — [`Semaphore`], [`Event`],
//! [`Timer`] — and re-exports, with examples, of what std and parking_lot already do well.
//!
//! | Python | here | notes |
//! |---|---|---|
//! | `threading.Semaphore(n)` / `BoundedSemaphore(n)` | [`Semaphore`] | permits are RAII guards: releasing more than you acquired cannot be written |
//! | `threading.Event()` | [`Event`] | `set`, `clear`, `is_set`, `wait`, `wait_timeout` |
//! | `threading.Timer(delay, f)` | [`Timer::after`], [`Timer::every`] | the handle cancels; dropping it cancels too |
//! | `threading.RLock()` | [`ReentrantMutex`] (parking_lot) | rarely needed in Rust, see its docs |
//! | `threading.Condition()` | [`Condvar`] (std) | always wait in a loop on a predicate |
//! | `threading.Barrier(n)` | [`Barrier`] (std) | |
//!
//! Every timeout here may be as long as you like: `Duration::MAX` waits forever (a deadline that does not fit the
//! clock is no deadline), it never panics.
//!
//! [`Semaphore`] and [`Event`] are built on the crate's `primitive` module (std's `Mutex` and `Condvar`, loom's
//! under `--cfg loom`), so a loom model checks this very code.
//!
//! What a real program would use instead: in async code `tokio::sync` (`Semaphore`, `Notify`, `watch`) and
//! `tokio::time`; between threads, a bounded `crossbeam_channel` holding n tokens as a semaphore, a channel that
//! is dropped (or an `AtomicBool` polled with a timeout) as a one-off "stop" event, `crossbeam_channel::after` and
//! `tick` with `select!` as timers, parking_lot's `Mutex`, `Condvar` and `ReentrantMutex`, and std's `Barrier`.

use std::fmt;
use std::sync::Arc as StdArc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::primitive::{AtomicUsize, Condvar as PrimitiveCondvar, Mutex, MutexGuard, Ordering};

/// Python's `threading.RLock`: a lock the thread holding it may take again. parking_lot's, re-exported.
///
/// Rust code seldom needs one: a `Mutex<T>` guards data, and a function that needs the data while the lock is held
/// takes `&mut T` instead of locking again. A `ReentrantMutex` only hands out `&T` (two guards in one thread would
/// otherwise alias `&mut`), so mutation goes through a `Cell` or `RefCell` inside.
///
/// ```
/// use std::cell::RefCell;
/// use support::sync::ReentrantMutex;
///
/// let log = ReentrantMutex::new(RefCell::new(Vec::new()));
/// let outer = log.lock();
/// outer.borrow_mut().push("outer");
/// let inner = log.lock(); // the same thread locks again: no deadlock
/// inner.borrow_mut().push("inner");
/// drop(inner);
/// drop(outer);
/// assert_eq!(*log.lock().borrow(), ["outer", "inner"]);
/// ```
pub use parking_lot::ReentrantMutex;

/// Python's `threading.Barrier(n)`: `n` threads wait until all have arrived. std's, re-exported.
///
/// ```
/// use std::sync::Barrier;
/// let barrier = Barrier::new(3);
/// std::thread::scope(|s| {
///     for _ in 0..3 {
///         s.spawn(|| barrier.wait());
///     }
/// });
/// ```
pub use std::sync::Barrier;

/// Python's `threading.Condition`: wait until another thread changes shared state. std's, re-exported.
///
/// Always wait in a loop on the predicate (wake-ups can be spurious), and prefer `wait_timeout` so that a missed
/// notification cannot hang the program.
///
/// ```
/// use std::sync::{Condvar, Mutex};
/// use std::time::Duration;
/// let ready = (Mutex::new(false), Condvar::new());
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         *ready.0.lock().unwrap() = true;
///         ready.1.notify_all();
///     });
///     let (guard, timeout) = ready
///         .1
///         .wait_timeout_while(ready.0.lock().unwrap(), Duration::from_secs(5), |ready| !*ready)
///         .unwrap();
///     assert!(*guard && !timeout.timed_out());
/// });
/// ```
pub use std::sync::Condvar;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Our critical sections only update counters and flags and cannot panic halfway, so a poisoned lock still
    // holds consistent data.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What is left of `timeout` counted from `start`; `None` once it has run out. Counting down instead of computing
/// `start + timeout` is what makes `Duration::MAX` safe: that sum does not fit in an `Instant` and panics, while
/// a wait of `Duration::MAX` on a condition variable simply never times out.
fn time_left(start: Instant, timeout: Duration) -> Option<Duration> {
    timeout
        .checked_sub(start.elapsed())
        .filter(|left| !left.is_zero())
}

/// A counting semaphore: at most `n` holders at a time. Python's `threading.Semaphore` and `BoundedSemaphore`.
///
/// `acquire` returns a permit; the permit gives its slot back when dropped — also when the holder panics. There is
/// no `release()`: in Python, calling `release()` once too often silently raises the limit (that is what
/// `BoundedSemaphore` exists to catch at run time); here it cannot be written.
///
/// Use it to limit how many threads do something at once (open connections, downloads). To wait for *all* threads
/// to reach a point, use a [`Barrier`]; to protect data, a `Mutex`.
///
/// How it works: taking or giving back a permit when no one waits is one atomic compare-exchange on a word that
/// holds the free permits and a "someone sleeps" flag — no lock, no system call. Only a thread that must wait takes
/// a lock and sleeps on a condition variable; a release that sees the flag wakes one sleeper. Not fair: a thread
/// arriving just as a permit is given back may take it before a woken sleeper does.
///
/// ```
/// use std::time::Duration;
/// use support::sync::Semaphore;
///
/// let downloads = Semaphore::new(2);
/// let a = downloads.acquire();
/// let b = downloads.try_acquire().expect("a second slot is free");
/// assert!(downloads.try_acquire().is_none(), "both slots are taken");
/// assert!(downloads.acquire_timeout(Duration::from_millis(10)).is_none());
/// drop(a); // the slot comes back
/// assert_eq!(downloads.available(), 1);
/// drop(b);
/// assert_eq!(downloads.available(), 2);
/// ```
pub struct Semaphore {
    /// `free permits << 1 | WAITERS`. One word, so that "a permit is free" and "someone sleeps" are read and
    /// changed together: a release either sees the `WAITERS` flag (and wakes someone) or happens before the flag is
    /// set (and the would-be sleeper sees its permit). No lost wake-up, no second variable to keep in step.
    state: AtomicUsize,
    /// The slow path: threads that sleep count themselves here, under the lock the condition variable needs.
    sleepers: Mutex<usize>,
    freed: PrimitiveCondvar,
    capacity: usize,
}

/// Bit 0 of `Semaphore::state`: at least one thread sleeps (or is about to) waiting for a permit.
const WAITERS: usize = 1;
/// One permit in `Semaphore::state`.
const ONE: usize = 2;

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available", &self.available())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Semaphore {
    /// A semaphore with `permits` slots, all free. `Semaphore::new(0)` is a closed gate.
    ///
    /// # Panics
    /// If `permits` exceeds `usize::MAX / 2` (one bit of the count is a flag).
    pub fn new(permits: usize) -> Self {
        assert!(
            permits <= usize::MAX / ONE,
            "Semaphore::new({permits}): at most {} permits",
            usize::MAX / ONE
        );
        Semaphore {
            state: AtomicUsize::new(permits * ONE),
            sleepers: Mutex::new(0),
            freed: PrimitiveCondvar::new(),
            capacity: permits,
        }
    }

    /// The number of slots it was created with.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Free slots right now (already stale when you read it; for display and tests).
    pub fn available(&self) -> usize {
        self.state.load(Ordering::Acquire) / ONE
    }

    /// The fast path, no lock: takes a permit if one is free. Acquire ordering pairs with the Release of
    /// `give_back`, so what the previous holder wrote is visible to the next one.
    fn try_take(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        while state >= ONE {
            match self.state.compare_exchange_weak(
                state,
                state - ONE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
        false
    }

    fn take(&self, timeout: Option<Duration>) -> bool {
        if self.try_take() {
            return true;
        }
        // The slow path: sleep until a permit is given back (or the timeout runs out).
        let start = Instant::now();
        let mut sleepers = lock(&self.sleepers);
        *sleepers += 1;
        let got = loop {
            // Take a free permit, or raise the flag that tells `give_back` to wake us — in one compare-exchange,
            // so a permit given back in between is never missed.
            let state = self.state.load(Ordering::Relaxed);
            let next = if state >= ONE {
                state - ONE
            } else {
                state | WAITERS
            };
            if self
                .state
                .compare_exchange(state, next, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            if state >= ONE {
                break true;
            }
            // The flag is up and we hold `sleepers`, which `give_back` locks before notifying: its notification
            // cannot slip in before we sleep.
            sleepers = match timeout {
                None => self
                    .freed
                    .wait(sleepers)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some(timeout) => {
                    let Some(left) = time_left(start, timeout) else {
                        break false;
                    };
                    self.freed
                        .wait_timeout(sleepers, left)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
            };
        };
        *sleepers -= 1;
        if *sleepers == 0 {
            // The last sleeper leaves: releases can take the fast path again.
            self.state.fetch_and(!WAITERS, Ordering::Relaxed);
        }
        got
    }

    // Note for readers: `cond.then_some(SemaphorePermit { .. })` would build (and so drop, and so give back) a
    // permit even when `cond` is false. `then(|| …)` builds it only on success.
    fn give_back(&self) {
        // Fast path: nobody sleeps, so adding the permit back is all there is to do (no lock, no system call).
        let mut state = self.state.load(Ordering::Relaxed);
        while state & WAITERS == 0 {
            match self.state.compare_exchange_weak(
                state,
                state + ONE,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
        // Someone sleeps: give the permit back under their lock, then wake one of them.
        let _sleepers = lock(&self.sleepers);
        self.state.fetch_add(ONE, Ordering::Release);
        self.freed.notify_one();
    }

    /// Waits for a free slot. Prefer [`acquire_timeout`](Self::acquire_timeout) where waiting forever would be a bug.
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.take(None);
        SemaphorePermit { sem: self }
    }

    /// A slot if one is free now, else `None`.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.try_take().then(|| SemaphorePermit { sem: self })
    }

    /// Waits at most `timeout` for a slot (`Duration::MAX`: as long as it takes).
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        self.take(Some(timeout))
            .then(|| SemaphorePermit { sem: self })
    }

    /// [`acquire`](Self::acquire) for a semaphore in an `Arc`: the permit owns a clone of the `Arc`, so it can be
    /// moved into another thread or stored in a struct.
    pub fn acquire_owned(self: &StdArc<Self>) -> OwnedSemaphorePermit {
        self.take(None);
        OwnedSemaphorePermit {
            sem: StdArc::clone(self),
        }
    }

    /// [`try_acquire`](Self::try_acquire) with an owned permit.
    pub fn try_acquire_owned(self: &StdArc<Self>) -> Option<OwnedSemaphorePermit> {
        self.try_take().then(|| OwnedSemaphorePermit {
            sem: StdArc::clone(self),
        })
    }

    /// [`acquire_timeout`](Self::acquire_timeout) with an owned permit.
    pub fn acquire_timeout_owned(
        self: &StdArc<Self>,
        timeout: Duration,
    ) -> Option<OwnedSemaphorePermit> {
        self.take(Some(timeout)).then(|| OwnedSemaphorePermit {
            sem: StdArc::clone(self),
        })
    }
}

/// A slot of a [`Semaphore`], given back when dropped.
#[must_use = "the slot is given back as soon as the permit is dropped"]
#[derive(Debug)]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.give_back();
    }
}

/// A slot of a [`Semaphore`] held through an `Arc`, given back when dropped.
#[must_use = "the slot is given back as soon as the permit is dropped"]
#[derive(Debug)]
pub struct OwnedSemaphorePermit {
    sem: StdArc<Semaphore>,
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        self.sem.give_back();
    }
}

/// A flag threads can wait for: Python's `threading.Event`.
///
/// `set` wakes every waiter and keeps the flag up until `clear`. Use it for "start now" or "stop now" signals;
/// to hand data from thread to thread, use a channel.
///
/// As in Python, a thread already waiting when `set` is called returns (`true`) even if `clear` follows at once:
/// every `set` counts, not only the flag a waiter finds when it wakes up (an event counter, see `EventState`).
///
/// ```
/// use std::time::Duration;
/// use support::sync::Event;
///
/// let start = Event::new();
/// std::thread::scope(|s| {
///     let runner = s.spawn(|| start.wait_timeout(Duration::from_secs(5)));
///     start.set();
///     assert!(runner.join().unwrap(), "the runner saw the event");
/// });
/// assert!(start.is_set());
/// start.clear();
/// assert!(!start.wait_timeout(Duration::from_millis(10)), "not set: the wait times out");
/// ```
#[derive(Debug, Default)]
pub struct Event {
    state: Mutex<EventState>,
    changed: PrimitiveCondvar,
}

#[derive(Debug, Default)]
struct EventState {
    flag: bool,
    /// How many times `set` was called. A waiter remembers it and returns once it changes, even if `clear` has
    /// lowered the flag again before the waiter got the lock back (the flag alone would send it back to sleep).
    sets: u64,
    /// Threads inside `wait`/`wait_timeout`, for the loom model only (it must know a waiter is in before it sets).
    #[cfg(loom)]
    waiting: usize,
}

impl Event {
    /// A new event, not set.
    pub fn new() -> Self {
        Event::default()
    }

    /// Sets the flag and wakes every waiting thread.
    pub fn set(&self) {
        let mut state = lock(&self.state);
        state.flag = true;
        state.sets = state.sets.wrapping_add(1);
        drop(state);
        self.changed.notify_all();
    }

    /// Lowers the flag; later waits block until the next `set`.
    pub fn clear(&self) {
        lock(&self.state).flag = false;
    }

    /// Whether the flag is up.
    pub fn is_set(&self) -> bool {
        lock(&self.state).flag
    }

    /// Blocks until the flag is set. Prefer [`wait_timeout`](Self::wait_timeout) where waiting forever would be a bug.
    pub fn wait(&self) {
        self.wait_for_set(None);
    }

    /// Waits at most `timeout` for the flag (`Duration::MAX`: as long as it takes). Returns `true` when the flag
    /// was up or a `set` came while waiting, `false` on timeout — Python's `wait(timeout)`.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_for_set(Some(timeout))
    }

    fn wait_for_set(&self, timeout: Option<Duration>) -> bool {
        let start = Instant::now();
        let mut state = lock(&self.state);
        let sets_before = state.sets;
        #[cfg(loom)]
        {
            state.waiting += 1;
        }
        let woken = loop {
            if state.flag || state.sets != sets_before {
                break true;
            }
            state = match timeout {
                None => self
                    .changed
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some(timeout) => {
                    let Some(left) = time_left(start, timeout) else {
                        break false;
                    };
                    self.changed
                        .wait_timeout(state, left)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
            };
        };
        #[cfg(loom)]
        {
            state.waiting -= 1;
        }
        woken
    }

    /// How many threads are inside `wait`/`wait_timeout` (loom builds only, for `loom-models`).
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn waiting(&self) -> usize {
        lock(&self.state).waiting
    }
}

/// Python's `threading.Timer`: run a function on its own thread after a delay ([`Timer::after`]), or every
/// period ([`Timer::every`]), until cancelled.
///
/// The returned [`TimerHandle`] cancels the timer with [`cancel`](TimerHandle::cancel), and dropping the handle
/// cancels it too and joins its thread — no timer thread outlives its handle (call
/// [`wait`](TimerHandle::wait) first to let a one-shot timer fire). Cancelling wakes the timer thread at once:
/// it waits on a condition variable, not in `sleep`.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use support::sync::Timer;
///
/// let fired = Arc::new(AtomicUsize::new(0));
/// let f = Arc::clone(&fired);
/// let once = Timer::after(Duration::from_millis(10), move || { f.fetch_add(1, Ordering::SeqCst); });
/// assert!(once.wait(Duration::from_secs(5)), "fired within the deadline");
/// assert_eq!(fired.load(Ordering::SeqCst), 1);
///
/// let never = Timer::after(Duration::from_secs(60), || unreachable!());
/// assert!(never.cancel(), "cancelled before it fired");
/// ```
#[derive(Debug)]
pub struct Timer;

#[derive(Debug, Default)]
struct TimerState {
    cancelled: bool,
    finished: bool,
    fired: usize,
}

type Shared = StdArc<(std::sync::Mutex<TimerState>, std::sync::Condvar)>;

fn timer_lock(shared: &Shared) -> std::sync::MutexGuard<'_, TimerState> {
    shared
        .0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Timer {
    /// Runs `f` once on a new thread after `delay` (counted from this call), unless cancelled first.
    pub fn after(delay: Duration, f: impl FnOnce() + Send + 'static) -> TimerHandle {
        let mut f = Some(f);
        Self::start("timer", delay, None, move || {
            if let Some(f) = f.take() {
                f();
            }
        })
    }

    /// Runs `f` on a new thread every `period` (first one period after this call) until cancelled. Runs are due at
    /// fixed times — start + 1, 2, 3… periods — so lateness does not add up. When `f` runs late or long, missed
    /// ticks are skipped rather than run in a burst.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let ticks = Arc::new(AtomicUsize::new(0));
    /// let t = Arc::clone(&ticks);
    /// let timer = support::sync::Timer::every(Duration::from_millis(5), move || { t.fetch_add(1, Ordering::SeqCst); });
    /// while ticks.load(Ordering::SeqCst) < 3 {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// timer.cancel();
    /// assert_eq!(timer.fired(), ticks.load(Ordering::SeqCst));
    /// ```
    ///
    /// # Panics
    /// When `period` is zero (a timer that never waits would spin).
    pub fn every(period: Duration, f: impl FnMut() + Send + 'static) -> TimerHandle {
        assert!(
            !period.is_zero(),
            "Timer::every: the period must be longer than zero"
        );
        Self::start("timer-every", period, Some(period), f)
    }

    fn start(
        name: &str,
        delay: Duration,
        period: Option<Duration>,
        mut f: impl FnMut() + Send + 'static,
    ) -> TimerHandle {
        let shared: Shared = StdArc::default();
        let state = StdArc::clone(&shared);
        // The delay counts from the call, not from when the new thread gets going (spawning takes tens of µs).
        // `None`: too far away for the clock (`Duration::MAX`), so it never comes; only `cancel` ends the wait.
        let first_due = Instant::now().checked_add(delay);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                // Marks the timer finished however the thread ends, a panic in `f` included.
                struct Finish(Shared);
                impl Drop for Finish {
                    fn drop(&mut self) {
                        timer_lock(&self.0).finished = true;
                        self.0 .1.notify_all();
                    }
                }
                let _finish = Finish(StdArc::clone(&state));
                let mut due = first_due;
                loop {
                    {
                        let mut st = timer_lock(&state);
                        loop {
                            if st.cancelled {
                                return;
                            }
                            // A wait of `Duration::MAX` never times out.
                            let left = due.map_or(Duration::MAX, |due| {
                                due.saturating_duration_since(Instant::now())
                            });
                            if left.is_zero() {
                                break;
                            }
                            st = state
                                .1
                                .wait_timeout(st, left)
                                .unwrap_or_else(|poisoned| poisoned.into_inner())
                                .0;
                        }
                        st.fired += 1;
                    }
                    f();
                    let Some(period) = period else { return };
                    due = due.and_then(|due| next_due(due, period, Instant::now()));
                }
            })
            .expect("spawn the timer thread");
        TimerHandle {
            shared,
            thread: Some(thread),
            periodic: period.is_some(),
        }
    }
}

/// The next tick of a recurring timer after the one `due`: one `period` later, or — when that is already past
/// (`f` ran late or long) — the first tick of the same grid after `now`, so missed ticks are skipped and the phase
/// kept. `None` when it is beyond what an `Instant` can hold.
fn next_due(due: Instant, period: Duration, now: Instant) -> Option<Instant> {
    let next = due.checked_add(period)?;
    if next >= now {
        return Some(next);
    }
    // How far `now` is into the current period, in u128 nanoseconds (no overflow, no truncation).
    let into = (now - next).as_nanos() % period.as_nanos();
    let into = Duration::new(
        u64::try_from(into / 1_000_000_000).expect("less than `period`, a Duration"),
        (into % 1_000_000_000) as u32,
    );
    now.checked_add(period - into)
}

/// The handle of a [`Timer`]. Dropping it cancels the timer and joins its thread.
#[derive(Debug)]
pub struct TimerHandle {
    shared: Shared,
    thread: Option<JoinHandle<()>>,
    periodic: bool,
}

impl TimerHandle {
    /// Cancels the timer: once `cancel` returns, the function does not *start* again. A run that has already
    /// started finishes; `cancel` does not wait for it (drop the handle, or call [`wait`](Self::wait), for that).
    ///
    /// Returns `true` when this call stopped the timer in time: for a one-shot timer, its function will never run;
    /// for a recurring timer, no further run starts. Returns `false` when it was too late or already done: a
    /// one-shot timer's function has started (it may still be running), or the timer was already cancelled.
    /// (The timer's thread decides "cancelled?" and counts a run in one critical section, so there is no third
    /// case.)
    ///
    /// ```
    /// use std::time::Duration;
    /// use support::sync::Timer;
    /// let (release, gate) = std::sync::mpsc::channel::<()>();
    /// let slow = Timer::after(Duration::ZERO, move || {
    ///     let _ = gate.recv_timeout(Duration::from_secs(5)); // runs until released
    /// });
    /// while slow.fired() == 0 {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// assert!(!slow.cancel(), "too late: the function has started");
    /// assert!(!slow.is_finished(), "it is still running: cancel does not wait for it");
    /// release.send(()).unwrap();
    /// assert!(slow.wait(Duration::from_secs(5)));
    /// ```
    pub fn cancel(&self) -> bool {
        let mut st = timer_lock(&self.shared);
        let was_waiting = !st.finished && !st.cancelled && (self.periodic || st.fired == 0);
        st.cancelled = true;
        drop(st);
        self.shared.1.notify_all();
        was_waiting
    }

    /// How many times the function has started.
    pub fn fired(&self) -> usize {
        timer_lock(&self.shared).fired
    }

    /// Whether the timer's thread is done (fired once, or cancelled).
    pub fn is_finished(&self) -> bool {
        timer_lock(&self.shared).finished
    }

    /// Waits at most `timeout` (`Duration::MAX`: as long as it takes) for the timer's thread to finish; returns
    /// whether it did. A recurring timer only finishes when cancelled.
    pub fn wait(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        let mut st = timer_lock(&self.shared);
        while !st.finished {
            let Some(left) = time_left(start, timeout) else {
                return false;
            };
            st = self
                .shared
                .1
                .wait_timeout(st, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        true
    }
}

impl Drop for TimerHandle {
    fn drop(&mut self) {
        self.cancel();
        if let Some(thread) = self.thread.take() {
            // A panic in the timer's function was already printed by the panic hook; nothing more to report.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    const LONG: Duration = Duration::from_secs(10);

    /// Loop counts of the contention tests: Miri runs some 1000 times slower, and a few dozen rounds already
    /// interleave the threads in many ways there (its scheduler preempts at random points).
    const fn rounds(native: usize) -> usize {
        if cfg!(miri) {
            native / 100
        } else {
            native
        }
    }

    #[test]
    fn semaphore_never_exceeds_its_capacity_under_contention() {
        let sem = Semaphore::new(3);
        let inside = AtomicUsize::new(0);
        let max_seen = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..rounds(2_000) {
                        let _p = sem.acquire_timeout(LONG).expect("no starvation");
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max_seen.fetch_max(now, Ordering::SeqCst);
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert!(max_seen.load(Ordering::SeqCst) <= 3);
        assert_eq!(sem.available(), 3, "every permit came back");
    }

    #[test]
    fn semaphore_mixed_waits_timeouts_and_tries_lose_no_permit() {
        // Short timeouts that expire while others release exercise the sleepers' flag: afterwards every permit is
        // back and a blocking acquire still gets one (a lost wake-up or a stuck flag would show here).
        let sem = Semaphore::new(2);
        let inside = AtomicUsize::new(0);
        let max_seen = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for t in 0..6 {
                let (sem, inside, max_seen) = (&sem, &inside, &max_seen);
                s.spawn(move || {
                    for i in 0..rounds(3_000) {
                        let permit = match (t + i) % 3 {
                            0 => Some(sem.acquire_timeout(LONG).expect("no starvation")),
                            1 => sem.acquire_timeout(Duration::from_micros(50)),
                            _ => sem.try_acquire(),
                        };
                        if let Some(_p) = permit {
                            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                            max_seen.fetch_max(now, Ordering::SeqCst);
                            std::hint::spin_loop();
                            inside.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        assert!(max_seen.load(Ordering::SeqCst) <= 2);
        assert_eq!(sem.available(), 2, "every permit came back");
        assert_eq!(
            sem.state.load(Ordering::SeqCst) & WAITERS,
            0,
            "no sleeper left"
        );
        let _a = sem.acquire_timeout(LONG).expect("free");
        let _b = sem.acquire_timeout(LONG).expect("free");
    }

    #[test]
    fn permit_comes_back_when_its_holder_panics() {
        let sem = Arc::new(Semaphore::new(1));
        let s2 = Arc::clone(&sem);
        let result = std::thread::spawn(move || {
            let _p = s2.acquire_owned();
            panic!("holder fails");
        })
        .join();
        assert!(result.is_err());
        assert_eq!(sem.available(), 1);
    }

    #[test]
    fn waiter_is_woken_when_a_permit_is_dropped() {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.acquire_owned();
        let s2 = Arc::clone(&sem);
        let waiter = std::thread::spawn(move || s2.acquire_timeout_owned(LONG).is_some());
        std::thread::sleep(Duration::from_millis(20));
        drop(held);
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn zero_permits_is_a_closed_gate() {
        let sem = Semaphore::new(0);
        assert!(sem.try_acquire().is_none());
        assert!(sem.acquire_timeout(Duration::from_millis(5)).is_none());
    }

    #[test]
    fn event_wakes_all_waiters() {
        let ev = Event::new();
        std::thread::scope(|s| {
            let waiters: Vec<_> = (0..4).map(|_| s.spawn(|| ev.wait_timeout(LONG))).collect();
            std::thread::sleep(Duration::from_millis(10));
            ev.set();
            assert!(waiters.into_iter().all(|w| w.join().unwrap()));
        });
    }

    #[test]
    fn event_wait_returns_at_once_when_set() {
        let ev = Event::new();
        ev.set();
        ev.wait();
        assert!(ev.wait_timeout(Duration::ZERO));
    }

    #[test]
    fn cancelled_timer_never_fires_and_cancel_is_prompt() {
        let fired = Arc::new(AtomicUsize::new(0));
        let f = Arc::clone(&fired);
        let t = Timer::after(Duration::from_secs(30), move || {
            f.fetch_add(1, Ordering::SeqCst);
        });
        let start = Instant::now();
        assert!(t.cancel());
        assert!(t.wait(LONG));
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "cancel wakes the timer thread"
        );
        assert_eq!(fired.load(Ordering::SeqCst), 0);
        assert!(!t.cancel(), "already finished");
    }

    #[test]
    fn dropping_the_handle_cancels() {
        let fired = Arc::new(AtomicUsize::new(0));
        let f = Arc::clone(&fired);
        drop(Timer::after(Duration::from_secs(30), move || {
            f.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(fired.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn one_shot_fires_once() {
        let t = Timer::after(Duration::from_millis(1), || {});
        assert!(t.wait(LONG));
        assert_eq!(t.fired(), 1);
        assert!(t.is_finished());
    }

    #[test]
    fn cancel_during_a_one_shot_run_is_too_late() {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let t = Timer::after(Duration::ZERO, move || {
            let _ = gate.recv_timeout(LONG);
        });
        while t.fired() == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!t.cancel(), "the function has started: cancel is too late");
        assert!(!t.is_finished());
        release.send(()).unwrap();
        assert!(t.wait(LONG));
        assert_eq!(t.fired(), 1);
    }

    #[test]
    fn cancel_says_exactly_whether_a_one_shot_will_run() {
        // Race cancel against the firing many times: `true` must mean "never runs", `false` "ran".
        for i in 0..rounds(300) as u64 {
            let ran = Arc::new(AtomicUsize::new(0));
            let r = Arc::clone(&ran);
            let t = Timer::after(Duration::from_micros(i % 100), move || {
                r.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_micros(50));
            });
            std::thread::sleep(Duration::from_micros(50));
            let stopped = t.cancel();
            drop(t); // joins: nothing is running any more
            assert_eq!(
                ran.load(Ordering::SeqCst),
                usize::from(!stopped),
                "trial {i}"
            );
        }
    }

    #[test]
    fn recurring_cancel_stops_further_runs() {
        let t = Timer::every(Duration::from_millis(1), || {});
        while t.fired() < 2 {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(t.cancel(), "a running recurring timer is stopped");
        assert!(t.wait(LONG));
        let fired = t.fired();
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(t.fired(), fired, "no run after cancel");
        assert!(!t.cancel(), "already cancelled");
    }

    #[test]
    fn panicking_timer_function_still_finishes() {
        let t = Timer::after(Duration::ZERO, || panic!("timer job fails"));
        assert!(t.wait(LONG), "finished despite the panic");
    }

    #[test]
    fn next_due_skips_missed_ticks_and_keeps_the_phase() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(
            next_due(t0, ms(10), t0 + ms(3)),
            Some(t0 + ms(10)),
            "on time"
        );
        assert_eq!(
            next_due(t0, ms(10), t0 + ms(35)),
            Some(t0 + ms(40)),
            "late: 20, 30 skipped"
        );
        // 5 s late with a 1 ns period: 5e9 ticks behind, more than a u32 holds.
        let late = t0 + Duration::from_secs(5);
        assert_eq!(
            next_due(t0, Duration::from_nanos(1), late),
            Some(late + Duration::from_nanos(1))
        );
        assert_eq!(
            next_due(t0, Duration::MAX, t0),
            None,
            "beyond the clock: never"
        );
    }

    #[test]
    #[should_panic(expected = "period must be longer than zero")]
    fn zero_period_is_a_clear_error() {
        let _ = Timer::every(Duration::ZERO, || {});
    }
}
