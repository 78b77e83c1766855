//! The cores a worker's cells share: a counting semaphore over its compute
//! threads that serves cells in the order they were handed out.
//!
//! A cell takes the threads its size calls for (`cost::Shape::threads`):
//! small cells their share (`workers` of them at a time), large ones more,
//! up to every core, which then runs them alone. Turns are served in order,
//! so a large cell waiting for every core is not overtaken by the small
//! ones behind it (no starvation), and the threads in use never exceed the
//! total.

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

    #[test]
    fn a_cell_wanting_more_than_all_takes_all() {
        let cores = Cores::new(2);
        assert_eq!(cores.take(0, 8).n, 2);
        assert_eq!(cores.take(1, 0).n, 1);
    }
}
