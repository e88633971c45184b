"""Lesson 04's Python side: what happens to a thread still running when the main thread ends.

Run: python3 daemon_exit.py daemon|non-daemon

The worker does 10 steps of 30 ms; the main thread works for 100 ms and then ends. A non-daemon thread (the default)
keeps the interpreter alive until it finishes; a daemon thread is killed at exit and its `finally` never runs.
Every line says which thread printed it and when (ms since start), like the Rust example `daemon_exit.rs`.
"""

import sys
import threading
import time

START = time.perf_counter()


def say(what: str) -> None:
    ms = (time.perf_counter() - START) * 1e3
    print(f"{ms:>4.0f} ms  {threading.current_thread().name:<10} {what}", flush=True)


def worker() -> None:
    try:
        for step in range(1, 11):
            time.sleep(0.030)
            say(f"step {step}/10")
        say("all steps done")
    finally:
        say("clean-up: finally ran")


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode not in ("daemon", "non-daemon"):
        sys.exit("usage: daemon_exit.py daemon|non-daemon")
    threading.Thread(target=worker, name="worker", daemon=(mode == "daemon")).start()
    time.sleep(0.100)
    say("main thread ends here")
