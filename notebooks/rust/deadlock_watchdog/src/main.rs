//! Lesson 17: two transfers lock two accounts in opposite orders and deadlock. The main thread is the watchdog:
//! it calls `parking_lot::deadlock::check_deadlock()` every 100 ms, prints each thread of the cycle with the
//! lines of this file it is stuck on, and ends the process — the only way to end a deadlocked thread (Python's
//! `faulthandler.dump_traceback_later(timeout, exit=True)` ends the process too).
use parking_lot::{deadlock, Mutex};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

fn transfer(from: &Mutex<i64>, to: &Mutex<i64>, both_hold_one: &Barrier) {
    let mut from = from.lock();
    both_hold_one.wait(); // each thread now holds its first account
    let mut to = to.lock(); // waits forever: the other thread holds it, and waits for ours
    *from -= 10;
    *to += 10;
}

/// The frames of a backtrace worth reading (`function (file:line)`), innermost first: the lock call and this
/// program's own functions; the rest (parking_lot's internals, thread start-up) would fill a screen.
fn own_frames(trace: &backtrace::Backtrace) -> Vec<String> {
    let mut lines = Vec::new();
    for symbol in trace.frames().iter().flat_map(|frame| frame.symbols()) {
        let name = symbol.name().map(|n| format!("{n:#}")).unwrap_or_default();
        let ours = name.starts_with("deadlock_watchdog::") && !name.contains("{{closure}}");
        if ours || name.starts_with("lock_api::mutex::Mutex") {
            let file = symbol
                .filename()
                .and_then(|f| f.file_name())
                .map(|f| f.to_string_lossy().into_owned());
            lines.push(format!(
                "{name} ({}:{})",
                file.unwrap_or_default(),
                symbol.lineno().unwrap_or(0)
            ));
        }
    }
    lines
}

fn main() {
    let (a, b, both_hold_one) = (Mutex::new(100), Mutex::new(100), Barrier::new(2));
    thread::scope(|s| {
        let spawn = |name: &str, from, to| {
            let both_hold_one = &both_hold_one;
            let handle = thread::Builder::new().name(name.into());
            let handle = handle
                .spawn_scoped(s, move || transfer(from, to, both_hold_one))
                .unwrap();
            (handle.thread().id(), name.to_string())
        };
        let names = [spawn("A->B", &a, &b), spawn("B->A", &b, &a)];
        let began = Instant::now();
        while began.elapsed() < Duration::from_secs(5) {
            thread::sleep(Duration::from_millis(100));
            let cycles = deadlock::check_deadlock();
            for (i, cycle) in cycles.iter().enumerate() {
                println!(
                    "watchdog, after {} ms: deadlock #{} — {} threads wait for each other",
                    began.elapsed().as_millis(),
                    i + 1,
                    cycle.len()
                );
                for stuck in cycle {
                    let name = names
                        .iter()
                        .find(|(id, _)| *id == stuck.thread_id())
                        .map_or("?", |(_, n)| n.as_str());
                    println!("  thread {name} ({:?}), stuck in:", stuck.thread_id());
                    for line in own_frames(stuck.backtrace()) {
                        println!("    {line}");
                    }
                }
            }
            if !cycles.is_empty() {
                std::process::exit(1); // the deadlocked threads cannot be woken: end the process
            }
        }
        println!("watchdog: no deadlock in 5 s");
        std::process::exit(0);
    });
}
