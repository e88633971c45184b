//! A connection pool: the Python tutorial's "connection pool with semaphores", made safe to copy into real code.
//! A real program uses [r2d2](https://docs.rs/r2d2) (the same API: `Pool::builder()`, `pool.get()`, a
//! `ManageConnection` trait with the same three methods), or for async code deadpool or bb8. This one is small
//! enough to read in one sitting, and safe Rust only.
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
//! | a broken connection goes back into the pool | [`ManageConnection::has_broken`] on return and [`ManageConnection::is_valid`] on checkout discard it; a fresh one is opened |
//! | all connections opened up front | opened on demand up to `max_size`, `min_idle` kept idle, closed after `idle_timeout` or `max_lifetime` |
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
//! println!("{err}"); // … all 2 connections of the pool were in use (or being opened); waited 50 ms …
//! ```
//!
//! For a real database, enable the `sqlite` feature and use `sqlite::SqliteManager` (rusqlite with a bundled
//! SQLite: a file or a shared in-memory database, WAL, a busy timeout).
//!
//! # How it works: one lock, two condition variables, one thread
//!
//! r2d2's design, in safe Rust. Everything the pool knows sits in one `Internals` behind one `Mutex`: the idle
//! connections (a `Vec` used as a stack: the connection given back last is lent out next, so the others stay
//! idle long enough for `idle_timeout` to close them), and how many connections are lent out, being opened, being
//! closed, and how many threads wait. Each count changes under the lock, so [`Pool::state`] is exact, and
//! lent out + idle + being opened + being closed never exceeds `max_size`.
//!
//! - `get` locks, pops an idle connection, unlocks, and runs `is_valid` on it (outside the lock). The guard's drop
//!   runs `has_broken` (outside the lock), then locks and pushes the connection back. Two short critical sections
//!   per loan; no clock read on this path (ages are kept on a coarse clock that the pool's thread moves).
//! - No idle connection: `get` counts itself in `waiting`, asks the pool's thread for a connection if there is
//!   room, and sleeps on the `available` condition variable, at most until its deadline. A guard that gives a
//!   connection back notifies it if `waiting > 0`. Both look at `waiting` and the idle stack under the same lock,
//!   so a wake-up cannot be lost: the waiter checks the stack while holding the lock, and `Condvar::wait`
//!   "will atomically unlock the mutex specified … and block the current thread" (std's docs): no guard can push
//!   in between.
//!   loom checks it (`loom-models/tests/loom_conn_pool.rs`).
//! - Connections are opened by the pool's thread, `conn-pool-maint`, never by `get`: a `connect` that hangs (a
//!   server that does not answer) cannot hold `get` past `connection_timeout`, as in r2d2. A failed `connect` is
//!   handed to one waiting `get` as [`Error::Connect`] (and to the [`error_handler`](Builder::error_handler)).
//!   `is_valid` runs on the caller's thread, as in r2d2: a manager whose check can hang must give it a timeout of its
//!   own. `get` stops trying idle connections once `connection_timeout` has passed since the first failed check.
//! - Taking an idle connection, or closing one, asks the thread for replacements at once, so that `min_idle` stay
//!   idle (r2d2 does the same).
//! - Every quarter of the shorter of `idle_timeout` and `max_lifetime` (between 10 ms and 30 s) the thread closes
//!   idle connections older than `max_lifetime`, and idle ones beyond `min_idle` unused for `idle_timeout`, choosing
//!   them under the lock and closing them after. A connection that comes back older than `max_lifetime` is closed on
//!   the spot. Limits are honoured to within one wake-up.
//! - Dropping the last [`Pool`] handle stops the thread and joins it, waiting at most `connection_timeout` for a
//!   `connect` it may be in (after that the thread is left to end on its own when `connect` returns). Guards that
//!   outlive the pool still work; their connections are closed when the last guard is dropped.
//!
//! # Measured
//!
//! `cargo bench -p support --features sqlite --bench conn_pool` (criterion), both pools with default settings
//! (max_size 10, health check on checkout), r2d2 0.8 with the same trivial manager in the same run. Two runs,
//! measured on 2026-12-05, 2 cores shared with other builds (load average about 12, so absolute numbers are low
//! and noisy; each ratio compares two measurements of the same run):
//!
//! | get + return | 1 thread | 2 threads | 8 threads |
//! |---|---|---|---|
//! | support, trivial manager (run 1 / run 2) | 6.78 / 7.60 M/s | 5.95 / 6.95 M/s | 9.14 / 8.41 M/s |
//! | r2d2, trivial manager | 1.72 / 1.68 M/s | 1.61 / 1.69 M/s | 1.71 / 1.55 M/s |
//! | **ratio** | **3.9× / 4.5×** | **3.7× / 4.1×** | **5.3× / 5.4×** |
//! | support, SQLite `SELECT … WHERE k = ?1` | 212 / 207 K/s | 291 / 332 K/s | 378 / 617 K/s |
//! | r2d2_sqlite, same query | 215 / 209 K/s | 224 / 295 K/s | 365 / 519 K/s |
//! | ratio | 0.99× / 0.99× | 1.30× / 1.13× | 1.03× / 1.19× |
//!
//! Same shape as r2d2 (one lock, a condition variable), so where does the difference come from? r2d2 0.8.10 reads
//! the clock five times per get + return (`Instant::now()` or `elapsed()` in `get_timeout`, for the guard, and in
//! `put_back`; an earlier `perf` profile here put two thirds of r2d2's time at 2 threads in `clock_gettime`, which
//! is slow on this VM) and calls its event handler twice; here the fast path reads no clock (the coarse one is a
//! field under the lock) and holds the lock only to pop or push. On a machine with a faster clock the ratios would be smaller; on an idle machine
//! expect the same order. With SQLite the query dominates, and the pools are within the noise of each other.
//!
//! The lock-free slot row this design replaced measured 7.2–8.2× r2d2 (a quieter machine, load 1.8): a
//! compare-exchange on a slot of the thread's own instead of a lock every thread takes. It also needed raw pointers and was
//! unsound (it freed a connection through a stale pointer, which Miri reported); the safe design gives its speed up.

use std::fmt;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::primitive::{thread, Arc, Condvar, Mutex, MutexGuard};

#[cfg(feature = "sqlite")]
pub mod sqlite;

mod demo;
pub use demo::{DemoConnection, DemoError, DemoManager};

/// How the pool opens, checks and recognises broken connections. Implement it for your connection type, as for
/// r2d2's `ManageConnection` (same three methods).
///
/// `connect` runs on the pool's own thread. `is_valid` may be slow (a round trip to the server): it runs on the
/// thread calling `get` when `test_on_checkout` is on (the default). `has_broken` must be fast (no I/O): it runs
/// every time a connection comes back.
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
    /// discards the connection; `get` then tries the next idle one or waits for a new one.
    fn is_valid(&self, conn: &mut Self::Connection) -> Result<(), Self::Error>;

    /// Called, without I/O, when a connection comes back: `true` discards it instead of keeping it.
    fn has_broken(&self, conn: &mut Self::Connection) -> bool;
}

/// The settings of a pool, and [`build`](Builder::build) to open it. Start from [`Pool::builder`].
///
/// | setting | default | meaning |
/// |---|---|---|
/// | `max_size` | 10 | most connections open at once (lent out + idle) |
/// | `min_idle` | 0 | idle connections kept open, replaced as soon as one is lent out or closed |
/// | `connection_timeout` | 30 s | longest `get` waits for a connection; never infinite |
/// | `test_on_checkout` | `true` | run `is_valid` before lending out an idle connection |
/// | `max_lifetime` | 30 min | close connections older than this (`None`: never) |
/// | `idle_timeout` | 10 min | close connections idle this long, beyond `min_idle` (`None`: never) |
/// | `error_handler` | none | called with every error of `connect` and `is_valid` |
///
/// The defaults are r2d2's, except `min_idle` (r2d2 keeps `max_size` idle unless told otherwise).
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
///     .error_handler(|e| eprintln!("connection pool: {e}"))
///     .build(DemoManager::new())
///     .unwrap();
/// assert_eq!(pool.max_size(), 4);
///
/// let err = Pool::builder().max_size(2).min_idle(3).build(DemoManager::new()).unwrap_err();
/// assert_eq!(err.to_string(), "min_idle (3) is larger than max_size (2)");
/// ```
pub struct Builder<M: ManageConnection> {
    config: Config,
    error_handler: Option<ErrorHandler<M::Error>>,
    /// The manager type, so that `Pool::builder()…build(manager)` infers it (as in r2d2).
    _manager: PhantomData<fn() -> M>,
}

/// std's `Arc`, not `primitive`'s: loom's `Arc` cannot hold a `dyn Fn`, and this one is no synchronisation.
type ErrorHandler<E> = std::sync::Arc<dyn Fn(&E) + Send + Sync>;

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
            config: Config {
                max_size: 10,
                min_idle: 0,
                connection_timeout: Duration::from_secs(30),
                test_on_checkout: true,
                max_lifetime: Some(Duration::from_secs(30 * 60)),
                idle_timeout: Some(Duration::from_secs(10 * 60)),
            },
            error_handler: None,
            _manager: PhantomData,
        }
    }
}

impl<M: ManageConnection> Clone for Builder<M> {
    fn clone(&self) -> Self {
        Builder {
            config: self.config.clone(),
            error_handler: self.error_handler.clone(),
            _manager: PhantomData,
        }
    }
}

impl<M: ManageConnection> fmt::Debug for Builder<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
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

    /// Longest time [`Pool::get`] waits for a connection before returning [`Error::Timeout`], and [`build`](Self::build)
    /// for its first connections. Longer than zero and at most 24 hours: there is deliberately no "wait forever".
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

    /// Called with every error of `connect` (on the pool's thread) and of `is_valid` (on the thread calling `get`),
    /// e.g. to log them: a failed `connect` that no `get` was waiting for (refilling `min_idle`) is seen nowhere
    /// else. r2d2's `error_handler` (a trait object there, a closure here).
    pub fn error_handler(mut self, handler: impl Fn(&M::Error) + Send + Sync + 'static) -> Self {
        self.error_handler = Some(std::sync::Arc::new(handler));
        self
    }

    /// Checks the settings, starts the pool's thread and has it open the first connection (and `min_idle` of
    /// them, if more), waiting at most `connection_timeout`.
    ///
    /// Fails with a [`BuildError`] when a setting is out of range, a connection cannot be opened (the manager's
    /// error is the [`source`](std::error::Error::source)), or opening takes longer than `connection_timeout`.
    pub fn build(self, manager: M) -> Result<Pool<M>, BuildError<M::Error>> {
        let config = self.config;
        config.check()?;
        let every = config.maintenance_interval();
        let limit_ms = |limit: Option<Duration>| limit.map(|limit| millis(limit).max(1));
        let shared = Arc::new(Shared {
            state: Mutex::new(Internals {
                idle: Vec::with_capacity(config.max_size),
                in_use: 0,
                opening: 0,
                queued: 0,
                closing: 0,
                waiting: 0,
                failed: None,
                now_ms: 0,
                created: 0,
                timed_out: 0,
                discarded: 0,
                stop: false,
                maintaining: true,
            }),
            available: Condvar::new(),
            work: Condvar::new(),
            start: Instant::now(),
            max_lifetime_ms: limit_ms(config.max_lifetime),
            idle_timeout_ms: limit_ms(config.idle_timeout),
            error_handler: self.error_handler,
            manager,
            config,
        });
        let thread = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("conn-pool-maint".into())
                .spawn(move || maintenance_loop(&shared, every))
                .map_err(|e| BuildError::Spawn(e.to_string()))?
        };
        let pool = Pool {
            handle: Arc::new(Handle {
                shared,
                maintenance: Some(thread),
            }),
        };
        pool.open_first()?; // on failure, dropping `pool` stops the thread
        Ok(pool)
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

    /// How often the maintenance thread wakes on its own (it also wakes whenever it is asked for a connection), or
    /// `None` when only requests wake it.
    fn maintenance_interval(&self) -> Option<Duration> {
        let shortest = self.idle_timeout.into_iter().chain(self.max_lifetime).min();
        match shortest {
            None if self.min_idle == 0 => None,
            // Retries a `min_idle` refill whose `connect` failed.
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
    /// The first connections were not open within `connection_timeout` (a `connect` that hangs).
    Timeout {
        /// How long `build` waited.
        waited: Duration,
    },
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
            BuildError::Timeout { waited } => write!(
                f,
                "the pool's first connection was not open after {} ms (connection_timeout)",
                waited.as_millis()
            ),
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
    /// `get` waited `connection_timeout` and got no connection.
    Timeout {
        /// The pool's `max_size`.
        max_size: usize,
        /// How long `get` waited.
        waited: Duration,
    },
    /// `try_get`: no idle connection right now.
    Exhausted {
        /// The pool's `max_size`.
        max_size: usize,
    },
    /// A new connection was needed and the manager could not open it (the `source()`). The next `get` tries again.
    Connect(E),
}

impl<E> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Timeout { max_size, waited } => write!(
                f,
                "no connection free: all {max_size} connections of the pool were in use (or being opened); \
                 waited {} ms (connection_timeout)",
                waited.as_millis()
            ),
            Error::Exhausted { max_size } => write!(
                f,
                "no connection free: none of the pool's (at most {max_size}) connections is idle (try_get does \
                 not wait)"
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

/// A snapshot of a pool, from [`Pool::state`]: taken under the pool's lock, so its numbers agree with each other,
/// but already stale when you read it. For display, tests and charts.
///
/// ```
/// use support::conn_pool::{DemoManager, Pool};
///
/// let pool = Pool::builder().max_size(3).min_idle(2).build(DemoManager::new()).unwrap();
/// let state = pool.state();
/// assert_eq!((state.connections, state.idle, state.in_use, state.waiting), (2, 2, 0, 0));
/// let conn = pool.get().unwrap(); // lends one and asks for a third, to keep 2 idle
/// let state = pool.state();
/// assert_eq!((state.in_use, state.waiting), (1, 0));
/// println!("{state}"); // 3 connections (2 idle, 1 in use), 0 waiting; created 3, timed out 0, discarded 0
/// # drop(conn);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct State {
    /// Open connections, idle or lent out (at most `max_size`).
    pub connections: usize,
    /// Connections waiting in the pool.
    pub idle: usize,
    /// Connections lent out (including one a `get` is checking with `is_valid` before handing it over).
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
/// The pool and its thread live until the last handle is dropped. See the [module docs](self) for how it works.
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

/// What the `Pool` handles share; dropping it (the last handle) stops the pool's thread. Guards hold only the
/// `Shared` part, so a guard outliving the pool does not keep the thread running.
struct Handle<M: ManageConnection> {
    shared: Arc<Shared<M>>,
    maintenance: Option<thread::JoinHandle<()>>,
}

struct Shared<M: ManageConnection> {
    state: Mutex<Internals<M::Connection, M::Error>>,
    /// `get` (and `build`, and the last handle's drop) wait here: for a connection given back or opened, a
    /// `connect` error, or the thread's end.
    available: Condvar,
    /// The pool's thread waits here for connections to open, its next round, or the stop.
    work: Condvar,
    /// Time 0 of the pool's coarse clock (`Internals::now_ms`).
    start: Instant,
    /// `config.max_lifetime` and `config.idle_timeout` in ms on that clock.
    max_lifetime_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
    error_handler: Option<ErrorHandler<M::Error>>,
    manager: M,
    config: Config,
}

/// Everything that changes, behind `Shared::state`. Lent out + idle + being opened + being closed never exceeds
/// `max_size`.
struct Internals<C, E> {
    /// Idle connections, a stack: the one given back last is lent out next.
    idle: Vec<Idle<C>>,
    /// Lent out (by a guard, or being checked by a `get`).
    in_use: usize,
    /// Being opened by the pool's thread, or waiting for it to start; `queued` of them not started yet.
    opening: usize,
    queued: usize,
    /// Being closed, outside the lock.
    closing: usize,
    /// Threads blocked in `get` (or `build`).
    waiting: usize,
    /// A `connect` error for one of the waiting threads.
    failed: Option<E>,
    /// The coarse clock: ms since `Shared::start`, moved forward by the pool's thread at each round. Reading it
    /// costs nothing where `Instant::now()` costs about 50 ns on the course's VM (as much as a whole get + return).
    now_ms: u64,
    created: u64,
    timed_out: u64,
    discarded: u64,
    /// Set by the last handle's drop: the pool's thread ends.
    stop: bool,
    /// The pool's thread is running.
    maintaining: bool,
}

impl<C, E> Internals<C, E> {
    fn total(&self) -> usize {
        self.idle.len() + self.in_use + self.opening + self.closing
    }
}

struct Idle<C> {
    raw: C,
    /// When it was opened, on the pool's clock.
    created: u64,
    /// When it was last given back, on the pool's clock.
    since: u64,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Whether something `age` ms old has reached `limit_ms` (`None`: never).
fn reached(age: u64, limit_ms: Option<u64>) -> bool {
    limit_ms.is_some_and(|limit| age >= limit)
}

/// Our critical sections only move values and update counts; none runs user code, so a poisoned lock (a panic
/// elsewhere) still holds consistent data.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits on `cv` until notified or (if given) `deadline`.
fn wait<'a, T>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    deadline: Option<Instant>,
) -> MutexGuard<'a, T> {
    match deadline {
        None => cv.wait(guard).unwrap_or_else(|p| p.into_inner()),
        Some(deadline) => {
            let left = deadline.saturating_duration_since(Instant::now());
            cv.wait_timeout(guard, left)
                .unwrap_or_else(|p| p.into_inner())
                .0
        }
    }
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

    /// Lends out a connection: an idle one if there is one, else waits up to `connection_timeout` for one to come
    /// back or for the pool's thread to open a new one (if fewer than `max_size` are open). The guard gives it
    /// back when dropped.
    ///
    /// Errors: [`Error::Timeout`] after `connection_timeout`; [`Error::Connect`] when opening a new connection
    /// failed while this `get` waited (the next `get` tries again).
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
        // (start, deadline), set when this `get` first waits or a check fails: the fast path reads no clock.
        let mut clock = None;
        loop {
            let conn = shared.take_or_wait(&mut clock)?;
            if let Some(conn) = shared.check(conn) {
                return Ok(PooledConnection::new(shared, conn));
            }
            // It failed its check and was closed: try the next, until the deadline.
            clock.get_or_insert_with(|| shared.deadline());
        }
    }

    /// Like [`get`](Self::get), without waiting: an idle connection, or [`Error::Exhausted`] (as r2d2's
    /// `try_get`, it does not wait for a new connection to be opened).
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
        // Connections that fail their check are closed; try at most `max_size`, so this cannot go on while the
        // pool's thread refills `min_idle` with more.
        for _ in 0..shared.config.max_size {
            let conn = shared.pop(&mut lock(&shared.state));
            if let Some(conn) = shared.check(conn.ok_or(Error::Exhausted {
                max_size: shared.config.max_size,
            })?) {
                return Ok(PooledConnection::new(shared, conn));
            }
        }
        Err(Error::Exhausted {
            max_size: shared.config.max_size,
        })
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
        let st = lock(&self.handle.shared.state);
        State {
            connections: st.idle.len() + st.in_use,
            idle: st.idle.len(),
            in_use: st.in_use,
            waiting: st.waiting,
            created: st.created,
            timed_out: st.timed_out,
            discarded: st.discarded,
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

    /// `build`'s last step: has the pool's thread open `min_idle` connections (at least one) and waits for them,
    /// at most `connection_timeout`.
    fn open_first(&self) -> Result<(), BuildError<M::Error>> {
        let shared = &self.handle.shared;
        let first = shared.config.min_idle.max(1);
        let (start, deadline) = shared.deadline();
        let mut st = lock(&shared.state);
        st.opening += first;
        st.queued += first;
        shared.work.notify_one();
        while st.idle.len() < first {
            if Instant::now() >= deadline {
                return Err(BuildError::Timeout {
                    waited: start.elapsed(),
                });
            }
            st.waiting += 1; // so that a failed `connect` is handed to us
            st = wait(&shared.available, st, Some(deadline));
            st.waiting -= 1;
            if let Some(e) = st.failed.take() {
                return Err(BuildError::Connect(e));
            }
        }
        Ok(())
    }
}

impl<M: ManageConnection> Shared<M> {
    /// (now, now + connection_timeout).
    fn deadline(&self) -> (Instant, Instant) {
        let now = Instant::now();
        (now, now + self.config.connection_timeout)
    }

    /// Takes the top idle connection, if any, counts it lent out, and asks for a replacement if `min_idle` needs
    /// one.
    fn pop(&self, st: &mut Internals<M::Connection, M::Error>) -> Option<Idle<M::Connection>> {
        let conn = st.idle.pop()?;
        st.in_use += 1;
        self.top_up(st);
        Some(conn)
    }

    /// An idle connection, waiting for one until the deadline (set in `clock` on the first wait). A `get` that
    /// already has a deadline (a check failed) stops trying once it has passed.
    fn take_or_wait(
        &self,
        clock: &mut Option<(Instant, Instant)>,
    ) -> Result<Idle<M::Connection>, Error<M::Error>> {
        let mut st = lock(&self.state);
        if clock.is_none() {
            if let Some(conn) = self.pop(&mut st) {
                return Ok(conn); // the fast path
            }
        }
        let (start, deadline) = *clock.get_or_insert_with(|| self.deadline());
        loop {
            if Instant::now() >= deadline {
                st.timed_out += 1;
                return Err(Error::Timeout {
                    max_size: self.config.max_size,
                    waited: start.elapsed(),
                });
            }
            if let Some(conn) = self.pop(&mut st) {
                return Ok(conn);
            }
            // Count ourselves waiting, ask for a connection if there is room (again after a failed `connect`), and
            // sleep. Looking at the stack and going to sleep happen under the lock a guard giving back takes: no
            // lost wake-up.
            st.waiting += 1;
            self.top_up(&mut st);
            st = wait(&self.available, st, Some(deadline));
            st.waiting -= 1;
            if let Some(e) = st.failed.take() {
                return Err(Error::Connect(e));
            }
        }
    }

    /// Asks the pool's thread for the connections the pool lacks: one for each waiting thread plus enough to
    /// keep `min_idle` idle, beyond those being opened already, within `max_size`. Called under the lock after
    /// anything that changes these numbers.
    fn top_up(&self, st: &mut Internals<M::Connection, M::Error>) {
        let wanted = st.waiting + self.config.min_idle.saturating_sub(st.idle.len());
        let room = self.config.max_size.saturating_sub(st.total());
        let more = wanted.saturating_sub(st.opening).min(room);
        if more > 0 {
            st.opening += more;
            st.queued += more;
            self.work.notify_one();
        }
    }

    /// With `test_on_checkout`, runs `is_valid` on a connection just taken (outside the lock). `None`: it failed
    /// (or panicked) and was closed.
    fn check(&self, mut conn: Idle<M::Connection>) -> Option<Idle<M::Connection>> {
        if !self.config.test_on_checkout {
            return Some(conn);
        }
        match catch_unwind(AssertUnwindSafe(|| self.manager.is_valid(&mut conn.raw))) {
            Ok(Ok(())) => return Some(conn),
            Ok(Err(e)) => self.report(&e),
            Err(_panic) => {} // the panic hook printed it
        }
        self.discard(vec![conn], true);
        None
    }

    /// Hands an error to the `error_handler`. A panic in it is caught (the panic hook prints it): it must not
    /// leave a connection uncounted, nor end the pool's thread.
    fn report(&self, e: &M::Error) {
        if let Some(handler) = &self.error_handler {
            let _ = catch_unwind(AssertUnwindSafe(|| handler(e)));
        }
    }

    /// A connection comes back from a guard: idle again, or closed if broken or past `max_lifetime`.
    fn put_back(&self, mut conn: Idle<M::Connection>) {
        // A panic in the manager's `has_broken` (a bug in the manager) must not lose a connection's room:
        // treat the connection as broken. The panic hook has printed the message.
        let broken = catch_unwind(AssertUnwindSafe(|| self.manager.has_broken(&mut conn.raw)))
            .unwrap_or(true);
        let mut st = lock(&self.state);
        if broken || reached(st.now_ms.saturating_sub(conn.created), self.max_lifetime_ms) {
            drop(st);
            return self.discard(vec![conn], true);
        }
        conn.since = st.now_ms;
        st.idle.push(conn);
        st.in_use -= 1;
        if st.waiting > 0 {
            self.available.notify_one();
        }
    }

    /// Closes connections the pool no longer wants (lent out until now if `lent`, else already taken off the idle
    /// stack), outside the lock but counted in `closing` until closed, so that never more than `max_size` are
    /// open even for a moment; then asks for replacements.
    fn discard(&self, conns: Vec<Idle<M::Connection>>, lent: bool) {
        let n = conns.len();
        {
            let mut st = lock(&self.state);
            if lent {
                st.in_use -= n;
            }
            st.closing += n;
            st.discarded += n as u64;
        }
        for conn in conns {
            // A connection whose `drop` panics is gone all the same.
            let _ = catch_unwind(AssertUnwindSafe(|| drop(conn)));
        }
        let mut st = lock(&self.state);
        st.closing -= n;
        self.top_up(&mut st);
    }

    /// Opens one connection (on the pool's thread) and hands it, or its error, to the waiting threads.
    fn open_one(&self) {
        let opened = catch_unwind(AssertUnwindSafe(|| self.manager.connect()));
        if let Ok(Err(e)) = &opened {
            self.report(e);
        }
        let mut st = lock(&self.state);
        st.opening -= 1;
        match opened {
            Ok(Ok(raw)) => {
                st.created += 1;
                let now = st.now_ms;
                st.idle.push(Idle {
                    raw,
                    created: now,
                    since: now,
                });
                if st.waiting > 0 {
                    self.available.notify_one();
                }
            }
            // A waiting thread takes the error; the others look again and ask for another try. (A panic in
            // `connect` is only that second part; the panic hook printed it.)
            failed => {
                if let (Ok(Err(e)), true) = (failed, st.waiting > 0) {
                    st.failed.get_or_insert(e);
                }
                self.available.notify_all();
            }
        }
    }

    /// One round of maintenance: move the clock, choose the expired idle connections under the lock, close them
    /// after it, and top up.
    fn reap(&self) {
        let expired = {
            let mut st = lock(&self.state);
            let now = millis(self.start.elapsed());
            st.now_ms = now;
            let idle = std::mem::take(&mut st.idle);
            let mut left = idle.len();
            let mut expired = Vec::new();
            // Bottom of the stack first: the longest idle.
            for conn in idle {
                let too_old = reached(now.saturating_sub(conn.created), self.max_lifetime_ms);
                let unused = reached(now.saturating_sub(conn.since), self.idle_timeout_ms)
                    && left > self.config.min_idle;
                if too_old || unused {
                    left -= 1;
                    expired.push(conn);
                } else {
                    st.idle.push(conn);
                }
            }
            self.top_up(&mut st); // also retries a refill whose `connect` failed
            expired
        };
        if !expired.is_empty() {
            self.discard(expired, false);
        }
    }
}

/// The pool's thread: opens the connections asked for, and every `every` closes expired idle ones. Ends when
/// the last `Pool` handle is dropped.
fn maintenance_loop<M: ManageConnection>(shared: &Shared<M>, every: Option<Duration>) {
    let mut next_round = every.map(|every| Instant::now() + every);
    let mut st = lock(&shared.state);
    while !st.stop {
        if st.queued > 0 {
            st.queued -= 1;
            drop(st);
            shared.open_one();
        } else if next_round.is_some_and(|at| Instant::now() >= at) {
            drop(st);
            shared.reap();
            next_round = every.map(|every| Instant::now() + every);
        } else {
            st = wait(&shared.work, st, next_round);
            continue;
        }
        st = lock(&shared.state);
    }
    st.maintaining = false;
    shared.available.notify_all();
}

impl<M: ManageConnection> Drop for Handle<M> {
    fn drop(&mut self) {
        // The last `Pool` handle is gone: stop the pool's thread and wait for it, at most `connection_timeout`
        // (it may be in a `connect` that hangs). It holds only `Shared`, never a `Handle`, so this never runs on
        // that thread itself.
        let shared = &self.shared;
        let mut st = lock(&shared.state);
        st.stop = true;
        shared.work.notify_one();
        let (_, deadline) = shared.deadline();
        while st.maintaining && Instant::now() < deadline {
            st = wait(&shared.available, st, Some(deadline));
        }
        let ended = !st.maintaining;
        drop(st);
        if let (Some(thread), true) = (self.maintenance.take(), ended) {
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
    conn: Option<Idle<M::Connection>>,
    /// Holds the pool's shared part alive.
    pool: Arc<Shared<M>>,
}

impl<M: ManageConnection> PooledConnection<M> {
    fn new(pool: &Arc<Shared<M>>, conn: Idle<M::Connection>) -> Self {
        PooledConnection {
            conn: Some(conn),
            pool: Arc::clone(pool),
        }
    }
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
            self.pool.put_back(conn);
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The invariant behind "never more than `max_size`", checked from inside while gets, returns, discards and
    /// `min_idle` refills race: lent out + idle + being opened + being closed stays within `max_size`.
    #[test]
    fn lent_idle_opening_and_closing_never_exceed_max_size() {
        let pool = Pool::builder()
            .max_size(3)
            .min_idle(2)
            .build(DemoManager::new())
            .unwrap();
        let rounds = if cfg!(miri) { 30 } else { 5_000 };
        std::thread::scope(|s| {
            for t in 0..4 {
                let pool = &pool;
                s.spawn(move || {
                    for i in 0..rounds {
                        let mut conn = pool.get().expect("no timeout");
                        if (i + t) % 7 == 0 {
                            conn.break_connection(); // closed on return, then replaced
                        }
                        let st = lock(&pool.handle.shared.state);
                        assert!(st.total() <= 3 && st.in_use >= 1);
                    }
                });
            }
        });
        let st = lock(&pool.handle.shared.state);
        assert_eq!((st.in_use, st.closing, st.waiting), (0, 0, 0));
        assert!(st.total() <= 3);
    }
}
