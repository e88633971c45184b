//! A connection pool: the Python tutorial's "connection pool with semaphores", made safe to copy into real code
//! (and, under contention, several times faster than r2d2).
//!
//! Opening a database connection is slow (a handshake, a file to open, pragmas to run), and a database accepts only
//! so many. A pool keeps a few open connections and lends them out: [`Pool::get`] waits for a free one,
//! the returned guard derefs to the connection, and dropping the guard gives the connection back.
//!
//! The tutorial's Python version:
//!
//! ```python
//! class ConnectionPool:
//!     def __init__(self, size):
//!         self.semaphore = threading.Semaphore(size)   # at most `size` connections lent out
//!         self.lock = threading.Lock()
//!         self.idle = [connect() for _ in range(size)]
//!
//!     def get(self):
//!         self.semaphore.acquire()                     # waits forever when all are lent out
//!         with self.lock:
//!             return self.idle.pop()
//!
//!     def put(self, conn):                             # forget to call it (an exception!) and the slot is lost
//!         with self.lock:
//!             self.idle.append(conn)
//!         self.semaphore.release()
//! ```
//!
//! The same shape in Rust, with what the Python version leaves out:
//!
//! | Python tutorial | here |
//! |---|---|
//! | `semaphore.acquire()` waits forever | [`Pool::get`] waits at most `connection_timeout` (30 s by default), then returns [`Error::Timeout`] naming the pool size and the time waited |
//! | `put(conn)` by hand; an exception in between loses the slot | the guard [`PooledConnection`] gives the connection back on drop, also when its holder panics |
//! | a broken connection goes back into the pool | [`ManageConnection::has_broken`] on return and [`ManageConnection::is_valid`] on checkout discard it; the next `get` opens a fresh one |
//! | all connections opened up front | opened on demand up to `max_size`, `min_idle` kept open, closed after `idle_timeout` or `max_lifetime` |
//! | no visibility | [`Pool::state`]: connections, idle, in use, waiting; created, timed out, discarded |
//!
//! ```
//! use std::time::Duration;
//! use support::conn_pool::{DemoManager, Error, Pool};
//!
//! let pool = Pool::builder()
//!     .max_size(2)
//!     .connection_timeout(Duration::from_millis(50))
//!     .build(DemoManager::new())
//!     .unwrap();
//!
//! std::thread::scope(|s| {
//!     for worker in 0..4 {
//!         let pool = pool.clone(); // cheap: an Arc inside
//!         s.spawn(move || {
//!             let conn = pool.get().unwrap(); // waits while 2 are lent out
//!             conn.query(&format!("worker {worker}"));
//!         }); // `conn` is dropped here: back to the pool, the next waiter gets it
//!     }
//! });
//! let state = pool.state();
//! assert!(state.connections <= 2 && state.in_use == 0 && state.waiting == 0);
//!
//! // Exhausted: a clear error after the timeout, never a hang.
//! let (_a, _b) = (pool.get().unwrap(), pool.get().unwrap());
//! let err = pool.get().unwrap_err();
//! assert!(matches!(err, Error::Timeout { max_size: 2, .. }));
//! println!("{err}"); // all 2 connections of the pool were in use; waited 50 ms (connection_timeout)
//! ```
//!
//! For a real database, enable the `sqlite` feature and use `sqlite::SqliteManager` (rusqlite with a bundled
//! SQLite: a file or a shared in-memory database, WAL, a busy timeout).
//!
//! # How it works
//!
//! The Python version needs a semaphore to count free connections and a lock around the list. Here the count and
//! the list are one thing: a row of `max_size` **slots**, one per connection the pool may open (`slots.rs`).
//!
//! - Each slot is one atomic pointer, on a cache line of its own: empty, being opened, lent out, or holding an idle
//!   connection. A thread wins a slot with one compare-exchange on that slot — no lock, no shared counter.
//! - `get` takes an idle connection, looking first in the slot this thread used last (a thread-local hint), then
//!   anywhere; if none is idle, it claims an empty slot and opens a connection for it. A connection exists only in
//!   or for a slot, so there are never more than `max_size`.
//! - The guard remembers its slot. Dropping it stores the connection back there (a plain `Release` store: nobody
//!   else may write a lent-out slot) and wakes a waiting `get`, if there is one.
//! - When every slot is lent out, `get` sleeps on a `Condvar`, at most `connection_timeout`. A sleeper counts itself
//!   in `waiting` before its last look at the slots; a guard looks at `waiting` after giving back. A `SeqCst` fence
//!   on each side guarantees that at least one of them sees the other (the "store buffering" pattern of *Rust
//!   Atomics and Locks*, ch. 3): no lost wake-up, and no lock or system call on return while nobody waits.
//! - Threads keep to their own slots, so two threads on two cores do not pull each other's cache lines: the only
//!   line every `get` and return writes is the `Arc`'s reference count (the guard keeps the pool alive). Under light
//!   load the same few connections stay warm, and the others stay idle long enough for `idle_timeout` to close them.
//! - Connecting, health checks and closing happen outside any lock. A connection is closed *before* its slot is
//!   emptied, so there are not more than `max_size` even for a moment.
//! - `slots.rs` holds the pool's only `unsafe` code (raw pointers from `Box::into_raw`), each block with its
//!   `Safety:` argument. loom models (`loom-models/tests/loom_conn_pool.rs`) run the shipped pool through every
//!   interleaving of two threads and fail on a lost wake-up, a connection lent twice, a third connection opened by
//!   two slots, or a hand-over without Release/Acquire (a data race on the connection). Miri is not installed
//!   here, so the pointer code has not been run under Miri.
//!
//! # Maintenance: one thread per pool, stopped when the pool is dropped
//!
//! When `min_idle > 0` or `idle_timeout` or `max_lifetime` is set (the default sets both), the pool starts one
//! thread, `conn-pool-maint`. It wakes every quarter of the shorter of the two durations (between 10 ms and 30 s),
//! and at once when a connection is discarded, to
//! - close idle connections older than `max_lifetime`, and idle ones beyond `min_idle` that have not been used for
//!   `idle_timeout`,
//! - open connections until `min_idle` are idle (never above `max_size`; a failed connect is retried at the next
//!   wake-up).
//!
//! `get` and the guard's drop never wait for it. A connection that comes back older than `max_lifetime` is closed
//! on the spot; one that expires while idle is closed at the next wake-up (it can be lent out once more in between).
//! While the thread looks at an idle connection, its slot reads as lent out (a `get` then takes another one, or
//! waits a moment).
//! Ages are kept on a coarse clock that the thread moves forward at each wake-up, so `get` and the guard's drop
//! never read the system clock (50 ns here, as much as the rest of a get + return); limits are honoured to within
//! one wake-up interval.
//! Dropping the last [`Pool`] handle stops the thread and joins it (waiting for a `connect` it may be in). Guards
//! that outlive the pool still work; their connections are closed when the last guard is dropped.
//!
//! # Measured
//!
//! `cargo bench -p support --features sqlite --bench conn_pool` (criterion), both pools with default settings
//! (max_size 10, health check on checkout). Two runs, 2026-11-25, on 2 cores shared with a CI run (load average
//! about 6, so absolute numbers are low and noisy; each ratio compares two measurements of the same run):
//!
//! | get + return | 1 thread | 2 threads | 8 threads |
//! |---|---|---|---|
//! | support, trivial manager (run 1 / run 2) | 29.5 / 30.3 M/s | 26.5 / 21.5 M/s | 33.9 / 45.7 M/s |
//! | r2d2, trivial manager | 3.84 / 3.69 M/s | 4.17 / 4.28 M/s | 3.56 / 6.08 M/s |
//! | **ratio** | **7.7× / 8.2×** | **6.4× / 5.0×** | **9.5× / 7.5×** |
//! | support, SQLite `SELECT … WHERE k = ?1` | 296 / 283 K/s | 591 / 484 K/s | 928 / 938 K/s |
//! | r2d2_sqlite, same query | 267 / 262 K/s | 280 / 368 K/s | 765 / 627 K/s |
//! | ratio | 1.11× / 1.08× | 2.11× / 1.31× | 1.21× / 1.49× |
//!
//! A third run on a quieter machine (load average 1.8, the same day): support 45.5 / 39.5 / 41.8 M/s against r2d2's
//! 6.34 / 5.16 / 5.11 M/s at 1 / 2 / 8 threads — **7.2× / 7.7× / 8.2×**; SQLite 453 / 332 / 1 538 K/s against
//! 406 / 307 / 1 392 K/s — 1.12× / 1.08× / 1.10×.
//!
//! The target was 2× r2d2 at 1, 2 and 8 threads. What a get + return costs here: a compare-exchange and a store
//! on this thread's own slot, a fence and a read of `waiting`, an `Arc` increment and decrement, no lock, no clock
//! read. Under contention the only cache line both cores write is the `Arc`'s count. r2d2 takes a mutex twice and
//! clones the same kind of `Arc`, and reads the clock twice (`Instant::now()` on checkout and on return): a profile
//! (`perf record`) at 2 threads puts two thirds of r2d2's time in `clock_gettime`, which is slow on this VM — on a
//! machine with a faster clock the ratios would be smaller. With SQLite the query dominates, and the pools are
//! within the noise of each other.
//!
//! Earlier designs, for the record (one run each, lighter load): a `Semaphore` plus a stack behind parking_lot's
//! mutex, 5.3× / 1.77× / 1.71× (the semaphore's word, the mutex and the `Arc` count moving between the cores at
//! every get and return); a `Mutex` + `Condvar` semaphore (a `futex` call per release), 0.46× / 1.12× / 0.94×.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::primitive::{
    fence, thread, thread_local, Arc, AtomicU64, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering,
};

mod slots;
use slots::Slots;

#[cfg(feature = "sqlite")]
pub mod sqlite;

/// How the pool opens, checks and recognises broken connections. Implement it for your connection type, as for
/// r2d2's `ManageConnection` (same three methods).
///
/// `is_valid` may be slow (a round trip to the server): it runs on checkout when `test_on_checkout` is on (the
/// default). `has_broken` must be fast (no I/O): it runs every time a connection comes back.
///
/// ```
/// use support::conn_pool::{ManageConnection, Pool};
///
/// /// Connections to a pretend server: a string buffer each.
/// struct Echo;
///
/// impl ManageConnection for Echo {
///     type Connection = String;
///     type Error = std::io::Error;
///     fn connect(&self) -> Result<String, std::io::Error> {
///         Ok(String::new())
///     }
///     fn is_valid(&self, _conn: &mut String) -> Result<(), std::io::Error> {
///         Ok(()) // a real manager sends a ping here
///     }
///     fn has_broken(&self, conn: &mut String) -> bool {
///         conn.len() > 1_000 // e.g. a connection left in a bad state
///     }
/// }
///
/// let pool = Pool::new(Echo).unwrap();
/// pool.get().unwrap().push_str("hello");
/// assert_eq!(*pool.get().unwrap(), "hello", "the same connection came back");
/// ```
pub trait ManageConnection: Send + Sync + 'static {
    /// The connection type, e.g. `rusqlite::Connection`. It must be `Send` (lent to one thread at a time), not
    /// `Sync`.
    type Connection: Send + 'static;
    /// The error `connect` and `is_valid` return.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Opens a new connection.
    fn connect(&self) -> Result<Self::Connection, Self::Error>;

    /// Checks that an idle connection still works before it is lent out (when `test_on_checkout` is on). An error
    /// discards the connection; `get` then tries the next idle one or opens a new one.
    fn is_valid(&self, conn: &mut Self::Connection) -> Result<(), Self::Error>;

    /// Called, without I/O, when a connection comes back: `true` discards it instead of keeping it.
    fn has_broken(&self, conn: &mut Self::Connection) -> bool;
}

/// The settings of a pool, and [`build`](Builder::build) to open it. Start from [`Pool::builder`].
///
/// | setting | default | meaning |
/// |---|---|---|
/// | `max_size` | 10 | most connections open at once (lent out + idle) |
/// | `min_idle` | 0 | idle connections kept open by the maintenance thread |
/// | `connection_timeout` | 30 s | longest `get` waits for a connection; never infinite |
/// | `test_on_checkout` | `true` | run `is_valid` before lending out an idle connection |
/// | `max_lifetime` | 30 min | close connections older than this (`None`: never) |
/// | `idle_timeout` | 10 min | close connections idle this long, beyond `min_idle` (`None`: never) |
///
/// The defaults are r2d2's, except `min_idle` (r2d2 opens `max_size` connections up front).
///
/// ```
/// use std::time::Duration;
/// use support::conn_pool::{DemoManager, Pool};
///
/// let pool = Pool::builder()
///     .max_size(4)
///     .min_idle(1)
///     .connection_timeout(Duration::from_secs(2))
///     .test_on_checkout(false)
///     .max_lifetime(Some(Duration::from_secs(600)))
///     .idle_timeout(None)
///     .build(DemoManager::new())
///     .unwrap();
/// assert_eq!(pool.max_size(), 4);
///
/// let err = Pool::builder().max_size(2).min_idle(3).build(DemoManager::new()).unwrap_err();
/// assert_eq!(err.to_string(), "min_idle (3) is larger than max_size (2)");
/// ```
pub struct Builder<M: ManageConnection> {
    config: Config,
    /// The manager type, so that `Pool::builder()…build(manager)` infers it (as in r2d2).
    _manager: PhantomData<fn() -> M>,
}

#[derive(Debug, Clone)]
struct Config {
    max_size: usize,
    min_idle: usize,
    connection_timeout: Duration,
    test_on_checkout: bool,
    max_lifetime: Option<Duration>,
    idle_timeout: Option<Duration>,
}

/// The longest `connection_timeout` accepted: beyond it a deadline could overflow `Instant`, and nobody waits a day
/// for a connection.
const MAX_CONNECTION_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// Bounds on how often the maintenance thread wakes up.
const MIN_TICK: Duration = Duration::from_millis(10);
const MAX_TICK: Duration = Duration::from_secs(30);

impl<M: ManageConnection> Default for Builder<M> {
    fn default() -> Self {
        Builder {
            config: Config::default(),
            _manager: PhantomData,
        }
    }
}

impl<M: ManageConnection> Clone for Builder<M> {
    fn clone(&self) -> Self {
        Builder {
            config: self.config.clone(),
            _manager: PhantomData,
        }
    }
}

impl<M: ManageConnection> fmt::Debug for Builder<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_size: 10,
            min_idle: 0,
            connection_timeout: Duration::from_secs(30),
            test_on_checkout: true,
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            idle_timeout: Some(Duration::from_secs(10 * 60)),
        }
    }
}

impl<M: ManageConnection> Builder<M> {
    /// The default settings (see the table above).
    pub fn new() -> Self {
        Self::default()
    }

    /// Most connections open at once, lent out or idle. At least 1.
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.config.max_size = max_size;
        self
    }

    /// Idle connections to keep open, so that a burst of `get`s does not wait for `connect`. At most `max_size`.
    pub fn min_idle(mut self, min_idle: usize) -> Self {
        self.config.min_idle = min_idle;
        self
    }

    /// Longest time [`Pool::get`] waits for a connection before returning [`Error::Timeout`]. Longer than zero and
    /// at most 24 hours: there is deliberately no "wait forever".
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.config.connection_timeout = timeout;
        self
    }

    /// Whether to run [`ManageConnection::is_valid`] on an idle connection before lending it out.
    pub fn test_on_checkout(mut self, test: bool) -> Self {
        self.config.test_on_checkout = test;
        self
    }

    /// Close connections older than this (servers and proxies drop old connections; this closes them first).
    /// `None`: never. Must be longer than zero.
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.config.max_lifetime = lifetime;
        self
    }

    /// Close connections that have been idle this long, keeping `min_idle`. `None`: never. Must be longer than
    /// zero.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Checks the settings, opens the first connection (and `min_idle` of them, if more) and starts the maintenance
    /// thread if one is needed.
    ///
    /// Fails with a [`BuildError`] when a setting is out of range or a connection cannot be opened; for the latter,
    /// the manager's error is the [`source`](std::error::Error::source).
    pub fn build(self, manager: M) -> Result<Pool<M>, BuildError<M::Error>> {
        let config = self.config;
        config.check()?;
        let slots = Slots::new(config.max_size);
        let first = config.min_idle.max(1);
        for i in 0..first {
            let raw = manager.connect().map_err(BuildError::Connect)?;
            // Time 0 on the pool's clock.
            let reserved = slots.reserve_empty(i);
            debug_assert!(reserved, "a new pool's slots are empty");
            slots.put(
                i,
                Box::new(Conn {
                    raw,
                    created: 0,
                    since: 0,
                }),
            );
        }
        let shared = Arc::new(Shared {
            waiting: CachePadded::new(AtomicUsize::new(0)),
            slots,
            sleep: Mutex::new(()),
            returned: Condvar::new(),
            created: AtomicU64::new(first as u64),
            timed_out: AtomicU64::new(0),
            discarded: AtomicU64::new(0),
            clock: Clock::new(),
            max_lifetime_ms: limit_ms(config.max_lifetime),
            idle_timeout_ms: limit_ms(config.idle_timeout),
            signal: Mutex::new(Signal::default()),
            wake: Condvar::new(),
            manager,
            config,
        });
        let maintenance = match shared.config.maintenance_interval() {
            None => None,
            Some(every) => {
                let shared = Arc::clone(&shared);
                let spawned = thread::Builder::new()
                    .name("conn-pool-maint".into())
                    .spawn(move || maintenance_loop(&shared, every));
                Some(spawned.map_err(|e| BuildError::Spawn(e.to_string()))?)
            }
        };
        Ok(Pool {
            handle: Arc::new(Handle {
                shared,
                maintenance,
            }),
        })
    }
}

impl Config {
    fn check<E>(&self) -> Result<(), BuildError<E>> {
        if self.max_size == 0 {
            return Err(BuildError::ZeroMaxSize);
        }
        if self.min_idle > self.max_size {
            return Err(BuildError::MinIdleAboveMaxSize {
                min_idle: self.min_idle,
                max_size: self.max_size,
            });
        }
        let durations = [
            ("connection_timeout", Some(self.connection_timeout)),
            ("max_lifetime", self.max_lifetime),
            ("idle_timeout", self.idle_timeout),
        ];
        for (setting, value) in durations {
            if value == Some(Duration::ZERO) {
                return Err(BuildError::ZeroDuration { setting });
            }
        }
        if self.connection_timeout > MAX_CONNECTION_TIMEOUT {
            return Err(BuildError::TimeoutTooLong {
                timeout: self.connection_timeout,
            });
        }
        Ok(())
    }

    /// How often the maintenance thread wakes, or `None` when there is nothing for it to do.
    fn maintenance_interval(&self) -> Option<Duration> {
        let shortest = self.idle_timeout.into_iter().chain(self.max_lifetime).min();
        match shortest {
            None if self.min_idle == 0 => None,
            None => Some(MAX_TICK),
            Some(shortest) => Some((shortest / 4).clamp(MIN_TICK, MAX_TICK)),
        }
    }
}

/// Why [`Builder::build`] failed.
///
/// ```
/// use support::conn_pool::{BuildError, DemoManager, Pool};
///
/// let manager = DemoManager::new();
/// manager.refuse_connections(true);
/// let err = Pool::builder().build(manager).unwrap_err();
/// assert!(matches!(err, BuildError::Connect(_)));
/// assert_eq!(err.to_string(), "could not open the pool's first connection");
/// let cause = std::error::Error::source(&err).unwrap();
/// assert_eq!(cause.to_string(), "connection refused (DemoManager::refuse_connections)");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError<E> {
    /// `max_size(0)`: a pool that can never lend a connection.
    ZeroMaxSize,
    /// More idle connections requested than the pool may hold.
    MinIdleAboveMaxSize {
        /// The `min_idle` given.
        min_idle: usize,
        /// The `max_size` given.
        max_size: usize,
    },
    /// A duration set to zero (`connection_timeout`, or `Some(Duration::ZERO)` for `max_lifetime` or
    /// `idle_timeout`; use `None` for "never").
    ZeroDuration {
        /// Which setting.
        setting: &'static str,
    },
    /// `connection_timeout` above 24 hours.
    TimeoutTooLong {
        /// The timeout given.
        timeout: Duration,
    },
    /// Opening a connection failed; the manager's error is inside (and is the `source()`).
    Connect(E),
    /// The operating system refused to start the maintenance thread.
    Spawn(String),
}

impl<E> fmt::Display for BuildError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ZeroMaxSize => write!(f, "max_size must be at least 1 (got 0)"),
            BuildError::MinIdleAboveMaxSize { min_idle, max_size } => {
                write!(f, "min_idle ({min_idle}) is larger than max_size ({max_size})")
            }
            BuildError::ZeroDuration { setting } => write!(
                f,
                "{setting} must be longer than zero (for max_lifetime and idle_timeout, None means never)"
            ),
            BuildError::TimeoutTooLong { timeout } => {
                write!(f, "connection_timeout must be at most 24 h (got {timeout:?})")
            }
            BuildError::Connect(_) => write!(f, "could not open the pool's first connection"),
            BuildError::Spawn(e) => write!(f, "could not start the maintenance thread: {e}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for BuildError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Connect(e) => Some(e),
            _ => None,
        }
    }
}

/// Why [`Pool::get`] or [`Pool::try_get`] returned no connection.
///
/// ```
/// use std::time::Duration;
/// use support::conn_pool::{DemoManager, Error, Pool};
///
/// let pool = Pool::builder()
///     .max_size(1)
///     .connection_timeout(Duration::from_millis(20))
///     .build(DemoManager::new())
///     .unwrap();
/// let held = pool.get().unwrap();
/// match pool.get() {
///     Err(Error::Timeout { max_size, waited }) => {
///         assert_eq!(max_size, 1);
///         assert!(waited >= Duration::from_millis(20));
///     }
///     other => panic!("expected a timeout, got {other:?}"),
/// }
/// assert!(matches!(pool.try_get(), Err(Error::Exhausted { max_size: 1 })));
/// drop(held);
/// assert!(pool.try_get().is_ok());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error<E> {
    /// `get` waited `connection_timeout` and every connection stayed lent out.
    Timeout {
        /// The pool's `max_size`: how many connections were lent out.
        max_size: usize,
        /// How long `get` waited.
        waited: Duration,
    },
    /// `try_get`: every connection is lent out right now.
    Exhausted {
        /// The pool's `max_size`.
        max_size: usize,
    },
    /// A new connection was needed and the manager could not open it (the `source()`).
    Connect(E),
}

impl<E> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Timeout { max_size, waited } => write!(
                f,
                "no connection free: all {max_size} connections of the pool were in use; waited {} ms \
                 (connection_timeout)",
                waited.as_millis()
            ),
            Error::Exhausted { max_size } => write!(
                f,
                "no connection free: all {max_size} connections of the pool are in use (try_get does not wait)"
            ),
            Error::Connect(_) => write!(f, "could not open a new connection"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connect(e) => Some(e),
            _ => None,
        }
    }
}

/// A snapshot of a pool, from [`Pool::state`]: already stale when you read it, for display, tests and charts.
///
/// ```
/// use support::conn_pool::{DemoManager, Pool};
///
/// let pool = Pool::builder().max_size(3).min_idle(2).build(DemoManager::new()).unwrap();
/// let conn = pool.get().unwrap();
/// let state = pool.state();
/// assert_eq!((state.connections, state.idle, state.in_use, state.waiting), (2, 1, 1, 0));
/// assert_eq!(state.created, 2);
/// println!("{state}"); // 2 connections (1 idle, 1 in use), 0 waiting; created 2, timed out 0, discarded 0
/// # drop(conn);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct State {
    /// Open connections, idle or lent out (at most `max_size`).
    pub connections: usize,
    /// Connections waiting in the pool.
    pub idle: usize,
    /// Connections lent out.
    pub in_use: usize,
    /// Threads blocked in `get`.
    pub waiting: usize,
    /// Connections opened since the pool was built.
    pub created: u64,
    /// `get` calls that ended in [`Error::Timeout`].
    pub timed_out: u64,
    /// Connections closed by the pool: broken, failed `is_valid`, or past `max_lifetime` / `idle_timeout`.
    pub discarded: u64,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} connections ({} idle, {} in use), {} waiting; created {}, timed out {}, discarded {}",
            self.connections,
            self.idle,
            self.in_use,
            self.waiting,
            self.created,
            self.timed_out,
            self.discarded
        )
    }
}

/// A pool of connections. Clone it to share it between threads: clones are handles to the same pool (an `Arc`
/// inside), like `r2d2::Pool`.
///
/// The pool and its maintenance thread live until the last handle is dropped. See the [module docs](self) for how
/// it works.
///
/// ```
/// use support::conn_pool::{DemoManager, Pool};
///
/// let pool = Pool::new(DemoManager::new()).unwrap(); // default settings
/// let handles: Vec<_> = (0..4)
///     .map(|i| {
///         let pool = pool.clone();
///         std::thread::spawn(move || pool.get().unwrap().query(&format!("SELECT {i}")))
///     })
///     .collect();
/// for h in handles {
///     assert!(h.join().unwrap().starts_with("SELECT"));
/// }
/// ```
pub struct Pool<M: ManageConnection> {
    handle: Arc<Handle<M>>,
}

/// What the `Pool` handles share; dropping it (the last handle) stops the maintenance thread. Guards hold only
/// the `Shared` part, so a guard outliving the pool does not keep the thread running.
struct Handle<M: ManageConnection> {
    shared: Arc<Shared<M>>,
    maintenance: Option<thread::JoinHandle<()>>,
}

struct Shared<M: ManageConnection> {
    /// Threads blocked in `get`. Read by every guard's drop, written only by waiters: on a cache line of its own,
    /// so that the guards' reads stay cheap. (Being 128-byte aligned, it also moves the whole `Shared` off the
    /// cache line of the `Arc`'s reference counts, which every `get` and drop writes.)
    waiting: CachePadded<AtomicUsize>,
    /// One slot per connection the pool may open: the bound. See `slots.rs`.
    slots: Slots<Conn<M::Connection>>,
    /// Waiters sleep on `returned` under `sleep`; a connection given back wakes one of them.
    sleep: Mutex<()>,
    returned: Condvar,
    /// Counters for `state()`; updated off the fast path (opening, closing, timing out).
    created: AtomicU64,
    timed_out: AtomicU64,
    discarded: AtomicU64,
    clock: Clock,
    /// `config.max_lifetime` and `config.idle_timeout` on the clock's scale (see `limit_ms`).
    max_lifetime_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
    /// Tells the maintenance thread to stop, or to run now.
    signal: Mutex<Signal>,
    wake: Condvar,
    manager: M,
    config: Config,
}

struct Conn<C> {
    raw: C,
    /// When it was opened, on the pool's `Clock`.
    created: u64,
    /// When it was last given back, on the pool's `Clock`.
    since: u64,
}

thread_local! {
    /// The slot this thread took its last connection from, in any pool: it looks there first next time, so that
    /// threads keep to "their" slots and do not pull each other's cache lines (and connections stay warm).
    // Not `const { Cell::new(0) }` as clippy suggests: loom's `thread_local!` does not accept that form.
    #[allow(clippy::missing_const_for_thread_local)]
    static LAST_SLOT: Cell<usize> = Cell::new(0);
}

/// A coarse clock for the hot path: milliseconds since the pool was built, moved forward by the maintenance thread
/// each time it wakes (at least every quarter of the shorter of `idle_timeout` and `max_lifetime`; it runs
/// whenever either is set). Reading it is one atomic load, where `Instant::now()` costs about 50 ns on the
/// course's VM — as much as all the rest of a get + return. Ages read from it are off by at most one wake-up
/// interval, which these settings tolerate. (Linux does the same with its `jiffies` counter.)
struct Clock {
    start: Instant,
    now_ms: AtomicU64,
}

impl Clock {
    fn new() -> Self {
        Clock {
            start: Instant::now(),
            now_ms: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        // Relaxed: the value is a timestamp, not a signal that other data is ready.
        self.now_ms.load(Ordering::Relaxed)
    }

    /// Called by the maintenance thread only.
    fn advance(&self) -> u64 {
        let now = millis(self.start.elapsed());
        self.now_ms.store(now, Ordering::Relaxed);
        now
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `max_lifetime` or `idle_timeout` in ms on the pool's clock, worked out once at build: converting a `Duration`
/// on every return showed up in the profile (14% of a get + return). Limits under 1 ms count as 1 ms.
fn limit_ms(limit: Option<Duration>) -> Option<u64> {
    limit.map(|limit| millis(limit).max(1))
}

/// Whether something `age` ms old has reached `limit_ms` (`None`: never).
fn reached(age: u64, limit_ms: Option<u64>) -> bool {
    limit_ms.is_some_and(|limit| age >= limit)
}

#[derive(Default)]
struct Signal {
    stop: bool,
    run_now: bool,
}

/// Our critical sections only read and update small values; none can panic halfway (user code runs outside
/// them), so a poisoned lock still holds consistent data.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<M: ManageConnection> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Pool {
            handle: Arc::clone(&self.handle),
        }
    }
}

impl<M: ManageConnection> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("state", &self.state())
            .field("config", &self.handle.shared.config)
            .finish()
    }
}

impl<M: ManageConnection> Pool<M> {
    /// The default settings: `Pool::builder().build(manager)`.
    pub fn new(manager: M) -> Result<Self, BuildError<M::Error>> {
        Builder::new().build(manager)
    }

    /// A [`Builder`] with the default settings.
    pub fn builder() -> Builder<M> {
        Builder::new()
    }

    /// Lends out a connection: an idle one if there is one, else a new one if fewer than `max_size` are open, else
    /// waits up to `connection_timeout` for one to come back. The guard gives it back when dropped.
    ///
    /// Errors: [`Error::Timeout`] after `connection_timeout`; [`Error::Connect`] when a new connection was needed
    /// and could not be opened (the next `get` tries again).
    ///
    /// ```
    /// use support::conn_pool::{DemoManager, Pool};
    ///
    /// let pool = Pool::new(DemoManager::new()).unwrap();
    /// {
    ///     let conn = pool.get().unwrap();
    ///     assert_eq!(conn.query("SELECT 1"), "SELECT 1");
    ///     assert_eq!(pool.state().in_use, 1);
    /// } // back to the pool here
    /// assert_eq!(pool.state().in_use, 0);
    /// ```
    pub fn get(&self) -> Result<PooledConnection<M>, Error<M::Error>> {
        let shared = &self.handle.shared;
        // Set when we first have to wait: the fast path reads no clock.
        let mut deadline = None;
        loop {
            let claim = match shared.try_claim() {
                Some(claim) => claim,
                None => shared.wait_for_claim(&mut deadline)?,
            };
            if let Some(conn) = Shared::checkout(shared, claim)? {
                return Ok(conn);
            }
            // The idle connection failed its check and was closed: its slot is free, look again.
        }
    }

    /// Like [`get`](Self::get), without waiting: [`Error::Exhausted`] when every connection is lent out. It still
    /// opens a new connection when fewer than `max_size` are open.
    ///
    /// ```
    /// use support::conn_pool::{DemoManager, Error, Pool};
    ///
    /// let pool = Pool::builder().max_size(1).build(DemoManager::new()).unwrap();
    /// let conn = pool.try_get().unwrap();
    /// assert!(matches!(pool.try_get(), Err(Error::Exhausted { max_size: 1 })));
    /// drop(conn);
    /// assert!(pool.try_get().is_ok());
    /// ```
    pub fn try_get(&self) -> Result<PooledConnection<M>, Error<M::Error>> {
        let shared = &self.handle.shared;
        loop {
            let Some(claim) = shared.try_claim() else {
                return Err(Error::Exhausted {
                    max_size: shared.config.max_size,
                });
            };
            if let Some(conn) = Shared::checkout(shared, claim)? {
                return Ok(conn);
            }
        }
    }

    /// Connections, idle, in use, waiting threads, and counters since the pool was built.
    ///
    /// ```
    /// use support::conn_pool::{DemoManager, Pool};
    ///
    /// let pool = Pool::new(DemoManager::new()).unwrap();
    /// let state = pool.state();
    /// assert_eq!((state.connections, state.idle, state.in_use), (1, 1, 0)); // build opened one
    /// ```
    pub fn state(&self) -> State {
        let shared = &self.handle.shared;
        let count = shared.slots.count();
        State {
            connections: count.idle + count.lent,
            idle: count.idle,
            in_use: count.lent,
            waiting: shared.waiting.load(Ordering::Relaxed),
            created: shared.created.load(Ordering::Relaxed),
            timed_out: shared.timed_out.load(Ordering::Relaxed),
            discarded: shared.discarded.load(Ordering::Relaxed),
        }
    }

    /// The `max_size` the pool was built with.
    ///
    /// ```
    /// # use support::conn_pool::{DemoManager, Pool};
    /// let pool = Pool::builder().max_size(3).build(DemoManager::new()).unwrap();
    /// assert_eq!(pool.max_size(), 3);
    /// ```
    pub fn max_size(&self) -> usize {
        self.handle.shared.config.max_size
    }

    /// The manager, e.g. to read its settings or counters.
    ///
    /// ```
    /// # use support::conn_pool::{DemoManager, Pool};
    /// let pool = Pool::new(DemoManager::new()).unwrap();
    /// assert_eq!(pool.manager().opened(), 1);
    /// ```
    pub fn manager(&self) -> &M {
        &self.handle.shared.manager
    }
}

/// A slot a thread has won: its idle connection, or the right to open one in it.
enum Claim<C> {
    Idle(usize, Box<Conn<C>>),
    Empty(usize),
}

impl<M: ManageConnection> Shared<M> {
    /// The fast path of `get`, no lock and no waiting: an idle connection, looking first in the slot this thread
    /// used last; else an empty slot to open a connection in. `None`: every slot is lent out or being opened.
    fn try_claim(&self) -> Option<Claim<M::Connection>> {
        let n = self.slots.len();
        let first = LAST_SLOT.with(Cell::get) % n;
        // The slots from `first` to the end, then from 0 to `first`.
        let order = || (first..n).chain(0..first);
        let claim = order()
            .find_map(|i| self.slots.take_idle(i).map(|conn| Claim::Idle(i, conn)))
            .or_else(|| {
                order()
                    .find(|&i| self.slots.reserve_empty(i))
                    .map(Claim::Empty)
            })?;
        let (Claim::Idle(i, _) | Claim::Empty(i)) = claim;
        if i != first {
            LAST_SLOT.with(|last| last.set(i));
        }
        Some(claim)
    }

    /// The slow path of `get`: every slot is lent out or being opened. Sleep until a guard gives a slot back (or
    /// until the deadline, set on the first call), and claim it.
    fn wait_for_claim(
        &self,
        deadline: &mut Option<(Instant, Instant)>,
    ) -> Result<Claim<M::Connection>, Error<M::Error>> {
        let timeout = self.config.connection_timeout;
        let (start, deadline) = *deadline.get_or_insert_with(|| {
            let start = Instant::now();
            (start, start + timeout)
        });
        let mut sleep = lock(&self.sleep);
        self.waiting.fetch_add(1, Ordering::Relaxed);
        // Pairs with the fence in `wake_a_waiter`: either that guard sees our `waiting` (and wakes us, under the
        // lock we hold until we sleep), or we see the slot it gave back. Never neither: no lost wake-up.
        fence(Ordering::SeqCst);
        let claim = loop {
            if let Some(claim) = self.try_claim() {
                break Some(claim);
            }
            let now = Instant::now();
            if now >= deadline {
                break None;
            }
            sleep = self
                .returned
                .wait_timeout(sleep, deadline - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        };
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        drop(sleep);
        claim.ok_or_else(|| {
            self.timed_out.fetch_add(1, Ordering::Relaxed);
            Error::Timeout {
                max_size: self.config.max_size,
                waited: start.elapsed(),
            }
        })
    }

    /// A slot was given back (a connection put back, or a slot emptied): wake a sleeping `get`, if any. Costs a
    /// fence and one read when nobody sleeps.
    fn wake_a_waiter(&self) {
        // Pairs with the fence in `wait_for_claim` (see there).
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) > 0 {
            let _sleep = lock(&self.sleep);
            self.returned.notify_one();
        }
    }

    /// With a slot won: check its idle connection (if asked), or open a new one. `Ok(None)`: the idle connection
    /// failed its check and was closed; look again.
    /// (An associated function rather than a method on `self: &Arc<Self>`, which loom's `Arc` does not support.)
    fn checkout(
        shared: &Arc<Self>,
        claim: Claim<M::Connection>,
    ) -> Result<Option<PooledConnection<M>>, Error<M::Error>> {
        let this: &Self = shared;
        let (slot, conn) = match claim {
            Claim::Idle(slot, conn) => {
                let mut conn = Discard::new(this, slot, conn);
                if this.config.test_on_checkout && !conn.check() {
                    return Ok(None); // `conn` is dropped: closed, counted, its slot emptied
                }
                (slot, conn.keep())
            }
            Claim::Empty(slot) => {
                // Dropped without `opened()` (connect failed or panicked): the slot is emptied again.
                let vacate = Vacate { shared: this, slot };
                let raw = this.manager.connect().map_err(Error::Connect)?;
                vacate.opened();
                let now = this.clock.now();
                let conn = Conn {
                    raw,
                    created: now,
                    since: now,
                };
                (slot, Box::new(conn))
            }
        };
        Ok(Some(PooledConnection {
            conn: Some(conn),
            slot,
            pool: Arc::clone(shared),
        }))
    }

    /// A connection comes back from a guard into its slot, or is closed.
    fn put_back(&self, slot: usize, mut conn: Box<Conn<M::Connection>>) {
        let now = self.clock.now();
        let too_old = reached(now.saturating_sub(conn.created), self.max_lifetime_ms);
        // A panic in the manager's `has_broken` (a bug in the manager) must not lose the pool a slot: treat the
        // connection as broken. The panic message was already printed by the panic hook.
        let broken = too_old
            || catch_unwind(AssertUnwindSafe(|| self.manager.has_broken(&mut conn.raw)))
                .unwrap_or(true);
        if broken {
            self.discard(slot, conn);
        } else {
            conn.since = now;
            self.slots.put(slot, conn);
            self.wake_a_waiter();
        }
    }

    /// Closes a connection the pool no longer wants, then empties its slot (so there are never more than
    /// `max_size` open, not even for a moment), and asks the maintenance thread to top up `min_idle`.
    fn discard(&self, slot: usize, conn: Box<Conn<M::Connection>>) {
        self.discarded.fetch_add(1, Ordering::Relaxed);
        {
            // Empties the slot when dropped, also if closing the connection panics.
            let _vacate = Vacate { shared: self, slot };
            drop(conn);
        }
        if self.config.min_idle > 0 {
            lock(&self.signal).run_now = true;
            self.wake.notify_one();
        }
    }

    /// One round of maintenance: close expired idle connections, then open connections up to `min_idle`.
    fn maintain(&self) {
        let now = self.clock.advance();
        let mut idle = self.slots.count().idle;
        for slot in 0..self.slots.len() {
            // Take it out to look at it (a `get` meanwhile finds it lent out).
            let Some(conn) = self.slots.take_idle(slot) else {
                continue;
            };
            let too_old = reached(now.saturating_sub(conn.created), self.max_lifetime_ms);
            let unused = reached(now.saturating_sub(conn.since), self.idle_timeout_ms)
                && idle > self.config.min_idle;
            if too_old || unused {
                idle -= 1;
                self.discarded.fetch_add(1, Ordering::Relaxed);
                let _vacate = Vacate { shared: self, slot };
                drop(conn);
            } else {
                self.slots.put(slot, conn);
                self.wake_a_waiter();
            }
        }

        while self.slots.count().idle < self.config.min_idle {
            // None empty: all `max_size` are open (the pool is busy, or they are idle already).
            let Some(slot) = (0..self.slots.len()).find(|&i| self.slots.reserve_empty(i)) else {
                break;
            };
            let vacate = Vacate { shared: self, slot };
            let Ok(raw) = self.manager.connect() else {
                break; // `vacate` is dropped: the slot is empty again; retried at the next wake-up
            };
            let now = self.clock.now();
            let conn = Conn {
                raw,
                created: now,
                since: now,
            };
            self.created.fetch_add(1, Ordering::Relaxed);
            std::mem::forget(vacate);
            self.slots.put(slot, Box::new(conn));
            self.wake_a_waiter();
        }
    }
}

/// A slot this thread owns (a connection being opened for it, or being closed). Dropped, it empties the slot and
/// wakes a waiter, who may open a connection there — also when `connect` or a connection's `drop` panics.
struct Vacate<'a, M: ManageConnection> {
    shared: &'a Shared<M>,
    slot: usize,
}

impl<M: ManageConnection> Vacate<'_, M> {
    /// The connection is open and lent out by the caller: count it, keep the slot.
    fn opened(self) {
        self.shared.created.fetch_add(1, Ordering::Relaxed);
        self.shared.slots.lend(self.slot);
        std::mem::forget(self); // skip `Drop`: the slot stays ours
    }
}

impl<M: ManageConnection> Drop for Vacate<'_, M> {
    fn drop(&mut self) {
        self.shared.slots.vacate(self.slot);
        self.shared.wake_a_waiter();
    }
}

/// An idle connection taken from its slot, being checked. Dropped without `keep()` — the check failed or
/// panicked — it is closed and its slot emptied, so the count stays right.
struct Discard<'a, M: ManageConnection> {
    shared: &'a Shared<M>,
    slot: usize,
    conn: Option<Box<Conn<M::Connection>>>,
}

impl<'a, M: ManageConnection> Discard<'a, M> {
    fn new(shared: &'a Shared<M>, slot: usize, conn: Box<Conn<M::Connection>>) -> Self {
        Discard {
            shared,
            slot,
            conn: Some(conn),
        }
    }

    fn check(&mut self) -> bool {
        let conn = self.conn.as_mut().expect("checked before keep()");
        self.shared.manager.is_valid(&mut conn.raw).is_ok()
    }

    fn keep(mut self) -> Box<Conn<M::Connection>> {
        self.conn.take().expect("keep() is called once")
    }
}

impl<M: ManageConnection> Drop for Discard<'_, M> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.shared.discard(self.slot, conn);
        }
    }
}

fn maintenance_loop<M: ManageConnection>(shared: &Shared<M>, every: Duration) {
    loop {
        {
            let mut signal = lock(&shared.signal);
            if !signal.stop && !signal.run_now {
                signal = shared
                    .wake
                    .wait_timeout(signal, every)
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0;
            }
            if signal.stop {
                return;
            }
            signal.run_now = false;
        }
        // A panic in the manager here must not leave a pool whose idle connections never expire: catch it, the
        // panic hook has printed it, and try again at the next wake-up.
        let _ = catch_unwind(AssertUnwindSafe(|| shared.maintain()));
    }
}

impl<M: ManageConnection> Drop for Handle<M> {
    fn drop(&mut self) {
        // The last `Pool` handle is gone: stop the maintenance thread and wait for it. It holds only `Shared`,
        // never a `Handle`, so this never runs on the maintenance thread itself.
        lock(&self.shared.signal).stop = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.maintenance.take() {
            let _ = thread.join();
        }
    }
}

/// A connection lent out by a [`Pool`]: use it through `*` / auto-deref (`Deref` and `DerefMut` to the
/// connection). Dropping it gives the connection back — also when the thread holding it panics — or, if the
/// manager says it has broken or it is past `max_lifetime`, closes it.
///
/// It owns a handle to the pool's shared part, so it can be moved to another thread or outlive the `Pool`.
///
/// ```
/// use support::conn_pool::{DemoManager, Pool};
///
/// let pool = Pool::builder().max_size(1).build(DemoManager::new()).unwrap();
/// let worker = {
///     let pool = pool.clone();
///     std::thread::spawn(move || {
///         let conn = pool.get().unwrap();
///         conn.query("UPDATE …");
///         panic!("the worker fails while holding the connection");
///     })
/// };
/// assert!(worker.join().is_err());
/// let conn = pool.try_get().expect("the connection came back despite the panic");
/// assert_eq!(conn.id(), 0, "the same connection, not a new one");
/// ```
#[must_use = "the connection goes back to the pool as soon as the guard is dropped"]
pub struct PooledConnection<M: ManageConnection> {
    /// `Some` until the guard is dropped.
    conn: Option<Box<Conn<M::Connection>>>,
    /// The slot the connection belongs to, which this guard owns (it is marked lent out).
    slot: usize,
    /// Holds the pool, and with it the slot, alive.
    pool: Arc<Shared<M>>,
}

impl<M: ManageConnection> std::ops::Deref for PooledConnection<M> {
    type Target = M::Connection;
    fn deref(&self) -> &M::Connection {
        &self.conn.as_ref().expect("present until drop").raw
    }
}

impl<M: ManageConnection> std::ops::DerefMut for PooledConnection<M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        &mut self.conn.as_mut().expect("present until drop").raw
    }
}

impl<M: ManageConnection> Drop for PooledConnection<M> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.put_back(self.slot, conn);
        }
    }
}

/// Shows the connection's type, not its value, so that `unwrap_err()` on a `get` result works for any connection
/// type, `Debug` or not.
impl<M: ManageConnection> fmt::Debug for PooledConnection<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledConnection")
            .field("connection", &std::any::type_name::<M::Connection>())
            .finish_non_exhaustive()
    }
}

mod demo;
pub use demo::{DemoConnection, DemoError, DemoManager};
