#![cfg(loom)]
//! loom models of support::pool's hand-off: the shipped `ThreadPool`, whose lock, condition variables, atomics,
//! fences and threads come from the crate's `primitive` module (loom's under `--cfg loom`). loom runs every
//! interleaving of the threads below (up to the preemption bound where one is set) and fails on a deadlock — a
//! worker asleep with a job in the queue, a `wait_idle` or a blocked submitter never woken, a `shutdown` that
//! never joins — or on a failed assertion. Under loom, `wait_idle`'s timeout is not modelled (loom's `wait_timeout`
//! waits for a notification), so only the workers' notification can end the wait: a lost one is a deadlock. Under
//! loom an idle worker does not yield before it sleeps (see `YIELDS_BEFORE_SLEEPING`): loom would run every other
//! thread first and hide the races of that window.
//!
//! Not modelled: the job queue is crossbeam-deque's `Injector`, which is not built on loom's types (and loom
//! cannot see the hand-off of a job through it). Under loom, pool.rs puts a stand-in in its place: a loom lock
//! around a `VecDeque`, with its length in a loom atomic changed and read with `SeqCst`, as the `Injector`'s head
//! and tail indices are. So these models check the pool's own protocol around the queue — the counters, the
//! fences, the lock and the condition variables — but not the `Injector`'s insides (crossbeam tests those itself,
//! under Miri and ThreadSanitizer). A job's result travels through a crossbeam channel, which loom cannot see
//! either, so the models use `execute`, not `JobHandle::join`.
//!
//! Run: `make loom` (`RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p loom-models --release`), part
//! of `make test`.

use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use support::pool::{PoolClosed, ThreadPool};
use support::sync::Event;

/// Counts the job's runs; the `Arc` is shared with the model.
fn counting_job(ran: &Arc<AtomicUsize>) -> impl FnOnce() + Send + 'static {
    let ran = Arc::clone(ran);
    move || {
        ran.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_job_reaches_a_parked_or_parking_worker_and_shutdown_joins() {
    // The worker may park before the job is queued, or be about to: either way it must run the job exactly once,
    // and shutdown must wake it and join it.
    loom::model(|| {
        let pool = ThreadPool::new(1).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        pool.execute(counting_job(&ran)).unwrap();
        pool.shutdown();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(pool.execute(|| {}), Err(PoolClosed));
        assert_eq!(pool.stats().completed, 1);
    });
}

#[test]
fn wait_idle_is_woken_by_the_last_job() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let pool = ThreadPool::new(1).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        pool.execute(counting_job(&ran)).unwrap();
        // Only the worker's notification can end this wait under loom (see the module docs).
        assert!(pool.wait_idle(Duration::from_secs(60)));
        assert_eq!(ran.load(Ordering::SeqCst), 1, "idle means the job has run");
        let stats = pool.stats();
        assert_eq!((stats.queued, stats.active, stats.completed), (0, 0, 1));
    });
}

#[test]
fn two_submitters_two_workers_every_job_runs_once() {
    // Two jobs from two threads, two workers that park and wake: a submitter must not skip a wake-up that a
    // worker needs (the `waking` count), and no job may be run twice or lost. Exhaustive search over four threads
    // is too big for CI time; bounded to 2 preemptions (loom's advice: most bugs need only a few). A few seconds
    // here; a bound of 3 also passes, in 90 s.
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let pool = Arc::new(ThreadPool::new(2).unwrap());
        let ran = Arc::new(AtomicUsize::new(0));
        let other = {
            let (pool, ran) = (Arc::clone(&pool), Arc::clone(&ran));
            thread::spawn(move || pool.execute(counting_job(&ran)).unwrap())
        };
        pool.execute(counting_job(&ran)).unwrap();
        other.join().unwrap();
        assert!(pool.wait_idle(Duration::from_secs(60)));
        assert_eq!(ran.load(Ordering::SeqCst), 2);
        pool.shutdown();
    });
}

#[test]
fn a_full_bounded_queue_blocks_the_submitter_until_a_worker_takes_a_job() {
    // queue_bound(1), one worker: the second `execute` may find the queue full and must be woken when the worker
    // takes the first job.
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let pool = ThreadPool::builder()
            .threads(1)
            .queue_bound(1)
            .build()
            .unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        pool.execute(counting_job(&ran)).unwrap();
        pool.execute(counting_job(&ran)).unwrap();
        pool.shutdown();
        assert_eq!(ran.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn shutdown_now_either_runs_or_cancels_each_job() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let pool = ThreadPool::new(1).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        pool.execute(counting_job(&ran)).unwrap();
        pool.execute(counting_job(&ran)).unwrap();
        let cancelled = pool.shutdown_now();
        assert_eq!(ran.load(Ordering::SeqCst) + cancelled, 2);
        assert_eq!(pool.stats().completed + cancelled, 2);
    });
}

#[test]
fn a_second_job_reaches_the_other_worker_while_the_first_blocks() {
    // Two workers, four jobs. `first` blocks until `second` has run: only the other worker can run it, so a worker
    // that took `first` must not leave `second` in the queue while the other one sleeps (a submitter that skips the
    // wake-up because a worker is searching, a searcher that takes a job and wakes nobody, a lost wake-up). If
    // that happens the pool never becomes idle and loom reports a deadlock.
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let pool = ThreadPool::new(2).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let second_ran = Arc::new(Event::new());
        let gate = Arc::clone(&second_ran);
        pool.execute(move || gate.wait()).unwrap(); // `first`
        let gate = Arc::clone(&second_ran);
        pool.execute(move || gate.set()).unwrap(); // `second`
        pool.execute(counting_job(&ran)).unwrap();
        pool.execute(counting_job(&ran)).unwrap();
        // Not `shutdown` yet: it wakes every sleeping worker, which would rescue a stranded job.
        assert!(pool.wait_idle(Duration::from_secs(60)));
        assert_eq!(ran.load(Ordering::SeqCst), 2);
        assert_eq!(pool.stats().completed, 4);
        pool.shutdown();
    });
}

#[test]
fn wait_idle_sees_the_idle_moment_when_a_job_is_queued_right_after() {
    // Issue 14, finding 6. Two threads wait for the pool to be idle. The first to return queues a job that waits
    // until the other waiter has returned too. A waiter that re-checks only "is the pool idle now?" after waking
    // sees that job, waits for the next idle moment — which never comes — and loom reports a deadlock.
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let pool = Arc::new(ThreadPool::new(1).unwrap());
        // The first job ends only once both waiters are in `wait_idle`, so that the idle moment comes after both
        // calls.
        let inner = Arc::clone(&pool);
        pool.execute(move || {
            while inner.idle_waiters() < 2 {
                thread::yield_now();
            }
        })
        .unwrap();
        let returned = Arc::new(Event::new());
        let other = {
            let (pool, returned) = (Arc::clone(&pool), Arc::clone(&returned));
            thread::spawn(move || {
                assert!(pool.wait_idle(Duration::from_secs(60)));
                returned.set();
            })
        };
        assert!(pool.wait_idle(Duration::from_secs(60)));
        let gate = Arc::clone(&returned);
        pool.execute(move || gate.wait()).unwrap();
        other.join().unwrap();
        pool.shutdown();
    });
}
