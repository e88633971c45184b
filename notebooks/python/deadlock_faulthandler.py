"""Lesson 17: two threads take two locks in opposite orders and freeze. faulthandler's watchdog prints every
thread's stack after 2 s and ends the process (exit=True: os._exit(1)), the only way to end a deadlocked thread."""
import faulthandler
import threading
import time

a, b = threading.Lock(), threading.Lock()
both_hold_one = threading.Barrier(2)


def transfer(first, second):
    with first:
        both_hold_one.wait()  # each thread now holds its first lock
        with second:  # waits forever: the other thread holds it
            pass


faulthandler.dump_traceback_later(2, exit=True)  # the watchdog: in 2 s, dump all threads, then _exit(1)
threads = [threading.Thread(target=transfer, args=(a, b), name="A->B"),
           threading.Thread(target=transfer, args=(b, a), name="B->A")]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("never printed")
