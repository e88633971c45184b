//! Measuring wall time: run a closure several times and keep the minimum and the median, time the same work
//! across thread counts, record which thread ran when, and sample a value (a queue's depth) over time.
//!
//! Python learners know `time.perf_counter()` and `timeit`; this is the same idea with
//! [`std::time::Instant`]. The minimum says what the work costs when nothing disturbs it; the median is what
//! you should expect. On a busy 2-core machine the two can differ a lot, so lessons show both.
//!
//! ```
//! use support::timing::{across_threads, measure};
//!
//! let t = measure(5, || (0..10_000u64).sum::<u64>());
//! assert_eq!(t.runs(), 5);
//! assert!(t.min() <= t.median());
//!
//! // The same total work split over 1 and 2 threads.
//! let rows = across_threads(&[1, 2], 3, |threads| {
//!     std::thread::scope(|s| {
//!         for _ in 0..threads {
//!             s.spawn(move || (0..100_000u64 / threads as u64).sum::<u64>());
//!         }
//!     });
//! });
//! assert_eq!(rows.len(), 2);
//! assert_eq!(rows[1].threads, 2);
//! ```

use std::fmt;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The durations of repeated runs of the same work, sorted from fastest to slowest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    samples: Vec<Duration>,
}

impl Timing {
    /// Builds a summary from measured durations (in any order).
    ///
    /// # Panics
    /// When `samples` is empty: a timing of nothing has no minimum or median.
    pub fn from_samples(mut samples: Vec<Duration>) -> Self {
        assert!(
            !samples.is_empty(),
            "Timing::from_samples: no samples (measure at least one run)"
        );
        samples.sort();
        Timing { samples }
    }

    /// How many runs were measured.
    pub fn runs(&self) -> usize {
        self.samples.len()
    }

    /// The fastest run: the cost of the work when nothing else disturbed it.
    pub fn min(&self) -> Duration {
        self.samples[0]
    }

    /// The slowest run.
    pub fn max(&self) -> Duration {
        self.samples[self.samples.len() - 1]
    }

    /// The middle run (the mean of the two middle runs for an even count): what to expect.
    pub fn median(&self) -> Duration {
        let n = self.samples.len();
        if n % 2 == 1 {
            self.samples[n / 2]
        } else {
            (self.samples[n / 2 - 1] + self.samples[n / 2]) / 2
        }
    }

    /// The arithmetic mean of all runs.
    pub fn mean(&self) -> Duration {
        self.samples.iter().sum::<Duration>() / self.samples.len() as u32
    }

    /// The `p`-th percentile (nearest rank), `p` in `0.0..=100.0`: `percentile(99.0)` is the p99.
    ///
    /// ```
    /// use std::time::Duration;
    /// use support::timing::Timing;
    /// let t = Timing::from_samples((1..=100).map(Duration::from_millis).collect());
    /// assert_eq!(t.percentile(99.0), Duration::from_millis(99));
    /// assert_eq!(t.percentile(100.0), Duration::from_millis(100));
    /// ```
    ///
    /// # Panics
    /// When `p` is not a number between 0 and 100.
    pub fn percentile(&self, p: f64) -> Duration {
        assert!(
            (0.0..=100.0).contains(&p),
            "Timing::percentile: p must be between 0 and 100, got {p}"
        );
        let n = self.samples.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.samples[rank.clamp(1, n) - 1]
    }

    /// All runs, fastest first.
    pub fn samples(&self) -> &[Duration] {
        &self.samples
    }
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "min {} · median {} ({} runs)",
            fmt_duration(self.min()),
            fmt_duration(self.median()),
            self.runs()
        )
    }
}

/// Runs `work` `runs` times and returns the durations. The work's result is passed through
/// [`black_box`] so that the compiler cannot optimise the work away.
///
/// # Panics
/// When `runs` is 0.
pub fn measure<T>(runs: usize, mut work: impl FnMut() -> T) -> Timing {
    assert!(runs > 0, "measure: runs must be at least 1");
    let samples = (0..runs)
        .map(|_| {
            let start = Instant::now();
            black_box(work());
            start.elapsed()
        })
        .collect();
    Timing::from_samples(samples)
}

/// Runs `work` once and returns its result with the time it took.
///
/// ```
/// let (sum, took) = support::timing::time_once(|| (1..=10u32).sum::<u32>());
/// assert_eq!(sum, 55);
/// assert!(took.as_secs() < 5);
/// ```
pub fn time_once<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = work();
    (out, start.elapsed())
}

/// One row of [`across_threads`]: a thread count and the timing of the work at that count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadTiming {
    /// The number of threads the work was given.
    pub threads: usize,
    /// The measured runs.
    pub timing: Timing,
}

/// Times `work(threads)` for each thread count in `thread_counts`, `runs` times each.
///
/// The closure receives the thread count and must do the *same total work* whatever the count, split across
/// that many threads, so that the timings compare. Pass the rows to [`speedups`] for a speedup chart.
///
/// # Panics
/// When `thread_counts` is empty, contains 0, or `runs` is 0.
pub fn across_threads(
    thread_counts: &[usize],
    runs: usize,
    mut work: impl FnMut(usize),
) -> Vec<ThreadTiming> {
    assert!(
        !thread_counts.is_empty(),
        "across_threads: give at least one thread count"
    );
    assert!(
        thread_counts.iter().all(|&n| n > 0),
        "across_threads: thread counts must be at least 1, got {thread_counts:?}"
    );
    thread_counts
        .iter()
        .map(|&threads| ThreadTiming {
            threads,
            timing: measure(runs, || work(threads)),
        })
        .collect()
}

/// Times several variants `runs` times each, **interleaved**: run 1 of every variant, then run 2 of every variant,
/// and so on. On a shared machine a burst of load from another program then hits every variant alike instead of
/// spoiling one of them. Returns one [`Timing`] per variant, in order: compare their [`Timing::min`] ("best of
/// `runs`", the run least disturbed) or [`Timing::median`].
///
/// ```
/// use support::timing::interleaved;
/// let (mut a, mut b) = (0, 0);
/// let t = interleaved(3, &mut [&mut || a += 1, &mut || b += 2]);
/// assert_eq!((t.len(), t[0].runs(), a, b), (2, 3, 3, 6));
/// ```
///
/// # Panics
/// When `runs` is 0 or there is no variant.
pub fn interleaved(runs: usize, variants: &mut [&mut dyn FnMut()]) -> Vec<Timing> {
    assert!(runs > 0, "interleaved: runs must be at least 1");
    assert!(
        !variants.is_empty(),
        "interleaved: give at least one variant"
    );
    let mut samples = vec![Vec::with_capacity(runs); variants.len()];
    for _ in 0..runs {
        for (v, work) in variants.iter_mut().enumerate() {
            samples[v].push(time_once(&mut *work).1);
        }
    }
    samples.into_iter().map(Timing::from_samples).collect()
}

/// [`across_threads`] for several variants at once, interleaved as in [`interleaved`]: each run times every
/// thread count of every variant. Returns, per variant, one row per thread count (for [`speedups`]).
///
/// ```
/// use support::timing::interleaved_across_threads;
/// let mut seen = Vec::new();
/// let rows = interleaved_across_threads(&[1, 2], 2, &mut [&mut |t| seen.push(t), &mut |_| {}]);
/// assert_eq!(rows.len(), 2);
/// assert_eq!((rows[0][1].threads, rows[0][1].timing.runs()), (2, 2));
/// assert_eq!(seen, [1, 2, 1, 2]);
/// ```
///
/// # Panics
/// As [`across_threads`], and when there is no variant.
pub fn interleaved_across_threads(
    thread_counts: &[usize],
    runs: usize,
    variants: &mut [&mut dyn FnMut(usize)],
) -> Vec<Vec<ThreadTiming>> {
    assert!(
        !thread_counts.is_empty(),
        "interleaved_across_threads: give at least one thread count"
    );
    assert!(
        thread_counts.iter().all(|&n| n > 0),
        "interleaved_across_threads: thread counts must be at least 1, got {thread_counts:?}"
    );
    assert!(
        runs > 0,
        "interleaved_across_threads: runs must be at least 1"
    );
    assert!(
        !variants.is_empty(),
        "interleaved_across_threads: give at least one variant"
    );
    let mut samples = vec![vec![Vec::with_capacity(runs); thread_counts.len()]; variants.len()];
    for _ in 0..runs {
        for (c, &threads) in thread_counts.iter().enumerate() {
            for (v, work) in variants.iter_mut().enumerate() {
                samples[v][c].push(time_once(|| work(threads)).1);
            }
        }
    }
    samples
        .into_iter()
        .map(|per_count| {
            per_count
                .into_iter()
                .zip(thread_counts)
                .map(|(s, &threads)| ThreadTiming {
                    threads,
                    timing: Timing::from_samples(s),
                })
                .collect()
        })
        .collect()
}

/// Speedup of each row against the first row, from medians: `(threads, first median / this median)`.
///
/// ```
/// use std::time::Duration;
/// use support::timing::{speedups, ThreadTiming, Timing};
/// let row = |threads, ms| ThreadTiming { threads, timing: Timing::from_samples(vec![Duration::from_millis(ms)]) };
/// let s = speedups(&[row(1, 100), row(2, 50)]);
/// assert_eq!(s, vec![(1, 1.0), (2, 2.0)]);
/// ```
pub fn speedups(rows: &[ThreadTiming]) -> Vec<(usize, f64)> {
    let Some(first) = rows.first() else {
        return Vec::new();
    };
    let base = first.timing.median().as_secs_f64();
    rows.iter()
        .map(|r| {
            let t = r.timing.median().as_secs_f64();
            (r.threads, if t > 0.0 { base / t } else { f64::INFINITY })
        })
        .collect()
}

/// The number of threads this machine can run at once (`std::thread::available_parallelism`), 1 when unknown.
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// How much parallel CPU this machine gives **right now**: how many times faster a CPU-bound loop finishes when
/// split over `threads` threads than on one (best of 5 short runs, about 0.1 s in all). On an idle 2-core machine
/// `cpu_ceiling(2)` is close to 2.0; when another program keeps a core busy it drops towards 1.0. A timing chart
/// prints it beside its own speedup, so that "2 threads: 1.1×" reads as "the machine was busy", not "threads do not
/// help". The result lies between 1.0 and `threads`; `threads == 0` counts as 1.
///
/// ```
/// let ceiling = support::timing::cpu_ceiling(2);
/// assert!((1.0..=2.0).contains(&ceiling));
/// ```
pub fn cpu_ceiling(threads: usize) -> f64 {
    let threads = threads.max(1) as u64;
    const WORK: u64 = 8_000_000;
    let spin = |n: u64| {
        (0..n).fold(0u64, |x, i| {
            std::hint::black_box(x.wrapping_mul(31).wrapping_add(i))
        })
    };
    let one = measure(5, || spin(WORK)).min().as_secs_f64();
    let split = measure(5, || {
        std::thread::scope(|s| {
            for _ in 1..threads {
                s.spawn(|| spin(WORK / threads));
            }
            spin(WORK / threads)
        })
    })
    .min()
    .as_secs_f64();
    // Split over n threads, work cannot finish more than n times sooner: a higher ratio means another program
    // slowed the one-thread runs, so the ratio is capped at n. Below 1 it means the threads got less CPU than the
    // single run had a moment before (a busier machine, the cost of starting threads): the work could still have
    // run on one thread, so the ceiling is never under 1.
    if split > 0.0 {
        (one / split).clamp(1.0, threads as f64)
    } else {
        threads as f64
    }
}

/// One line that says what a speedup measurement found, computed from this run's numbers: the speedup, the ceiling
/// it is measured against, and what the gap means.
///
/// ```
/// let line = support::timing::speedup_verdict("2 threads", 1.9, 1.95);
/// assert!(line.starts_with("2 threads: 1.90× faster than 1 thread"), "{line}");
/// assert!(support::timing::speedup_verdict("2 threads", 1.0, 1.9).contains("below"));
/// // A busy machine: 1.0× says nothing about the threads when the ceiling itself is about 1×.
/// assert!(support::timing::speedup_verdict("2 threads", 1.0, 1.05).contains("ceiling itself is low"));
/// // The load changed between the two measurements: a speedup well above the ceiling says so.
/// assert!(support::timing::speedup_verdict("2 threads", 1.28, 1.0).contains("above the ceiling"));
/// ```
pub fn speedup_verdict(label: &str, speedup: f64, ceiling: f64) -> String {
    // A speedup the ceiling cannot explain first; then a low ceiling: with no spare core to win, "at the
    // ceiling" would say nothing about the threads.
    let judgement = if speedup > 1.15 * ceiling {
        "above the ceiling measured a moment before: the load from other programs changed in between, so neither \
         number is the machine's; re-run on a quieter machine"
    } else if ceiling < 1.3 {
        "the ceiling itself is low: another program is using the cores, re-run on a quieter machine"
    } else if speedup >= 0.85 * ceiling {
        "at the ceiling: the threads ran in parallel"
    } else {
        "well below the ceiling: the threads spent much of the time not running in parallel (too little work per \
         thread to pay for starting them, or something serialises them: a lock, the GIL, a shared cache line)"
    };
    format!("{label}: {speedup:.2}× faster than 1 thread (ceiling right now: {ceiling:.2}×) — {judgement}")
}

/// A duration in the unit that reads best: `850 ns`, `12.3 µs`, `4.56 ms`, `1.23 s`.
///
/// ```
/// use std::time::Duration;
/// use support::timing::fmt_duration;
/// assert_eq!(fmt_duration(Duration::from_micros(1500)), "1.50 ms");
/// assert_eq!(fmt_duration(Duration::from_nanos(850)), "850 ns");
/// ```
pub fn fmt_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else {
        format!("{:.2} s", ns as f64 / 1e9)
    }
}

/// One interval of work done by a labelled thread, in milliseconds since the recorder was created.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Who did the work, for example the thread's name.
    pub label: String,
    /// When the work started, ms after the recorder's start.
    pub start_ms: f64,
    /// When the work ended, ms after the recorder's start.
    pub end_ms: f64,
}

/// Records which thread worked when, for a timeline chart ([`crate::plot::Timeline`]).
///
/// Cloning gives another handle to the same record, so each thread can own one.
///
/// ```
/// use support::timing::SpanRecorder;
/// let rec = SpanRecorder::new();
/// std::thread::scope(|s| {
///     for i in 0..2 {
///         let rec = rec.clone();
///         s.spawn(move || rec.record(format!("worker-{i}"), || std::thread::sleep(std::time::Duration::from_millis(5))));
///     }
/// });
/// let spans = rec.spans();
/// assert_eq!(spans.len(), 2);
/// assert!(spans.iter().all(|s| s.end_ms >= s.start_ms + 4.0));
/// ```
#[derive(Debug, Clone)]
pub struct SpanRecorder {
    start: Instant,
    spans: Arc<Mutex<Vec<Span>>>,
}

impl Default for SpanRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl SpanRecorder {
    /// A new, empty record whose clock starts now.
    pub fn new() -> Self {
        SpanRecorder {
            start: Instant::now(),
            spans: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Runs `work`, records the interval under `label`, and returns the work's result.
    pub fn record<T>(&self, label: impl Into<String>, work: impl FnOnce() -> T) -> T {
        let start = self.elapsed_ms();
        let out = work();
        let end = self.elapsed_ms();
        self.push(label, start, end);
        out
    }

    /// Adds an interval measured elsewhere (times in ms since the recorder's start).
    pub fn push(&self, label: impl Into<String>, start_ms: f64, end_ms: f64) {
        let span = Span {
            label: label.into(),
            start_ms,
            end_ms,
        };
        self.spans
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(span);
    }

    /// Milliseconds since the recorder was created.
    pub fn elapsed_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1e3
    }

    /// The recorded intervals, ordered by start time.
    pub fn spans(&self) -> Vec<Span> {
        let mut spans = self
            .spans
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        spans.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
        spans
    }
}

/// Samples a value from a background thread at a fixed period — a queue's depth, the jobs running, the connections
/// in use — for a chart of the value over time ([`crate::plot::LineChart::steps`]).
///
/// The Python counterpart is a daemon thread appending `(time.perf_counter() - t0, q.qsize())` to a list every
/// millisecond. Here the thread is named `sampler`, takes the first sample at once, one every `period` after that
/// and a last one when [`stop`](Self::stop) is called, and is always joined: `stop` (or dropping the sampler) ends
/// it within one wake-up. Samples are `(ms since start, value)`, ready for a chart's `series`; use
/// [`elapsed_ms`](Self::elapsed_ms) to put other events on the same clock.
///
/// ```
/// use std::time::Duration;
/// use support::timing::Sampler;
///
/// let (tx, rx) = crossbeam_channel::unbounded::<u32>();
/// let depth = {
///     let rx = rx.clone(); // a Receiver, not a Sender: the sampler must not keep the channel open
///     Sampler::start(Duration::from_millis(1), move || rx.len() as f64)
/// };
/// for i in 0..5 {
///     tx.send(i).unwrap();
///     std::thread::sleep(Duration::from_millis(2));
/// }
/// let sent_at = depth.elapsed_ms();
/// let samples = depth.stop();
/// assert!(samples.len() >= 2);
/// assert!(samples.windows(2).all(|w| w[0].0 <= w[1].0), "in time order");
/// assert_eq!(samples.last().unwrap().1, 5.0, "the last sample is taken at stop()");
/// assert!(samples.last().unwrap().0 >= sent_at);
/// ```
#[derive(Debug)]
pub struct Sampler {
    start: Instant,
    /// Dropping it disconnects the channel the thread waits on: the stop signal.
    stop: Option<crossbeam_channel::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Vec<(f64, f64)>>>,
}

impl Sampler {
    /// Starts a thread that calls `probe` now and every `period` until [`stop`](Self::stop).
    ///
    /// # Panics
    /// When `period` is zero (a sampler that never waits would spin), or when the thread cannot be spawned.
    pub fn start(period: Duration, mut probe: impl FnMut() -> f64 + Send + 'static) -> Sampler {
        assert!(
            !period.is_zero(),
            "Sampler::start: the period must be more than zero"
        );
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let start = Instant::now();
        let ms = move || start.elapsed().as_secs_f64() * 1e3;
        let thread = std::thread::Builder::new()
            .name("sampler".into())
            .spawn(move || {
                let mut samples = Vec::new();
                // `None`: the next sample is further away than the clock can count (`Duration::MAX`): never.
                let mut next = Some(start);
                loop {
                    samples.push((ms(), probe()));
                    let now = Instant::now();
                    next = match next.and_then(|next| next.checked_add(period)) {
                        Some(next) if next < now => now.checked_add(period), // fell behind: skip, do not burst
                        next => next,
                    };
                    // Nothing is ever sent: this waits until `next` (a wait of `Duration::MAX` never times out),
                    // or returns at once when `stop` is dropped.
                    let left =
                        next.map_or(Duration::MAX, |next| next.saturating_duration_since(now));
                    if let Err(crossbeam_channel::RecvTimeoutError::Disconnected) =
                        stopped.recv_timeout(left)
                    {
                        samples.push((ms(), probe()));
                        return samples;
                    }
                }
            })
            .expect("Sampler::start: cannot spawn the sampler thread");
        Sampler {
            start,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Milliseconds since the sampler started: the clock of its samples.
    pub fn elapsed_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1e3
    }

    /// Takes a last sample, stops and joins the thread, and returns every sample as `(ms since start, value)`.
    ///
    /// # Panics
    /// When the probe panicked: its panic is passed on to the caller.
    pub fn stop(mut self) -> Vec<(f64, f64)> {
        self.stop.take();
        let thread = self.thread.take().expect("joined only here and in Drop");
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

impl Drop for Sampler {
    /// Stops and joins the thread, discarding the samples (and a panic of the probe).
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    #[should_panic(expected = "period must be more than zero")]
    fn sampler_zero_period_is_a_clear_error() {
        Sampler::start(Duration::ZERO, || 0.0);
    }

    #[test]
    fn sampler_samples_at_its_period_and_stops() {
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let sampler = {
            let calls = std::sync::Arc::clone(&calls);
            Sampler::start(Duration::from_millis(5), move || {
                calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as f64
            })
        };
        std::thread::sleep(Duration::from_millis(60));
        let samples = sampler.stop();
        // One sample at start, at most one per 5 ms after it, and the last one at stop(); fewer on a loaded machine.
        let most = (samples.last().unwrap().0 / 5.0) as usize + 2;
        assert!(
            (2..=most).contains(&samples.len()),
            "{} samples",
            samples.len()
        );
        assert!(samples
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1));
        let after_stop = calls.load(std::sync::atomic::Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::Relaxed),
            after_stop,
            "no probe after stop"
        );
    }

    #[test]
    fn sampler_dropped_without_stop_ends_its_thread() {
        let (tx, rx) = crossbeam_channel::unbounded::<()>();
        let sampler = Sampler::start(Duration::from_millis(1), move || {
            let _keep = &tx; // the probe owns a Sender: it is dropped when the thread ends
            1.0
        });
        let started = Instant::now();
        drop(sampler);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "drop stops at once"
        );
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(1)),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected),
            "the thread ended and dropped its probe"
        );
    }

    #[test]
    #[should_panic(expected = "probe failed")]
    fn sampler_passes_on_a_panicking_probe() {
        let sampler = Sampler::start(Duration::from_millis(1), || panic!("probe failed"));
        sampler.stop();
    }

    #[test]
    fn median_of_even_count_is_mean_of_middle_two() {
        let t = Timing::from_samples(vec![
            Duration::from_millis(4),
            Duration::from_millis(1),
            Duration::from_millis(2),
            Duration::from_millis(3),
        ]);
        assert_eq!(t.min(), Duration::from_millis(1));
        assert_eq!(t.max(), Duration::from_millis(4));
        assert_eq!(t.median(), Duration::from_micros(2500));
        assert_eq!(t.mean(), Duration::from_micros(2500));
    }

    #[test]
    fn measure_runs_the_work_exactly_n_times() {
        let mut calls = 0;
        let t = measure(7, || calls += 1);
        assert_eq!(calls, 7);
        assert_eq!(t.runs(), 7);
    }

    #[test]
    #[should_panic(expected = "runs must be at least 1")]
    fn zero_runs_is_a_clear_error() {
        measure(0, || ());
    }

    #[test]
    #[should_panic(expected = "thread counts must be at least 1")]
    fn zero_threads_is_a_clear_error() {
        across_threads(&[1, 0], 1, |_| ());
    }

    #[test]
    #[should_panic(expected = "between 0 and 100")]
    fn percentile_out_of_range_is_a_clear_error() {
        Timing::from_samples(vec![Duration::ZERO]).percentile(101.0);
    }

    #[test]
    fn across_threads_passes_each_count() {
        let mut seen = Vec::new();
        let rows = across_threads(&[1, 2, 4], 2, |n| seen.push(n));
        assert_eq!(seen, vec![1, 1, 2, 2, 4, 4]);
        assert_eq!(
            rows.iter().map(|r| r.threads).collect::<Vec<_>>(),
            vec![1, 2, 4]
        );
    }

    #[test]
    fn spans_are_sorted_by_start() {
        let rec = SpanRecorder::new();
        rec.push("b", 5.0, 6.0);
        rec.push("a", 1.0, 2.0);
        let labels: Vec<_> = rec.spans().into_iter().map(|s| s.label).collect();
        assert_eq!(labels, vec!["a", "b"]);
    }

    #[test]
    fn display_reads_well() {
        let t = Timing::from_samples(vec![Duration::from_millis(2), Duration::from_millis(3)]);
        assert_eq!(t.to_string(), "min 2.00 ms · median 2.50 ms (2 runs)");
    }
}
