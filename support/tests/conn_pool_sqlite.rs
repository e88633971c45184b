//! support::conn_pool over real SQLite (feature `sqlite`): `cargo test -p support --features sqlite`.
#![cfg(feature = "sqlite")]

use std::time::Duration;

use support::conn_pool::sqlite::rusqlite::params;
use support::conn_pool::sqlite::SqliteManager;
use support::conn_pool::{BuildError, Pool};

#[test]
#[cfg_attr(miri, ignore = "SQLite is C code, which Miri cannot run")]
fn eight_threads_insert_ten_thousand_rows_into_a_file_database() {
    const THREADS: i64 = 8;
    const ROWS: i64 = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.db");
    let pool = Pool::builder()
        .max_size(4) // fewer connections than threads: threads wait for each other
        .connection_timeout(Duration::from_secs(60))
        .build(SqliteManager::file(&path))
        .unwrap();
    pool.get()
        .unwrap()
        .execute_batch("CREATE TABLE rows (thread INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (thread, n))")
        .unwrap();
    std::thread::scope(|s| {
        for thread in 0..THREADS {
            let pool = &pool;
            s.spawn(move || {
                for n in 0..ROWS / THREADS {
                    let conn = pool.get().unwrap();
                    conn.prepare_cached("INSERT INTO rows (thread, n) VALUES (?1, ?2)")
                        .unwrap()
                        .execute(params![thread, n])
                        .unwrap();
                }
            });
        }
    });
    let state = pool.state();
    assert!(state.connections <= 4 && state.timed_out == 0, "{state}");
    drop(pool);

    // Read back through a fresh pool: every row is in the file.
    let pool = Pool::new(SqliteManager::file(&path)).unwrap();
    let conn = pool.get().unwrap();
    let count: i64 = conn
        .query_row("SELECT COUNT(*) FROM rows", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, ROWS);
    for thread in 0..THREADS {
        let (rows, max): (i64, i64) = conn
            .query_row(
                "SELECT COUNT(*), MAX(n) FROM rows WHERE thread = ?1",
                params![thread],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((rows, max), (ROWS / THREADS, ROWS / THREADS - 1));
    }
}

#[test]
#[cfg_attr(miri, ignore = "SQLite is C code, which Miri cannot run")]
fn file_connections_use_wal_and_the_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let manager =
        SqliteManager::file(dir.path().join("wal.db")).busy_timeout(Duration::from_millis(1500));
    let pool = Pool::builder().max_size(2).build(manager).unwrap();
    let (a, b) = (pool.get().unwrap(), pool.get().unwrap());
    for conn in [&a, &b] {
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let busy: i64 = conn
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .unwrap();
        assert_eq!(busy, 1500);
    }
}

#[test]
#[cfg_attr(miri, ignore = "SQLite is C code, which Miri cannot run")]
fn the_shared_in_memory_database_is_one_database_and_outlives_idle_connections() {
    let pool = Pool::builder()
        .max_size(2)
        .idle_timeout(Some(Duration::from_millis(20)))
        .build(SqliteManager::memory("conn_pool_test_shared"))
        .unwrap();
    {
        let (a, b) = (pool.get().unwrap(), pool.get().unwrap());
        a.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        a.execute("INSERT INTO t VALUES (?1)", params![7]).unwrap();
        let x: i64 = b.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(x, 7);
    }
    // Let idle_timeout close every pooled connection: the manager's own connection keeps the database alive.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while pool.state().connections > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(pool.state().connections, 0);
    let x: i64 = pool
        .get()
        .unwrap()
        .query_row("SELECT x FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(x, 7);
}

#[test]
#[cfg_attr(miri, ignore = "SQLite is C code, which Miri cannot run")]
fn a_connection_given_back_inside_a_transaction_is_discarded() {
    let pool = Pool::builder()
        .max_size(1)
        .build(SqliteManager::memory("conn_pool_test_tx"))
        .unwrap();
    pool.get()
        .unwrap()
        .execute_batch("CREATE TABLE t (x INTEGER)")
        .unwrap();
    let p = pool.clone();
    let result = std::thread::spawn(move || {
        let conn = p.get().unwrap();
        conn.execute_batch("BEGIN; INSERT INTO t VALUES (1);")
            .unwrap();
        panic!("the holder fails before COMMIT");
    })
    .join();
    assert!(result.is_err());
    assert_eq!(
        pool.state().discarded,
        1,
        "closed, not handed to the next thread mid-transaction"
    );
    let conn = pool.get().unwrap();
    assert!(conn.is_autocommit());
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0, "the unfinished transaction was rolled back");
}

#[test]
#[cfg_attr(miri, ignore = "SQLite is C code, which Miri cannot run")]
fn bad_locations_fail_the_build_with_the_sqlite_error_as_source() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/x.db");
    let err = Pool::new(SqliteManager::file(missing)).unwrap_err();
    assert!(matches!(err, BuildError::Connect(_)));
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("unable to open"), "{source}");

    let err = Pool::new(SqliteManager::memory("a/b?c")).unwrap_err();
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("use ASCII letters"), "{source}");
}
