#![cfg(loom)]
//! loom models of support::conn_pool's get/put hand-off: the shipped `Pool`, whose `Mutex`, `Condvar`, atomics,
//! fences, `Arc` and thread-locals come from the crate's `primitive` module (loom's under `--cfg loom`), with its
//! connections in the lock-free slots of `conn_pool/slots.rs` (the only `unsafe` code of the pool).
//! loom runs every interleaving (up to the preemption bound) and fails on a deadlock — a waiter never woken —, a
//! failed assertion, or a data race on a connection (each connection carries a loom `UnsafeCell` that its holder
//! writes: two holders at once, or a hand-over through a slot without Release/Acquire, is reported).
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
    Pool::builder()
        .max_size(max_size)
        // No maintenance thread: the model covers get and the guard's drop.
        .max_lifetime(None)
        .idle_timeout(None)
        .build(Counting {
            open: Arc::new(AtomicUsize::new(0)),
            opened: AtomicUsize::new(0),
        })
        .unwrap()
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = None;
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

/// Two slots, one connection open at build: two threads take one each (one opens a second), and a third
/// `try_get` never sees more than two.
#[test]
fn two_slots_never_open_a_third_connection() {
    model(|| {
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

/// Two connections idle in two slots; two threads each take one, use it and give it back, while their scans race
/// for the same slots. A connection is never lent to two threads at once and its data moves with it (both would
/// be a race on `uses`), none is lost or closed, and no third one is opened.
///
/// Both threads look at slot 0 first (their thread-local hints are fresh), so in some interleavings the second takes
/// the connection the first has just put back, and only the slot's Release/Acquire orders the two uses.
#[test]
fn connections_move_through_the_slots_without_loss_duplication_or_race() {
    model(|| {
        let pool = pool(2);
        // Two connections, idle in slots 0 and 1; opened on a thread of its own, so that the threads below start
        // with fresh hints (slot 0).
        let setup = pool.clone();
        thread::spawn(move || drop((setup.get().unwrap(), setup.get().unwrap())))
            .join()
            .unwrap();
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
