//! support::conn_pool with in-memory managers: limits, timeouts, panics, broken connections, maintenance.
//! Every wait in these tests has a deadline, so a bug shows up as a failure, never as a hang.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::conn_pool::{
    BuildError, DemoManager, Error, ManageConnection, Pool, PooledConnection,
};

const LONG: Duration = Duration::from_secs(10);

/// A manager that counts open connections (a connection decrements the count when dropped, i.e. closed) and
/// remembers the most ever open at once.
#[derive(Default)]
struct Counting {
    open: Arc<AtomicUsize>,
    max_open: AtomicUsize,
    opened: AtomicUsize,
    refuse: AtomicBool,
    /// `is_valid` fails for connections with an id below this.
    invalid_below: AtomicUsize,
}

struct Conn {
    id: usize,
    broken: bool,
    open: Arc<AtomicUsize>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug)]
struct Refused;
impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused")
    }
}
impl std::error::Error for Refused {}

impl ManageConnection for Counting {
    type Connection = Conn;
    type Error = Refused;
    fn connect(&self) -> Result<Conn, Refused> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(Refused);
        }
        let now = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_open.fetch_max(now, Ordering::SeqCst);
        Ok(Conn {
            id: self.opened.fetch_add(1, Ordering::SeqCst),
            broken: false,
            open: Arc::clone(&self.open),
        })
    }
    fn is_valid(&self, conn: &mut Conn) -> Result<(), Refused> {
        if conn.id < self.invalid_below.load(Ordering::SeqCst) {
            Err(Refused)
        } else {
            Ok(())
        }
    }
    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.broken
    }
}

/// Polls `cond` until it holds or `LONG` passes.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + LONG;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

fn quiet<M: ManageConnection>() -> support::conn_pool::Builder<M> {
    // No maintenance thread unless a test asks for one.
    Pool::builder().max_lifetime(None).idle_timeout(None)
}

#[test]
fn exhaustion_gives_a_timeout_error_within_the_timeout() {
    let pool = quiet()
        .max_size(2)
        .connection_timeout(Duration::from_millis(100))
        .build(Counting::default())
        .unwrap();
    let _a = pool.get().unwrap();
    let _b = pool.get().unwrap();
    let start = Instant::now();
    let err = pool.get().unwrap_err();
    let took = start.elapsed();
    match err {
        Error::Timeout { max_size, waited } => {
            assert_eq!(max_size, 2);
            assert!(waited >= Duration::from_millis(100), "waited {waited:?}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(took < Duration::from_secs(5), "returned promptly: {took:?}");
    let msg = pool.get().unwrap_err().to_string();
    assert!(
        msg.contains("all 2 connections") && msg.contains("ms"),
        "{msg}"
    );
    assert_eq!(pool.state().timed_out, 2);
    assert!(matches!(
        pool.try_get(),
        Err(Error::Exhausted { max_size: 2 })
    ));
}

#[test]
fn a_waiter_gets_the_connection_that_comes_back() {
    let pool = quiet()
        .max_size(1)
        .connection_timeout(LONG)
        .build(Counting::default())
        .unwrap();
    let held = pool.get().unwrap();
    let id = held.id;
    std::thread::scope(|s| {
        let waiter = s.spawn(|| pool.get().map(|c| c.id));
        assert!(
            eventually(|| pool.state().waiting == 1),
            "the waiter is counted"
        );
        drop(held);
        assert_eq!(
            waiter.join().unwrap().unwrap(),
            id,
            "handed over, not reopened"
        );
    });
    assert_eq!(pool.state().created, 1);
    assert_eq!(pool.state().waiting, 0);
}

#[test]
fn a_guard_dropped_by_a_panic_returns_the_connection() {
    let pool = quiet().max_size(1).build(Counting::default()).unwrap();
    let p = pool.clone();
    let result = std::thread::spawn(move || {
        let _conn = p.get().unwrap();
        panic!("the holder fails");
    })
    .join();
    assert!(result.is_err());
    let state = pool.state();
    assert_eq!((state.connections, state.idle, state.in_use), (1, 1, 0));
    let conn = pool.try_get().expect("the connection came back");
    assert_eq!(conn.id, 0, "the same connection");
    assert_eq!(pool.state().created, 1);
}

#[test]
fn a_broken_connection_is_never_handed_out_again() {
    let pool = quiet().max_size(3).build(Counting::default()).unwrap();
    let mut conn = pool.get().unwrap();
    let broken_id = conn.id;
    conn.broken = true;
    drop(conn);
    assert_eq!(pool.state().discarded, 1);
    assert_eq!(pool.state().connections, 0);
    for _ in 0..100 {
        let conns: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
        assert!(conns.iter().all(|c| c.id != broken_id));
    }
    assert_eq!(
        pool.manager().open.load(Ordering::SeqCst),
        3,
        "closed, not leaked"
    );
}

#[test]
fn a_connection_failing_its_check_on_checkout_is_replaced() {
    let pool = quiet().max_size(3).build(Counting::default()).unwrap();
    drop((
        pool.get().unwrap(),
        pool.get().unwrap(),
        pool.get().unwrap(),
    ));
    assert_eq!(pool.state().idle, 3);
    pool.manager().invalid_below.store(3, Ordering::SeqCst); // ids 0, 1, 2 went bad while idle
    let conn = pool.get().unwrap();
    assert_eq!(conn.id, 3, "all three bad ones skipped, a new one opened");
    let state = pool.state();
    assert_eq!((state.discarded, state.connections), (3, 1));
    assert_eq!(pool.manager().open.load(Ordering::SeqCst), 1);
}

#[test]
fn max_size_is_never_exceeded_under_contention() {
    const THREADS: usize = if cfg!(miri) { 4 } else { 16 };
    const PER_THREAD: usize = if cfg!(miri) { 100 } else { 100_000 / THREADS };
    const MAX: usize = 4;
    // Maintenance runs too (short lifetimes, min_idle), and every 500th connection breaks, so that discards,
    // replacements and the maintenance thread's connects all race with get/put.
    let pool = Pool::builder()
        .max_size(MAX)
        .min_idle(2)
        .max_lifetime(Some(Duration::from_millis(20)))
        .idle_timeout(Some(Duration::from_millis(10)))
        .connection_timeout(Duration::from_secs(60))
        .build(Counting::default())
        .unwrap();
    let in_use = AtomicUsize::new(0);
    let max_in_use = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (pool, in_use, max_in_use) = (&pool, &in_use, &max_in_use);
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    let mut conn = pool.get().expect("no timeout with a 60 s limit");
                    let now = in_use.fetch_add(1, Ordering::SeqCst) + 1;
                    max_in_use.fetch_max(now, Ordering::SeqCst);
                    if (t * PER_THREAD + i) % 500 == 0 {
                        conn.broken = true;
                    }
                    in_use.fetch_sub(1, Ordering::SeqCst);
                }
            });
        }
    });
    let manager = pool.manager();
    assert!(max_in_use.load(Ordering::SeqCst) <= MAX);
    assert!(
        manager.max_open.load(Ordering::SeqCst) <= MAX,
        "at most {MAX} connections ever open, saw {}",
        manager.max_open.load(Ordering::SeqCst)
    );
    let state = pool.state();
    assert_eq!((state.in_use, state.waiting, state.timed_out), (0, 0, 0));
    assert!(state.discarded >= (THREADS * PER_THREAD / 500) as u64);
    // The pool's thread keeps closing and reopening (20 ms lifetimes, min_idle): a connection it is opening or
    // closing is open for the manager but not counted in `connections`. Once it is between two rounds, they agree.
    assert!(
        eventually(|| manager.open.load(Ordering::SeqCst) == pool.state().connections),
        "the pool's count is right: {} open, {}",
        manager.open.load(Ordering::SeqCst),
        pool.state()
    );
    let open = Arc::clone(&manager.open);
    drop(pool);
    assert_eq!(
        open.load(Ordering::SeqCst),
        0,
        "every connection closed with the pool"
    );
}

#[test]
fn min_idle_is_opened_at_build_and_kept() {
    let pool = quiet()
        .max_size(5)
        .min_idle(3)
        .build(Counting::default())
        .unwrap();
    assert_eq!(pool.state().idle, 3, "opened by build");
    let mut conns: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    for c in &mut conns {
        c.broken = true;
    }
    drop(conns);
    assert!(
        eventually(|| pool.state().idle >= 3),
        "the maintenance thread replaced them: {}",
        pool.state()
    );
    assert!(pool.state().connections <= 5);
}

#[test]
fn idle_timeout_closes_idle_connections_beyond_min_idle() {
    let pool = quiet()
        .max_size(4)
        .min_idle(1)
        .idle_timeout(Some(Duration::from_millis(40)))
        .build(Counting::default())
        .unwrap();
    drop((0..4).map(|_| pool.get().unwrap()).collect::<Vec<_>>());
    assert_eq!(pool.state().connections, 4);
    assert!(
        eventually(|| pool.state().connections == 1),
        "3 idle ones closed: {}",
        pool.state()
    );
    std::thread::sleep(Duration::from_millis(200));
    let state = pool.state();
    assert_eq!(state.connections, 1, "min_idle kept: {state}");
    assert_eq!(state.created, 4, "the kept one is not closed and reopened");
    assert_eq!(pool.manager().open.load(Ordering::SeqCst), 1);
}

#[test]
// Under Miri every step moves the clock on, so 50 ms pass within a few calls: the test would measure Miri's clock.
#[cfg_attr(miri, ignore)]
fn max_lifetime_closes_connections_when_they_come_back_and_while_idle() {
    let pool = quiet()
        .max_size(2)
        .max_lifetime(Some(Duration::from_millis(50)))
        .build(Counting::default())
        .unwrap();
    // Lent out past its lifetime: closed when given back (or, if the maintenance thread was slow to move the
    // pool's clock on a loaded machine, at its next wake-up).
    let conn = pool.get().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(conn);
    assert!(
        eventually(|| pool.state().connections == 0),
        "{}",
        pool.state()
    );
    assert_eq!(pool.state().discarded, 1);
    // Idle past its lifetime: closed by the maintenance thread.
    drop(pool.get().unwrap());
    assert!(
        eventually(|| pool.state().connections == 0),
        "{}",
        pool.state()
    );
    // A fresh connection: id 2, or later if that one too outlived its 50 ms before `get` saw it (a loaded machine,
    // Miri's slow clock).
    assert!(
        pool.get().unwrap().id >= 2,
        "a fresh connection, not a closed one"
    );
    assert!(
        pool.manager().open.load(Ordering::SeqCst) <= 1,
        "expired connections are closed"
    );
}

#[test]
fn build_rejects_bad_settings_with_clear_errors() {
    let err = |b: support::conn_pool::Builder<DemoManager>| {
        b.build(DemoManager::new()).unwrap_err().to_string()
    };
    assert_eq!(
        err(Pool::builder().max_size(0)),
        "max_size must be at least 1 (got 0)"
    );
    assert_eq!(
        err(Pool::builder().max_size(2).min_idle(3)),
        "min_idle (3) is larger than max_size (2)"
    );
    assert!(err(Pool::builder().connection_timeout(Duration::ZERO))
        .starts_with("connection_timeout must be"));
    assert!(
        err(Pool::builder().idle_timeout(Some(Duration::ZERO))).starts_with("idle_timeout must be")
    );
    assert!(
        err(Pool::builder().max_lifetime(Some(Duration::ZERO))).starts_with("max_lifetime must be")
    );
    assert!(err(Pool::builder().connection_timeout(Duration::MAX)).contains("at most 24 h"));
}

#[test]
fn build_fails_when_the_first_connect_fails_with_the_cause_as_source() {
    let manager = Counting::default();
    manager.refuse.store(true, Ordering::SeqCst);
    let err = Pool::builder().build(manager).unwrap_err();
    assert!(matches!(err, BuildError::Connect(Refused)));
    let source = std::error::Error::source(&err).expect("the cause");
    assert_eq!(source.to_string(), "refused");
}

#[test]
fn a_failed_connect_in_get_is_an_error_and_frees_the_slot() {
    let pool = quiet().max_size(2).build(Counting::default()).unwrap();
    let first = pool.get().unwrap();
    pool.manager().refuse.store(true, Ordering::SeqCst);
    let err = pool.get().unwrap_err();
    assert!(matches!(err, Error::Connect(Refused)));
    assert!(std::error::Error::source(&err).is_some());
    pool.manager().refuse.store(false, Ordering::SeqCst);
    let second = pool.get().expect("the room was given back");
    assert_eq!(pool.state().connections, 2);
    drop((first, second));
}

#[test]
fn a_guard_can_outlive_its_pool() {
    let pool = Pool::builder()
        .max_size(2)
        .build(Counting::default())
        .unwrap();
    let open = Arc::clone(&pool.manager().open);
    let conn = pool.get().unwrap();
    drop(pool); // stops the maintenance thread
    assert_eq!(conn.id, 0, "still usable");
    drop(conn);
    assert_eq!(open.load(Ordering::SeqCst), 0, "closed with the last guard");
}

#[test]
fn pool_is_send_sync_and_guards_are_send() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Pool<DemoManager>>();
    send::<PooledConnection<DemoManager>>();
    send_sync::<Error<support::conn_pool::DemoError>>();
}

#[test]
fn state_counts_and_displays() {
    let pool = quiet().max_size(3).build(DemoManager::new()).unwrap();
    let a = pool.get().unwrap();
    let b = pool.get().unwrap();
    let ids: HashSet<_> = [a.id(), b.id()].into();
    assert_eq!(ids.len(), 2);
    let state = pool.state();
    assert_eq!(
        (state.connections, state.idle, state.in_use, state.created),
        (2, 0, 2, 2)
    );
    assert_eq!(
        state.to_string(),
        "2 connections (0 idle, 2 in use), 0 waiting; created 2, timed out 0, discarded 0"
    );
}
