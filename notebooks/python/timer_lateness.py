"""Lesson 08's Python side: how late does threading.Timer fire? For each delay (ms), start N one-shot timers,
one every GAP ms, each recording how long after its due time its function started. Prints one line per delay:

    delay_ms=<d> median_us=<median lateness> p99_us=<p99 lateness> n=<N>

Run: python3 timer_lateness.py N DELAY_MS...   (e.g. python3 timer_lateness.py 300 1 2 5 10 20 50 100)
The Rust cell does the same with support::sync::Timer: the delay counts from the call that creates the timer.
"""

import statistics
import sys
import threading
import time

GAP = 0.0007  # seconds between two timers: their due times never coincide


def lateness_us(delay_ms: float, n: int) -> list[float]:
    late = []  # list.append is atomic under the GIL
    delay = delay_ms / 1e3
    timers = []
    for _ in range(n):
        due = time.perf_counter() + delay
        t = threading.Timer(delay, lambda due=due: late.append((time.perf_counter() - due) * 1e6))
        t.start()
        timers.append(t)
        time.sleep(GAP)
    for t in timers:
        t.join(timeout=5)  # never hang
    return sorted(late)


def main() -> None:
    n = int(sys.argv[1])
    for d in sys.argv[2:]:
        late = lateness_us(float(d), n)
        p99 = late[max(0, -(-99 * len(late) // 100) - 1)]  # nearest rank, as support::timing does
        print(f"delay_ms={d} median_us={statistics.median(late):.1f} p99_us={p99:.1f} n={len(late)}")


if __name__ == "__main__":
    main()
