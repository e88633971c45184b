"""Lesson 01's Python side: count primes below LIMIT with 1, 2, 4 … threads and print one line per thread count:

    threads=<n> seconds=<best of RUNS> primes=<count>

Run: python3 gil_primes.py LIMIT RUNS THREADS...   (e.g. python3 gil_primes.py 200000 3 1 2 4)
The work is split into equal ranges, one per thread, exactly like the Rust cells do.
"""

import sys
import threading
import time


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    d = 3
    while d * d <= n:
        if n % d == 0:
            return False
        d += 2
    return True


def count_primes(lo: int, hi: int) -> int:
    return sum(1 for n in range(lo, hi) if is_prime(n))


def run(limit: int, threads: int) -> int:
    results = [0] * threads
    step = (limit + threads - 1) // threads

    def work(i: int) -> None:
        results[i] = count_primes(i * step, min(limit, (i + 1) * step))

    workers = [threading.Thread(target=work, args=(i,), name=f"worker-{i}") for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(results)


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    limit, runs, *counts = (int(a) for a in argv)
    for threads in counts:
        best = float("inf")
        for _ in range(runs):
            start = time.perf_counter()
            primes = run(limit, threads)
            best = min(best, time.perf_counter() - start)
        print(f"threads={threads} seconds={best:.6f} primes={primes}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
