//! [`ThreadPool`]: the Rust answer to Python's `concurrent.futures.ThreadPoolExecutor` — a fixed set of worker
//! threads taking jobs from a shared queue.
//!
//! | Python | here |
//! |---|---|
//! | `ThreadPoolExecutor(max_workers=4, thread_name_prefix="w")` | `ThreadPool::builder().threads(4).name_prefix("w").build()?` |
//! | `executor.submit(f)` → `Future` | [`ThreadPool::submit`] → [`JobHandle`] |
//! | `future.result()` / `result(timeout=…)` | [`JobHandle::join`] / [`JobHandle::join_timeout`] |
//! | `future.done()` | [`JobHandle::is_finished`] |
//! | an exception in the job, re-raised by `result()` | a panic in the job, `Err(JobError::Panicked(msg))` from `join` |
//! | `executor.map(f, items)` | [`ThreadPool::map`] (results in input order) |
//! | `executor.shutdown(wait=True)` | [`ThreadPool::shutdown`] (also on drop) |
//! | `executor.shutdown(cancel_futures=True)` | [`ThreadPool::shutdown_now`] |
//!
//! **Which to pick.** A real program uses the `threadpool` crate for this (or `rayon::ThreadPool::spawn`). To
//! split one computation over the cores, use rayon (`par_iter`, `rayon::scope`) or `std::thread::scope`: their
//! jobs may borrow local data, which a pool of `'static` jobs like this one cannot offer in safe code
//! (support once had a `ThreadPool::scope`; it was unsound, and is gone). Use a `ThreadPool` for a stream of
//! independent `'static` jobs arriving over time (requests, files to process), where you want a fixed number of
//! threads, names, a bounded queue for back-pressure, and per-job results and panics.
//!
//! ```
//! use support::pool::{JobError, ThreadPool};
//!
//! let pool = ThreadPool::builder().threads(2).name_prefix("worker").build().unwrap();
//! let square = pool.submit(|| 7 * 7).unwrap();
//! let name = pool.submit(|| std::thread::current().name().unwrap().to_string()).unwrap();
//! assert_eq!(square.join(), Ok(49));
//! assert!(name.join().unwrap().starts_with("worker-"));
//!
//! // A panicking job is an error for its handle, not for the pool.
//! let bad = pool.submit(|| -> u32 { panic!("bad input") }).unwrap();
//! assert!(matches!(bad.join(), Err(JobError::Panicked(msg)) if msg == "bad input"));
//! assert_eq!(pool.map(1..=4, |x: u64| x * 10).unwrap(), vec![10, 20, 30, 40]);
//! pool.shutdown();
//! ```
//!
//! **Rules.** Jobs start in the order they were queued (one FIFO queue, one job at a time per worker). A panic in a
//! job is caught on its worker — including one from dropping a result nobody collects — so workers never die.
//! A job must not wait for its own pool: `map`, `wait_idle`, `shutdown` and `shutdown_now` called inside one of the
//! pool's own jobs panic with a message saying so (the job would wait for itself); dropping the last handle of a
//! pool inside one of its jobs closes it without waiting. A job that waits for another job of the same pool
//! (`submit(…).join()` inside a job) can still deadlock when every worker does it, as in Python.
//!
//! ## How it works: a lock-free queue, and workers that sleep
//!
//! - The queue is crossbeam-deque's `Injector`: a lock-free FIFO queue for many producers and consumers (the
//!   queue rayon puts jobs from outside its pool in). `execute` pushes, a worker `steal`s one job at a time.
//! - `pending` counts the jobs submitted and not yet finished. A worker adds up the jobs it ran and reports them
//!   when it finds the queue empty: one update of the shared counter per run of jobs, not per job. When a report
//!   brings `pending` to 0, the pool is idle: that worker wakes `wait_idle`'s waiters. `pending`'s top bit says
//!   the pool is closed, so that a submitter checks "open?" and counts its job in one atomic step.
//! - A worker that finds the queue empty is *searching*: it yields its core a few times, looking again, then
//!   sleeps on a condition variable. A submitter wakes a sleeper only when nobody is searching; a searcher that
//!   finds a job and sees more queued wakes the next one. So a busy pool makes few system calls, and idle workers
//!   use no CPU.
//! - No wake-up is lost: a worker about to sleep counts itself as sleeping and then looks at the queue; a submitter
//!   pushes and then looks at the count. A `SeqCst` fence between the write and the read on both sides means at
//!   least one of them sees the other's write (the "store buffering" pattern of *Rust Atomics and Locks*, ch. 3):
//!   the sleeper sees the job, or the submitter sees the sleeper and wakes it (under the lock the sleeper holds
//!   until it waits). `wait_idle` and the worker that makes the pool idle use the same pattern.
//! - A bounded queue (`queue_bound`) is checked and pushed to under the lock, so that two submitters cannot both
//!   take the last place; a worker takes the lock after each job to wake a submitter waiting for room.
//!
//! Under `--cfg loom` the lock, the condition variables, the atomics, the fences and the threads are loom's (see
//! `primitive.rs`), and `loom-models/tests/loom_pool.rs` model-checks this code: a job reaching a sleeping
//! worker, two submitters and two workers, `wait_idle` with a job queued right after the idle moment, a full
//! bounded queue, both shutdowns. The `Injector` is not built on loom's types, so under loom a stand-in takes its
//! place (a lock around a `VecDeque`, and its length in a `SeqCst` atomic as the `Injector`'s indices are): the
//! models check the pool's protocol around the queue, not the queue's insides, which crossbeam tests itself.
//!
//! ## Measured
//!
//! `cargo bench -p support --bench pool` runs support's pool, the `threadpool` crate and rayon on the same jobs,
//! 2 workers each. One run on 2026-12-05, 2 cores, on a machine shared with other work (load average 11–17 during
//! the run), so read the ratios within the run, not as a promise:
//!
//! | benchmark | support | threadpool | rayon | ratio |
//! |---|---|---|---|---|
//! | 100 000 tiny jobs, one `execute` each | 4.7 M jobs/s | 2.8 M/s | 3.0 M/s (scope spawn) | 1.55× the faster |
//! | submit → result round trip | 5.3 µs | 21.5 µs | 5.8 µs (spawn + channel) | 0.91× rayon's time |
//! | 10 000 jobs from 1, 2, 4, 8 submitting threads | 9.3, 11.4, 9.3, 9.3 M/s | 4.4, 5.3, 5.8, 5.9 M/s | – | 1.6–2.2× |
//!
//! The round trip missed its target (half of rayon's time) in this run; on a loaded machine it is dominated by
//! how soon the scheduler gives the woken threads a core. The pool before this one (one lock, jobs taken in
//! batches, stealing between batches) measured more on a quieter machine (1.2–1.7× the faster of the peers,
//! round trip 0.1–0.4× rayon's), but started jobs out of order when a job blocked (threadpool's
//! `test_join_wavesurfer` failed) and needed a page of reasoning about its locks; this one trades some of that
//! speed for FIFO order and a queue made for the job.

use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use crossbeam_deque::Steal;
use crossbeam_utils::CachePadded;

use crate::primitive::{
    fence, thread, Arc, AtomicBool, AtomicU64, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering,
};

/// Why a pool could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// `threads(0)`: a pool without workers would never run a job.
    ZeroThreads,
    /// `queue_bound(0)` (use a bound of at least 1).
    ZeroQueueBound,
    /// The operating system refused to start a worker thread.
    Spawn(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ZeroThreads => write!(f, "a thread pool needs at least 1 thread (got 0)"),
            BuildError::ZeroQueueBound => write!(f, "a queue bound must be at least 1 (got 0)"),
            BuildError::Spawn(e) => write!(f, "could not start a worker thread: {e}"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Submitting to a pool that is shutting down or shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolClosed;

impl fmt::Display for PoolClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the thread pool is shut down and takes no more jobs")
    }
}

impl std::error::Error for PoolClosed {}

/// Why [`ThreadPool::try_submit`] did not take the job; the job comes back so that you can retry or run it yourself.
pub enum TrySubmitError<F> {
    /// The queue is at its bound.
    Full(F),
    /// The pool is shut down.
    Closed(F),
}

impl<F> fmt::Debug for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySubmitError::Full(_) => write!(f, "Full(..)"),
            TrySubmitError::Closed(_) => write!(f, "Closed(..)"),
        }
    }
}

/// Why a job gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// The job panicked; the panic's message.
    Panicked(String),
    /// The job was dropped before it ran ([`ThreadPool::shutdown_now`]).
    Cancelled,
    /// [`JobHandle::join_timeout`] gave up waiting (the job may still finish later).
    TimedOut,
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Panicked(msg) => write!(f, "the job panicked: {msg}"),
            JobError::Cancelled => write!(f, "the job was cancelled before it ran"),
            JobError::TimedOut => write!(f, "the job did not finish in time"),
        }
    }
}

impl std::error::Error for JobError {}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic with a non-string payload)".to_string()
    }
}

/// A queued job. It returns whether the caller's closure panicked (a `submit` job catches the panic itself, to
/// send its message to the handle); the worker runs it with [`run`], which catches any other panic.
type Job = Box<dyn FnOnce() -> bool + Send>;

/// `execute`'s job: the closure; a panic in it is caught by [`run`].
fn job<F: FnOnce() + Send + 'static>(f: F) -> Job {
    Box::new(move || {
        f();
        false
    })
}

/// `submit`'s job: runs `f` and sends its result (or its panic's message) to the [`JobHandle`].
fn job_with_result<F, T>(f: F, result: ResultSender<T>) -> Job
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Box::new(move || {
        let outcome = catch_unwind(AssertUnwindSafe(f))
            .map_err(|payload| JobError::Panicked(panic_message(payload.as_ref())));
        let panicked = outcome.is_err();
        // If the handle is gone, the result is dropped here, and its `Drop` may panic too: [`run`] catches that.
        result.send(outcome);
        panicked
    })
}

/// Runs a job on a worker and returns whether it panicked. Nothing a job does unwinds into the worker: not a
/// panic in the closure, not one in the `Drop` of a result nobody collects (issue 14, finding 4), not one in the
/// `Drop` of a panic's payload (leaked instead). So a worker never dies, and a pool keeps all its threads.
fn run(job: Job) -> bool {
    match catch_unwind(AssertUnwindSafe(job)) {
        Ok(panicked) => panicked,
        Err(payload) => {
            if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
                std::mem::forget(again);
            }
            true
        }
    }
}

/// The sending end of a job's result. Dropped without having sent — the job was dropped unrun by `shutdown_now`
/// or with the pool's queue — it sends `Cancelled`, so that the handle's `is_finished` turns true, as Python's
/// `done()` does for a cancelled future.
struct ResultSender<T>(Option<Sender<Result<T, JobError>>>);

impl<T> ResultSender<T> {
    fn send(mut self, outcome: Result<T, JobError>) {
        if let Some(tx) = self.0.take() {
            // The handle may have been dropped: nobody wants the result, which is fine.
            let _ = tx.send(outcome);
        }
    }
}

impl<T> Drop for ResultSender<T> {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            // The channel has room for one result and nothing was sent: this never blocks.
            let _ = tx.send(Err(JobError::Cancelled));
        }
    }
}

/// How many times a thread about to sleep — an idle worker, a [`JobHandle::join`] — first yields its core and
/// looks again. On a busy pool the next job (or the result) is usually microseconds away, while sleeping costs the
/// other side a system call to wake it and the sleeper tens of microseconds to get a core back. Yielding, not
/// spinning, because on 2 cores the thread we wait for may be waiting for this very core. Under loom, none: loom
/// runs every other thread before one that yields, which would hide what they can do meanwhile.
const YIELDS_BEFORE_SLEEPING: u32 = if cfg!(loom) { 0 } else { 8 };

/// The job queue: crossbeam-deque's `Injector`.
#[cfg(not(loom))]
type Queue = crossbeam_deque::Injector<Job>;

/// Under loom, a stand-in for `Injector<Job>` that loom can see, with the methods the pool uses. Its length is an
/// atomic changed and read with `SeqCst`, as the `Injector`'s head and tail indices are, so the pool's fences pair
/// with it as with the real queue; the jobs pass through a lock, which (like the `Injector`'s slots) makes what a
/// job captured before its push visible to the worker that runs it.
#[cfg(loom)]
struct Queue {
    jobs: Mutex<std::collections::VecDeque<Job>>,
    len: AtomicUsize,
}

#[cfg(loom)]
impl Queue {
    fn new() -> Self {
        Queue {
            jobs: Mutex::new(Default::default()),
            len: AtomicUsize::new(0),
        }
    }
    fn push(&self, job: Job) {
        let mut jobs = self.jobs.lock().unwrap();
        jobs.push_back(job);
        self.len.fetch_add(1, Ordering::SeqCst);
    }
    fn steal(&self) -> Steal<Job> {
        let mut jobs = self.jobs.lock().unwrap();
        match jobs.pop_front() {
            Some(job) => {
                self.len.fetch_sub(1, Ordering::SeqCst);
                Steal::Success(job)
            }
            None => Steal::Empty,
        }
    }
    fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The fields of [`Shared::pending`]: how many jobs are pending (the low 32 bits); how many times that count fell
/// to 0 (the next 31 bits, wrapping) — the pool's idle moments; and whether the pool is closed (the top bit).
const COUNT: u64 = (1 << 32) - 1;
const CLOSED: u64 = 1 << 63;
const MOMENTS: u64 = !(COUNT | CLOSED);
const ONE_MOMENT: u64 = 1 << 32;

/// What the workers, the submitters and the waiters share.
struct Shared {
    /// The jobs not started yet, oldest first: crossbeam's lock-free FIFO queue for many producers and consumers.
    queue: Queue,
    /// The jobs submitted and not yet reported finished (queued, running, or finished by a worker that has not
    /// reported yet), how many times that count fell to 0, and whether the pool is closed ([`COUNT`],
    /// [`MOMENTS`], [`CLOSED`]). One word, so that "is the pool open?" and "count my job" are one atomic step for
    /// a submitter (no job slips in after `shutdown` saw the count), and "the count fell to 0" and "one more
    /// idle moment" are one step for a worker: `wait_idle` returns when the moments changed since its call, so a
    /// job queued right after an idle moment does not hide it (issue 14, finding 6).
    pending: CachePadded<AtomicU64>,
    /// Workers looking for a job (awake, or woken and on their way): each will look at the queue once more before
    /// it sleeps, so a submitter wakes nobody while one is searching.
    searching: CachePadded<AtomicUsize>,
    /// Workers asleep on `wake` and not yet woken. Changed only under `state`'s lock; read without it.
    sleeping: AtomicUsize,
    /// Threads in `wait_idle`: a worker that makes the pool idle takes the lock to notify them only if any.
    idle_waiters: AtomicUsize,
    state: Mutex<State>,
    /// Idle workers sleep here.
    wake: Condvar,
    /// Notified when the pool becomes idle (for `wait_idle`).
    idle: Condvar,
    /// Notified when a job leaves a full bounded queue (for a blocked submitter).
    space: Condvar,
    /// `queue_bound`, if any.
    bound: Option<usize>,
    /// Per worker: running a job now (for [`ThreadPool::stats`]); written only by its worker.
    busy: Vec<CachePadded<AtomicBool>>,
    /// Jobs finished (panicked ones included), and those that panicked, as reported by the workers.
    completed: AtomicUsize,
    panicked: AtomicUsize,
}

/// What is changed only under the lock.
struct State {
    /// Wake-ups sent to sleeping workers and not yet taken by one.
    wakeups: usize,
    /// Submitters waiting for room in a full bounded queue.
    space_waiters: usize,
}

/// What a sleeping worker does next.
enum Next {
    Look,
    Exit,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No code of ours panics while holding the lock and jobs never run under it, so poisoning cannot happen;
        // take the state anyway rather than turn one panic into many.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_closed(&self) -> bool {
        self.pending.load(Ordering::SeqCst) & CLOSED != 0
    }

    /// Queues `f` (boxed by `into_job` once it is sure to be queued). With a bound, waits for room if
    /// `wait_for_room`, else gives `f` back; on a closed pool, gives `f` back.
    fn push<F>(
        &self,
        f: F,
        into_job: impl FnOnce(F) -> Job,
        wait_for_room: bool,
    ) -> Result<(), TrySubmitError<F>> {
        // A bounded queue is checked and pushed to under the lock, so that two submitters cannot both take the
        // last place. Workers take jobs without the lock: that only makes room.
        let room = match self.bound {
            None => None,
            Some(bound) => {
                let mut state = self.lock();
                while self.queue.len() >= bound && !self.is_closed() {
                    if !wait_for_room {
                        return Err(TrySubmitError::Full(f));
                    }
                    state.space_waiters += 1;
                    state = self.space.wait(state).unwrap_or_else(|p| p.into_inner());
                    state.space_waiters -= 1;
                }
                Some(state)
            }
        };
        if self.pending.fetch_add(1, Ordering::SeqCst) & CLOSED != 0 {
            drop(room);
            self.retire(1); // not a job of ours after all
            return Err(TrySubmitError::Closed(f));
        }
        self.queue.push(into_job(f));
        drop(room);
        // Wake a sleeping worker, unless one is searching (it will find the job). The fence pairs with the one in
        // `sleep` and `found_job`: either the worker going to sleep sees our job, or we see it asleep.
        fence(Ordering::SeqCst);
        if self.searching.load(Ordering::SeqCst) == 0 && self.sleeping.load(Ordering::SeqCst) > 0 {
            self.wake_one();
        }
        Ok(())
    }

    /// The next job from the queue, if any.
    fn take(&self) -> Option<Job> {
        loop {
            match self.queue.steal() {
                Steal::Success(job) => return Some(job),
                Steal::Empty => return None,
                Steal::Retry => {} // lost a race with another worker: look again
            }
        }
    }

    /// A worker that was searching found a job. If it was the last searcher and jobs are still queued, it wakes a
    /// sleeper for them, so that a job never waits in the queue while a worker sleeps.
    fn found_job(&self) {
        self.searching.fetch_sub(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.searching.load(Ordering::SeqCst) == 0
            && self.sleeping.load(Ordering::SeqCst) > 0
            && !self.queue.is_empty()
        {
            self.wake_one();
        }
    }

    /// Wakes one sleeping worker, if any, counting it as searching from now on.
    fn wake_one(&self) {
        let mut state = self.lock();
        if self.sleeping.load(Ordering::SeqCst) > 0 {
            self.sleeping.fetch_sub(1, Ordering::SeqCst);
            self.searching.fetch_add(1, Ordering::SeqCst);
            state.wakeups += 1;
            self.wake.notify_one();
        }
    }

    /// A worker's report of the jobs it finished since its last one.
    fn report(&self, finished: usize, panicked: usize) {
        self.completed.fetch_add(finished, Ordering::Relaxed);
        self.panicked.fetch_add(panicked, Ordering::Relaxed);
        self.retire(finished);
    }

    /// `n` jobs are no longer pending: finished, dropped unrun, or refused. If that makes the pool idle, counts
    /// the moment and wakes whoever waits for it.
    fn retire(&self, n: usize) {
        if n == 0 {
            return;
        }
        let n = n as u64;
        let mut now = self.pending.load(Ordering::SeqCst);
        let left = loop {
            let mut left = now - n;
            if left & COUNT == 0 {
                left = (left & !MOMENTS) | ((left & MOMENTS).wrapping_add(ONE_MOMENT) & MOMENTS);
            }
            match self
                .pending
                .compare_exchange_weak(now, left, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break left,
                Err(actual) => now = actual,
            }
        };
        if left & COUNT != 0 {
            return;
        }
        // Pairs with the fence in `wait_idle`: either the waiter sees this moment, or we see the waiter.
        fence(Ordering::SeqCst);
        let closed = left & CLOSED != 0;
        if closed || self.idle_waiters.load(Ordering::SeqCst) > 0 {
            let _state = self.lock(); // a waiter holds it until it waits: the notification cannot come too early
            self.idle.notify_all();
            if closed {
                self.wake.notify_all(); // closed and nothing left: the workers exit
            }
        }
    }

    /// A worker that found the queue empty yields its core a few times, looking again; true if a job came.
    #[cfg_attr(loom, allow(clippy::reversed_empty_ranges))] // no yields under loom (see the constant)
    fn yield_until_queued(&self) -> bool {
        for _ in 0..YIELDS_BEFORE_SLEEPING {
            if !self.queue.is_empty() {
                return true;
            }
            thread::yield_now();
        }
        false
    }

    /// Sleeps until a submitter (or a worker that found more jobs than it can run) wakes it, unless a job is
    /// queued meanwhile. Called while counted in `searching`.
    fn sleep(&self) -> Next {
        let mut state = self.lock();
        self.sleeping.fetch_add(1, Ordering::SeqCst);
        self.searching.fetch_sub(1, Ordering::SeqCst);
        // Pairs with the fence in `push` and `found_job`: a job queued after our last look is seen here, or its
        // submitter sees us asleep and wakes us (it needs the lock, which we hold until we wait).
        fence(Ordering::SeqCst);
        // Closed, and no job left anywhere: nothing can be queued any more.
        let exit = || self.pending.load(Ordering::SeqCst) & !MOMENTS == CLOSED;
        if exit() {
            self.sleeping.fetch_sub(1, Ordering::SeqCst);
            return Next::Exit;
        }
        if !self.queue.is_empty() {
            self.sleeping.fetch_sub(1, Ordering::SeqCst);
            self.searching.fetch_add(1, Ordering::SeqCst);
            return Next::Look;
        }
        loop {
            if state.wakeups > 0 {
                state.wakeups -= 1; // the waker counted us as searching again
                return Next::Look;
            }
            if exit() {
                self.sleeping.fetch_sub(1, Ordering::SeqCst);
                return Next::Exit;
            }
            state = self.wake.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// A job left a bounded queue: wakes a submitter waiting for room.
    fn made_space(&self) {
        let state = self.lock();
        if state.space_waiters > 0 {
            self.space.notify_all();
        }
    }

    /// Marks the pool closed and wakes every sleeping worker and blocked submitter, so that they see it. If
    /// `cancel`, takes every job out of the queue and returns them, to be dropped by the caller.
    fn close(&self, cancel: bool) -> Vec<Job> {
        self.pending.fetch_or(CLOSED, Ordering::SeqCst);
        let mut cancelled = Vec::new();
        if cancel {
            while let Some(job) = self.take() {
                cancelled.push(job);
            }
            self.retire(cancelled.len()); // dropped unrun: no longer pending
        }
        let _state = self.lock();
        self.space.notify_all();
        self.wake.notify_all();
        cancelled
    }
}

/// A snapshot of a pool's activity, from [`ThreadPool::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Worker threads.
    pub threads: usize,
    /// Jobs waiting in the queue.
    pub queued: usize,
    /// Jobs running now.
    pub active: usize,
    /// Jobs finished (panicked ones included).
    pub completed: usize,
    /// Jobs that panicked.
    pub panicked: usize,
}

/// Configures a [`ThreadPool`]; see [`ThreadPool::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    threads: Option<usize>,
    name_prefix: String,
    queue_bound: Option<usize>,
}

impl Builder {
    /// Number of worker threads (default: the machine's available parallelism).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n);
        self
    }

    /// Worker names are `{prefix}-0`, `{prefix}-1`, … (default `pool`).
    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.name_prefix = prefix.into();
        self
    }

    /// At most `bound` jobs wait in the queue: `submit`/`execute` then block until a worker takes one
    /// (back-pressure), and `try_submit` returns the job. Default: unbounded. A submitter still blocked when the
    /// pool shuts down gets [`PoolClosed`].
    pub fn queue_bound(mut self, bound: usize) -> Self {
        self.queue_bound = Some(bound);
        self
    }

    /// Starts the workers.
    pub fn build(self) -> Result<ThreadPool, BuildError> {
        let threads = self.threads.unwrap_or_else(crate::timing::cores);
        if threads == 0 {
            return Err(BuildError::ZeroThreads);
        }
        if self.queue_bound == Some(0) {
            return Err(BuildError::ZeroQueueBound);
        }
        let shared = Arc::new(Shared {
            queue: Queue::new(),
            pending: CachePadded::new(AtomicU64::new(0)),
            searching: CachePadded::new(AtomicUsize::new(0)),
            sleeping: AtomicUsize::new(0),
            idle_waiters: AtomicUsize::new(0),
            state: Mutex::new(State {
                wakeups: 0,
                space_waiters: 0,
            }),
            wake: Condvar::new(),
            idle: Condvar::new(),
            space: Condvar::new(),
            bound: self.queue_bound,
            busy: (0..threads)
                .map(|_| CachePadded::new(AtomicBool::new(false)))
                .collect(),
            completed: AtomicUsize::new(0),
            panicked: AtomicUsize::new(0),
        });
        let mut pool = ThreadPool {
            shared,
            workers: Mutex::new(Vec::with_capacity(threads)),
            worker_ids: Vec::with_capacity(threads),
            threads,
        };
        for i in 0..threads {
            let shared = Arc::clone(&pool.shared);
            let spawned = thread::Builder::new()
                .name(format!("{}-{i}", self.name_prefix))
                .spawn(move || worker_loop(&shared, i));
            match spawned {
                Ok(handle) => {
                    pool.worker_ids.push(handle.thread().id());
                    pool.lock_workers().push(handle);
                }
                // Dropping the pool shuts down and joins the workers started so far.
                Err(e) => return Err(BuildError::Spawn(e.to_string())),
            }
        }
        Ok(pool)
    }
}

/// A worker: runs jobs from the queue until it is empty, reports them, then searches and sleeps.
fn worker_loop(shared: &Shared, me: usize) {
    let (mut finished, mut panicked) = (0, 0);
    let mut searching = false;
    loop {
        if let Some(job) = shared.take() {
            if searching {
                searching = false;
                shared.found_job();
            }
            if shared.bound.is_some() {
                shared.made_space();
            }
            shared.busy[me].store(true, Ordering::Relaxed);
            panicked += usize::from(run(job));
            shared.busy[me].store(false, Ordering::Relaxed);
            finished += 1;
            continue;
        }
        if !searching {
            searching = true;
            shared.searching.fetch_add(1, Ordering::SeqCst);
        }
        if shared.yield_until_queued() {
            continue;
        }
        // About to sleep: report the jobs run since the last report — one update of the shared counters per run
        // of jobs, not per job — so that `wait_idle` and `shutdown` can see the pool idle.
        shared.report(finished, panicked);
        (finished, panicked) = (0, 0);
        if let Next::Exit = shared.sleep() {
            return;
        }
    }
}

/// A fixed set of named worker threads running jobs from a queue. See the [module docs](self).
pub struct ThreadPool {
    shared: Arc<Shared>,
    /// Held while joining, so that a second `shutdown` waits for the first (issue 14, finding 7).
    workers: Mutex<Vec<thread::JoinHandle<()>>>,
    /// The workers' ids: a method that would wait for the pool refuses to run on one of them.
    worker_ids: Vec<thread::ThreadId>,
    threads: usize,
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("stats", &self.stats())
            .finish()
    }
}

impl ThreadPool {
    /// A pool of `threads` workers with default settings.
    pub fn new(threads: usize) -> Result<ThreadPool, BuildError> {
        Self::builder().threads(threads).build()
    }

    /// Configure a pool: `ThreadPool::builder().threads(4).name_prefix("io").queue_bound(100).build()`.
    ///
    /// ```
    /// use support::pool::{BuildError, ThreadPool};
    /// assert_eq!(ThreadPool::builder().threads(0).build().unwrap_err(), BuildError::ZeroThreads);
    /// ```
    pub fn builder() -> Builder {
        Builder {
            threads: None,
            name_prefix: "pool".into(),
            queue_bound: None,
        }
    }

    fn lock_workers(&self) -> MutexGuard<'_, Vec<thread::JoinHandle<()>>> {
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on a worker, fire-and-forget. Blocks while a bounded queue is full.
    pub fn execute<F: FnOnce() + Send + 'static>(&self, f: F) -> Result<(), PoolClosed> {
        // On a closed pool `f` comes back and is dropped here: its captures' `Drop` may run any code.
        self.shared.push(f, job, true).map_err(|_| PoolClosed)
    }

    /// Runs `f` on a worker and returns a handle to its result. Blocks while a bounded queue is full.
    pub fn submit<F, T>(&self, f: F) -> Result<JobHandle<T>, PoolClosed>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (result, rx) = crossbeam_channel::bounded(1);
        let into_job = |f| job_with_result(f, ResultSender(Some(result)));
        self.shared
            .push(f, into_job, true)
            .map_err(|_| PoolClosed)?;
        Ok(JobHandle { rx })
    }

    /// [`submit`](Self::submit) without blocking: when the queue is full (or the pool closed) the job comes back.
    ///
    /// ```
    /// use support::pool::{ThreadPool, TrySubmitError};
    /// use support::sync::Event;
    /// use std::{sync::Arc, time::Duration};
    ///
    /// let pool = ThreadPool::builder().threads(1).queue_bound(1).build().unwrap();
    /// let gate = Arc::new(Event::new());
    /// let g = Arc::clone(&gate);
    /// let busy = pool.submit(move || g.wait_timeout(Duration::from_secs(5))).unwrap(); // occupies the worker
    /// while pool.stats().active == 0 { std::thread::yield_now(); }
    /// let queued = pool.submit(|| 1).unwrap();                                          // fills the queue
    /// match pool.try_submit(|| 2) {
    ///     Err(TrySubmitError::Full(job)) => assert_eq!(job(), 2, "the job came back"),
    ///     other => panic!("expected Full, got {other:?}"),
    /// }
    /// gate.set();
    /// assert_eq!(busy.join(), Ok(true));
    /// assert_eq!(queued.join(), Ok(1));
    /// ```
    pub fn try_submit<F, T>(&self, f: F) -> Result<JobHandle<T>, TrySubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (result, rx) = crossbeam_channel::bounded(1);
        let into_job = |f| job_with_result(f, ResultSender(Some(result)));
        self.shared.push(f, into_job, false)?;
        Ok(JobHandle { rx })
    }

    /// Applies `f` to every item on the pool and returns the results in input order (Python's `executor.map`).
    /// Items are sent in batches (a few per worker), so tiny jobs do not pay one queue round trip each.
    /// The first panic in `f` is returned as an error once all batches are done. Panics if called inside one of
    /// the pool's own jobs: that job would wait for batches queued behind it.
    pub fn map<I, T, F>(&self, items: I, f: F) -> Result<Vec<T>, JobError>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
    {
        self.refuse_inside_own_job("map");
        let items: Vec<I::Item> = items.into_iter().collect();
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let batches = (self.threads * 4).min(items.len());
        let size = items.len().div_ceil(batches);
        let f = std::sync::Arc::new(f);
        let mut handles = Vec::with_capacity(batches);
        let mut rest = items;
        while !rest.is_empty() {
            let tail = rest.split_off(size.min(rest.len()));
            let batch = std::mem::replace(&mut rest, tail);
            let f = std::sync::Arc::clone(&f);
            let handle = self
                .submit(move || batch.into_iter().map(|item| f(item)).collect::<Vec<T>>())
                .map_err(|_| JobError::Cancelled)?;
            handles.push(handle);
        }
        let mut out = Vec::new();
        let mut first_error = None;
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// A snapshot of the pool's counters. A worker adds its finished jobs to `completed` and `panicked` when it
    /// finds the queue empty, so a handle's result can arrive a moment before its job is counted; after
    /// [`wait_idle`](Self::wait_idle) the counts are exact.
    pub fn stats(&self) -> PoolStats {
        let shared = &self.shared;
        PoolStats {
            threads: self.threads,
            queued: shared.queue.len(),
            active: shared
                .busy
                .iter()
                .filter(|b| b.load(Ordering::Relaxed))
                .count(),
            completed: shared.completed.load(Ordering::Relaxed),
            panicked: shared.panicked.load(Ordering::Relaxed),
        }
    }

    /// Waits at most `timeout` until no job is queued or running; returns whether the pool was idle at some moment
    /// since the call — jobs queued right after that moment do not make it wait for the next one. Python's
    /// `concurrent.futures.wait(futures)` waits for given jobs; this waits for the whole pool (threadpool's
    /// `join`). Panics if called inside one of the pool's own jobs: the pool cannot be idle while it runs.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        self.refuse_inside_own_job("wait_idle");
        // A timeout too large for the clock (`Duration::MAX`) means "no deadline".
        let deadline = Instant::now().checked_add(timeout);
        let shared = &self.shared;
        let mut state = shared.lock();
        let start = shared.pending.load(Ordering::SeqCst);
        shared.idle_waiters.fetch_add(1, Ordering::SeqCst);
        // Pairs with the fence in `retire`: either we see the idle moment, or the worker that made it sees us and
        // notifies under the lock, which we hold until we wait.
        fence(Ordering::SeqCst);
        let idle = loop {
            let now = shared.pending.load(Ordering::SeqCst);
            if start & COUNT == 0 || now & COUNT == 0 || (now ^ start) & MOMENTS != 0 {
                break true;
            }
            // The worker that finishes the last job notifies under the same lock we check under: no lost wake-up.
            state = match deadline {
                None => self
                    .shared
                    .idle
                    .wait(state)
                    .unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break false;
                    }
                    self.shared
                        .idle
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        };
        shared.idle_waiters.fetch_sub(1, Ordering::SeqCst);
        idle
    }

    /// Panics with a clear message when called on one of this pool's workers, for a method that would wait for
    /// the pool: the job calling it would wait for itself (a deadlock, or "Resource deadlock avoided" from the OS
    /// for a thread joining itself — issue 14, finding 8).
    fn refuse_inside_own_job(&self, method: &str) {
        let me = thread::current().id();
        if self.worker_ids.contains(&me) {
            panic!(
                "ThreadPool::{method} called inside one of its own jobs: the job would wait for itself. \
                 Call it from outside the pool's jobs (or use std::thread::scope / rayon for nested work)"
            );
        }
    }

    /// Joins every worker. The lock is held until all have exited, so that a concurrent caller returns only
    /// then, too: after every queued job ran.
    /// Threads now in `wait_idle`: for the loom models, which must know that a waiter is in before the pool
    /// becomes idle.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn idle_waiters(&self) -> usize {
        self.shared.idle_waiters.load(Ordering::SeqCst)
    }

    fn join_workers(&self) {
        let mut workers = self.lock_workers();
        for w in workers.drain(..) {
            // Job panics are caught inside the worker (see `run`), so a worker thread does not panic.
            let _ = w.join();
        }
    }

    /// Stops taking jobs, runs every job already queued, and joins the workers (Python's `shutdown(wait=True)`,
    /// threadpool's `join` followed by dropping the pool). Later submissions return [`PoolClosed`]. Calling it
    /// again, or from two threads at once, is harmless: each call returns once every queued job ran. Panics if
    /// called inside one of the pool's own jobs.
    pub fn shutdown(&self) {
        self.refuse_inside_own_job("shutdown");
        self.shared.close(false);
        self.join_workers();
    }

    /// Stops taking jobs, drops the queued ones (their handles report [`JobError::Cancelled`]), lets running jobs
    /// finish, joins the workers, and returns how many queued jobs were dropped
    /// (Python's `shutdown(cancel_futures=True)`). Panics if called inside one of the pool's own jobs.
    pub fn shutdown_now(&self) -> usize {
        self.refuse_inside_own_job("shutdown_now");
        let cancelled = self.shared.close(true);
        let dropped = cancelled.len();
        // Dropped outside the lock: a job's captures may run any code when dropped.
        drop(cancelled);
        self.join_workers();
        dropped
    }
}

impl Drop for ThreadPool {
    /// Graceful: runs the queued jobs, then joins the workers (as `shutdown`). A job that never ends would block
    /// here — give long jobs a way to stop (lesson 04). When the last handle of a pool (an `Arc<ThreadPool>`) is
    /// dropped inside one of its own jobs, the pool closes without waiting: the workers run what is queued and
    /// exit by themselves, as the threadpool crate's do.
    fn drop(&mut self) {
        if self.worker_ids.contains(&thread::current().id()) {
            self.shared.close(false);
        } else {
            self.shutdown();
        }
    }
}

/// The result of a job submitted with [`ThreadPool::submit`]: Python's `Future`.
#[derive(Debug)]
pub struct JobHandle<T> {
    rx: Receiver<Result<T, JobError>>,
}

impl<T> JobHandle<T> {
    /// Waits for the job and returns its value, or why there is none.
    #[cfg_attr(loom, allow(clippy::reversed_empty_ranges))] // no yields under loom (see the constant)
    pub fn join(self) -> Result<T, JobError> {
        // Yield a few times before sleeping: the worker that runs the job may be waiting for this core.
        for _ in 0..YIELDS_BEFORE_SLEEPING {
            match self.rx.try_recv() {
                Ok(result) => return result,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    return Err(JobError::Cancelled)
                }
                Err(crossbeam_channel::TryRecvError::Empty) => std::thread::yield_now(),
            }
        }
        self.rx.recv().unwrap_or(Err(JobError::Cancelled))
    }

    /// Waits at most `timeout`. On [`JobError::TimedOut`] the handle is consumed; the job still runs.
    pub fn join_timeout(self, timeout: Duration) -> Result<T, JobError> {
        match self.rx.recv_timeout(timeout) {
            Ok(result) => result,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Err(JobError::TimedOut),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Err(JobError::Cancelled),
        }
    }

    /// Whether the result is ready (`join` will not block): the job returned, panicked or was cancelled.
    /// Python's `future.done()`.
    pub fn is_finished(&self) -> bool {
        !self.rx.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::Event;
    use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

    const LONG: Duration = Duration::from_secs(30);
    /// Job counts for the load tests, cut under Miri (an interpreter, about 1000× slower) to run in seconds.
    const MANY: usize = if cfg!(miri) { 200 } else { 10_000 };

    #[test]
    fn every_job_runs_exactly_once_under_contention() {
        let pool = Arc::new(ThreadPool::new(4).unwrap());
        let (jobs, submitters) = if cfg!(miri) { (400, 4) } else { (100_000, 16) };
        let ran: Arc<Vec<AtomicU8>> = Arc::new((0..jobs).map(|_| AtomicU8::new(0)).collect());
        std::thread::scope(|s| {
            for t in 0..submitters {
                let (pool, ran) = (Arc::clone(&pool), Arc::clone(&ran));
                s.spawn(move || {
                    for i in (t..jobs).step_by(submitters) {
                        let ran = Arc::clone(&ran);
                        pool.execute(move || {
                            ran[i].fetch_add(1, Ordering::Relaxed);
                        })
                        .unwrap();
                    }
                });
            }
        });
        assert!(pool.wait_idle(LONG));
        assert!(ran.iter().all(|r| r.load(Ordering::Relaxed) == 1));
        assert_eq!(pool.stats().completed, jobs);
    }

    #[test]
    fn no_job_waits_behind_a_blocked_job_while_another_worker_is_free() {
        // Head-of-line blocking, found by lesson 09's exercise in an earlier pool that took jobs in batches: a job
        // batched behind a slow one waited for it while the other workers were idle. Deterministic: the "slow"
        // job waits until the 47 jobs queued after it have run (a timeout below, an error, not a hang).
        let pool = ThreadPool::new(3).unwrap();
        // Hold all 3 workers so that the jobs below pile up.
        let hold = Arc::new(Event::new());
        for _ in 0..3 {
            let hold = Arc::clone(&hold);
            pool.execute(move || {
                hold.wait_timeout(LONG);
            })
            .unwrap();
        }
        while pool.stats().active < 3 {
            std::thread::yield_now();
        }
        let all_short_ran = Arc::new(Event::new());
        let blocker = {
            let all_short_ran = Arc::clone(&all_short_ran);
            pool.submit(move || all_short_ran.wait_timeout(LONG))
                .unwrap()
        };
        let (done, finished) = std::sync::mpsc::channel();
        for i in 0..47 {
            let done = done.clone();
            pool.execute(move || {
                let _ = done.send(i);
            })
            .unwrap();
        }
        assert_eq!(pool.stats().queued, 48);
        hold.set();
        let ran: Vec<i32> = (0..47)
            .map_while(|_| finished.recv_timeout(Duration::from_secs(10)).ok())
            .collect();
        let blocker_still_waiting = !blocker.is_finished();
        // Released on every path, so that a failure ends the test instead of holding a worker for LONG.
        all_short_ran.set();
        assert_eq!(
            ran.len(),
            47,
            "short jobs waited behind the blocking one: {} of 47 ran in time",
            ran.len()
        );
        assert!(
            blocker_still_waiting,
            "the blocking job waited for the others"
        );
        assert_eq!(blocker.join(), Ok(true), "and saw them all run");
        let mut ran = ran;
        ran.sort();
        assert_eq!(ran, (0..47).collect::<Vec<_>>(), "each short job ran once");
    }

    #[test]
    fn panics_under_load_kill_no_worker() {
        let pool = ThreadPool::new(2).unwrap();
        let n = MANY / 50;
        let handles: Vec<_> = (0..n)
            .map(|i| {
                pool.submit(move || {
                    if i % 10 == 0 {
                        panic!("job {i} fails");
                    }
                    i
                })
                .unwrap()
            })
            .collect();
        let (ok, failed): (Vec<_>, Vec<_>) = handles
            .into_iter()
            .map(|h| h.join())
            .partition(|r| r.is_ok());
        let panics = n.div_ceil(10); // jobs 0, 10, 20, …
        assert_eq!((ok.len(), failed.len()), (n - panics, panics));
        assert!(matches!(&failed[0], Err(JobError::Panicked(m)) if m == "job 0 fails"));
        // A worker counts its jobs when it comes back for more, just after the last result was sent.
        assert!(pool.wait_idle(LONG));
        assert_eq!(pool.stats().panicked, panics);
        assert_eq!(
            pool.submit(|| 1).unwrap().join(),
            Ok(1),
            "workers still serve"
        );
    }

    #[test]
    fn shutdown_under_load_runs_all_queued_jobs() {
        let pool = ThreadPool::new(2).unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        for _ in 0..MANY {
            let count = Arc::clone(&count);
            pool.execute(move || {
                count.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        }
        pool.shutdown();
        assert_eq!(count.load(Ordering::Relaxed), MANY);
        assert_eq!(pool.execute(|| {}), Err(PoolClosed));
        assert!(pool.submit(|| 1).is_err());
    }

    #[test]
    fn shutdown_now_drops_queued_jobs_and_says_how_many() {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Arc::new(Event::new());
        let g = Arc::clone(&gate);
        let running = pool.submit(move || g.wait_timeout(LONG)).unwrap();
        while pool.stats().active == 0 {
            std::thread::yield_now();
        }
        let queued: Vec<_> = (0..5).map(|i| pool.submit(move || i).unwrap()).collect();
        let opener = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                gate.set();
            })
        };
        assert_eq!(pool.shutdown_now(), 5);
        opener.join().unwrap();
        assert!(
            queued.iter().all(|h| h.is_finished()),
            "a cancelled job is finished, as Python's done() says of a cancelled future"
        );
        assert_eq!(running.join(), Ok(true), "the running job finished");
        assert!(queued
            .into_iter()
            .all(|h| h.join() == Err(JobError::Cancelled)));
    }

    #[test]
    fn join_timeout_and_is_finished() {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Arc::new(Event::new());
        let g = Arc::clone(&gate);
        let slow = pool.submit(move || g.wait_timeout(LONG)).unwrap();
        assert!(!slow.is_finished());
        assert_eq!(
            slow.join_timeout(Duration::from_millis(20)),
            Err(JobError::TimedOut)
        );
        gate.set();
        let quick = pool.submit(|| 5).unwrap();
        assert!(pool.wait_idle(LONG));
        assert!(quick.is_finished());
        assert_eq!(quick.join(), Ok(5));
    }

    #[test]
    fn map_keeps_input_order_and_reports_panics() {
        let pool = ThreadPool::new(3).unwrap();
        let out = pool.map(0..1000u64, |x| x * x).unwrap();
        assert_eq!(out, (0..1000u64).map(|x| x * x).collect::<Vec<_>>());
        let err = pool.map(0..10, |x: u32| if x == 7 { panic!("seven") } else { x });
        assert_eq!(err, Err(JobError::Panicked("seven".into())));
        assert_eq!(pool.map(Vec::<u8>::new(), |x| x), Ok(vec![]));
    }

    #[test]
    fn bad_configuration_is_a_clear_error() {
        assert_eq!(
            ThreadPool::new(0).unwrap_err().to_string(),
            "a thread pool needs at least 1 thread (got 0)"
        );
        assert_eq!(
            ThreadPool::builder().queue_bound(0).build().unwrap_err(),
            BuildError::ZeroQueueBound
        );
    }

    #[test]
    #[cfg_attr(miri, ignore)] // reads /proc, which Miri's isolation forbids; and it measures CPU time
    fn idle_workers_use_no_cpu() {
        /// CPU ticks (utime + stime, 10 ms each) used so far by this process's threads named `idle-chk-*`
        /// (Linux /proc); None elsewhere. Counting only the pool's own threads keeps other tests out of it.
        fn worker_ticks() -> Option<u64> {
            let mut total = 0;
            for task in std::fs::read_dir("/proc/self/task").ok()? {
                let stat = std::fs::read_to_string(task.ok()?.path().join("stat")).ok()?;
                let (head, tail) = stat.rsplit_once(')')?;
                if !head.contains("(idle-chk-") {
                    continue;
                }
                let fields: Vec<&str> = tail.split_whitespace().collect();
                total +=
                    fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
            }
            Some(total)
        }
        let pool = ThreadPool::builder()
            .threads(4)
            .name_prefix("idle-chk")
            .build()
            .unwrap();
        pool.submit(|| ()).unwrap().join().unwrap();
        let Some(before) = worker_ticks() else { return };
        std::thread::sleep(Duration::from_secs(1));
        let after = worker_ticks().unwrap();
        // 4 spinning workers would burn up to ~200 ticks (2 cores) in this second; sleeping ones burn none.
        assert!(
            after - before <= 2,
            "idle workers used {} CPU ticks in 1 s",
            after - before
        );
    }

    #[test]
    fn wait_idle_without_deadline() {
        let pool = ThreadPool::new(2).unwrap();
        pool.execute(|| std::thread::sleep(Duration::from_millis(10)))
            .unwrap();
        // `Duration::MAX` does not fit in an `Instant`: it means "no deadline", not a panic.
        assert!(pool.wait_idle(Duration::MAX));
        assert_eq!(pool.stats().completed, 1);
    }

    #[test]
    fn bounded_queue_under_contention_runs_every_job() {
        let pool = Arc::new(
            ThreadPool::builder()
                .threads(2)
                .queue_bound(2)
                .build()
                .unwrap(),
        );
        let count = Arc::new(AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..4 {
                let (pool, count) = (Arc::clone(&pool), Arc::clone(&count));
                s.spawn(move || {
                    for _ in 0..MANY / 5 {
                        let count = Arc::clone(&count);
                        pool.execute(move || {
                            count.fetch_add(1, Ordering::Relaxed);
                        })
                        .unwrap();
                        assert!(pool.stats().queued <= 2, "the bound holds");
                    }
                });
            }
        });
        assert!(pool.wait_idle(LONG));
        assert_eq!(count.load(Ordering::Relaxed), MANY / 5 * 4);
    }

    #[test]
    fn a_submitter_blocked_on_a_full_queue_gets_pool_closed_at_shutdown() {
        let pool = Arc::new(
            ThreadPool::builder()
                .threads(1)
                .queue_bound(1)
                .build()
                .unwrap(),
        );
        let gate = Arc::new(Event::new());
        let g = Arc::clone(&gate);
        pool.execute(move || {
            g.wait_timeout(LONG);
        })
        .unwrap();
        while pool.stats().active == 0 {
            std::thread::yield_now();
        }
        pool.execute(|| {}).unwrap(); // fills the queue; the worker is held by the gate
        let closer = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || pool.shutdown_now())
        };
        // Blocks on the full queue until `shutdown_now` closes the pool, then is refused.
        assert_eq!(pool.execute(|| {}), Err(PoolClosed));
        gate.set(); // now the running job may end, and the closer can join the worker
        assert_eq!(closer.join().unwrap(), 1, "the queued job was dropped");
    }

    #[test]
    fn shutdown_now_under_load_runs_or_cancels_every_job() {
        let pool = ThreadPool::new(2).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..MANY)
            .map(|_| {
                let ran = Arc::clone(&ran);
                pool.submit(move || {
                    ran.fetch_add(1, Ordering::Relaxed);
                })
                .unwrap()
            })
            .collect();
        let stats = pool.stats();
        assert!(stats.active <= 2, "at most one running job per worker");
        assert!(stats.queued + stats.active + stats.completed <= MANY);
        let dropped = pool.shutdown_now();
        let ran = ran.load(Ordering::Relaxed);
        assert_eq!(ran + dropped, MANY, "each job ran or was dropped, once");
        let cancelled = handles
            .into_iter()
            .filter(|h| {
                assert!(h.is_finished());
                h.is_finished() && matches!(h.rx.try_recv(), Ok(Err(JobError::Cancelled)))
            })
            .count();
        assert_eq!(
            cancelled, dropped,
            "every dropped job's handle says Cancelled"
        );
    }

    #[test]
    fn drop_runs_queued_jobs_and_never_hangs() {
        let count = Arc::new(AtomicUsize::new(0));
        {
            let pool = ThreadPool::new(2).unwrap();
            for _ in 0..100 {
                let count = Arc::clone(&count);
                pool.execute(move || {
                    count.fetch_add(1, Ordering::Relaxed);
                })
                .unwrap();
            }
        }
        assert_eq!(count.load(Ordering::Relaxed), 100);
    }
}
