//! CPU-bound work for the lessons' measurements: the same function wherever a lesson needs busy cores.
//!
//! Lesson 01 writes [`is_prime`] in a cell, next to its Python twin; later lessons (15, parallel execution) take it
//! from here, so that they all measure the same work.

/// Trial division: is `n` prime? CPU-bound, no I/O, no shared state — the ideal work to split across threads.
/// It takes about √n / 2 divisions, so larger numbers cost more (split ranges unevenly and one thread finishes
/// last).
///
/// ```
/// use support::work::is_prime;
/// let primes: Vec<u64> = (0..30).filter(|&n| is_prime(n)).collect();
/// assert_eq!(primes, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
/// assert_eq!((0..1_000_000).filter(|&n| is_prime(n)).count(), 78_498);
/// ```
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n % 2 == 0 {
        return n == 2;
    }
    let mut d = 3;
    while d * d <= n {
        if n % d == 0 {
            return false;
        }
        d += 2;
    }
    true
}
