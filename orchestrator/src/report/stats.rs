//! The report's statistics: paired bootstrap comparisons of two rows of the
//! leaderboard on one task, with Holm's correction over the whole family.
//!
//! Two questions are asked, per task: does each ensemble (per fusion) beat
//! its best member, and is the top row better than the runner-up? For each,
//! the two rows' test predictions of the same seed are on the same genes
//! (pairs): splits depend only on the dataset, the task and the seed. A
//! replicate draws the test genes with replacement **within each seed**,
//! computes both rows' primary metric on that draw and averages the
//! differences over seeds; 1000 replicates (fixed RNG seed) give the 95%
//! percentile interval of the seed-averaged difference and a two-sided z test
//! (replicate mean / replicate standard deviation). Holm's step-down
//! correction runs over every comparison of the report at once.
//!
//! The replicate metrics are O(n) per draw: each prediction column is sorted
//! once and a draw is a count per test row ([`CountedAuroc`],
//! [`spearman_counted`]). Results are cached by the compared cells' ids and
//! store stamps (`journal/report-comparisons.jsonl`), so a report over the
//! same cells does not bootstrap again.

use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use workers::dataset::TaskKind;
use workers::probe::metrics::{CountedAuroc, score_order, spearman_counted};

/// The significance level (after Holm).
pub const ALPHA: f64 = 0.05;
/// Bootstrap replicates per comparison.
pub const RESAMPLES: usize = 1000;
/// The bootstrap's RNG seed (mixed with each test set's digest).
const RNG_SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// Mean and sample standard deviation.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let s = if v.len() > 1 {
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, s)
}

/// The bootstrap's answer for one pair of rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub ci_low: f64,
    pub ci_high: f64,
    /// Two-sided p of "no difference" (bootstrap z statistic).
    pub p_value: f64,
    /// Seeds where both rows had test predictions on the same genes.
    pub seeds: usize,
    /// Mean and standard deviation of the replicate differences (the
    /// bootstrap's estimate of the difference and of its standard error).
    pub boot_mean: f64,
    pub boot_sd: f64,
    /// Both rows have the same metric on every draw of every seed: the
    /// same predictions up to the metric (a fusion that kept one member
    /// alone), so there is nothing to test.
    pub identical: bool,
}

/// erfc(x), |relative error| < 1.2e-7 (Numerical Recipes' Chebyshev fit).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398
                                    + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The upper tail of the standard normal, P(Z > z).
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Two-sided p of a z statistic `m / sd`; where `sd` is 0, 0 for a
/// nonzero `m` and 1 for none.
pub fn z_p(m: f64, sd: f64) -> f64 {
    if sd.is_nan() || sd <= 1e-12 {
        return if m.abs() > 1e-12 { 0.0 } else { 1.0 };
    }
    (2.0 * normal_sf((m / sd).abs())).min(1.0)
}

/// Two-sided p of a bootstrap z statistic; 1 when the differences do not vary.
pub fn bootstrap_p(diffs: &[f64]) -> f64 {
    if diffs.len() < 2 {
        return 1.0;
    }
    let (m, sd) = mean_std(diffs);
    z_p(m, sd)
}

/// Holm's step-down adjustment of `p` (same order out).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|a, b| p[*a].total_cmp(&p[*b]));
    let mut out = vec![1.0; m];
    let mut running: f64 = 0.0;
    for (rank, i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[*i]).min(1.0));
        out[*i] = running;
    }
    out
}

/// One prediction column of a cell, sorted once for O(n) resampled metrics.
enum Column {
    Class(CountedAuroc),
    Regression {
        y: Vec<f64>,
        p: Vec<f64>,
        order_y: Vec<usize>,
        order_p: Vec<usize>,
    },
}

/// A cell's test predictions, ready to be resampled.
pub struct Prepared {
    pub test_ids: Vec<String>,
    columns: Vec<Column>,
}

impl Prepared {
    /// From a task kind, test ids, labels and predictions (`[n, columns]`).
    pub fn from_parts(
        kind: TaskKind,
        test_ids: &[String],
        labels: &ndarray::Array2<f32>,
        pred: &ndarray::Array2<f32>,
    ) -> Prepared {
        let col = |a: &ndarray::Array2<f32>, k: usize| -> Vec<f64> {
            a.column(k).iter().map(|v| *v as f64).collect()
        };
        let columns = if kind == TaskKind::Regression {
            let (y, p) = (col(labels, 0), col(pred, 0));
            vec![Column::Regression {
                order_y: score_order(&y),
                order_p: score_order(&p),
                y,
                p,
            }]
        } else {
            (0..labels.ncols())
                .map(|k| {
                    let y: Vec<bool> = labels.column(k).iter().map(|v| *v > 0.5).collect();
                    Column::Class(CountedAuroc::new(&y, &col(pred, k)))
                })
                .collect()
        };
        Prepared {
            test_ids: test_ids.to_vec(),
            columns,
        }
    }

    /// The primary metric on a draw given as counts per test row (macro
    /// AUROC over the columns with both classes drawn; Spearman).
    pub fn metric(&self, count: &[u32]) -> Option<f64> {
        let mut sum = 0.0;
        let mut n = 0usize;
        for c in &self.columns {
            let v = match c {
                Column::Class(c) => c.eval(count),
                Column::Regression {
                    y,
                    p,
                    order_y,
                    order_p,
                } => spearman_counted(y, p, order_y, order_p, count),
            };
            if let Some(v) = v {
                sum += v;
                n += 1;
            }
        }
        (n > 0).then(|| sum / n as f64)
    }
}

/// The seed of the draws of one test set: a digest of its ids, so every
/// cell on the same test genes (the same task and split seed) sees the same
/// draws — the comparisons are paired, and each cell is evaluated once.
fn draws_seed(test_ids: &[String]) -> u64 {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for id in test_ids {
        h.update(id.as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    RNG_SEED ^ u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

/// `resamples` draws with replacement of a test set, as counts per row.
pub struct Draws {
    n: usize,
    counts: Vec<u32>,
}

impl Draws {
    pub fn new(test_ids: &[String], resamples: usize) -> Draws {
        let n = test_ids.len();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(draws_seed(test_ids));
        let mut counts = vec![0u32; n * resamples];
        if n > 0 {
            for r in counts.chunks_mut(n) {
                for _ in 0..n {
                    r[rng.random_range(0..n)] += 1;
                }
            }
        }
        Draws { n, counts }
    }

    fn iter(&self) -> impl Iterator<Item = &[u32]> {
        self.counts.chunks(self.n.max(1))
    }
}

/// A cell's primary metric on each draw of its test set (NaN where a draw
/// leaves it undefined).
pub fn replicates(p: &Prepared, draws: &Draws) -> Vec<f64> {
    debug_assert_eq!(p.test_ids.len(), draws.n);
    draws
        .iter()
        .map(|count| p.metric(count).unwrap_or(f64::NAN))
        .collect()
}

/// The paired bootstrap of `a − b` from the two rows' [`replicates`] per
/// seed (each pair on the same test genes, so on the same draws): per
/// replicate the difference averaged over the seeds where both are defined;
/// the 95% interval of those and the two-sided p.
pub fn paired_bootstrap(pairs: &[(&[f64], &[f64])]) -> Option<Interval> {
    let resamples = pairs.iter().map(|(a, _)| a.len()).min()?;
    let mut diffs = Vec::with_capacity(resamples);
    for r in 0..resamples {
        let (mut acc, mut k) = (0.0, 0usize);
        for (a, b) in pairs {
            let (x, y) = (a[r], b[r]);
            if x.is_finite() && y.is_finite() {
                acc += x - y;
                k += 1;
            }
        }
        if k > 0 {
            diffs.push(acc / k as f64);
        }
    }
    let identical = pairs.iter().all(|(a, b)| {
        a.iter()
            .zip(b.iter())
            .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
    });
    let (boot_mean, boot_sd) = if diffs.is_empty() {
        (f64::NAN, f64::NAN)
    } else {
        mean_std(&diffs)
    };
    diffs.sort_by(f64::total_cmp);
    let q = |p: f64| {
        diffs
            .get(((diffs.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    Some(Interval {
        ci_low: q(0.025),
        ci_high: q(0.975),
        p_value: bootstrap_p(&diffs),
        seeds: pairs.len(),
        boot_mean,
        boot_sd,
        identical,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn holm_adjusts_step_down_and_keeps_order() {
        let adj = holm(&[0.01, 0.04, 0.03, 0.005]);
        // sorted: 0.005×4 = 0.02, 0.01×3 = 0.03, 0.03×2 = 0.06, 0.04×1 → max(0.06, 0.04) = 0.06
        let want = [0.03, 0.06, 0.06, 0.02];
        for (a, b) in adj.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{adj:?}");
        }
        assert_eq!(holm(&[0.9, 0.8]), vec![1.0, 1.0]);
    }

    #[test]
    fn bootstrap_p_is_the_two_sided_normal_tail() {
        // mean 1.96 sd 1 → p ≈ 0.05.
        let d: Vec<f64> = (0..2001)
            .map(|i| 1.96 + (i as f64 - 1000.0) / 1000.0 * 3f64.sqrt() * 1.0)
            .collect();
        let m = d.iter().sum::<f64>() / d.len() as f64;
        let sd = (d.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (d.len() - 1) as f64).sqrt();
        let p = bootstrap_p(&d);
        let z = m / sd;
        assert!(
            (z - 1.96).abs() < 0.01 && (p - 0.05).abs() < 0.002,
            "z {z} p {p}"
        );
        assert_eq!(bootstrap_p(&[0.0; 10]), 1.0);
        assert!((erfc(0.0) - 1.0).abs() < 1e-7 && (erfc(1.0) - 0.157_299_207).abs() < 1e-7);
    }

    fn cell(kind: TaskKind, y: &[f32], p: &[f32]) -> Prepared {
        let n = y.len();
        let ids: Vec<String> = (0..n).map(|i| format!("g{i}")).collect();
        let col = |v: &[f32]| Array2::from_shape_vec((n, 1), v.to_vec()).unwrap();
        Prepared::from_parts(kind, &ids, &col(y), &col(p))
    }

    #[test]
    fn a_better_classifier_wins_and_equal_ones_do_not() {
        let n = 200;
        let y: Vec<f32> = (0..n).map(|i| (i % 2) as f32).collect();
        // a ranks every positive above every negative; b is a coin flip.
        let good: Vec<f32> = (0..n).map(|i| (i % 2) as f32 + i as f32 * 1e-4).collect();
        let noise: Vec<f32> = (0..n).map(|i| ((i * 7919) % 101) as f32).collect();
        let a = cell(TaskKind::Binary, &y, &good);
        let b = cell(TaskKind::Binary, &y, &noise);
        let draws = Draws::new(&a.test_ids, 300);
        let (ra, rb) = (replicates(&a, &draws), replicates(&b, &draws));
        let r = paired_bootstrap(&[(&ra, &rb), (&ra, &rb)]).unwrap();
        assert!(r.ci_low > 0.2 && r.p_value < 1e-6 && r.seeds == 2, "{r:?}");
        assert!(!r.identical);
        let same = paired_bootstrap(&[(&ra, &ra)]).unwrap();
        assert_eq!((same.ci_low, same.ci_high, same.p_value), (0.0, 0.0, 1.0));
        assert!(same.identical);
        // The same test genes give the same draws (cells are paired).
        assert_eq!(Draws::new(&a.test_ids, 300).counts, draws.counts);
        // Regression: Spearman of the truth itself vs noise.
        let yr: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let a = cell(TaskKind::Regression, &yr, &yr);
        let b = cell(TaskKind::Regression, &yr, &noise);
        let draws = Draws::new(&a.test_ids, 300);
        let r = paired_bootstrap(&[(&replicates(&a, &draws), &replicates(&b, &draws))]).unwrap();
        assert!(r.ci_low > 0.5 && r.p_value < 1e-6, "{r:?}");
    }
}
