//! Regression tests for the support::pool findings of issue 14, one test per finding. Each failed on the pool
//! before the fix (the failure is quoted above each test) and passes now. Every wait has a deadline, so a bug
//! shows up as a failure, never as a hang.
//!
//! Findings 1 and 9 were about `ThreadPool::scope` (a pool scope whose jobs borrow, built on an `unsafe`
//! lifetime `transmute`): a use-after-free when `shutdown_now` dropped a queued scoped job, and a `scope` that
//! returned normally although one of its jobs was cancelled. `scope` is gone from support — a scope whose jobs
//! borrow is what `std::thread::scope` and `rayon::scope` do soundly — so those findings have no test here: the
//! code they were about no longer exists.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use support::pool::{JobError, PoolClosed, ThreadPool};

const LONG: Duration = Duration::from_secs(10);

/// A gate that jobs wait at until the test opens it; every wait gives up after [`LONG`], so that a failing test
/// ends instead of holding a worker.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
}

impl Gate {
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }
    fn wait(&self) -> bool {
        let open = self.open.lock().unwrap();
        let (open, _) = self.cv.wait_timeout_while(open, LONG, |o| !*o).unwrap();
        *open
    }
}

/// Polls `cond` until it holds or `LONG` passes; returns whether it held.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + LONG;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

/// A value whose `Drop` panics: a result nobody collects is dropped on the worker.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("PanicsOnDrop dropped");
    }
}

// Finding 4. Before the fix: `assertion left == right failed: the pool's only worker still serves;
// left: Err(TimedOut), right: Ok(1)` — the result was sent outside `catch_unwind`, its `Drop` panicked on the
// worker, and the worker thread died.
#[test]
fn finding_4_a_result_whose_drop_panics_does_not_kill_the_worker() {
    let pool = ThreadPool::new(1).unwrap();
    let gate = Arc::new(Gate::default());
    let handle = {
        let gate = Arc::clone(&gate);
        pool.submit(move || {
            gate.wait();
            PanicsOnDrop
        })
        .unwrap()
    };
    // Nobody will collect the result: the worker drops it, and its `Drop` panics.
    drop(handle);
    gate.open();
    assert_eq!(
        pool.submit(|| 1).unwrap().join_timeout(LONG),
        Ok(1),
        "the pool's only worker still serves"
    );
    assert!(pool.wait_idle(LONG));
    assert_eq!(pool.stats().panicked, 1, "the panic counts as the job's");
}

// Finding 6. Before the fix: `wait_idle missed the idle moment (round 0): a job queued right after it kept the
// pool busy until that job gave up waiting` — a woken waiter re-checked `is_idle` after a sibling had queued more,
// and went back to sleep. Threadpool's `test_join_wavesurfer` (ported in threadpool_suite.rs) checks the same.
#[test]
fn finding_6_wait_idle_sees_an_idle_moment_even_if_jobs_are_queued_right_after() {
    const WAITERS: usize = 4;
    for round in 0..if cfg!(miri) { 1 } else { 10 } {
        let pool = Arc::new(ThreadPool::new(1).unwrap());
        let gate = Arc::new(Gate::default());
        {
            let gate = Arc::clone(&gate);
            pool.execute(move || {
                gate.wait();
            })
            .unwrap();
        }
        let returned = Arc::new(AtomicUsize::new(0));
        let gave_up = Arc::new(AtomicUsize::new(0));
        let (entering, entered) = mpsc::channel();
        let waiters: Vec<_> = (0..WAITERS)
            .map(|_| {
                let (pool, returned, gave_up, entering) = (
                    Arc::clone(&pool),
                    Arc::clone(&returned),
                    Arc::clone(&gave_up),
                    entering.clone(),
                );
                std::thread::spawn(move || {
                    entering.send(()).unwrap();
                    let idle = pool.wait_idle(LONG);
                    returned.fetch_add(1, Ordering::SeqCst);
                    // Right away, more work: a job that waits until every waiter has returned. A waiter that
                    // missed the idle moment waits for the next one, which comes only when this job gives up.
                    let (returned, gave_up) = (Arc::clone(&returned), Arc::clone(&gave_up));
                    pool.execute(move || {
                        let deadline = Instant::now() + Duration::from_secs(2);
                        while returned.load(Ordering::SeqCst) < WAITERS {
                            if Instant::now() > deadline {
                                gave_up.fetch_add(1, Ordering::SeqCst);
                                return;
                            }
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    })
                    .unwrap();
                    idle
                })
            })
            .collect();
        for _ in 0..WAITERS {
            entered.recv_timeout(LONG).unwrap();
        }
        // Give the waiters time to get into `wait_idle` (the pool is busy: the gated job), then let it be idle.
        std::thread::sleep(Duration::from_millis(200));
        gate.open();
        for w in waiters {
            assert!(w.join().unwrap(), "wait_idle returned true");
        }
        assert!(pool.wait_idle(LONG));
        assert_eq!(
            gave_up.load(Ordering::SeqCst),
            0,
            "wait_idle missed the idle moment (round {round}): a job queued right after it kept the pool busy \
             until that job gave up waiting"
        );
    }
}

// Finding 7. Before the fix: `a shutdown returned before the queued jobs ran: 0 of 5 had run` — the first
// caller took the workers' handles, the second found none to join and returned at once.
#[test]
fn finding_7_every_concurrent_shutdown_returns_after_the_queued_jobs_ran() {
    let pool = Arc::new(ThreadPool::new(1).unwrap());
    let gate = Arc::new(Gate::default());
    {
        let gate = Arc::clone(&gate);
        pool.execute(move || {
            gate.wait();
        })
        .unwrap();
    }
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..5 {
        let ran = Arc::clone(&ran);
        pool.execute(move || {
            ran.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    let (returned, returns) = mpsc::channel();
    let callers: Vec<_> = (0..2)
        .map(|_| {
            let (pool, ran, returned) = (Arc::clone(&pool), Arc::clone(&ran), returned.clone());
            std::thread::spawn(move || {
                pool.shutdown();
                returned.send(ran.load(Ordering::SeqCst)).unwrap();
            })
        })
        .collect();
    assert!(
        eventually(|| pool.execute(|| {}) == Err(PoolClosed)),
        "a shutdown started"
    );
    // While the gate is closed no queued job can run, so no shutdown may return. Give both callers time to get
    // into `shutdown`; one that returns now returns too early.
    let early = returns.recv_timeout(Duration::from_secs(1));
    gate.open();
    if let Ok(ran) = early {
        panic!("a shutdown returned before the queued jobs ran: {ran} of 5 had run");
    }
    for _ in 0..2 {
        assert_eq!(
            returns.recv_timeout(LONG),
            Ok(5),
            "each shutdown returns after all 5 ran"
        );
    }
    for c in callers {
        c.join().unwrap();
    }
}

// Finding 8, `map`. Before the fix: `assertion failed: ... left: Err(TimedOut), right: Err(Panicked(..))` — the
// job waited for `map`'s batches, queued behind itself on the pool's only worker: a deadlock.
#[test]
fn finding_8_map_inside_a_job_of_the_same_pool_is_a_clear_error() {
    let pool = Arc::new(ThreadPool::new(1).unwrap());
    let inner = Arc::clone(&pool);
    let outcome = pool
        .submit(move || inner.map(0..4, |x: u32| x + 1))
        .unwrap()
        .join_timeout(LONG);
    match outcome {
        Err(JobError::Panicked(msg)) => assert!(
            msg.contains("inside one of its own jobs"),
            "a message that says what went wrong: {msg}"
        ),
        other => {
            // Leak the pool: its worker may be deadlocked, and dropping the pool would wait for it.
            std::mem::forget(pool);
            panic!("expected a clear panic from map, got {other:?}");
        }
    }
    assert_eq!(
        pool.map(0..4, |x: u32| x + 1),
        Ok(vec![1, 2, 3, 4]),
        "map from outside still works"
    );
}

// Finding 8, `shutdown`. Before the fix the job waited to join its own thread: `Err(Panicked("failed to join
// thread: Resource deadlock avoided (os error 35)"))`.
#[test]
fn finding_8_shutdown_inside_a_job_of_the_same_pool_is_a_clear_error() {
    let pool = Arc::new(ThreadPool::new(2).unwrap());
    let inner = Arc::clone(&pool);
    let outcome = pool
        .submit(move || inner.shutdown())
        .unwrap()
        .join_timeout(LONG);
    match outcome {
        Err(JobError::Panicked(msg)) => assert!(
            msg.contains("inside one of its own jobs"),
            "a message that says what went wrong: {msg}"
        ),
        other => {
            std::mem::forget(pool);
            panic!("expected a clear panic from shutdown, got {other:?}");
        }
    }
    assert_eq!(
        pool.submit(|| 2).unwrap().join_timeout(LONG),
        Ok(2),
        "the pool still serves"
    );
}

// Finding 8, dropping the last handle inside a job. Before the fix: `left: Err(Panicked("failed to join thread:
// Resource deadlock avoided (os error 35)")), right: Ok(7)`. Now the pool closes, the job returns, and the
// workers run what is queued and exit on their own (as the threadpool crate's workers do).
#[test]
fn finding_8_dropping_the_last_handle_inside_one_of_its_jobs_closes_the_pool_quietly() {
    let pool = Arc::new(ThreadPool::new(2).unwrap());
    let gate = Arc::new(Gate::default());
    let ran_after = Arc::new(AtomicBool::new(false));
    let handle = {
        let (inner, gate) = (Arc::clone(&pool), Arc::clone(&gate));
        pool.submit(move || {
            gate.wait();
            drop(inner); // the last handle: the pool is dropped on its own worker
            7
        })
        .unwrap()
    };
    let later = {
        let (gate, ran_after) = (Arc::clone(&gate), Arc::clone(&ran_after));
        pool.submit(move || {
            gate.wait();
            ran_after.store(true, Ordering::SeqCst);
        })
        .unwrap()
    };
    drop(pool);
    gate.open();
    assert_eq!(handle.join_timeout(LONG), Ok(7));
    assert_eq!(
        later.join_timeout(LONG),
        Ok(()),
        "the job queued beside it still ran"
    );
    assert!(ran_after.load(Ordering::SeqCst));
}
