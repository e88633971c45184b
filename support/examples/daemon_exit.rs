//! Lesson 04's child process: what happens to a thread that is still running when `main` returns.
//!
//! ```text
//! cargo run -q --release -p support --example daemon_exit -- MODE
//! ```
//!
//! The worker does 10 steps of 30 ms and owns a guard whose `Drop` prints a clean-up line. `main` works for
//! 100 ms, then, depending on MODE:
//!
//! * `detached` — returns without joining: the process exits and the worker is killed mid-work, its clean-up never
//!   runs (Python's `daemon=True`);
//! * `joined` — joins the worker first: all 10 steps and the clean-up run (Python's default, non-daemon thread);
//! * `graceful` — sets a stop flag, then joins: the worker stops at its next step and cleans up.
//!
//! Every line says which thread printed it and when (ms since start).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const STEPS: u32 = 10;
const STEP: Duration = Duration::from_millis(30);
const MAIN_WORK: Duration = Duration::from_millis(100);

/// Prints a line labelled with the current thread's name and the time since `start`.
fn say(start: Instant, what: &str) {
    let me = thread::current();
    println!(
        "{:>4} ms  {:<6} {what}",
        start.elapsed().as_millis(),
        me.name().unwrap_or("?")
    );
}

/// Something the worker must release: a file to flush, a transaction to commit, a lock file to delete.
struct Resource {
    start: Instant,
}

impl Drop for Resource {
    fn drop(&mut self) {
        say(self.start, "clean-up: resource released (Drop ran)");
    }
}

fn worker(start: Instant, stop: Arc<AtomicBool>) {
    let _resource = Resource { start };
    for step in 1..=STEPS {
        if stop.load(Ordering::Relaxed) {
            say(
                start,
                &format!("stop requested: leaving after {} steps", step - 1),
            );
            return;
        }
        thread::sleep(STEP);
        say(start, &format!("step {step}/{STEPS}"));
    }
    say(start, "all steps done");
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    if !["detached", "joined", "graceful"].contains(&mode.as_str()) {
        eprintln!("usage: daemon_exit detached|joined|graceful");
        std::process::exit(2);
    }
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let handle = thread::Builder::new()
        .name("worker".into())
        .spawn(move || worker(start, flag))
        .expect("spawn the worker");

    thread::sleep(MAIN_WORK);
    match mode.as_str() {
        "detached" => {
            drop(handle); // detach: nobody will wait for the worker
            say(start, "returning from main without joining");
        }
        "joined" => {
            say(start, "joining the worker");
            handle.join().expect("the worker panicked");
            say(start, "returning from main");
        }
        _ => {
            say(start, "asking the worker to stop, then joining");
            stop.store(true, Ordering::Relaxed);
            handle.join().expect("the worker panicked");
            say(start, "returning from main");
        }
    }
}
