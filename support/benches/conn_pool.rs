//! support::conn_pool against r2d2, in one run: get + return with a trivial manager at 1, 2 and 8 threads, and the
//! SQLite manager against r2d2_sqlite on a small query. Both pools use their default settings (max_size 10, health
//! check on checkout, max_lifetime and idle_timeout set).
//!
//! `cargo bench -p support --features sqlite --bench conn_pool`. Numbers and ratios: see support::conn_pool's docs.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use support::conn_pool::sqlite::rusqlite::{self, params};
use support::conn_pool::sqlite::SqliteManager;

/// A manager whose connections cost nothing: what remains is the pool's own overhead.
struct Trivial;

#[derive(Debug)]
struct Never;
impl std::fmt::Display for Never {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "never")
    }
}
impl std::error::Error for Never {}

impl support::conn_pool::ManageConnection for Trivial {
    type Connection = u64;
    type Error = Never;
    fn connect(&self) -> Result<u64, Never> {
        Ok(0)
    }
    fn is_valid(&self, _: &mut u64) -> Result<(), Never> {
        Ok(())
    }
    fn has_broken(&self, _: &mut u64) -> bool {
        false
    }
}

impl r2d2::ManageConnection for Trivial {
    type Connection = u64;
    type Error = Never;
    fn connect(&self) -> Result<u64, Never> {
        Ok(0)
    }
    fn is_valid(&self, _: &mut u64) -> Result<(), Never> {
        Ok(())
    }
    fn has_broken(&self, _: &mut u64) -> bool {
        false
    }
}

/// Runs `op` about `iters` times spread over `threads` threads (started together) and returns the time for
/// `iters` operations.
fn timed(threads: usize, iters: u64, op: impl Fn(u64) + Sync) -> Duration {
    if threads == 1 {
        let start = Instant::now();
        for i in 0..iters {
            op(i);
        }
        return start.elapsed();
    }
    let per_thread = iters.div_ceil(threads as u64).max(1);
    let barrier = Barrier::new(threads + 1);
    let elapsed = std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                barrier.wait();
                for i in 0..per_thread {
                    op(i);
                }
            });
        }
        barrier.wait();
        let start = Instant::now();
        // The scope joins every thread before returning.
        start
    })
    .elapsed();
    elapsed.mul_f64(iters as f64 / (per_thread * threads as u64) as f64)
}

fn get_and_return(c: &mut Criterion) {
    let mut g = c.benchmark_group("get+return, trivial manager");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    let ours = support::conn_pool::Pool::builder().build(Trivial).unwrap();
    let theirs = r2d2::Pool::builder().build(Trivial).unwrap();
    for threads in [1, 2, 8] {
        g.bench_with_input(BenchmarkId::new("support", threads), &threads, |b, &t| {
            b.iter_custom(|iters| timed(t, iters, |_| drop(black_box(ours.get().unwrap()))))
        });
        g.bench_with_input(BenchmarkId::new("r2d2", threads), &threads, |b, &t| {
            b.iter_custom(|iters| timed(t, iters, |_| drop(black_box(theirs.get().unwrap()))))
        });
    }
    g.finish();
}

const ROWS: u64 = 1_000;
const QUERY: &str = "SELECT v FROM kv WHERE k = ?1";

fn fill(conn: &rusqlite::Connection) {
    conn.execute_batch("CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        .unwrap();
    let mut insert = conn.prepare("INSERT INTO kv VALUES (?1, ?2)").unwrap();
    for k in 0..ROWS {
        insert.execute(params![k, format!("value {k}")]).unwrap();
    }
}

fn small_query(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("get + SELECT by key + return, SQLite file (WAL)");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));

    let ours = support::conn_pool::Pool::builder()
        .build(SqliteManager::file(dir.path().join("ours.db")))
        .unwrap();
    fill(&ours.get().unwrap());
    // r2d2_sqlite with the same connection settings as SqliteManager::file.
    let manager = r2d2_sqlite::SqliteConnectionManager::file(dir.path().join("theirs.db")).with_init(|c| {
        c.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;")
    });
    let theirs = r2d2::Pool::builder().build(manager).unwrap();
    fill(&theirs.get().unwrap());

    let lookup = |conn: &rusqlite::Connection, k: u64| -> String {
        conn.prepare_cached(QUERY)
            .unwrap()
            .query_row(params![k % ROWS], |r| r.get(0))
            .unwrap()
    };
    for threads in [1, 2, 8] {
        g.bench_with_input(
            BenchmarkId::new("support SqliteManager", threads),
            &threads,
            |b, &t| {
                b.iter_custom(|iters| {
                    timed(t, iters, |k| {
                        drop(black_box(lookup(&ours.get().unwrap(), k)))
                    })
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("r2d2_sqlite", threads),
            &threads,
            |b, &t| {
                b.iter_custom(|iters| {
                    timed(t, iters, |k| {
                        drop(black_box(lookup(&theirs.get().unwrap(), k)))
                    })
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, get_and_return, small_query);
criterion_main!(benches);
