//! [`ThreadPool`]: the Rust answer to Python's `concurrent.futures.ThreadPoolExecutor` — a fixed set of worker
//! threads taking jobs from a queue (a crossbeam channel).
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
//! ## Measured (criterion, `cargo bench -p support --bench pool`, 2 cores, 2 workers, one run, machine shared)
//!
//! | benchmark | support | threadpool | rayon | std thread per job |
//! |---|---|---|---|---|
//! | 100 000 tiny jobs, one job each | 3.6 M jobs/s | 3.1 M/s | 8.0 M/s (scope spawn) | – |
//! | 100 000 tiny items through `map` (batched) | 486 M items/s | – | – | – |
//! | submit → result round trip | 6.0 µs | 15.5 µs | 7.5 µs (spawn + channel) | 53.6 µs |
//!
//! Ratios: one-job-per-item throughput 1.17× threadpool but 0.45× rayon (rayon's per-worker deques avoid the
//! shared queue); the target of 1.1× the faster of the two is met only by batching (`map`: 60× rayon's per-job
//! rate). The round trip is 0.80× rayon's time (target: no slower — met). Per-job counters live on per-worker
//! cache lines so that workers never contend on them; the shared crossbeam queue is what remains.
//!
//! Panics inside jobs are caught on the worker (`catch_unwind`), so the worker keeps serving; the default panic
//! hook still prints the panic message, as it does for any thread.

use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle as ThreadHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use crossbeam_utils::CachePadded;

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

/// A queued job. `run` returns whether it panicked; `into_any` lets `try_submit` give the caller's closure back.
trait Runnable: Send {
    fn run(self: Box<Self>) -> bool;
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

struct Task<F>(F);

impl<F: FnOnce() + Send + 'static> Runnable for Task<F> {
    fn run(self: Box<Self>) -> bool {
        catch_unwind(AssertUnwindSafe(self.0)).is_err()
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

struct SubmitTask<F, T> {
    f: F,
    result: ResultSender<T>,
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

impl<F: FnOnce() -> T + Send + 'static, T: Send + 'static> Runnable for SubmitTask<F, T> {
    fn run(self: Box<Self>) -> bool {
        let SubmitTask { f, result } = *self;
        let outcome = catch_unwind(AssertUnwindSafe(f))
            .map_err(|payload| JobError::Panicked(panic_message(payload.as_ref())));
        let panicked = outcome.is_err();
        result.send(outcome);
        panicked
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

enum Message {
    Job(Box<dyn Runnable>),
    Stop,
}

/// Counters written by one worker only, each on its own cache line, so that workers never contend on them.
#[derive(Default)]
struct WorkerCounters {
    completed: AtomicUsize,
    panicked: AtomicUsize,
    active: AtomicUsize,
}

struct Counters {
    submitted: CachePadded<AtomicUsize>,
    cancelled: AtomicUsize,
    workers: Vec<CachePadded<WorkerCounters>>,
    closed: AtomicBool,
    /// Threads inside `wait_idle`. Workers notify only when it is non-zero, so a busy pool that nobody waits on
    /// pays no lock and no system call per job.
    idle_waiters: AtomicUsize,
    idle_lock: Mutex<()>,
    idle: Condvar,
}

impl Counters {
    fn new(threads: usize) -> Self {
        Counters {
            submitted: CachePadded::new(AtomicUsize::new(0)),
            cancelled: AtomicUsize::new(0),
            workers: (0..threads).map(|_| CachePadded::default()).collect(),
            closed: AtomicBool::new(false),
            idle_waiters: AtomicUsize::new(0),
            idle_lock: Mutex::new(()),
            idle: Condvar::new(),
        }
    }

    fn done(&self) -> usize {
        // SeqCst, with the SeqCst of `completed`'s increment and of `idle_waiters`: see `notify_idle`.
        self.workers
            .iter()
            .map(|w| w.completed.load(Ordering::SeqCst))
            .sum::<usize>()
            + self.cancelled.load(Ordering::SeqCst)
    }

    fn is_idle(&self) -> bool {
        // Read `done` first: every job counted done was counted submitted before it was sent.
        let done = self.done();
        done >= self.submitted.load(Ordering::SeqCst)
    }

    /// Called by a worker after it counted a job completed (SeqCst) and saw the queue empty.
    ///
    /// Why no wake-up is lost: `wait_idle` registers in `idle_waiters` (SeqCst) and then reads the counters
    /// (SeqCst) while holding `idle_lock`, and keeps holding it until it sleeps. In the single order of SeqCst
    /// operations, either the worker's load of `idle_waiters` comes after the registration — it then takes the lock,
    /// which it can only get once the waiter sleeps, and wakes it — or before it, and then the worker's increment
    /// of `completed` also comes before the waiter reads the counters, so the waiter sees the pool idle and does not
    /// sleep.
    fn notify_idle(&self) {
        if self.idle_waiters.load(Ordering::SeqCst) == 0 {
            return;
        }
        let _guard = self.idle_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.idle.notify_all();
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
    /// (back-pressure), and `try_submit` returns the job. Default: unbounded.
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
        let (tx, rx) = match self.queue_bound {
            Some(0) => return Err(BuildError::ZeroQueueBound),
            Some(bound) => crossbeam_channel::bounded(bound),
            None => crossbeam_channel::unbounded(),
        };
        let counters = Arc::new(Counters::new(threads));
        let mut workers = Vec::with_capacity(threads);
        for i in 0..threads {
            let rx: Receiver<Message> = rx.clone();
            let counters = Arc::clone(&counters);
            let spawned = std::thread::Builder::new()
                .name(format!("{}-{i}", self.name_prefix))
                .spawn(move || worker_loop(i, rx, counters));
            match spawned {
                Ok(handle) => workers.push(handle),
                Err(e) => {
                    for _ in &workers {
                        let _ = tx.send(Message::Stop);
                    }
                    for w in workers {
                        let _ = w.join();
                    }
                    return Err(BuildError::Spawn(e.to_string()));
                }
            }
        }
        Ok(ThreadPool {
            tx,
            rx,
            counters,
            workers: Mutex::new(workers),
            threads,
        })
    }
}

fn worker_loop(index: usize, rx: Receiver<Message>, counters: Arc<Counters>) {
    let mine = &counters.workers[index];
    // Idle workers block in `recv`: they sleep in the kernel, they do not spin.
    while let Ok(Message::Job(job)) = rx.recv() {
        mine.active.store(1, Ordering::Relaxed);
        if job.run() {
            mine.panicked.fetch_add(1, Ordering::Relaxed);
        }
        mine.active.store(0, Ordering::Relaxed);
        mine.completed.fetch_add(1, Ordering::SeqCst);
        if rx.is_empty() {
            // The queue ran dry: someone may be waiting in `wait_idle`.
            counters.notify_idle();
        }
    }
}

/// A fixed set of named worker threads running jobs from a queue. See the [module docs](self).
pub struct ThreadPool {
    tx: Sender<Message>,
    rx: Receiver<Message>, // kept to drain the queue in `shutdown_now`
    counters: Arc<Counters>,
    workers: Mutex<Vec<ThreadHandle<()>>>,
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

    fn send(&self, job: Box<dyn Runnable>) -> Result<(), PoolClosed> {
        if self.counters.closed.load(Ordering::Acquire) {
            return Err(PoolClosed);
        }
        self.counters.submitted.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(Message::Job(job)).is_err() {
            self.counters.cancelled.fetch_add(1, Ordering::SeqCst);
            return Err(PoolClosed);
        }
        Ok(())
    }

    /// Runs `f` on a worker, fire-and-forget. Blocks while a bounded queue is full.
    pub fn execute<F: FnOnce() + Send + 'static>(&self, f: F) -> Result<(), PoolClosed> {
        self.send(Box::new(Task(f)))
    }

    /// Runs `f` on a worker and returns a handle to its result. Blocks while a bounded queue is full.
    pub fn submit<F, T>(&self, f: F) -> Result<JobHandle<T>, PoolClosed>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (result, rx) = crossbeam_channel::bounded(1);
        let result = ResultSender(Some(result));
        self.send(Box::new(SubmitTask { f, result }))?;
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
        if self.counters.closed.load(Ordering::Acquire) {
            return Err(TrySubmitError::Closed(f));
        }
        let (result, rx) = crossbeam_channel::bounded(1);
        let result = ResultSender(Some(result));
        self.counters.submitted.fetch_add(1, Ordering::SeqCst);
        match self
            .tx
            .try_send(Message::Job(Box::new(SubmitTask { f, result })))
        {
            Ok(()) => Ok(JobHandle { rx }),
            Err(e) => {
                self.counters.cancelled.fetch_add(1, Ordering::SeqCst);
                let full = matches!(e, TrySendError::Full(_));
                let Message::Job(job) = e.into_inner() else {
                    unreachable!("we sent a job")
                };
                let task = job
                    .into_any()
                    .downcast::<SubmitTask<F, T>>()
                    .unwrap_or_else(|_| unreachable!("the job we built"));
                Err(if full {
                    TrySubmitError::Full(task.f)
                } else {
                    TrySubmitError::Closed(task.f)
                })
            }
        }
    }

    /// Applies `f` to every item on the pool and returns the results in input order (Python's `executor.map`).
    /// Items are sent in batches (a few per worker), so tiny jobs do not pay one queue round trip each.
    /// The first panic in `f` is returned as an error once all batches are done.
    pub fn map<I, T, F>(&self, items: I, f: F) -> Result<Vec<T>, JobError>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
    {
        let items: Vec<I::Item> = items.into_iter().collect();
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let batches = (self.threads * 4).min(items.len());
        let size = items.len().div_ceil(batches);
        let f = Arc::new(f);
        let mut handles = Vec::with_capacity(batches);
        let mut rest = items;
        while !rest.is_empty() {
            let tail = rest.split_off(size.min(rest.len()));
            let batch = std::mem::replace(&mut rest, tail);
            let f = Arc::clone(&f);
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

    /// Runs jobs that borrow from the caller's stack, like `std::thread::scope` but on the pool's workers:
    /// every job spawned in the scope has finished when `scope` returns.
    ///
    /// ```
    /// use support::pool::ThreadPool;
    /// let pool = ThreadPool::new(2).unwrap();
    /// let words = vec!["scoped", "jobs", "borrow"];
    /// let mut lengths = vec![0; words.len()];
    /// pool.scope(|s| {
    ///     for (word, len) in words.iter().zip(lengths.iter_mut()) {
    ///         s.spawn(move || *len = word.len()); // borrows `words` and `lengths`
    ///     }
    /// });
    /// assert_eq!(lengths, [6, 4, 6]);
    /// ```
    ///
    /// If a job panics, `scope` panics after all jobs have finished (as `std::thread::scope` does). Do not call
    /// `scope` from inside one of this pool's jobs: the waiting worker could be the one its jobs need.
    pub fn scope<'env, R>(
        &self,
        f: impl for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    ) -> R {
        let scope = Scope {
            pool: self,
            state: Arc::new(ScopeState::default()),
            _env: std::marker::PhantomData,
        };
        // Waits for the scope's jobs on every exit path, a panic in `f` included: the jobs borrow from the
        // caller's stack, which must outlive them.
        struct WaitAll(Arc<ScopeState>);
        impl Drop for WaitAll {
            fn drop(&mut self) {
                let mut pending = self.0.pending.lock().unwrap_or_else(|p| p.into_inner());
                while *pending > 0 {
                    pending = self.0.done.wait(pending).unwrap_or_else(|p| p.into_inner());
                }
            }
        }
        let wait = WaitAll(Arc::clone(&scope.state));
        let result = f(&scope);
        drop(wait);
        let panicked = scope
            .state
            .panic
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(message) = panicked {
            panic!("a job in ThreadPool::scope panicked: {message}");
        }
        result
    }

    /// A snapshot of the pool's counters.
    pub fn stats(&self) -> PoolStats {
        let sum = |f: fn(&WorkerCounters) -> &AtomicUsize| {
            self.counters
                .workers
                .iter()
                .map(|w| f(w).load(Ordering::Relaxed))
                .sum()
        };
        PoolStats {
            threads: self.threads,
            queued: self.tx.len(),
            active: sum(|w| &w.active),
            completed: sum(|w| &w.completed),
            panicked: sum(|w| &w.panicked),
        }
    }

    /// Waits at most `timeout` until no job is queued or running; returns whether the pool became idle.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut guard = self
            .counters
            .idle_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        self.counters.idle_waiters.fetch_add(1, Ordering::SeqCst);
        // Unregisters on every way out, a panic included.
        struct Unregister<'a>(&'a AtomicUsize);
        impl Drop for Unregister<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _registered = Unregister(&self.counters.idle_waiters);
        while !self.counters.is_idle() {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            guard = self
                .counters
                .idle
                // Re-check at least every 50 ms as a safety net; workers notify when the queue runs dry.
                .wait_timeout(guard, (deadline - now).min(Duration::from_millis(50)))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    fn stop_workers(&self) {
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        // One Stop per worker, queued behind the jobs already waiting: each worker takes one and exits.
        for _ in &workers {
            let _ = self.tx.send(Message::Stop);
        }
        for w in workers {
            // Job panics are caught inside the worker, so a worker thread does not panic.
            let _ = w.join();
        }
    }

    /// Stops taking jobs, runs every job already queued, and joins the workers (Python's `shutdown(wait=True)`).
    /// Later submissions return [`PoolClosed`]. Calling it twice is harmless.
    pub fn shutdown(&self) {
        self.counters.closed.store(true, Ordering::Release);
        self.stop_workers();
    }

    /// Stops taking jobs, drops the queued ones (their handles report [`JobError::Cancelled`]), lets running jobs
    /// finish, joins the workers, and returns how many queued jobs were dropped
    /// (Python's `shutdown(cancel_futures=True)`).
    pub fn shutdown_now(&self) -> usize {
        self.counters.closed.store(true, Ordering::Release);
        let mut dropped = 0;
        while let Ok(msg) = self.rx.try_recv() {
            if let Message::Job(job) = msg {
                drop(job);
                dropped += 1;
                self.counters.cancelled.fetch_add(1, Ordering::SeqCst);
            }
        }
        self.stop_workers();
        self.counters.notify_idle();
        dropped
    }
}

#[derive(Default)]
struct ScopeState {
    pending: Mutex<usize>,
    done: Condvar,
    panic: Mutex<Option<String>>,
}

/// Spawns jobs that may borrow for `'env`; see [`ThreadPool::scope`].
pub struct Scope<'scope, 'env: 'scope> {
    pool: &'scope ThreadPool,
    state: Arc<ScopeState>,
    // Invariant in 'env and 'scope, as in std::thread::Scope.
    _env: std::marker::PhantomData<(&'scope mut &'scope (), &'env mut &'env ())>,
}

impl<'scope> Scope<'scope, '_> {
    /// Runs `f` on one of the pool's workers. If the pool is already shut down, `f` runs on the calling thread.
    pub fn spawn<F: FnOnce() + Send + 'scope>(&'scope self, f: F) {
        if self.pool.counters.closed.load(Ordering::Acquire) {
            f();
            return;
        }
        /// Counts the job done when dropped: after it ran, or when it is dropped without running
        /// (`shutdown_now`), so that `scope` can never wait for a job that will not come.
        struct Done(Arc<ScopeState>);
        impl Drop for Done {
            fn drop(&mut self) {
                let mut pending = self.0.pending.lock().unwrap_or_else(|p| p.into_inner());
                *pending -= 1;
                if *pending == 0 {
                    self.0.done.notify_all();
                }
            }
        }
        *self.state.pending.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        let done = Done(Arc::clone(&self.state));
        let job = move || {
            let done = done;
            if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
                let mut first = done.0.panic.lock().unwrap_or_else(|p| p.into_inner());
                first.get_or_insert_with(|| panic_message(payload.as_ref()));
            }
        };
        let job: Box<dyn FnOnce() + Send + 'scope> = Box::new(job);
        // Safety: the job borrows data that lives for 'scope. `ThreadPool::scope` neither returns nor unwinds
        // before every `Done` of its jobs has been dropped, and a job's `Done` drops only after the job's closure
        // (with its borrows) has run or been dropped. So no borrow in the job outlives 'scope.
        let job: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(job) };
        if self.pool.execute(job).is_err() {
            // Shut down in between: the job was dropped unrun (its `Done` counted it). Say so at the scope's end.
            let mut first = self.state.panic.lock().unwrap_or_else(|p| p.into_inner());
            first.get_or_insert_with(|| "the pool was shut down; a job did not run".to_string());
        }
    }
}

impl Drop for ThreadPool {
    /// Graceful: runs the queued jobs, then joins the workers (as `shutdown`). A job that never ends would block
    /// here — give long jobs a way to stop (lesson 04).
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The result of a job submitted with [`ThreadPool::submit`]: Python's `Future`.
#[derive(Debug)]
pub struct JobHandle<T> {
    rx: Receiver<Result<T, JobError>>,
}

impl<T> JobHandle<T> {
    /// Waits for the job and returns its value, or why there is none.
    pub fn join(self) -> Result<T, JobError> {
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
    use std::sync::atomic::AtomicU8;

    const LONG: Duration = Duration::from_secs(30);

    #[test]
    fn every_job_runs_exactly_once_under_contention() {
        let pool = Arc::new(ThreadPool::new(4).unwrap());
        let jobs = 100_000;
        let ran: Arc<Vec<AtomicU8>> = Arc::new((0..jobs).map(|_| AtomicU8::new(0)).collect());
        std::thread::scope(|s| {
            for t in 0..16 {
                let (pool, ran) = (Arc::clone(&pool), Arc::clone(&ran));
                s.spawn(move || {
                    for i in (t..jobs).step_by(16) {
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
    fn panics_under_load_kill_no_worker() {
        let pool = ThreadPool::new(2).unwrap();
        let handles: Vec<_> = (0..200)
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
        assert_eq!((ok.len(), failed.len()), (180, 20));
        assert!(matches!(&failed[0], Err(JobError::Panicked(m)) if m == "job 0 fails"));
        assert_eq!(pool.stats().panicked, 20);
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
        for _ in 0..10_000 {
            let count = Arc::clone(&count);
            pool.execute(move || {
                count.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        }
        pool.shutdown();
        assert_eq!(count.load(Ordering::Relaxed), 10_000);
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
    fn scope_jobs_borrow_and_all_finish() {
        let pool = ThreadPool::new(2).unwrap();
        let data: Vec<u64> = (1..=1000).collect();
        let total = AtomicUsize::new(0);
        pool.scope(|s| {
            for chunk in data.chunks(100) {
                let total = &total;
                s.spawn(move || {
                    total.fetch_add(chunk.iter().sum::<u64>() as usize, Ordering::Relaxed);
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 500_500);
    }

    #[test]
    fn scope_panics_after_waiting_when_a_job_panics() {
        let pool = ThreadPool::new(2).unwrap();
        let finished = AtomicUsize::new(0);
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|s| {
                s.spawn(|| panic!("scoped job fails"));
                for _ in 0..10 {
                    s.spawn(|| {
                        std::thread::sleep(Duration::from_millis(2));
                        finished.fetch_add(1, Ordering::SeqCst);
                    });
                }
            })
        }));
        assert!(result.is_err());
        assert_eq!(
            finished.load(Ordering::SeqCst),
            10,
            "all other jobs finished first"
        );
        assert_eq!(pool.submit(|| 3).unwrap().join(), Ok(3));
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
