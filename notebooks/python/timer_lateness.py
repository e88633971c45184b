"""Lesson 08's Python side: how late does threading.Timer fire? For each delay (ms), start N one-shot timers,
one every GAP ms, each recording how long after its due time its function started. Prints one line per delay:

    delay_ms=<d> median_us=<m> p99_us=<p> wait_median_us=<wm> wait_p99_us=<wp> startup_median_us=<s> n=<N>

median_us/p99_us count from the call that creates the timer (due = call + delay), as the Rust cell does for
support::sync::Timer. But threading.Timer starts counting only once its thread runs (Timer.run calls
self.finished.wait(self.interval)), so that lateness includes the thread's start-up; wait_median_us/wait_p99_us
count from the moment run() began (due = run began + delay), and startup_median_us is call → run() began.

Run: python3 timer_lateness.py N DELAY_MS...   (e.g. python3 timer_lateness.py 300 1 2 5 10 20 50 100)
"""

import statistics
import sys
import threading
import time

GAP = 0.0007  # seconds between two timers: their due times never coincide


class WatchedTimer(threading.Timer):
    """threading.Timer that notes when its run() (and so its wait) began."""

    def run(self):
        self.run_began = time.perf_counter()
        super().run()


def nearest_rank(sorted_values: list[float], p: float) -> float:
    """The p-th percentile by nearest rank, as support::timing::Timing::percentile does."""
    return sorted_values[max(0, -(-int(p) * len(sorted_values) // 100) - 1)]


def lateness(delay_ms: float, n: int) -> tuple[list[float], list[float], list[float]]:
    """(late from the call, late from run() began, start-up), in µs, each sorted."""
    delay = delay_ms / 1e3
    fired: dict[int, float] = {}  # timer index -> when its function started; dict writes are atomic under the GIL
    timers, calls = [], []
    for i in range(n):
        called = time.perf_counter()
        t = WatchedTimer(delay, lambda i=i: fired.__setitem__(i, time.perf_counter()))
        t.start()
        timers.append(t)
        calls.append(called)
        time.sleep(GAP)
    for t in timers:
        t.join(timeout=5)  # never hang
    done = [i for i in range(n) if i in fired and hasattr(timers[i], "run_began")]
    from_call = sorted((fired[i] - (calls[i] + delay)) * 1e6 for i in done)
    from_wait = sorted((fired[i] - (timers[i].run_began + delay)) * 1e6 for i in done)
    startup = sorted((timers[i].run_began - calls[i]) * 1e6 for i in done)
    return from_call, from_wait, startup


def main() -> None:
    n = int(sys.argv[1])
    for d in sys.argv[2:]:
        from_call, from_wait, startup = lateness(float(d), n)
        print(
            f"delay_ms={d} median_us={statistics.median(from_call):.1f} p99_us={nearest_rank(from_call, 99):.1f} "
            f"wait_median_us={statistics.median(from_wait):.1f} wait_p99_us={nearest_rank(from_wait, 99):.1f} "
            f"startup_median_us={statistics.median(startup):.1f} n={len(from_call)}"
        )


if __name__ == "__main__":
    main()
