//! support's ThreadPool against the `threadpool` crate, rayon and a std thread per job, in one run.
//! `cargo bench -p support --bench pool` (part of `make bench`). Numbers and ratios: see support::pool's docs.
//! The three pools run the same tiny job on the same `static` counter; on a shared machine compare ratios within
//! one run, not numbers across runs.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use support::pool::ThreadPool;

const JOBS: usize = 100_000;
const THREADS: usize = 2;

/// The one shared counter every tiny job bumps, the same for all pools: a `static`, so that the `'static` jobs of
/// support and threadpool need no `Arc` clone per job (an extra contended atomic that rayon's borrowing jobs would
/// not pay — with it, the comparison measured the `Arc`, not the pools).
static DONE: AtomicUsize = AtomicUsize::new(0);

fn tiny() {
    DONE.fetch_add(1, Ordering::Relaxed);
}

fn throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("100k tiny jobs");
    g.throughput(Throughput::Elements(JOBS as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(3));

    let pool = ThreadPool::new(THREADS).unwrap();
    g.bench_function("support execute", |b| {
        b.iter(|| {
            for _ in 0..JOBS {
                pool.execute(tiny).unwrap();
            }
            assert!(pool.wait_idle(Duration::from_secs(60)));
        })
    });
    g.bench_function("support map (batched)", |b| {
        b.iter(|| black_box(pool.map(0..JOBS as u64, |x| x.wrapping_mul(3)).unwrap()))
    });
    let tp = threadpool::ThreadPool::new(THREADS);
    g.bench_function("threadpool", |b| {
        b.iter(|| {
            for _ in 0..JOBS {
                tp.execute(tiny);
            }
            tp.join();
        })
    });
    let rp = rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .build()
        .unwrap();
    g.bench_function("rayon scope spawn", |b| {
        b.iter(|| {
            rp.scope(|s| {
                for _ in 0..JOBS {
                    s.spawn(|_| tiny());
                }
            });
        })
    });
    g.finish();
}

fn round_trip(c: &mut Criterion) {
    let mut g = c.benchmark_group("submit → result round trip");
    g.sample_size(20).measurement_time(Duration::from_secs(2));
    let pool = ThreadPool::new(THREADS).unwrap();
    g.bench_function("support submit + join", |b| {
        b.iter(|| pool.submit(|| black_box(1)).unwrap().join().unwrap())
    });
    let tp = threadpool::ThreadPool::new(THREADS);
    g.bench_function("threadpool + channel", |b| {
        b.iter(|| {
            let (tx, rx) = mpsc::channel();
            tp.execute(move || tx.send(black_box(1)).unwrap());
            rx.recv().unwrap()
        })
    });
    let rp = rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .build()
        .unwrap();
    g.bench_function("rayon spawn + channel", |b| {
        b.iter(|| {
            let (tx, rx) = mpsc::channel();
            rp.spawn(move || tx.send(black_box(1)).unwrap());
            rx.recv().unwrap()
        })
    });
    g.bench_function("std spawn + join", |b| {
        b.iter(|| std::thread::spawn(|| black_box(1)).join().unwrap())
    });
    g.finish();
}

fn submitters(c: &mut Criterion) {
    let mut g = c.benchmark_group("10k jobs from n submitting threads");
    g.sample_size(10).measurement_time(Duration::from_secs(2));
    let per = 10_000;
    g.throughput(Throughput::Elements(per as u64));
    let pool = Arc::new(ThreadPool::new(THREADS).unwrap());
    let tp = threadpool::ThreadPool::new(THREADS);
    for submitters in [1usize, 2, 4, 8] {
        g.bench_with_input(
            BenchmarkId::new("support", submitters),
            &submitters,
            |b, &k| {
                b.iter(|| {
                    std::thread::scope(|s| {
                        for _ in 0..k {
                            let pool = Arc::clone(&pool);
                            s.spawn(move || {
                                for _ in 0..per / k {
                                    pool.execute(|| {
                                        black_box(1);
                                    })
                                    .unwrap();
                                }
                            });
                        }
                    });
                    assert!(pool.wait_idle(Duration::from_secs(60)));
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("threadpool", submitters),
            &submitters,
            |b, &k| {
                b.iter(|| {
                    std::thread::scope(|s| {
                        for _ in 0..k {
                            let tp = tp.clone();
                            s.spawn(move || {
                                for _ in 0..per / k {
                                    tp.execute(|| {
                                        black_box(1);
                                    });
                                }
                            });
                        }
                    });
                    tp.join();
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, throughput, round_trip, submitters);
criterion_main!(benches);
