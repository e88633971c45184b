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
//! **Which to pick.** To split one computation over the cores, use rayon (`par_iter`) or `std::thread::scope`:
//! they let jobs borrow local data and balance the load. Use a `ThreadPool` for a stream of independent
//! `'static` jobs arriving over time (requests, files to process), where you want a fixed number of threads, names,
//! a bounded queue for back-pressure, and per-job results and panics.
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
//! ## How it works: one lock, batches that idle workers can steal, and workers that park
//!
//! Everything the submitters and the workers share sits in one `Mutex`: the queue of jobs (a `VecDeque`), the list
//! of parked workers, and the counters. Beside it, each worker has its *batch*: a small `VecDeque` of its own,
//! behind a lock of its own. No lock is held while a job runs.
//!
//! - `execute`/`submit` push the job and, unless enough workers are awake to take it, take one parked worker off
//!   the list and `unpark` it — after letting go of the lock, so that the worker does not wake up into a held lock.
//! - A worker takes its share of the queue: one job, or from a long queue up to 16 — the queue's length divided by
//!   the number of workers. It runs the first and moves the others into its batch; then it pops them one by one
//!   from the batch, holding only the batch's lock, which nobody else wants in the common case. It comes back to
//!   the pool's lock, and reports the jobs it ran, only when its batch is empty: one lock of the pool per batch,
//!   not per job. (With a `queue_bound`, one job at a time, so that the bound counts every job not started.)
//! - A worker that finds the queue empty looks at the other workers' batches and *steals* the older half of the
//!   first one that has jobs waiting (their owner is busy running a job, or it would have taken them). So no job
//!   waits in the batch of a worker busy with a long job while another worker has nothing to do.
//! - A worker that finds nothing to take or steal stays awake a little: it yields its core a few times, watching a
//!   copy of the queue's length that it reads without the lock, and submitters count it as a worker on its way.
//!   Then it puts itself on the parked list and `park`s: idle workers use no CPU. `JobHandle::join` also yields a
//!   few times before it blocks.
//! - No wake-up is lost: jobs go into the queue or into a batch only under the pool's lock, and a worker joins the
//!   parked list in the same critical section in which it saw the queue and every batch empty; so whoever puts a
//!   job there later finds it on the list. A submitter wakes a parked worker unless enough are awake to take its
//!   job; a worker that takes or steals a job and leaves others waiting wakes one if none is awake to look for
//!   them. An `unpark` that comes before the `park` is not lost either: `park` then returns at once. After its
//!   yields, a worker looks under the lock once more, so a job queued meanwhile is taken.
//! - Two kinds of lock, always taken in one order: the pool's, then a batch's. A worker pops from its own batch
//!   without the pool's lock and never takes the pool's lock while holding its batch's; a thief holds one batch
//!   lock at a time. So the locks cannot deadlock.
//! - `wait_idle` and a submitter blocked on a full bounded queue wait on condition variables of the pool's lock;
//!   the workers notify them only when someone waits, so a busy pool makes no system call for them.
//!
//! **Why not crossbeam-deque**, the work-stealing queues under rayon? Its `Injector` (the shared queue), `Worker`
//! (a thread's own deque) and `Stealer` (another thread's handle on it) are lock-free, and cheaper than our locks
//! when many threads steal at once. But loom cannot see inside them, so the models below would check a copy of the
//! hand-off instead of the shipped code; and lock-free deques leave the hardest part to the pool: a worker that
//! saw every deque empty and is about to sleep races with a job being pushed, which rayon closes with a sleep
//! protocol of its own (counters of jobs and of sleepy threads). Here one lock makes "nothing anywhere, so I park"
//! a single critical section; the price is that stealing takes the pool's lock — only idle workers steal.
//!
//! Under `--cfg loom` the locks, the condition variables, the atomics and the threads (with `park`/`unpark`) are
//! loom's (see `primitive.rs`), and `loom-models/tests/loom_pool.rs` model-checks this very code: a job reaching a
//! parked or yielding worker, two submitters and two workers, `wait_idle`, a full bounded queue, both shutdowns,
//! and a job in a busy worker's batch stolen by the other worker — no lost wake-up, no deadlock, no job run twice.
//! Checked by injecting bugs, each of which makes a model fail: removing a submitter's wake-up, registering as
//! parked in a second critical section, skipping the last look after the yields, no notification for
//! `wait_idle`, no stealing, or moving a batch out of the queue in one critical section and into the worker's
//! batch in another without the wake-up that covers that gap.
//!
//! ## Batches were first taken without stealing: head-of-line blocking
//!
//! The first version with batches (issue 4) made a batch private: its worker ran it in order, and nobody else
//! could reach it. Lesson 09's exercise check caught what that means: 8 fake downloads on 3 workers, the first
//! 300 ms, the other seven 30 ms. A FIFO executor (Python's `ThreadPoolExecutor`, the `threadpool` crate, this
//! pool before batches) finishes the seven fast ones within about 120 ms and the slow one last. With private
//! batches, the first worker took the slow download and `https://example.com/a` together, and `a` finished after
//! the slow one, at about 330 ms, while the two other workers sat idle. For an executor of independent jobs
//! (requests, files) that is a wrong answer, not a slow one. The unit test
//! `no_job_waits_in_a_busy_workers_batch_while_another_worker_is_free` reproduces it deterministically (a job that
//! waits until the 47 jobs after it have run; with private batches, 15 of them were stuck in its batch).
//!
//! What remains: a worker looks at the queue first, and steals only when the queue is empty. So while a steady
//! stream keeps the queue from emptying, a job in the batch of a worker busy with a long job can be overtaken by
//! newer jobs — never while a worker is idle, and at most until its owner finishes the job it is running.
//! Stealing first (the batches' jobs are older than any in the queue) would keep the order closer to FIFO, but
//! every worker would then lock every other worker's batch each time it comes back for jobs, busy pool or not.
//!
//! ## Measured (criterion, `cargo bench -p support --bench pool`, 2 cores, 2 workers, machine shared)
//!
//! Two runs of the whole bench, load average 1.3–4 from other work on the machine. Absolute numbers move a lot
//! between runs (rayon's and threadpool's more than ours), so compare within a run:
//!
//! | benchmark | support | threadpool | rayon | ratio |
//! |---|---|---|---|---|
//! | 100 000 tiny jobs, one `execute` each | 21.5 / 23.3 M jobs/s | 11.9 / 10.2 M/s | 3.1 / 6.8 M/s (scope spawn) | 1.8× / 2.3× the faster |
//! | 100 000 tiny items through `map` (batched) | 789 / 794 M items/s | – | – | – |
//! | submit → result round trip | 1.85 / 1.82 µs | 39 / 24 µs | 16.1 / 15.8 µs (spawn + channel) | 0.11× / 0.12× rayon's time |
//! | 10 000 jobs from 1, 2, 4, 8 submitting threads | 21, 11–18, 21, 15–18 M/s | 20, 9, 15–17, 13–15 M/s | – | 1.05–2.0× |
//!
//! The rows above were measured before stealing was added. With it (same bench, one run, another build running
//! beside it): 17.2 M jobs/s against threadpool's 10.2 and rayon's 7.7 M/s — **1.68×** the faster; round trip
//! 1.92 µs against rayon's 18.1 µs (**0.11×** its time) and threadpool's 49.8 µs; from 1, 2, 4, 8 submitting threads
//! 15.9–18.3, 14.4, 18.2, 14.2 M/s against threadpool's 19.7–22.4, 9.6, 13.8, 13.1 M/s: **0.71–0.93×** with one
//! submitter (threadpool's single channel suits one producer best), 1.50×, 1.32×, 1.08×. A second run on a quieter
//! machine (load average 1.9): 14.8 M jobs/s against threadpool's 11.9 and rayon's 3.1 — **1.24×** the faster;
//! round trip 5.5 µs against rayon's 15.2 µs (**0.36×**); 1, 2, 4, 8 submitters 0.80×, 1.95×, 1.24×, 1.27×
//! threadpool. Stealing costs the busy path nothing: a worker looks at other batches only when the queue is empty.
//!
//! Three earlier runs of the same code with more load (average about 3): 1.2×, 4.2× and 4.5× the faster for one
//! job per `execute`, round trip 0.1–0.5× rayon's. Where the time went before — jobs in a crossbeam channel, idle
//! workers blocked in its `recv`, 0.5–1.2× rayon in six runs — and what each change bought:
//!
//! - Mostly in the benchmark: support's and threadpool's jobs cloned an `Arc` per job, rayon's borrowed, so every
//!   job moved one cache line among three threads. With the same `static` counter for all, the old pool was
//!   1.2× rayon or more — but threadpool became the faster of the two, and the old pool was 0.66–1.3× threadpool,
//!   with a round trip of 3–17 µs, slower than rayon's in four runs of seven.
//! - One lock and one job per lock: when the submitter and the workers run on different cores (checked by pinning
//!   the threads with `taskset`), every push and every take moves the lock's cache line between the cores, about
//!   80 ns per job — at most 12.5 M jobs/s. Hence the batches.
//! - Parking as soon as the queue is empty: a submitter a little slower than the workers kept finding them parked,
//!   up to 3 600 `unpark` system calls per 100 000 jobs in slow runs. Hence the yields before parking, by every
//!   idle worker (with only one worker allowed to yield, the other still parked, and was woken 6 400–7 400 times
//!   per 100 000 jobs with the threads pinned to different cores).
//! - Spinning (busy-waiting) 1–3 µs instead of yielding made the round trip 1.5–3 µs *slower*: the woken worker
//!   often lands on the submitter's core, and spins while the submitter waits for that core. For the same reason
//!   `join` yields rather than spins (with crossbeam's spinning `recv`, the round trip was usually 1.1–1.4×
//!   rayon's).
//!
//! Panics inside jobs are caught on the worker (`catch_unwind`), so the worker keeps serving; the default panic
//! hook still prints the panic message, as it does for any thread.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crossbeam_utils::CachePadded;

use crate::primitive::{
    lock_short, thread, Arc, AtomicBool, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering,
    ShortMutex,
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
/// runs every other thread before one that yields, which would hide what they can do meanwhile; the worker still
/// lets go of the lock and looks once more, and loom tries every interleaving in between.
const YIELDS_BEFORE_SLEEPING: u32 = if cfg!(loom) { 0 } else { 8 };

/// The most jobs a worker takes from an unbounded queue at once: the first it runs, the rest wait in its
/// [batch](Worker::batch). It takes a fair share — the queue's length divided by the number of workers — so that a
/// long queue costs one lock of the pool per batch instead of one per job.
const MAX_BATCH: usize = 16;

/// What submitters and workers share, all under [`Shared::state`]'s lock.
struct State {
    /// Jobs waiting for a worker, oldest first.
    jobs: VecDeque<Job>,
    /// Workers parked (or about to park) because they found no job. A submitter takes one off the list and
    /// unparks it.
    sleeping: Vec<thread::Thread>,
    /// Workers taken off `sleeping` and unparked that have not looked for jobs yet (`waking`), and workers awake
    /// without a job that look again before they park (`spinning`). Each of them will take a job or steal one, so
    /// a submitter wakes a sleeping worker only when the queued jobs outnumber them.
    waking: usize,
    spinning: usize,
    /// Jobs taken out of `jobs` by a worker (waiting in a batch, running, or finished) whose end has not been
    /// reported yet.
    taken: usize,
    /// Jobs finished (panicked ones included), and those that panicked.
    completed: usize,
    panicked: usize,
    /// Threads blocked in `wait_idle`, and in `submit` on a full bounded queue: workers signal the condition
    /// variables only when someone waits, so that a busy pool makes no system call for them.
    idle_waiters: usize,
    space_waiters: usize,
    /// How many times the pool has been seen to become idle. `wait_idle` returns when it changes, not only when the
    /// pool is idle as it looks: a job queued right after an idle moment must not hide that moment from a waiter
    /// that wakes up late (issue 14, finding 6).
    idle_moments: u64,
    /// `shutdown` was called: no new jobs; workers leave once no job is waiting anywhere.
    closed: bool,
}

impl State {
    fn is_idle(&self) -> bool {
        self.jobs.is_empty() && self.taken == 0
    }

    /// After jobs were reported finished or dropped: if that made the pool idle, counts the moment, and says
    /// whether to notify `wait_idle`.
    fn check_idle(&mut self) -> bool {
        if !self.is_idle() {
            return false;
        }
        self.idle_moments += 1;
        self.idle_waiters > 0
    }

    /// Queues a job and returns the sleeping worker to unpark for it, if one is needed.
    fn push(&mut self, job: Job) -> Option<thread::Thread> {
        self.jobs.push_back(job);
        if self.jobs.len() <= self.waking + self.spinning {
            return None; // enough workers are awake and will look
        }
        self.wake_one()
    }

    /// Takes a sleeping worker off the list, to be unparked once the lock is released. `None`: nobody sleeps.
    fn wake_one(&mut self) -> Option<thread::Thread> {
        let worker = self.sleeping.pop()?;
        self.waking += 1;
        Some(worker)
    }
}

/// What a worker reports each time it comes back for jobs: those it finished since the last time.
#[derive(Default, Clone, Copy)]
struct Report {
    finished: usize,
    panicked: usize,
}

/// One worker's own queue and activity, on its own cache line.
struct Worker {
    /// The rest of the batch this worker took (from the pool's queue, or stolen from another worker's batch): jobs
    /// it will run next, not started yet, oldest first. Its owner pops from the front holding only this lock —
    /// uncontended, on its own cache line. Other workers steal from it, and jobs go into it, only under the pool's
    /// lock. Lock order: the pool's lock, then a batch's lock; never the pool's lock while holding a batch's.
    batch: ShortMutex<VecDeque<Job>>,
    /// Running a job now (for [`ThreadPool::stats`]); written only by the owner.
    busy: AtomicBool,
}

struct Shared {
    state: Mutex<State>,
    /// Notified when the pool becomes idle (no job queued or taken) and someone waits in `wait_idle`.
    idle: Condvar,
    /// Notified when jobs leave a full bounded queue and a submitter waits for room.
    space: Condvar,
    /// `queue_bound`, if any.
    bound: Option<usize>,
    workers: Vec<CachePadded<Worker>>,
    /// `state.jobs.len()`, stored under the lock whenever it changes, read without the lock by idle workers.
    queued: AtomicUsize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No code of ours panics while holding the lock and jobs never run under it, so poisoning cannot happen;
        // take the state anyway rather than turn one panic into many.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a job, waiting for room if the queue is bounded and full. On a closed pool the job comes back.
    fn push(&self, job: Job) -> Result<(), Job> {
        let mut state = self.lock();
        if let Some(bound) = self.bound {
            while state.jobs.len() >= bound && !state.closed {
                state.space_waiters += 1;
                state = self.space.wait(state).unwrap_or_else(|p| p.into_inner());
                state.space_waiters -= 1;
            }
        }
        if state.closed {
            // The caller drops the job after the lock is released: its captures' `Drop` may be any code.
            return Err(job);
        }
        let wake = state.push(job);
        self.queued.store(state.jobs.len(), Ordering::Relaxed);
        drop(state);
        // Unpark after unlocking, so that the worker does not wake up only to wait for our lock.
        if let Some(worker) = wake {
            worker.unpark();
        }
        Ok(())
    }

    /// The worker's side: records its report, then returns the next job to run — the first of its share of the
    /// queue (the rest go into its batch), or else one stolen from another worker's batch — parking while there is
    /// none. `None` means the pool is shut down and no job waits anywhere: the worker exits.
    fn take_jobs(&self, me: usize, report: Report) -> Option<Job> {
        let mut state = self.lock();
        state.taken -= report.finished;
        state.completed += report.finished;
        state.panicked += report.panicked;
        if report.finished > 0 && state.check_idle() {
            self.idle.notify_all();
        }
        // Whether this worker has already looked again (yielding) since it last woke up.
        let mut looked = false;
        loop {
            // The queue first, and when it is empty, another worker's batch: its owner is busy with a job.
            let next = self.take_share(me, &mut state);
            if let Some(job) = next.or_else(|| self.steal(me)) {
                // Jobs left waiting, and nobody awake to look for them: wake a sleeper (it will steal).
                let wake = self.wake_for_waiting(&mut state);
                drop(state);
                if let Some(worker) = wake {
                    worker.unpark();
                }
                return Some(job);
            }
            if state.closed {
                return None;
            }
            if !looked {
                // Stay awake a little, without the lock: submitters count us and wake nobody for one job.
                state.spinning += 1;
                looked = true;
                drop(state);
                self.yield_until_queued();
                state = self.lock();
                state.spinning -= 1;
                continue; // look at the queue and the batches again, under the lock
            }
            // Park. We saw the queue and every batch empty, and joining the list in the same critical section is
            // what makes the wake-up impossible to miss: jobs reach the queue or a batch only under this lock, and
            // whoever puts them there after we unlock finds us on the list.
            let me = thread::current();
            state.sleeping.push(me.clone());
            drop(state);
            thread::park();
            state = self.lock();
            match state.sleeping.iter().position(|t| t.id() == me.id()) {
                // Still on the list: `park` returned spuriously. Off the list, to look at the queue.
                Some(i) => {
                    state.sleeping.swap_remove(i);
                }
                // Taken off by a submitter, a worker or `shutdown`, which counted us in `waking`: we are here.
                None => state.waking -= 1,
            }
            looked = false;
        }
    }

    /// Under the pool's lock: takes this worker's share of the queue, returns its first job and puts the rest in
    /// the worker's batch. `None` if the queue is empty.
    fn take_share(&self, me: usize, state: &mut State) -> Option<Job> {
        let first = state.jobs.pop_front()?;
        let share = match self.bound {
            // A bounded queue is for back-pressure: one job at a time, so that the bound counts every job not
            // started.
            Some(_) => 1,
            None => ((state.jobs.len() + 1) / self.workers.len()).clamp(1, MAX_BATCH),
        };
        if share > 1 {
            // Moved under the pool's lock: a worker about to park sees these jobs either in the queue or here.
            lock_short(&self.workers[me].batch).extend(state.jobs.drain(..share - 1));
        }
        state.taken += share;
        self.queued.store(state.jobs.len(), Ordering::Relaxed);
        if state.space_waiters > 0 {
            self.space.notify_all();
        }
        Some(first)
    }

    /// Under the pool's lock, with the queue empty: takes the older half (rounded up) of the first other worker's
    /// batch that has jobs waiting, returns its first job and puts the rest in this worker's batch (empty: a worker looks for jobs only
    /// when its batch is). The owner is busy running a job, or it would have taken them itself.
    fn steal(&self, me: usize) -> Option<Job> {
        let n = self.workers.len();
        for victim in (1..n).map(|i| (me + i) % n) {
            let mut theirs = lock_short(&self.workers[victim].batch);
            let Some(first) = theirs.pop_front() else {
                continue;
            };
            let half = theirs.len() / 2; // with `first`: half of the batch, rounded up
            let rest: Vec<Job> = theirs.drain(..half).collect();
            drop(theirs); // never two batch locks at once
            lock_short(&self.workers[me].batch).extend(rest);
            return Some(first);
        }
        None
    }

    /// Under the pool's lock, after a worker took a job: if jobs are still waiting — in the queue or in any batch —
    /// while a worker sleeps and none is awake to look (`waking`, `spinning`), takes one sleeper off the list to
    /// be unparked; it will take or steal them. So a job never waits in a busy worker's batch while all the idle
    /// workers sleep. The batches are looked at only in that case, which a busy pool seldom meets.
    fn wake_for_waiting(&self, state: &mut State) -> Option<thread::Thread> {
        if state.sleeping.is_empty() || state.waking + state.spinning > 0 {
            return None;
        }
        let waiting = !state.jobs.is_empty()
            || self
                .workers
                .iter()
                .any(|w| !lock_short(&w.batch).is_empty());
        if waiting {
            state.wake_one()
        } else {
            None
        }
    }

    /// An idle worker's wait before it parks: yields its core and looks at `queued` (no lock),
    /// [`YIELDS_BEFORE_SLEEPING`] times or until a job is queued.
    #[cfg_attr(loom, allow(clippy::reversed_empty_ranges))] // no yields under loom (see the constant)
    fn yield_until_queued(&self) {
        for _ in 0..YIELDS_BEFORE_SLEEPING {
            if self.queued.load(Ordering::Relaxed) > 0 {
                return;
            }
            thread::yield_now();
        }
    }

    /// Marks the pool closed and unparks every sleeping worker and blocked submitter, so that they see it.
    /// If `cancel`, returns every job not started — the queue's and the batches' — to be dropped by the caller,
    /// outside the lock.
    fn close(&self, cancel: bool) -> Vec<Job> {
        let mut state = self.lock();
        state.closed = true;
        let mut cancelled = Vec::new();
        if cancel {
            cancelled.extend(state.jobs.drain(..));
            self.queued.store(0, Ordering::Relaxed);
            for w in &self.workers {
                let mut batch = lock_short(&w.batch);
                // Taken, never to be reported finished: no longer counted as taken.
                state.taken -= batch.len();
                cancelled.extend(batch.drain(..));
            }
        }
        let sleepers = std::mem::take(&mut state.sleeping);
        state.waking += sleepers.len();
        self.space.notify_all();
        if state.check_idle() {
            self.idle.notify_all();
        }
        drop(state);
        for worker in sleepers {
            worker.unpark();
        }
        cancelled
    }
}

/// A snapshot of a pool's activity, from [`ThreadPool::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Worker threads.
    pub threads: usize,
    /// Jobs waiting: in the queue, or taken by a worker with a batch and not started yet.
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
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                sleeping: Vec::with_capacity(threads),
                waking: 0,
                spinning: 0,
                taken: 0,
                completed: 0,
                panicked: 0,
                idle_waiters: 0,
                space_waiters: 0,
                idle_moments: 0,
                closed: false,
            }),
            idle: Condvar::new(),
            space: Condvar::new(),
            bound: self.queue_bound,
            workers: (0..threads)
                .map(|_| {
                    CachePadded::new(Worker {
                        batch: ShortMutex::new(VecDeque::new()),
                        busy: AtomicBool::new(false),
                    })
                })
                .collect(),
            queued: AtomicUsize::new(0),
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

fn worker_loop(shared: &Shared, me: usize) {
    let worker = &shared.workers[me];
    let mut report = Report::default();
    while let Some(first) = shared.take_jobs(me, report) {
        report = Report::default();
        let mut next = Some(first);
        while let Some(job) = next {
            worker.busy.store(true, Ordering::Relaxed);
            report.panicked += usize::from(run(job));
            worker.busy.store(false, Ordering::Relaxed);
            report.finished += 1;
            // The next job of this worker's batch, unless another worker stole it meanwhile: only the batch's own
            // lock, released before the job runs. The pool's lock is taken once the batch is empty.
            next = lock_short(&worker.batch).pop_front();
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

    fn send(&self, job: Job) -> Result<(), PoolClosed> {
        self.shared.push(job).map_err(|job| {
            drop(job);
            PoolClosed
        })
    }

    /// Runs `f` on a worker, fire-and-forget. Blocks while a bounded queue is full.
    pub fn execute<F: FnOnce() + Send + 'static>(&self, f: F) -> Result<(), PoolClosed> {
        self.send(job(f))
    }

    /// Runs `f` on a worker and returns a handle to its result. Blocks while a bounded queue is full.
    pub fn submit<F, T>(&self, f: F) -> Result<JobHandle<T>, PoolClosed>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (result, rx) = crossbeam_channel::bounded(1);
        self.send(job_with_result(f, ResultSender(Some(result))))?;
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
        let mut state = self.shared.lock();
        if state.closed {
            return Err(TrySubmitError::Closed(f));
        }
        if self
            .shared
            .bound
            .is_some_and(|bound| state.jobs.len() >= bound)
        {
            return Err(TrySubmitError::Full(f));
        }
        // Checked under the lock, so the job is sure to be queued: only now does `f` go into a box.
        let (result, rx) = crossbeam_channel::bounded(1);
        let wake = state.push(job_with_result(f, ResultSender(Some(result))));
        self.shared
            .queued
            .store(state.jobs.len(), Ordering::Relaxed);
        drop(state);
        if let Some(worker) = wake {
            worker.unpark();
        }
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
    /// comes back for more, so a handle's result can arrive a moment before its job is counted; after
    /// [`wait_idle`](Self::wait_idle) the counts are exact.
    pub fn stats(&self) -> PoolStats {
        let workers = &self.shared.workers;
        let active = workers
            .iter()
            .filter(|w| w.busy.load(Ordering::Relaxed))
            .count();
        let state = self.shared.lock();
        // Lock order: the pool's lock, then each batch's.
        let batched: usize = workers.iter().map(|w| lock_short(&w.batch).len()).sum();
        PoolStats {
            threads: self.threads,
            queued: state.jobs.len() + batched,
            active,
            completed: state.completed,
            panicked: state.panicked,
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
        let mut state = self.shared.lock();
        let moments = state.idle_moments;
        state.idle_waiters += 1;
        let idle = loop {
            if state.is_idle() || state.idle_moments != moments {
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
        state.idle_waiters -= 1;
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
    /// (Python's `shutdown(cancel_futures=True)`). Jobs waiting in a worker's batch count as queued: they are
    /// dropped too. Panics if called inside one of the pool's own jobs.
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
    fn no_job_waits_in_a_busy_workers_batch_while_another_worker_is_free() {
        // Head-of-line blocking, found by lesson 09's exercise: a worker that takes a batch runs it in order, so a
        // job batched behind a slow one used to wait for it while the other workers were idle. Deterministic: the
        // "slow" job waits until every other job has run, so with the old pool its batch-mates never run
        // (a timeout below, an error, not a hang).
        let pool = ThreadPool::new(3).unwrap();
        // Hold all 3 workers so that the jobs below pile up and the first worker to come back takes a full batch
        // (48 / 3 = 16 jobs: the blocker and 15 short ones).
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
    fn shutdown_now_drops_the_jobs_waiting_in_a_batch() {
        let pool = ThreadPool::new(1).unwrap();
        // Hold the worker while 5 jobs pile up; then it takes them all as one batch (5 / 1 worker), runs the
        // first — which waits on `gate` — and keeps the 4 others in its batch.
        let hold = Arc::new(Event::new());
        let h = Arc::clone(&hold);
        pool.execute(move || {
            h.wait_timeout(LONG);
        })
        .unwrap();
        while pool.stats().active == 0 {
            std::thread::yield_now();
        }
        let gate = Arc::new(Event::new());
        let g = Arc::clone(&gate);
        let running = pool.submit(move || g.wait_timeout(LONG)).unwrap();
        let batched: Vec<_> = (0..4).map(|i| pool.submit(move || i).unwrap()).collect();
        hold.set();
        let deadline = Instant::now() + LONG;
        // The holding job ends; the worker comes back (counting it completed), takes the batch and starts `running`.
        while (pool.stats().completed, pool.stats().active) != (1, 1) && Instant::now() < deadline {
            std::thread::yield_now();
        }
        let stats = pool.stats();
        assert_eq!(
            (stats.active, stats.queued),
            (1, 4),
            "one job running, 4 waiting"
        );
        let opener = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                gate.set();
            })
        };
        assert_eq!(pool.shutdown_now(), 4, "the batch's jobs count as dropped");
        opener.join().unwrap();
        assert_eq!(running.join(), Ok(true), "the running job finished");
        assert!(batched
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
