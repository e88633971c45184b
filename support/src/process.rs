//! Running another program from a notebook cell without ever hanging the cell: [`output_with_timeout`] is
//! `Command::output()` with a deadline, after which the child is killed.
//!
//! ```
//! use std::process::Command;
//! use std::time::Duration;
//! use support::process::{output_with_timeout, RunError};
//!
//! let out = output_with_timeout(Command::new("echo").arg("hi"), Duration::from_secs(10)).unwrap();
//! assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
//!
//! let slow = output_with_timeout(Command::new("sleep").arg("5"), Duration::from_millis(200));
//! assert!(matches!(slow, Err(RunError::TimedOut { .. })));
//! ```

use std::fmt;
use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Why a program could not be run to completion.
#[derive(Debug)]
pub enum RunError {
    /// The program could not be started (not installed, not executable).
    Spawn {
        /// The program's name.
        program: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The program ran longer than allowed and was killed.
    TimedOut {
        /// The program's name.
        program: String,
        /// The deadline it missed.
        after: Duration,
    },
    /// Waiting for the program failed.
    Wait(std::io::Error),
    /// The program ran and exited with a failure ([`python_output`]).
    Failed {
        /// The program's name.
        program: String,
        /// Its exit code (`None`: ended by a signal).
        code: Option<i32>,
        /// What it printed on stderr (the last lines: a Python traceback ends with the error).
        stderr: String,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Spawn { program, source } => write!(f, "could not start {program}: {source}"),
            RunError::TimedOut { program, after } => {
                write!(
                    f,
                    "{program} did not finish within {after:?} and was killed"
                )
            }
            RunError::Wait(e) => write!(f, "waiting for the program failed: {e}"),
            RunError::Failed {
                program,
                code,
                stderr,
            } => {
                write!(f, "{program} failed (exit code {code:?}): {stderr}")
            }
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Spawn { source, .. } => Some(source),
            RunError::Wait(e) => Some(e),
            RunError::TimedOut { .. } | RunError::Failed { .. } => None,
        }
    }
}

/// Runs `command` to completion, capturing stdout and stderr, and kills it if it runs longer than `timeout`
/// (`Duration::MAX`: no limit).
///
/// Only the program itself is killed (`Child::kill`, SIGKILL on Unix), not processes it started: run a program
/// directly rather than through `sh -c "… | …"`, or a grandchild may outlive the deadline. This function still
/// returns by the deadline (at least a second after the program exits): it does not wait for pipes a grandchild
/// holds open. (Killing a whole process group takes `libc::kill` with a negative pid: `unsafe`, which this crate
/// forbids.)
pub fn output_with_timeout(command: &mut Command, timeout: Duration) -> Result<Output, RunError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| RunError::Spawn {
            program: program.clone(),
            source,
        })?;
    // Read both pipes on their own threads so that a chatty child never blocks on a full pipe. They hand their
    // bytes over a channel, so that waiting for them has a deadline too (see below).
    let read = |mut pipe: Box<dyn Read + Send>| {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send(buf);
        });
        rx
    };
    let out_rx = read(Box::new(child.stdout.take().expect("stdout is piped")));
    let err_rx = read(Box::new(child.stderr.take().expect("stderr is piped")));
    let start = Instant::now();
    let timed_out = |program: String| RunError::TimedOut {
        program,
        after: timeout,
    };
    let status = loop {
        match child.try_wait().map_err(RunError::Wait)? {
            Some(status) => break status,
            // `start.elapsed() >= timeout`, not `now >= start + timeout`: that sum panics for `Duration::MAX`.
            None if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                // The readers are not waited for: a process the program started may hold the pipes open. They
                // end by themselves when the last writer is gone.
                return Err(timed_out(program));
            }
            None => thread::sleep(Duration::from_millis(10)),
        }
    };
    // The program has exited; its output is complete when the pipes close — at once, unless a process it started
    // still holds them. Wait for that within what is left of the deadline (at least a second).
    let left = timeout
        .saturating_sub(start.elapsed())
        .max(Duration::from_secs(1));
    let until = Instant::now() + left.min(Duration::from_secs(3600));
    let collect = |rx: mpsc::Receiver<Vec<u8>>| {
        rx.recv_timeout(until.saturating_duration_since(Instant::now()))
    };
    match (collect(out_rx), collect(err_rx)) {
        (Ok(stdout), Ok(stderr)) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        _ => Err(timed_out(program)),
    }
}

/// Runs `python` (for example `"python3"`) with `args` — a script and its arguments, or `-c` and code — and a
/// deadline; its standard output when it exits with success. A failure is an error that carries the end of the
/// script's stderr (a traceback ends with the error), so the cell can print why instead of panicking.
///
/// ```
/// use std::time::Duration;
/// use support::process::{available, field, python_output};
/// if available("python3") {
///     let out = python_output("python3", &["-c", "print('threads=2 seconds=0.41')"], Duration::from_secs(30)).unwrap();
///     assert_eq!(field(out.trim(), "seconds"), Some("0.41"));
///     let err = python_output("python3", &["-c", "raise SystemExit('no')"], Duration::from_secs(30)).unwrap_err();
///     assert!(err.to_string().contains("no"), "{err}");
/// }
/// ```
pub fn python_output(python: &str, args: &[&str], timeout: Duration) -> Result<String, RunError> {
    let out = output_with_timeout(Command::new(python).args(args), timeout)?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
    Err(RunError::Failed {
        program: python.to_string(),
        code: out.status.code(),
        stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    })
}

/// The value of `key` in a line of whitespace-separated `key=value` fields — the lines the course's Python scripts
/// print for a notebook to read. `None` when the line has no such field.
///
/// ```
/// use support::process::field;
/// let line = "threads=2 seconds=0.41 primes=78498";
/// assert_eq!(field(line, "seconds"), Some("0.41"));
/// assert_eq!(field(line, "second"), None); // whole keys only
/// assert_eq!(field(line, "primes").map(|p| p.parse::<u64>().unwrap()), Some(78498));
/// ```
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|f| f.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v))
}

/// Whether `program` can be started (for example `python3`), checked by running it with `--version`.
pub fn available(program: &str) -> bool {
    output_with_timeout(
        Command::new(program).arg("--version"),
        Duration::from_secs(10),
    )
    .map(|o| o.status.success())
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "runs another program")]
    fn a_grandchild_holding_the_pipes_does_not_stretch_the_deadline() {
        // sh starts a sleep that inherits stdout and outlives sh: killing sh leaves it holding the pipe.
        let start = Instant::now();
        let r = output_with_timeout(
            Command::new("sh").args(["-c", "sleep 30 & sleep 30"]),
            Duration::from_millis(300),
        );
        assert!(matches!(r, Err(RunError::TimedOut { .. })), "{r:?}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "returned after {:?}",
            start.elapsed()
        );
        // sh exits at once, its background sleep keeps the pipe: the wait for the output has a deadline too.
        let start = Instant::now();
        let r = output_with_timeout(
            Command::new("sh").args(["-c", "sleep 30 &"]),
            Duration::from_secs(1),
        );
        assert!(matches!(r, Err(RunError::TimedOut { .. })), "{r:?}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "returned after {:?}",
            start.elapsed()
        );
    }

    #[test]
    #[cfg_attr(miri, ignore = "runs another program")]
    fn missing_program_is_a_clear_error() {
        let e = output_with_timeout(
            &mut Command::new("no-such-program-here"),
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("could not start no-such-program-here"));
        assert!(!available("no-such-program-here"));
    }

    #[test]
    #[cfg_attr(miri, ignore = "runs another program")]
    fn large_output_does_not_block() {
        let out = output_with_timeout(
            Command::new("sh").args(["-c", "yes | head -c 1000000"]),
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(out.stdout.len(), 1_000_000);
    }
}
