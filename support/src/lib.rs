//! Shared code for the course *Threads in Rust for Python programmers*.
//!
//! Notebooks load this crate with
//!
//! ```text
//! :dep support = { path = "../support" }
//! ```
//!
//! Cells teach; code that more than one lesson needs lives here, documented with examples that run as tests.
//!
//! | module | what it is | Python counterpart |
//! |---|---|---|
//! | [`timing`] | run a closure n times, min / median; the same work across thread counts | `time.perf_counter`, `timeit` |
//! | [`plot`] | line, bar and timeline charts, inline SVG in the notebook | matplotlib |
//! | [`process`] | run another program with a deadline | `subprocess.run(…, timeout=…)` |
//! | [`pool`] | a thread pool with job handles and `map` | `concurrent.futures.ThreadPoolExecutor` |
//! | [`sync`] | `Semaphore`, `Event`, `Timer`, and re-exports of what crates already do well | `threading` |
//! | [`work`] | CPU-bound work to measure with (`is_prime`) | the tutorial's `is_prime` |
//! | [`conn_pool`] | a connection pool (r2d2's API, lock-free slots); SQLite behind the `sqlite` feature | the tutorial's connection pool |
//! | `site` (feature `site`) | a local demo web site: an HTTP server on 127.0.0.1 with latency, dead links, other hosts | the pages a crawler fetches |
//!
//! Heavy dependencies sit behind cargo features so that light lessons start fast:
//! `sqlite` (rusqlite with bundled SQLite) and `site` (a local demo web site for the crawler lesson).
#![warn(missing_docs)]

pub mod conn_pool;
pub mod plot;
pub mod pool;
mod primitive;
pub mod process;
#[cfg(feature = "site")]
pub mod site;
pub mod sync;
pub mod timing;
pub mod work;

/// Makes panics print as they do under `cargo run`: the message and a one-line note, without the full backtrace
/// that evcxr switches on (it starts its code with `RUST_BACKTRACE=1`). Lessons call it in their setup cell, before
/// anything can panic: std reads the variable once, at the first panic.
///
/// ```
/// support::short_panics();
/// assert_eq!(std::env::var("RUST_BACKTRACE").as_deref(), Ok("0"));
/// ```
pub fn short_panics() {
    // `set_var` is unsafe in edition 2024 because another thread reading the environment at the same moment is
    // undefined behaviour on some platforms. Lessons call this first thing, before they start threads.
    #[allow(deprecated_safe_2024)]
    std::env::set_var("RUST_BACKTRACE", "0");
}
