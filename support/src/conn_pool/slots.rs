//! [`Slots`]: the pool's connections, one per slot, in a fixed row of `max_size` slots that threads claim and give
//! back without a lock. Only this file uses `unsafe`; the pool above it works with boxes and slot numbers.
//!
//! Each slot is one `AtomicPtr` and is in one of four states:
//!
//! | slot holds | meaning | who may change it |
//! |---|---|---|
//! | a pointer from `Box::into_raw` | an idle connection, owned by the slot | any thread: `take_idle` |
//! | `LENT` (a marker address) | its connection is lent out | only the thread (guard) holding it |
//! | `OPENING` (a marker address) | a thread is opening a connection for it | only that thread |
//! | null | no connection | any thread: `reserve_empty` |
//!
//! Claiming a slot (idle → `LENT`, null → `OPENING`) is a compare-exchange, so exactly one thread wins it. The winner
//! then owns the slot until it stores a pointer (the connection comes back, idle again) or null (closed) into it.
//! A connection always goes back to its own slot, so giving it back is a plain store — no search, no failure.
//!
//! The row is the bound: a connection exists only in a slot (idle) or on behalf of one (`LENT`, `OPENING`), so there
//! are never more than `max_size`. And no ABA problem: the only pointer a compare-exchange expects is one it has
//! just read from the slot, and while it sits there nobody else can free or reuse it.
//!
//! Memory ordering: storing a connection back is `Release` and claiming it is `Acquire`, so everything the
//! previous holder wrote into the connection is visible to the next one — the hand-over a `Mutex` unlock/lock gives.
//! Each slot sits on a cache line of its own ([`CachePadded`]): a thread that keeps using "its" slot does not pull
//! cache lines away from the threads using theirs.

use std::marker::PhantomData;
use std::ptr;

use crossbeam_utils::CachePadded;

use crate::primitive::{AtomicPtr, Ordering};

/// A fixed row of slots, each empty, being opened, lent out, or holding one idle `Box<T>`. See the module docs.
pub(super) struct Slots<T> {
    slots: Box<[CachePadded<AtomicPtr<T>>]>,
    /// The slots own their idle values: dropping `Slots` drops them.
    _owns: PhantomData<Box<T>>,
}

/// What `count` saw, slot by slot (already stale when read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Count {
    pub idle: usize,
    pub lent: usize,
    pub opening: usize,
}

// The addresses of this static's two bytes mark the `LENT` and `OPENING` states: no `Box` can ever have them.
// (Two bytes of one static, not two statics: identical statics may share an address, two elements of one array
// never do.) The markers are compared, never dereferenced.
static MARKS: [u8; 2] = [0, 0];

fn lent<T>() -> *mut T {
    ptr::addr_of!(MARKS[0]).cast_mut().cast()
}

fn opening<T>() -> *mut T {
    ptr::addr_of!(MARKS[1]).cast_mut().cast()
}

/// A pointer to an idle value (not null, not a marker).
fn is_value<T>(p: *mut T) -> bool {
    !p.is_null() && p != lent() && p != opening()
}

// Safety: a value is moved into a slot and out of it whole, and only the thread that won it with a
// compare-exchange touches it — values are handed from thread to thread, never shared by reference. That is what
// `Mutex<T>` allows for `T: Send`, and it is what we require. (Without these lines `Slots<T>` would be `Sync` for
// every `T`, since `AtomicPtr<T>` is; the `PhantomData` takes that away, these give it back for `T: Send`.)
unsafe impl<T: Send> Send for Slots<T> {}
unsafe impl<T: Send> Sync for Slots<T> {}

impl<T> Slots<T> {
    /// `n` empty slots.
    pub(super) fn new(n: usize) -> Self {
        Slots {
            slots: (0..n)
                .map(|_| CachePadded::new(AtomicPtr::new(ptr::null_mut())))
                .collect(),
            _owns: PhantomData,
        }
    }

    /// The number of slots.
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// If slot `i` holds an idle value, takes it out and marks the slot `LENT`: the caller now owns the slot and
    /// must later [`put`](Self::put) a value back into it or [`vacate`](Self::vacate) it.
    pub(super) fn take_idle(&self, i: usize) -> Option<Box<T>> {
        let slot = &self.slots[i];
        // Look before writing: a slot that is not idle costs a read, not a write that would pull its cache line
        // away from the thread using it.
        let p = slot.load(Ordering::Relaxed);
        if !is_value(p) {
            return None;
        }
        // Acquire: see everything the thread that stored `p` wrote into the value before.
        slot.compare_exchange(p, lent(), Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        // Safety: `p` came from `Box::into_raw` in `put` (it is no marker and not null), and our compare-exchange
        // replaced it in the slot: no other thread can take it, and the slot's owner is now us.
        Some(unsafe { Box::from_raw(p) })
    }

    /// If slot `i` is empty, marks it `OPENING`: the caller now owns the slot, opens a value for it and
    /// [`put`](Self::put)s it (or calls [`lend`](Self::lend) to keep it) — or [`vacate`](Self::vacate)s the slot.
    pub(super) fn reserve_empty(&self, i: usize) -> bool {
        let slot = &self.slots[i];
        slot.load(Ordering::Relaxed).is_null()
            && slot
                .compare_exchange(
                    ptr::null_mut(),
                    opening(),
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// Slot `i`, which the caller reserved, now stands for a value the caller lends out (`OPENING` → `LENT`).
    pub(super) fn lend(&self, i: usize) {
        debug_assert_eq!(self.slots[i].load(Ordering::Relaxed), opening());
        self.slots[i].store(lent(), Ordering::Relaxed);
    }

    /// Puts `value` into slot `i`, which the caller owns (it took or reserved it): the value is idle again.
    pub(super) fn put(&self, i: usize, value: Box<T>) {
        let slot = &self.slots[i];
        debug_assert!(
            !is_value(slot.load(Ordering::Relaxed)) && !slot.load(Ordering::Relaxed).is_null()
        );
        // Release: the next thread that takes the value sees everything written into it before this store.
        slot.store(Box::into_raw(value), Ordering::Release);
    }

    /// Empties slot `i`, which the caller owns: its value was closed (or never opened).
    pub(super) fn vacate(&self, i: usize) {
        debug_assert!(!is_value(self.slots[i].load(Ordering::Relaxed)));
        self.slots[i].store(ptr::null_mut(), Ordering::Release);
    }

    /// Idle, lent-out and being-opened slots, read one slot at a time.
    pub(super) fn count(&self) -> Count {
        let mut count = Count {
            idle: 0,
            lent: 0,
            opening: 0,
        };
        for slot in self.slots.iter() {
            let p = slot.load(Ordering::Relaxed);
            if p == lent() {
                count.lent += 1;
            } else if p == opening() {
                count.opening += 1;
            } else if !p.is_null() {
                count.idle += 1;
            }
        }
        count
    }
}

impl<T> Drop for Slots<T> {
    fn drop(&mut self) {
        // `&mut self`: no other thread uses the slots any more. A slot still `LENT` would be a bug of the caller
        // (a guard keeps the pool, and so the slots, alive); its value is not ours to free.
        for i in 0..self.slots.len() {
            drop(self.take_idle(i));
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[test]
    fn slots_move_through_their_states() {
        let slots = Slots::new(2);
        assert_eq!(slots.take_idle(0), None, "empty");
        assert!(slots.reserve_empty(0));
        assert!(!slots.reserve_empty(0), "already reserved");
        assert_eq!(slots.take_idle(0), None, "being opened");
        slots.put(0, Box::new("a"));
        assert_eq!(
            slots.count(),
            Count {
                idle: 1,
                lent: 0,
                opening: 0
            }
        );
        assert!(!slots.reserve_empty(0), "idle, not empty");
        let a = slots.take_idle(0).unwrap();
        assert_eq!(*a, "a");
        assert_eq!(slots.take_idle(0), None, "lent out");
        assert!(slots.reserve_empty(1));
        slots.lend(1);
        assert_eq!(
            slots.count(),
            Count {
                idle: 0,
                lent: 2,
                opening: 0
            }
        );
        slots.put(0, a);
        slots.vacate(1);
        assert_eq!(slots.count().idle, 1);
        assert!(slots.reserve_empty(1));
    }

    #[test]
    fn values_left_in_slots_are_dropped_with_them() {
        let alive = Arc::new(());
        let slots = Slots::new(3);
        for i in 0..3 {
            assert!(slots.reserve_empty(i));
            slots.put(i, Box::new(Arc::clone(&alive)));
        }
        assert_eq!(Arc::strong_count(&alive), 4);
        drop(slots);
        assert_eq!(Arc::strong_count(&alive), 1);
    }

    #[test]
    fn values_are_neither_lost_nor_duplicated_under_contention() {
        // 4 values in 4 slots, 4 threads taking and putting back as fast as they can: at the end every value is in
        // its slot exactly once, and no value was ever held by two threads (each value counts its holders).
        const N: usize = 4;
        let slots = Slots::new(N);
        for i in 0..N {
            assert!(slots.reserve_empty(i));
            slots.put(i, Box::new((i, AtomicUsize::new(0))));
        }
        let moves = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for t in 0..N {
                let (slots, moves) = (&slots, &moves);
                s.spawn(move || {
                    for k in 0..20_000 {
                        let i = (t + k) % N;
                        if let Some(value) = slots.take_idle(i) {
                            assert_eq!(value.1.fetch_add(1, Ordering::Relaxed), 0, "two holders");
                            value.1.fetch_sub(1, Ordering::Relaxed);
                            slots.put(i, value);
                            moves.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert!(moves.load(Ordering::Relaxed) > 0);
        let seen: Vec<usize> = (0..N).map(|i| slots.take_idle(i).unwrap().0).collect();
        assert_eq!(seen, [0, 1, 2, 3]);
    }
}
