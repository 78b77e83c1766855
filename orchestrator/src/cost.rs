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

impl Shape {
    pub fn cost(self) -> f64 {
        (self.rows * self.columns) as f64 + CELL_OVERHEAD
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
    fn costliest_cells_come_first_and_ties_keep_their_order() {
        assert_eq!(costliest_first(&[1.0, 5.0, 1.0, 2.0]), [1, 3, 0, 2]);
        assert_eq!(eta(0.0, 10.0, 3.0), None);
        assert_eq!(eta(2.0, 10.0, 3.0), Some(12.0));
    }
}
