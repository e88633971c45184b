//! The test suite of the `threadpool` crate (1.8.1, `src/lib.rs`, `mod test`), ported to support::pool, in the
//! crate's order. What maps where:
//!
//! | threadpool | support::pool |
//! |---|---|
//! | `ThreadPool::new(n)` (panics on 0) | `ThreadPool::new(n)` → `Err(BuildError::ZeroThreads)` on 0 |
//! | `with_name(name, n)`, threads named `name` | `builder().name_prefix(name)`, threads named `name-0`, `name-1`, … |
//! | `join()`: wait until no job is queued or running | `wait_idle(timeout)` |
//! | dropping the pool: workers finish the queue, detached | dropping the pool: workers finish the queue, joined |
//! | `active_count()`, `max_count()`, `panic_count()`, `queued_count()` | `stats()`: `active`, `threads`, `panicked`, `queued` |
//! | `Clone` (handles to one pool) | `Arc<ThreadPool>` |
//!
//! Tests that need what support does not have stay as comments saying why. Sleeps of seconds are cut to
//! milliseconds where only their order matters, and waits are bounded, so that a bug fails a test instead of
//! hanging it. Sizes are cut under Miri.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel};
use std::sync::{Arc, Barrier};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

use support::pool::{BuildError, ThreadPool};

const TEST_TASKS: usize = 4;
const LONG: Duration = Duration::from_secs(30);

/// Polls `cond` until it holds or `LONG` passes (where threadpool's tests sleep a second and hope).
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + LONG;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        sleep(Duration::from_millis(1));
    }
    false
}

// test_set_num_threads_increasing, test_set_num_threads_decreasing: n/a — support's pool has a fixed number of
// threads (no `set_num_threads`); build a new pool to change it.

#[test]
fn test_active_count() {
    // threadpool's jobs `loop { sleep(10 s) }` forever; support's pool joins its workers when dropped, so these
    // jobs end when the test lets them.
    let pool = ThreadPool::new(TEST_TASKS).unwrap();
    let release = Arc::new(AtomicBool::new(false));
    for _ in 0..2 * TEST_TASKS {
        let release = Arc::clone(&release);
        pool.execute(move || {
            eventually(|| release.load(Ordering::SeqCst));
        })
        .unwrap();
    }
    assert!(eventually(|| pool.stats().active == TEST_TASKS));
    sleep(Duration::from_millis(10));
    let stats = pool.stats();
    assert_eq!(stats.active, TEST_TASKS, "never more active than threads");
    assert_eq!(stats.threads, TEST_TASKS);
    release.store(true, Ordering::SeqCst);
    assert!(pool.wait_idle(LONG));
}

#[test]
fn test_works() {
    let pool = ThreadPool::new(TEST_TASKS).unwrap();
    let (tx, rx) = channel();
    for _ in 0..TEST_TASKS {
        let tx = tx.clone();
        pool.execute(move || {
            tx.send(1).unwrap();
        })
        .unwrap();
    }
    let sum: usize = (0..TEST_TASKS)
        .map(|_| rx.recv_timeout(LONG).unwrap())
        .sum();
    assert_eq!(sum, TEST_TASKS);
}

#[test]
fn test_zero_tasks_panic() {
    // threadpool panics; support returns an error that says why.
    assert_eq!(ThreadPool::new(0).unwrap_err(), BuildError::ZeroThreads);
}

#[test]
fn test_recovery_from_subtask_panic() {
    let pool = ThreadPool::new(TEST_TASKS).unwrap();
    // Panic all the existing threads. (threadpool replaces a worker whose job panicked; support's worker catches
    // the panic and keeps serving.)
    for _ in 0..TEST_TASKS {
        pool.execute(move || panic!("Ignore this panic, it must!"))
            .unwrap();
    }
    assert!(pool.wait_idle(LONG));
    assert_eq!(pool.stats().panicked, TEST_TASKS);
    // Every worker still serves.
    let (tx, rx) = channel();
    for _ in 0..TEST_TASKS {
        let tx = tx.clone();
        pool.execute(move || {
            tx.send(1).unwrap();
        })
        .unwrap();
    }
    let sum: usize = (0..TEST_TASKS)
        .map(|_| rx.recv_timeout(LONG).unwrap())
        .sum();
    assert_eq!(sum, TEST_TASKS);
}

#[test]
fn test_should_not_panic_on_drop_if_subtasks_panic_after_drop() {
    let pool = ThreadPool::new(TEST_TASKS).unwrap();
    let waiter = Arc::new(Barrier::new(TEST_TASKS + 1));
    // Panic all the existing threads in a bit.
    for _ in 0..TEST_TASKS {
        let waiter = Arc::clone(&waiter);
        pool.execute(move || {
            waiter.wait();
            panic!("Ignore this panic, it should!");
        })
        .unwrap();
    }
    // Dropping support's pool waits for the queued jobs, and they wait for the kick-off: kick it off from another
    // thread (threadpool's drop returns at once, so its test kicks off after the drop).
    let kick = thread::spawn(move || {
        waiter.wait();
    });
    drop(pool);
    kick.join().unwrap();
}

#[test]
fn test_massive_task_creation() {
    let test_tasks = if cfg!(miri) { 200 } else { 420_000 }; // threadpool: 4 200 000
    let pool = ThreadPool::new(TEST_TASKS).unwrap();
    let b0 = Arc::new(Barrier::new(TEST_TASKS + 1));
    let b1 = Arc::new(Barrier::new(TEST_TASKS + 1));
    let (tx, rx) = channel();
    for i in 0..test_tasks {
        let tx = tx.clone();
        let (b0, b1) = (Arc::clone(&b0), Arc::clone(&b1));
        pool.execute(move || {
            // Wait until the pool has been filled once.
            if i < TEST_TASKS {
                b0.wait();
                // wait so the pool can be measured
                b1.wait();
            }
            let _ = tx.send(1);
        })
        .unwrap();
    }
    b0.wait();
    assert_eq!(pool.stats().active, TEST_TASKS);
    b1.wait();
    let sum: usize = (0..test_tasks)
        .map(|_| rx.recv_timeout(LONG).unwrap())
        .sum();
    assert_eq!(sum, test_tasks);
    assert!(pool.wait_idle(LONG));
    let active = pool.stats().active;
    assert!(active == 0, "active: {active}");
}

// test_shrink: n/a — no `set_num_threads` (a fixed number of threads).

#[test]
fn test_name() {
    let name = "test";
    let pool = ThreadPool::builder()
        .threads(2)
        .name_prefix(name)
        .build()
        .unwrap();
    let (tx, rx) = sync_channel(0);
    // initial threads are named after the prefix: `test-0`, `test-1`
    for _ in 0..2 {
        let tx = tx.clone();
        pool.execute(move || {
            let name = thread::current().name().unwrap().to_owned();
            tx.send(name).unwrap();
        })
        .unwrap();
    }
    // threadpool then grows the pool with `set_num_threads(3)` (n/a here) and checks the new thread's name. A
    // panicking job, and the thread that runs the next job, keep the name too (support's worker survives the
    // panic; threadpool's is replaced by a new thread of the same name).
    let tx_clone = tx.clone();
    pool.execute(move || {
        let name = thread::current().name().unwrap().to_owned();
        tx_clone.send(name).unwrap();
        panic!();
    })
    .unwrap();
    pool.execute(move || {
        let name = thread::current().name().unwrap().to_owned();
        tx.send(name).unwrap();
    })
    .unwrap();
    for _ in 0..4 {
        let thread_name = rx.recv_timeout(LONG).unwrap();
        assert!(
            thread_name == "test-0" || thread_name == "test-1",
            "{thread_name}"
        );
    }
}

#[test]
fn test_debug() {
    // support's Debug shows the pool's stats (threadpool's: name, queued, active and max count).
    let pool = ThreadPool::new(4).unwrap();
    let debug = format!("{pool:?}");
    assert_eq!(
        debug,
        "ThreadPool { stats: PoolStats { threads: 4, queued: 0, active: 0, completed: 0, panicked: 0 } }"
    );
    let gate = Arc::new(Barrier::new(2));
    let g = Arc::clone(&gate);
    pool.execute(move || {
        g.wait();
    })
    .unwrap();
    assert!(eventually(|| pool.stats().active == 1));
    let debug = format!("{pool:?}");
    assert_eq!(
        debug,
        "ThreadPool { stats: PoolStats { threads: 4, queued: 0, active: 1, completed: 0, panicked: 0 } }"
    );
    gate.wait();
}

#[test]
fn test_repeate_join() {
    let pool = ThreadPool::builder()
        .threads(8)
        .name_prefix("repeate join test")
        .build()
        .unwrap();
    let test_count = Arc::new(AtomicUsize::new(0));
    let nap = Duration::from_millis(if cfg!(miri) { 1 } else { 50 }); // threadpool: 2 s
    for _ in 0..42 {
        let test_count = Arc::clone(&test_count);
        pool.execute(move || {
            sleep(nap);
            test_count.fetch_add(1, Ordering::Release);
        })
        .unwrap();
    }
    println!("{pool:?}");
    assert!(pool.wait_idle(LONG));
    assert_eq!(42, test_count.load(Ordering::Acquire));
    for _ in 0..42 {
        let test_count = Arc::clone(&test_count);
        pool.execute(move || {
            sleep(nap);
            test_count.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    }
    assert!(pool.wait_idle(LONG));
    assert_eq!(84, test_count.load(Ordering::Relaxed));
}

#[test]
fn test_multi_join() {
    // Jobs of pool0 queue jobs on pool1, which wait for pool0 to be idle: waiting for a pool from inside
    // another pool's job. (Clones of threadpool's pools are `Arc`s here.) threadpool's test also asserts that
    // nothing was sent yet right after queueing, which races with the workers; left out.
    let pool0 = Arc::new(
        ThreadPool::builder()
            .threads(4)
            .name_prefix("multi join pool0")
            .build()
            .unwrap(),
    );
    let pool1 = Arc::new(
        ThreadPool::builder()
            .threads(4)
            .name_prefix("multi join pool1")
            .build()
            .unwrap(),
    );
    let (tx, rx) = channel();
    for i in 0..8 {
        let pool1 = Arc::clone(&pool1);
        let pool0_ = Arc::clone(&pool0);
        let tx = tx.clone();
        pool0
            .execute(move || {
                pool1
                    .execute(move || {
                        assert!(pool0_.wait_idle(LONG));
                        tx.send(i).expect("send i from pool1 -> main");
                    })
                    .unwrap();
            })
            .unwrap();
    }
    drop(tx);
    assert!(pool0.wait_idle(LONG));
    assert!(pool1.wait_idle(LONG));
    let sum: i32 = rx.iter().sum();
    assert_eq!(sum, 1 + 2 + 3 + 4 + 5 + 6 + 7);
}

#[test]
fn test_empty_pool() {
    // Joining an empty pool must return imminently
    let pool = ThreadPool::new(4).unwrap();
    assert!(pool.wait_idle(Duration::ZERO));
}

#[test]
fn test_no_fun_or_joy() {
    // What happens when you keep adding jobs after a join
    fn sleepy_function() {
        sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 60 })); // threadpool: 6 s
    }
    let pool = Arc::new(
        ThreadPool::builder()
            .threads(8)
            .name_prefix("no fun or joy")
            .build()
            .unwrap(),
    );
    pool.execute(sleepy_function).unwrap();
    let p_t = Arc::clone(&pool);
    let adder = thread::spawn(move || {
        for _ in 0..23 {
            p_t.execute(sleepy_function).unwrap();
        }
    });
    assert!(pool.wait_idle(LONG));
    adder.join().unwrap();
}

#[test]
fn test_clone() {
    // threadpool's clones are handles to one pool; here, an `Arc<ThreadPool>`.
    let pool = Arc::new(
        ThreadPool::builder()
            .threads(2)
            .name_prefix("clone example")
            .build()
            .unwrap(),
    );
    // This batch of jobs will occupy the pool for some time
    for _ in 0..6 {
        pool.execute(move || {
            sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 50 })); // threadpool: 2 s
        })
        .unwrap();
    }
    // The following jobs will be inserted into the pool in a random fashion
    let t0 = {
        let pool = Arc::clone(&pool);
        thread::spawn(move || {
            // wait for the first batch of tasks to finish
            assert!(pool.wait_idle(LONG));
            let (tx, rx) = channel();
            for i in 0..42 {
                let tx = tx.clone();
                pool.execute(move || {
                    tx.send(i).expect("channel will be waiting");
                })
                .unwrap();
            }
            drop(tx);
            rx.iter().sum::<i32>()
        })
    };
    let t1 = {
        let pool = Arc::clone(&pool);
        thread::spawn(move || {
            // wait for the first batch of tasks to finish
            assert!(pool.wait_idle(LONG));
            let (tx, rx) = channel();
            for i in 1..12 {
                let tx = tx.clone();
                pool.execute(move || {
                    tx.send(i).expect("channel will be waiting");
                })
                .unwrap();
            }
            drop(tx);
            rx.iter().product::<i32>()
        })
    };
    assert_eq!(
        861,
        t0.join()
            .expect("thread 0 will return after calculating additions")
    );
    assert_eq!(
        39916800,
        t1.join()
            .expect("thread 1 will return after calculating multiplications")
    );
}

// test_sync_shared_data, test_send_shared_data: n/a as written — they check threadpool's private
// `ThreadPoolSharedData`. The public equivalent for support: the pool and its handles can be shared and sent.
#[test]
fn test_sync_and_send_pool_and_handles() {
    fn assert_sync<T: Sync>() {}
    fn assert_send<T: Send>() {}
    assert_sync::<ThreadPool>();
    assert_send::<ThreadPool>();
    assert_send::<support::pool::JobHandle<u32>>();
}

#[test]
fn test_send() {
    fn assert_send<T: Send>() {}
    assert_send::<ThreadPool>();
}

// test_cloned_eq: n/a — support's ThreadPool is neither `Clone` nor `PartialEq` (share it with an `Arc`;
// `Arc::ptr_eq` says whether two handles are the same pool).

/// The scenario is joining threads should not be stuck once their wave of joins has completed. So once one
/// thread joining on a pool has succeeded other threads joining on the same pool must get out even if the thread
/// is used for other jobs while the first group is finishing their join.
///
/// In this example this means the waiting threads will exit the join in groups of four because the waiter pool
/// has four workers. (Issue 14's finding 6: support's `wait_idle` used to miss such a moment.) Timing-based, as
/// in threadpool: one-second clock ticks; not run under Miri.
#[test]
#[cfg_attr(miri, ignore)]
fn test_join_wavesurfer() {
    let n_cycles = 4;
    let n_workers = 4;
    let (tx, rx) = channel();
    let builder = ThreadPool::builder()
        .threads(n_workers)
        .name_prefix("join wavesurfer");
    let p_waiter = builder.clone().build().unwrap();
    let p_clock = Arc::new(builder.build().unwrap());

    let barrier = Arc::new(Barrier::new(3));
    let wave_clock = Arc::new(AtomicUsize::new(0));
    let clock_thread = {
        let barrier = Arc::clone(&barrier);
        let wave_clock = Arc::clone(&wave_clock);
        thread::spawn(move || {
            barrier.wait();
            for wave_num in 0..n_cycles {
                wave_clock.store(wave_num, Ordering::SeqCst);
                sleep(Duration::from_secs(1));
            }
        })
    };

    {
        let barrier = Arc::clone(&barrier);
        p_clock
            .execute(move || {
                barrier.wait();
                // this sleep is for stabilisation on weaker platforms
                sleep(Duration::from_millis(100));
            })
            .unwrap();
    }

    // prepare three waves of jobs
    for i in 0..3 * n_workers {
        let p_clock = Arc::clone(&p_clock);
        let tx = tx.clone();
        let wave_clock = Arc::clone(&wave_clock);
        p_waiter
            .execute(move || {
                let now = wave_clock.load(Ordering::SeqCst);
                assert!(p_clock.wait_idle(LONG));
                // submit jobs for the second wave
                p_clock.execute(|| sleep(Duration::from_secs(1))).unwrap();
                let clock = wave_clock.load(Ordering::SeqCst);
                tx.send((now, clock, i)).unwrap();
            })
            .unwrap();
    }
    println!("all scheduled at {}", wave_clock.load(Ordering::SeqCst));
    barrier.wait();

    assert!(p_clock.wait_idle(LONG));
    //p_waiter.join();

    drop(tx);
    let mut hist = vec![0; n_cycles];
    let mut data = vec![];
    for (now, after, i) in rx.iter() {
        let mut dur = after - now;
        if dur >= n_cycles - 1 {
            dur = n_cycles - 1;
        }
        hist[dur] += 1;
        data.push((now, after, i));
    }
    for (i, n) in hist.iter().enumerate() {
        println!("\t{}: {} {}", i, n, "*".repeat(*n));
    }
    assert!(data.iter().all(|&(cycle, stop, i)| if i < n_workers {
        cycle == stop
    } else {
        cycle < stop
    }));

    clock_thread.join().unwrap();
}
