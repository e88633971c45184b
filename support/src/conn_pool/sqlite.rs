//! [`SqliteManager`]: pooled connections to a real SQLite database (rusqlite, with SQLite bundled: nothing to
//! install). Cargo feature `sqlite`.
//!
//! - [`SqliteManager::file`]: a database file, in WAL mode (readers do not block the writer, nor it them) with
//!   `synchronous = NORMAL`, the usual pairing with WAL: a power cut can lose the last commits, never corrupt the
//!   file.
//! - [`SqliteManager::memory`]: an in-memory database shared by all the pool's connections (SQLite's `memdb` VFS),
//!   alive as long as the manager is — for lessons and tests.
//!
//! Every connection gets a busy timeout (5 s by default): SQLite allows one writer at a time, and a connection that
//! finds the database locked retries for that long before failing with "database is locked".
//!
//! A `rusqlite::Connection` is `Send` but not `Sync`: one thread at a time may use it. That is exactly what a pool
//! gives: each connection is lent to one thread, and the pool itself is shared.
//!
//! In a notebook, open, use and drop a pool within one cell: evcxr links every cell into a library of its own,
//! each with its own copy of the bundled SQLite, and a connection opened by one copy breaks when the next cell's
//! copy uses it (measured: `no such function: SUM`, and a crashed kernel when it is dropped).
//!
//! ```
//! use support::conn_pool::sqlite::{rusqlite::params, SqliteManager};
//! use support::conn_pool::Pool;
//!
//! let pool = Pool::builder().max_size(4).build(SqliteManager::memory("shop"))?;
//! pool.get()?.execute_batch(
//!     "CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL, qty INTEGER NOT NULL)",
//! )?;
//! std::thread::scope(|s| {
//!     for worker in 1..=4 {
//!         let pool = &pool;
//!         s.spawn(move || {
//!             let conn = pool.get().unwrap();
//!             // Parameters (?1, ?2), never string formatting: no SQL injection, no quoting bugs.
//!             conn.execute(
//!                 "INSERT INTO orders (item, qty) VALUES (?1, ?2)",
//!                 params![format!("widget-{worker}"), worker],
//!             )
//!             .unwrap();
//!         });
//!     }
//! });
//! let big: i64 = pool.get()?.query_row(
//!     "SELECT COUNT(*) FROM orders WHERE qty >= ?1",
//!     params![3],
//!     |row| row.get(0),
//! )?;
//! assert_eq!(big, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// The rusqlite version the manager is built with, re-exported so that a notebook needs only `support`:
/// `use support::conn_pool::sqlite::rusqlite::params;`.
pub use rusqlite;
use rusqlite::{Connection, OpenFlags};

use super::{ManageConnection, Pool};

/// A pool of SQLite connections.
///
/// ```
/// use support::conn_pool::sqlite::{SqliteManager, SqlitePool};
/// let pool: SqlitePool = SqlitePool::new(SqliteManager::memory("alias_example")).unwrap();
/// assert_eq!(pool.get().unwrap().query_row("SELECT 1 + 1", [], |r| r.get::<_, i64>(0)).unwrap(), 2);
/// ```
pub type SqlitePool = Pool<SqliteManager>;

/// Opens and checks SQLite connections for a [`Pool`]. Build it with [`file`](Self::file) or
/// [`memory`](Self::memory).
///
/// - `connect` opens the database and sets the busy timeout (and WAL for a file),
/// - `is_valid` runs an empty batch: it confirms the handle still answers. A SQLite connection is a handle on a
///   local file in this process, with no server or socket to go stale, so a query (`SELECT 1` does not read the
///   file either) would add half a microsecond to every `get` and detect nothing more. r2d2_sqlite checks the same
///   way, so the benchmark against it compares the pools,
/// - `has_broken` is true for a connection given back inside a transaction (`BEGIN` without `COMMIT`, e.g. its
///   holder panicked halfway): the next borrower would silently run inside that transaction, so the pool closes
///   the connection, which rolls the transaction back. (rusqlite's `Transaction` rolls back when dropped, so code
///   that uses `conn.transaction()` never gets here.)
///
/// ```
/// use std::time::Duration;
/// use support::conn_pool::sqlite::{rusqlite::params, SqliteManager};
/// use support::conn_pool::Pool;
///
/// let dir = tempfile::tempdir().unwrap();
/// let manager = SqliteManager::file(dir.path().join("app.db")).busy_timeout(Duration::from_secs(2));
/// let pool = Pool::builder().max_size(2).build(manager).unwrap();
/// let conn = pool.get().unwrap();
/// conn.execute_batch("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)").unwrap();
/// conn.execute("INSERT INTO kv VALUES (?1, ?2)", params!["lang", "rust"]).unwrap();
/// let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
/// assert_eq!(mode, "wal");
/// ```
pub struct SqliteManager {
    location: Location,
    busy_timeout: Duration,
    /// For an in-memory database: one connection the manager keeps open, because SQLite deletes an in-memory
    /// database when its last connection closes — which the pool does when connections expire.
    anchor: Mutex<Option<Connection>>,
}

#[derive(Debug, Clone)]
enum Location {
    File(PathBuf),
    Memory(String),
}

impl fmt::Debug for SqliteManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteManager")
            .field("location", &self.location)
            .field("busy_timeout", &self.busy_timeout)
            .finish()
    }
}

impl SqliteManager {
    /// Connections to the database file at `path` (created if missing; its directory must exist), in WAL mode.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::at(Location::File(path.into()))
    }

    /// Connections to an in-memory database called `name`, shared by every connection of this manager's pool
    /// (and by any other manager in this process using the same name). It lives as long as the manager. The name
    /// may use ASCII letters, digits, `_` and `-`; anything else makes `connect` (so `build`) fail.
    ///
    /// ```
    /// use support::conn_pool::sqlite::SqliteManager;
    /// use support::conn_pool::Pool;
    ///
    /// let pool = Pool::builder().max_size(2).build(SqliteManager::memory("scratch")).unwrap();
    /// let (a, b) = (pool.get().unwrap(), pool.get().unwrap()); // two different connections
    /// a.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (42)").unwrap();
    /// let x: i64 = b.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
    /// assert_eq!(x, 42, "b sees what a wrote: one database");
    ///
    /// let err = Pool::new(SqliteManager::memory("no spaces")).unwrap_err();
    /// assert!(std::error::Error::source(&err).unwrap().to_string().contains("letters, digits"));
    /// ```
    pub fn memory(name: &str) -> Self {
        Self::at(Location::Memory(name.to_string()))
    }

    fn at(location: Location) -> Self {
        SqliteManager {
            location,
            busy_timeout: Duration::from_secs(5),
            anchor: Mutex::new(None),
        }
    }

    /// How long a connection retries when the database is locked by another writer (default 5 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use support::conn_pool::sqlite::SqliteManager;
    /// let manager = SqliteManager::memory("busy_example").busy_timeout(Duration::from_millis(500));
    /// ```
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = match &self.location {
            Location::File(path) => Connection::open(path)?,
            Location::Memory(name) => {
                let valid = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !valid {
                    return Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISUSE),
                        Some(format!(
                            "in-memory database name {name:?}: use ASCII letters, digits, '_' and '-' only"
                        )),
                    ));
                }
                // The `memdb` VFS: a name starting with '/' is shared by all connections in this process, with
                // ordinary locking (so the busy timeout works, unlike the older `cache=shared`).
                Connection::open_with_flags(
                    format!("file:/{name}?vfs=memdb"),
                    OpenFlags::default(),
                )?
            }
        };
        conn.busy_timeout(self.busy_timeout)?;
        if let Location::File(_) = self.location {
            let _mode: String =
                conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        Ok(conn)
    }
}

impl ManageConnection for SqliteManager {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> rusqlite::Result<Connection> {
        let conn = self.open()?;
        if let Location::Memory(_) = self.location {
            let mut anchor = self.anchor.lock().unwrap_or_else(|p| p.into_inner());
            if anchor.is_none() {
                *anchor = Some(self.open()?);
            }
        }
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut Connection) -> rusqlite::Result<()> {
        // See the type's docs: nothing remote can go stale; this only confirms the handle answers.
        conn.execute_batch("")
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        !conn.is_autocommit()
    }
}
