"""The course plan: lessons in order. Navigation and the index's lesson table are generated from it and from the
notebooks themselves (title = the notebook's first `# ` heading, minutes = metadata `course.minutes`).
A lesson listed here whose notebook does not exist yet shows in the index as planned."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Lesson:
    stem: str  # file name without .ipynb
    title: str  # used until the notebook exists
    python: str  # the Python threading topic it maps


LESSONS: list[Lesson] = [
    Lesson("01_gil_and_true_parallelism", "The GIL vs true parallelism", "CPU-bound threads and the GIL"),
    Lesson("02_basic_threading", "Basic threads", "Thread(target=…), start, join, is_alive"),
    Lesson("03_thread_types", "Types that own a thread", "subclassing Thread"),
    Lesson("04_daemon_threads", "Daemon threads", "daemon=True"),
    Lesson("05a_locks", "Locks", "Lock, RLock"),
    Lesson("05b_event_and_condition", "Events and conditions", "Event, Condition"),
    Lesson("05c_semaphore_and_barrier", "Semaphores and barriers", "Semaphore, BoundedSemaphore, Barrier"),
    Lesson("06_queues_and_channels", "Queues and channels", "queue.Queue"),
    Lesson("07_thread_local_data", "Thread-local data", "threading.local"),
    Lesson("08_timers", "Timers", "threading.Timer"),
    Lesson("09_thread_pool_executor", "Executor pools", "ThreadPoolExecutor"),
    Lesson("10_custom_thread_pool", "A thread pool, built step by step", "a custom thread pool"),
    Lesson("11_web_crawler", "App: a web crawler", "a threaded web crawler"),
    Lesson("12_connection_pool", "App: a connection pool", "a connection pool with semaphores"),
    Lesson("13_producer_consumer", "App: producer–consumer", "producer–consumer with a queue"),
    Lesson("14_thread_local_db", "App: thread-local database connections", "thread-local DB connections"),
    Lesson("15_parallel_execution", "Parallel execution", "splitting work across threads"),
    Lesson("16_atomics_and_memory_ordering", "Atomics and memory ordering", "what the GIL hides: shared counters, flags"),
    Lesson("17_deadlocks", "Deadlocks", "two locks, two orders; faulthandler"),
    Lesson("18_threads_vs_async", "Threads vs async", "asyncio vs threading"),
]

INDEX = "00_index"
