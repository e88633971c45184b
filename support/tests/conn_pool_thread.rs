//! The pool's thread (it opens connections and closes expired ones) stops when the last pool handle is dropped. A test binary of its own: it counts this
//! process's threads by name (Linux `/proc`), which other tests running in parallel would disturb.
#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use support::conn_pool::{DemoManager, Pool};

/// Polls until `n` threads named `conn-pool-maint` exist (a new thread sets its name itself, a joined one leaves
/// `/proc` a moment after `join` returns), for at most 5 s; returns the last count.
fn maintenance_threads_become(n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let count = maintenance_threads();
        if count == n || Instant::now() > deadline {
            return count;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn maintenance_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "conn-pool-maint")
        .count()
}

#[test]
#[cfg_attr(miri, ignore = "reads /proc, which Miri's isolation forbids")]
fn the_maintenance_thread_stops_when_the_pool_is_dropped() {
    assert_eq!(maintenance_threads(), 0);
    let pool = Pool::builder()
        .idle_timeout(Some(Duration::from_millis(20)))
        .build(DemoManager::new())
        .unwrap();
    let clone = pool.clone();
    assert_eq!(
        maintenance_threads_become(1),
        1,
        "one thread per pool, not per handle"
    );
    let guard = pool.get().unwrap();
    drop(pool);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(maintenance_threads(), 1, "a handle is left");
    drop(clone);
    assert_eq!(
        maintenance_threads_become(0),
        0,
        "stopped by the last handle's drop"
    );
    drop(guard); // a guard outliving the pool does not keep it alive

    // Without lifetimes the thread is still there: it opens the pool's connections (so that a `connect` that
    // hangs cannot hold `get`), and it still stops with the pool.
    let no_limits = Pool::builder()
        .max_lifetime(None)
        .idle_timeout(None)
        .build(DemoManager::new())
        .unwrap();
    assert_eq!(
        maintenance_threads_become(1),
        1,
        "one thread, to open connections"
    );
    drop(no_limits);
    assert_eq!(maintenance_threads_become(0), 0, "stopped with the pool");
}
