//! A stand-in manager for lessons, doc examples and tests, where a real database would only add noise.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::ManageConnection;

/// A [`ManageConnection`] whose connections are numbered in-memory objects. It counts the connections it opened,
/// can be told to refuse new ones, and its connections can be marked broken — what a lesson needs to show a pool
/// at work without a database.
///
/// ```
/// use support::conn_pool::{DemoManager, Pool};
///
/// let pool = Pool::builder().max_size(2).build(DemoManager::new()).unwrap();
/// let mut conn = pool.get().unwrap();
/// assert_eq!(conn.id(), 0);
/// conn.break_connection(); // e.g. the server hung up
/// drop(conn); // a broken connection is closed, not kept
/// assert_eq!(pool.get().unwrap().id(), 1, "a fresh connection");
/// assert_eq!(pool.manager().opened(), 2);
/// ```
#[derive(Debug, Default)]
pub struct DemoManager {
    opened: AtomicUsize,
    refuse: AtomicBool,
}

impl DemoManager {
    /// A manager that accepts connections.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many connections it has opened so far (ids `0..opened()`).
    pub fn opened(&self) -> usize {
        self.opened.load(Ordering::SeqCst)
    }

    /// From now on, `connect` fails with [`DemoError::Refused`] (`true`) or succeeds again (`false`).
    pub fn refuse_connections(&self, refuse: bool) {
        self.refuse.store(refuse, Ordering::SeqCst);
    }
}

impl ManageConnection for DemoManager {
    type Connection = DemoConnection;
    type Error = DemoError;

    fn connect(&self) -> Result<DemoConnection, DemoError> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(DemoError::Refused);
        }
        Ok(DemoConnection {
            id: self.opened.fetch_add(1, Ordering::SeqCst),
            broken: false,
        })
    }

    fn is_valid(&self, conn: &mut DemoConnection) -> Result<(), DemoError> {
        if conn.broken {
            Err(DemoError::Broken)
        } else {
            Ok(())
        }
    }

    fn has_broken(&self, conn: &mut DemoConnection) -> bool {
        conn.broken
    }
}

/// A connection of [`DemoManager`]: a number, and a flag saying whether it broke.
///
/// ```
/// use support::conn_pool::{DemoManager, ManageConnection};
///
/// let manager = DemoManager::new();
/// let mut conn = manager.connect().unwrap();
/// assert_eq!(conn.query("SELECT 1"), "SELECT 1");
/// conn.break_connection();
/// assert!(conn.is_broken());
/// ```
#[derive(Debug)]
pub struct DemoConnection {
    id: usize,
    broken: bool,
}

impl DemoConnection {
    /// Its number: 0 for the first connection the manager opened, then 1, 2, …
    pub fn id(&self) -> usize {
        self.id
    }

    /// "Runs" a query: returns it unchanged.
    pub fn query(&self, sql: &str) -> String {
        sql.to_string()
    }

    /// Marks the connection broken, as if the server had closed it: the pool discards it when it comes back.
    pub fn break_connection(&mut self) {
        self.broken = true;
    }

    /// Whether [`break_connection`](Self::break_connection) was called.
    pub fn is_broken(&self) -> bool {
        self.broken
    }
}

/// The errors of [`DemoManager`].
///
/// ```
/// use support::conn_pool::DemoError;
/// assert_eq!(DemoError::Broken.to_string(), "connection broken (DemoConnection::break_connection)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoError {
    /// `connect` while [`DemoManager::refuse_connections`] is on.
    Refused,
    /// `is_valid` on a connection marked broken.
    Broken,
}

impl fmt::Display for DemoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DemoError::Refused => write!(f, "connection refused (DemoManager::refuse_connections)"),
            DemoError::Broken => write!(f, "connection broken (DemoConnection::break_connection)"),
        }
    }
}

impl std::error::Error for DemoError {}
