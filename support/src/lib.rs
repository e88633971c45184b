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
//! | [`conn_pool`] | a connection pool (r2d2's API: one lock, a Condvar, a thread that opens connections); SQLite behind the `sqlite` feature | the tutorial's connection pool |
//! | `site` (feature `site`) | a local demo web site: an HTTP server on 127.0.0.1 with latency, dead links, other hosts | the pages a crawler fetches |
//!
//! Heavy dependencies sit behind cargo features so that light lessons start fast:
//! `sqlite` (rusqlite with bundled SQLite) and `site` (a local demo web site for the crawler lesson).
#![forbid(unsafe_code)]
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

/// Makes panics print as they do under `cargo run`: the thread, the place and the message, and on the first panic
/// a one-line note — without the full backtrace that evcxr switches on (it starts its code with
/// `RUST_BACKTRACE=1`). Lessons call it in their setup cell.
///
/// It installs a panic hook ([`std::panic::set_hook`]) that prints that short form **to stdout**; the environment
/// is left alone. Why stdout: evcxr's kernel forwards a cell's stderr on a thread of its own and labels it with the
/// cell started last, so under *Run All* a check's panic text could land under the next cell; a cell's stdout is
/// sent before the cell ends, so the panic shows under the cell that panicked. (Setting `RUST_BACKTRACE=0` with `std::env::set_var` would also work, but changing the environment
/// while another thread may read it is undefined behaviour on Linux: edition 2024 allows `set_var` only inside
/// the kind of block this crate forbids.)
///
/// ```
/// support::short_panics();
/// let result = std::thread::spawn(|| panic!("boom")).join(); // prints `thread '<unnamed>' panicked at …: boom`
/// assert!(result.is_err());
/// # let _ = std::panic::take_hook(); // the default hook back
/// ```
pub fn short_panics() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    let first = AtomicBool::new(true);
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = (payload.downcast_ref::<&str>().copied())
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("Box<dyn Any>");
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("<unnamed>");
        let mut err = std::io::stdout().lock();
        // Like std's own hook: a failed write is ignored (a panic inside the hook would abort).
        let _ = match info.location() {
            Some(at) => writeln!(err, "thread '{name}' panicked at {at}:\n{message}"),
            None => writeln!(err, "thread '{name}' panicked:\n{message}"),
        };
        if first.swap(false, Ordering::Relaxed) {
            let _ = writeln!(
                err,
                "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"
            );
        }
    }));
}
