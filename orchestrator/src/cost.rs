//! What a cell is expected to cost, relative to the others of its stage:
//! its training rows × its feature columns, plus a fixed part. The local
//! executor starts the costliest cells first and weighs its progress and ETA
//! by cost, so that a stage whose pair cells are five times slower than its
//! gene cells does not show "eta 6 s" at 97 %.
//!
//! A linear probe's time grows with rows × columns per L-BFGS iteration (the
//! objective is two matrix products over the training rows); every cell also
//! reads its inputs, computes metrics and writes its store: a fixed part
//! worth 350,000 entries of the first. (A least-squares fit of seconds on
//! rows × columns over the demo's 432 probe cells gives 35 ms + 0.068 µs per
//! entry, a fixed part of ~510,000 entries, on a quiet 2-core machine;
//! ~300,000 under load. 350,000 keeps the ETA halfway through within 15 % in
//! both orders below.) `tests::the_eta_halfway_through_the_demo_is_within_a_quarter`
//! checks the rule on timings recorded from the demo sweep.

use std::collections::HashMap;
use std::path::Path;
use workers::dataset::Dataset;
use workers::dataset::tasks::Scope;
use workers::probe::cell::CellSpec;

/// The inputs of a cell's cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    /// Labelled genes (gene tasks) or pairs (pair tasks).
    pub rows: usize,
    /// The probe's input columns (pair tasks: `[a+b, a⊙b, |a−b|]`, 3 × the
    /// genes' width); a late-fusion cell's: one per member.
    pub columns: usize,
}

/// A cell's fixed work, in entries of its feature matrix.
pub const CELL_OVERHEAD: f64 = 350_000.0;

/// The feature-matrix entries per thread from which a cell runs on more
/// threads than its share: four fixed parts' worth (1.4 M entries, 5.6 MB
/// of f32 a thread).
///
/// Why: a cell's fixed part (reading, metrics, its store) runs on one
/// thread, so by Amdahl's law a cell of at least 2 × this on 2 threads
/// (its fixed part ≤ 1/9 of its time) runs ≥ 1.8× faster than on one,
/// about what running two cells side by side gives. And a matrix that size
/// outgrows a core's cache: every L-BFGS iteration streams it from memory,
/// so two such cells side by side share the memory bandwidth and each runs
/// up to 1.6× slower than alone (`bench/scale.sh`, 2026-12-06). Small cells
/// fit in cache and gain nothing from more threads but sync overhead: they
/// keep their share and run side by side.
pub const ENTRIES_PER_THREAD: f64 = 4.0 * CELL_OVERHEAD;

impl Shape {
    pub fn cost(self) -> f64 {
        (self.rows * self.columns) as f64 + CELL_OVERHEAD
    }

    /// The threads this cell runs on when its share is `share` of `cores`:
    /// its share, or one per [`ENTRIES_PER_THREAD`] of its feature matrix
    /// when that is more, up to every core.
    pub fn threads(self, share: usize, cores: usize) -> usize {
        let wanted = ((self.rows * self.columns) as f64 / ENTRIES_PER_THREAD) as usize;
        wanted.min(cores).max(share).max(1)
    }
}

/// Each embedding model's width, from its store's header (models whose store
/// cannot be read count as width 1: their cells fail on their own).
pub fn widths(emb_dir: &Path, cells: &[&CellSpec]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for m in cells.iter().flat_map(|c| c.members.iter()) {
        if out.contains_key(m) {
            continue;
        }
        let p = emb_dir.join(format!("{m}.h5"));
        let dim = workers::store::read_meta(&p).map_or(1, |(_, _, d)| d);
        out.insert(m.clone(), dim);
    }
    out
}

/// The shape of a cell of `ds` given its members' `widths`.
pub fn shape(ds: &Dataset, c: &CellSpec, widths: &HashMap<String, usize>) -> Shape {
    let pair = ds.task(&c.task).is_some_and(|t| t.scope == Scope::Pair);
    let rows = if pair {
        ds.pair_labels.get(&c.task).map_or(0, Vec::len)
    } else {
        ds.gene_labels.get(&c.task).map_or(0, Vec::len)
    };
    let columns = if c.fusion.is_late() {
        c.members.len()
    } else {
        let width = |m: &String| widths.get(m).copied().unwrap_or(1);
        let genes: usize = match c.pca {
            Some(k) => c.members.iter().map(|m| k.min(width(m))).sum(),
            None => c.members.iter().map(width).sum(),
        };
        if pair { 3 * genes } else { genes }
    };
    Shape { rows, columns }
}

/// The order to run cells of these costs in: costliest first, ties in their
/// given order. The longest-processing-time-first rule (Graham 1969): the
/// cells that finish last are short ones, so no core idles long at a
/// stage's end.
pub fn costliest_first(costs: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by(|&a, &b| costs[b].total_cmp(&costs[a]).then(a.cmp(&b)));
    order
}

/// The seconds left when the finished cells hold `done` of a stage's `total`
/// cost after `elapsed` seconds: the stage's pace so far applied to the cost
/// left. `None` before anything is done.
pub fn eta(done: f64, total: f64, elapsed: f64) -> Option<f64> {
    (done > 0.0).then(|| elapsed * (total - done).max(0.0) / done)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One cell of the demo sweep as run: its shape and its seconds.
    struct Timed {
        plan_index: usize,
        stage: String,
        shape: Shape,
        seconds: f64,
    }

    /// `tests/fixtures/demo-cell-timings.tsv`: every cell of the demo sweep
    /// (its own executor settings, release build) in the order it started,
    /// with its place in the plan, the rows and columns `shape` gave it and
    /// the seconds the journal records (made by
    /// `scripts/record_demo_timings.sh`).
    fn demo() -> Vec<Timed> {
        let text = include_str!("../../tests/fixtures/demo-cell-timings.tsv");
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
        let (index, stage) = (col("plan_index"), col("stage"));
        let (rows, columns, seconds) = (col("rows"), col("columns"), col("seconds"));
        lines
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                Timed {
                    plan_index: f[index].parse().unwrap(),
                    stage: f[stage].to_string(),
                    shape: Shape {
                        rows: f[rows].parse().unwrap(),
                        columns: f[columns].parse().unwrap(),
                    },
                    seconds: f[seconds].parse().unwrap(),
                }
            })
            .collect()
    }

    /// Runs `cells` one at a time in `order` and, once `frac` of their
    /// time has passed (at the end of the cell that crosses it), returns the
    /// ETA by cost, the ETA by count and the true time left.
    fn eta_at(cells: &[&Timed], frac: f64) -> (f64, f64, f64) {
        let total_cost: f64 = cells.iter().map(|c| c.shape.cost()).sum();
        let total_time: f64 = cells.iter().map(|c| c.seconds).sum();
        let (mut elapsed, mut done, mut n) = (0.0, 0.0, 0usize);
        for c in cells {
            if elapsed >= frac * total_time {
                break;
            }
            elapsed += c.seconds;
            done += c.shape.cost();
            n += 1;
        }
        let by_cost = eta(done, total_cost, elapsed).unwrap();
        let by_count = eta(n as f64, cells.len() as f64, elapsed).unwrap();
        (by_cost, by_count, total_time - elapsed)
    }

    #[test]
    fn the_eta_halfway_through_the_demo_is_within_a_quarter() {
        let all = demo();
        let probe: Vec<&Timed> = all.iter().filter(|c| c.stage == "probe").collect();
        assert!(probe.len() > 400, "{} probe cells", probe.len());
        // In the order the executor runs them (costliest first) and in the
        // plan's (gene tasks, then pair tasks: what the count-based ETA got
        // wrong), the ETA by cost halfway through is within 25 % of the truth.
        let costs: Vec<f64> = probe.iter().map(|c| c.shape.cost()).collect();
        let lpt: Vec<&Timed> = costliest_first(&costs).iter().map(|&i| probe[i]).collect();
        let mut plan = probe.clone();
        plan.sort_by_key(|c| c.plan_index);
        for (name, order) in [("costliest first", &lpt), ("plan order", &plan)] {
            let (by_cost, by_count, truth) = eta_at(order, 0.5);
            let err = (by_cost - truth).abs() / truth;
            assert!(
                err <= 0.25,
                "{name}: ETA {by_cost:.1} s vs {truth:.1} s left ({:.0} % off; by count: {by_count:.1} s)",
                100.0 * err
            );
            // The count of cells alone is far off in both orders.
            assert!(
                (by_count - truth).abs() / truth > 0.5,
                "{name}: by count {by_count:.1} s vs {truth:.1} s"
            );
        }
    }

    #[test]
    fn large_cells_take_more_threads_than_their_share_up_to_every_core() {
        let cell = |rows, columns| Shape { rows, columns };
        // 2 cores, two workers: a gene cell of 14,000 × 20 keeps its one
        // thread; 14,000 × 464 (6.5 M entries) and a pair cell of 80,000 ×
        // 177 take both cores.
        assert_eq!(cell(14_000, 20).threads(1, 2), 1);
        assert_eq!(cell(14_000, 464).threads(1, 2), 2);
        assert_eq!(cell(80_000, 177).threads(1, 2), 2);
        // Just below two threads' worth: its share.
        assert_eq!(cell(1000, 2799).threads(1, 2), 1);
        assert_eq!(cell(1000, 2800).threads(1, 2), 2);
        // 64 cores, 4 workers (16 each): 14 M entries → 10 threads wanted,
        // its share of 16 is more; 80,000 × 3,840 takes all 64.
        assert_eq!(cell(80_000, 177).threads(16, 64), 16);
        assert_eq!(cell(80_000, 3840).threads(16, 64), 64);
        // One worker: every cell on every core, as before.
        assert_eq!(cell(10, 10).threads(2, 2), 2);
        // No cores known: one thread.
        assert_eq!(cell(0, 0).threads(0, 0), 1);
    }

    #[test]
    fn costliest_cells_come_first_and_ties_keep_their_order() {
        assert_eq!(costliest_first(&[1.0, 5.0, 1.0, 2.0]), [1, 3, 0, 2]);
        assert_eq!(eta(0.0, 10.0, 3.0), None);
        assert_eq!(eta(2.0, 10.0, 3.0), Some(12.0));
    }
}
