#![cfg(loom)]
//! loom models of support::conn_pool: the shipped `Pool`, whose `Mutex`, `Condvar`, `Arc` and threads come from
//! the crate's `primitive` module (loom's under `--cfg loom`). Every model includes the pool's own thread, which
//! opens connections: a `get` that finds none idle asks it for one and sleeps on a `Condvar`.
//! loom runs every interleaving and fails on a deadlock — a waiter never woken: a lost wake-up —, a failed
//! assertion, or a data race on a connection (each connection carries a loom `UnsafeCell` that its holder writes:
//! two holders at once, or a hand-over without the lock's ordering, is reported).
//!
//! Not modelled: timeouts (loom's `Condvar::wait_timeout` never times out, so a model that relied on one would
//! deadlock — none does: every wait here ends by a notification) and the maintenance rounds (`max_lifetime`,
//! `idle_timeout`: wall-clock driven; the tests in `support/tests/conn_pool*.rs` cover them).
//!
//! Run: `make loom` (`RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p loom-models --release`), part of `make test`.

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use support::conn_pool::{ManageConnection, Pool};

/// Counts connections open now and ever opened; a connection closes (decrements) when dropped.
struct Counting {
    open: Arc<AtomicUsize>,
    opened: AtomicUsize,
    /// `connect` fails once this many have been opened.
    limit: usize,
}

struct Conn {
    broken: bool,
    open: Arc<AtomicUsize>,
    /// Written by every holder (`use_it`): loom checks that each write happens after the previous holder's.
    uses: UnsafeCell<usize>,
}

impl Conn {
    fn use_it(&self) {
        // Safety (of the model): loom's `UnsafeCell` checks the access itself and fails the model on a race.
        self.uses.with_mut(|uses| unsafe { *uses += 1 });
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl ManageConnection for Counting {
    type Connection = Conn;
    type Error = std::io::Error;
    fn connect(&self) -> Result<Conn, std::io::Error> {
        if self.opened.load(Ordering::SeqCst) >= self.limit {
            return Err(std::io::Error::other("refused"));
        }
        self.opened.fetch_add(1, Ordering::SeqCst);
        self.open.fetch_add(1, Ordering::SeqCst);
        Ok(Conn {
            broken: false,
            open: Arc::clone(&self.open),
            uses: UnsafeCell::new(0),
        })
    }
    fn is_valid(&self, _: &mut Conn) -> Result<(), std::io::Error> {
        Ok(())
    }
    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.broken
    }
}

fn pool(max_size: usize) -> Pool<Counting> {
    pool_with(max_size, 0, usize::MAX)
}

fn pool_with(max_size: usize, min_idle: usize, limit: usize) -> Pool<Counting> {
    Pool::builder()
        .max_size(max_size)
        .min_idle(min_idle)
        // No maintenance rounds: the pool's thread only opens connections.
        .max_lifetime(None)
        .idle_timeout(None)
        .build(Counting {
            open: Arc::new(AtomicUsize::new(0)),
            opened: AtomicUsize::new(0),
            limit,
        })
        .unwrap()
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    model_bounded(None, f);
}

/// `bound`: at most that many preemptions per execution (loom's advice for larger models; most concurrency bugs
/// need two or three). `None`: every interleaving.
fn model_bounded(bound: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = bound;
    builder.check(f);
}

/// Two threads, one connection: the second waits for the first to give it back, is woken, and takes the very
/// same connection — never a second one, never both at once.
#[test]
fn a_returned_connection_is_handed_to_the_waiter_not_reopened() {
    model(|| {
        let pool = pool(1);
        let holders = Arc::new(AtomicUsize::new(0));
        let use_once = |pool: &Pool<Counting>, holders: &AtomicUsize| {
            let conn = pool.get().expect("the waiter is woken");
            conn.use_it();
            assert_eq!(
                holders.fetch_add(1, Ordering::SeqCst),
                0,
                "lent to two threads at once"
            );
            holders.fetch_sub(1, Ordering::SeqCst);
            drop(conn);
        };
        let t = {
            let (pool, holders) = (pool.clone(), Arc::clone(&holders));
            thread::spawn(move || use_once(&pool, &holders))
        };
        use_once(&pool, &holders);
        t.join().unwrap();
        let state = pool.state();
        assert_eq!((state.connections, state.idle, state.in_use), (1, 1, 0));
        assert_eq!(
            pool.manager().opened.load(Ordering::SeqCst),
            1,
            "opened once, by build"
        );
    });
}

/// One thread breaks its connection while the other waits: the broken one is closed, the waiter gets a fresh
/// one, and at most `max_size` are ever open.
#[test]
fn a_broken_connection_is_replaced_and_never_handed_out() {
    model(|| {
        let pool = pool(1);
        let t = {
            let pool = pool.clone();
            thread::spawn(move || {
                let mut conn = pool.get().unwrap();
                conn.broken = true;
            })
        };
        {
            let conn = pool.get().unwrap();
            assert!(!conn.broken, "a broken connection was handed out");
            assert!(pool.manager().open.load(Ordering::SeqCst) <= 1);
        }
        t.join().unwrap();
        let state = pool.state();
        assert!(state.connections <= 1 && state.in_use == 0);
        assert_eq!(
            pool.manager().open.load(Ordering::SeqCst),
            state.connections,
            "the pool's count matches what is open"
        );
    });
}

/// max_size 2, one connection open at build: two threads take one each (the pool's thread opens a second for
/// whoever finds none idle), and a `try_get` meanwhile never makes it three. Four threads (with the pool's and
/// `build`'s wait): bounded to 3 preemptions, as every interleaving did not finish in 10 minutes.
#[test]
fn max_size_two_never_opens_a_third_connection() {
    model_bounded(Some(3), || {
        let pool = pool(2);
        let t = {
            let pool = pool.clone();
            thread::spawn(move || drop(pool.get().unwrap()))
        };
        let conn = pool.get().unwrap();
        let extra = pool.try_get();
        assert!(pool.manager().open.load(Ordering::SeqCst) <= 2);
        drop((conn, extra));
        t.join().unwrap();
        assert!(pool.manager().opened.load(Ordering::SeqCst) <= 2);
        assert_eq!(pool.state().in_use, 0);
    });
}

/// Two connections idle; two threads each take one, use it and give it back. In some interleavings the second takes
/// the connection the first has just put back (the stack's top), and only the lock orders the two uses. A
/// connection is never lent to two threads at once and its data moves with it (both would be a race on `uses`),
/// none is lost or closed, and no third one is opened.
#[test]
fn connections_move_through_the_pool_without_loss_duplication_or_race() {
    model(|| {
        let pool = pool(2);
        // Two connections, idle.
        drop((pool.get().unwrap(), pool.get().unwrap()));
        let t = {
            let pool = pool.clone();
            thread::spawn(move || pool.get().unwrap().use_it())
        };
        pool.get().unwrap().use_it();
        t.join().unwrap();
        let state = pool.state();
        assert_eq!((state.connections, state.idle, state.in_use), (2, 2, 0));
        assert_eq!(
            pool.manager().opened.load(Ordering::SeqCst),
            2,
            "no third one opened"
        );
        assert_eq!(pool.manager().open.load(Ordering::SeqCst), 2, "none closed");
    });
}

/// `min_idle` 1 of 2: lending out the idle connection asks the pool's thread for a replacement at once, racing with
/// a second `get` that waits for one. Both get a connection (no lost wake-up), never more than 2 are opened, and
/// no connection leaks. Bounded to 5 preemptions: every interleaving did not finish in 12 minutes (5: about 12 s).
#[test]
fn min_idle_replacement_races_a_waiting_get() {
    model_bounded(Some(5), || {
        let pool = pool_with(2, 1, usize::MAX);
        let t = {
            let pool = pool.clone();
            thread::spawn(move || pool.get().unwrap().use_it())
        };
        pool.get().unwrap().use_it();
        t.join().unwrap();
        assert!(pool.manager().opened.load(Ordering::SeqCst) <= 2);
        assert_eq!(pool.state().in_use, 0);
        // A replacement may still be being opened here; once the pool is dropped (its thread joined), every
        // connection opened has been closed.
        let open = Arc::clone(&pool.manager().open);
        drop(pool);
        assert_eq!(open.load(Ordering::SeqCst), 0, "a connection leaked");
    });
}

/// A `connect` that fails while a `get` waits: the error reaches the waiter (or the connection given back does),
/// never a `get` left sleeping. The manager opens only the first connection.
#[test]
fn a_failed_connect_wakes_the_waiting_get() {
    model(|| {
        let pool = pool_with(2, 0, 1);
        let held = pool.get().unwrap();
        let t = {
            let pool = pool.clone();
            thread::spawn(move || pool.get().map(|c| c.use_it()).is_ok())
        };
        drop(held);
        let _got_one = t.join().unwrap(); // Ok (the connection given back) or Err(Connect): both fine
        let state = pool.state();
        assert_eq!((state.connections, state.in_use), (1, 0));
        assert_eq!(pool.manager().opened.load(Ordering::SeqCst), 1);
    });
}
