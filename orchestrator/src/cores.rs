//! The cores a worker's cells share: a counting semaphore over its compute
//! threads that serves cells in the order they were handed out.
//!
//! A cell takes the threads its size calls for (`cost::Shape::threads`):
//! small cells their share (`workers` of them at a time), large ones more,
//! up to every core, which then runs them alone. Turns are served in order,
//! so a large cell waiting for every core is not overtaken by the small
//! ones behind it (no starvation), and the threads in use never exceed the
//! total.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// `total` cores, handed out in turns.
pub struct Cores {
    total: usize,
    state: Mutex<State>,
    turn: Condvar,
}

struct State {
    free: usize,
    /// The turn served next.
    serving: usize,
}

/// Cores held for one cell; given back when dropped.
pub struct Held<'a> {
    cores: &'a Cores,
    pub n: usize,
}

impl Cores {
    pub fn new(total: usize) -> Cores {
        let total = total.max(1);
        Cores {
            total,
            state: Mutex::new(State {
                free: total,
                serving: 0,
            }),
            turn: Condvar::new(),
        }
    }

    /// Waits for turn `turn` (turns 0, 1, 2, … are served in order: every
    /// turn handed out must be taken) and for `n` free cores (at most the
    /// total), then holds them.
    pub fn take(&self, turn: usize, n: usize) -> Held<'_> {
        let n = n.clamp(1, self.total);
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while s.serving != turn || s.free < n {
            s = self.turn.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s.free -= n;
        s.serving += 1;
        self.turn.notify_all();
        Held { cores: self, n }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut s = self.cores.state.lock().unwrap_or_else(|e| e.into_inner());
        s.free += self.n;
        self.cores.turn.notify_all();
    }
}

/// Runs items `0..n` on one plain thread per entry of `shares` (its share
/// of the cores), handing the items out in order. With `pools`, item `i`
/// takes `want(i, share)` of the `total` cores in its turn and runs as
/// `f(i, Some(pool))` on a rayon pool of that many threads (each worker
/// keeps one pool per size); without (LibTorch, which runs its own
/// threads), `f(i, None)`, `shares.len()` items at a time.
///
/// Plain threads hand out the items, not a rayon pool: a rayon worker that
/// waits on `pool.install` steals more items meanwhile, which would run more
/// than `shares.len()` at once. And not one pool for all: an item waiting on
/// its parallel step there runs the other item's tasks and waits for them in
/// turn (single cells ran up to 61× slower than alone).
pub fn run_in_turns(
    n: usize,
    shares: &[usize],
    total: usize,
    pools: bool,
    want: impl Fn(usize, usize) -> usize + Sync,
    f: impl Fn(usize, Option<&rayon::ThreadPool>) + Sync,
) -> Result<(), rayon::ThreadPoolBuildError> {
    // More workers than cores (a user's choice) keep one core each.
    let cores = Cores::new(total.max(shares.iter().sum()));
    let next = AtomicUsize::new(0);
    let error: Mutex<Option<rayon::ThreadPoolBuildError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for (w, &share) in shares.iter().enumerate() {
            let (cores, next, error, want, f) = (&cores, &next, &error, &want, &f);
            s.spawn(move || {
                let mut by_size: BTreeMap<usize, rayon::ThreadPool> = BTreeMap::new();
                loop {
                    let turn = next.fetch_add(1, Ordering::SeqCst);
                    if turn >= n {
                        break;
                    }
                    if !pools {
                        f(turn, None);
                        continue;
                    }
                    let held = cores.take(turn, want(turn, share));
                    let pool = match by_size.entry(held.n) {
                        std::collections::btree_map::Entry::Occupied(p) => p.into_mut(),
                        std::collections::btree_map::Entry::Vacant(v) => {
                            match rayon::ThreadPoolBuilder::new()
                                .num_threads(held.n)
                                .thread_name(move |i| format!("genoprot-cell{w}-{i}"))
                                .build()
                            {
                                Ok(p) => v.insert(p),
                                Err(e) => {
                                    *error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                                    break;
                                }
                            }
                        }
                    };
                    f(turn, Some(pool));
                }
            });
        }
    });
    match error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Four workers take turns for cells wanting 1, 2 or 4 of 4 cores: the
    /// cores in use never exceed 4, and small cells do run side by side.
    #[test]
    fn cells_never_hold_more_than_the_cores_and_small_ones_share() {
        let cores = Cores::new(4);
        let wants = [4, 1, 1, 2, 4, 1, 2, 1, 1, 1, 4, 2];
        let (next, busy, peak) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    loop {
                        let t = next.fetch_add(1, Ordering::SeqCst);
                        let Some(&n) = wants.get(t) else { break };
                        let held = cores.take(t, n);
                        let now = busy.fetch_add(held.n, Ordering::SeqCst) + held.n;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(5 * n as u64));
                        busy.fetch_sub(held.n, Ordering::SeqCst);
                    }
                });
            }
        });
        assert!(peak.load(Ordering::SeqCst) <= 4);
        // More than one cell ran at once somewhere (not a serial schedule).
        assert!(peak.load(Ordering::SeqCst) >= 2);
    }

    /// A large cell waiting for every core is not overtaken by a small one
    /// behind it, though the small one would fit in the free cores.
    #[test]
    fn a_waiting_large_cell_is_not_overtaken() {
        let cores = Cores::new(4);
        let first = cores.take(0, 1);
        let order = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            s.spawn(|| {
                let _all = cores.take(1, 4);
                order.lock().unwrap().push(1);
            });
            std::thread::sleep(Duration::from_millis(20));
            s.spawn(|| {
                let _one = cores.take(2, 1);
                order.lock().unwrap().push(2);
            });
            std::thread::sleep(Duration::from_millis(50));
            // Three cores are free, yet turn 2 waits for turn 1.
            assert!(order.lock().unwrap().is_empty());
            drop(first);
        });
        assert_eq!(order.into_inner().unwrap(), [1, 2]);
    }

    /// Items get pools of the size they want (within the total), each run
    /// once; without pools they run with none.
    #[test]
    fn items_run_once_each_on_pools_of_the_size_they_want() {
        let seen = Mutex::new(Vec::new());
        run_in_turns(
            6,
            &[1, 1],
            2,
            true,
            |i, share| if i < 2 { 8 } else { share },
            |i, pool| {
                let n = pool.map(|p| p.current_num_threads());
                seen.lock().unwrap().push((i, n));
            },
        )
        .unwrap();
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        let want: Vec<(usize, Option<usize>)> = (0..6)
            .map(|i| (i, Some(if i < 2 { 2 } else { 1 })))
            .collect();
        assert_eq!(seen, want);
        let none = AtomicUsize::new(0);
        run_in_turns(
            3,
            &[1, 1],
            2,
            false,
            |_, _| 1,
            |_, pool| {
                assert!(pool.is_none());
                none.fetch_add(1, Ordering::SeqCst);
            },
        )
        .unwrap();
        assert_eq!(none.into_inner(), 3);
    }

    #[test]
    fn a_cell_wanting_more_than_all_takes_all() {
        let cores = Cores::new(2);
        assert_eq!(cores.take(0, 8).n, 2);
        assert_eq!(cores.take(1, 0).n, 1);
    }
}
