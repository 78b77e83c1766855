//! Learned late fusion of member predictions, fitted on the validation split
//! only (test rows are never seen):
//!
//! * **stacking** — a non-negative linear pool: weights on the simplex that
//!   minimise the validation log loss of the weighted average of the
//!   members' probabilities (squared error of their predictions for
//!   regression), found by projected gradient descent. Cross-fitted: the
//!   validation rows are cut into folds, each fold's pooled predictions come
//!   from weights fitted on the other folds, and that out-of-fold score is
//!   what is compared with the best member alone (by its own validation
//!   score); the final weights are fitted on all validation rows, or are the
//!   best member alone when the pool does not beat it out of fold.
//! * **caruana** — greedy ensemble selection with replacement (Caruana et al.
//!   2004): start from the best member, repeatedly add the member (again, if
//!   it helps) whose addition gives the best validation score of the average,
//!   keep the best ensemble seen; weights are the selection counts.
//!
//! Both can pick the best member alone, so on validation they are never
//! worse than it.

use crate::dataset::TaskKind;
use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};

/// How an ensemble combines its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fusion {
    /// A single model.
    None,
    /// Early fusion: concatenate standardized member embeddings, then probe.
    Concat,
    /// Late fusion: average the members' predicted probabilities.
    MeanProb,
    /// Late fusion with member weights chosen on the validation split.
    WeightedProb,
    /// Early fusion, each member standardized on the training split and
    /// scaled by 1/√dim so every member contributes the same total variance.
    ConcatBalanced,
    /// Late fusion: a non-negative linear pool of member probabilities fitted
    /// on the validation split with cross-fitting ([`stack`]).
    Stacking,
    /// Late fusion: greedy ensemble selection with replacement on the
    /// validation split ([`caruana`]).
    Caruana,
}

impl Fusion {
    pub fn as_str(self) -> &'static str {
        match self {
            Fusion::None => "none",
            Fusion::Concat => "concat",
            Fusion::MeanProb => "mean-prob",
            Fusion::WeightedProb => "weighted-prob",
            Fusion::ConcatBalanced => "concat-balanced",
            Fusion::Stacking => "stacking",
            Fusion::Caruana => "caruana",
        }
    }
    pub fn is_late(self) -> bool {
        matches!(
            self,
            Fusion::MeanProb | Fusion::WeightedProb | Fusion::Stacking | Fusion::Caruana
        )
    }
    /// Every fusion, for parsing stored names.
    pub const ALL: [Fusion; 7] = [
        Fusion::None,
        Fusion::Concat,
        Fusion::MeanProb,
        Fusion::WeightedProb,
        Fusion::ConcatBalanced,
        Fusion::Stacking,
        Fusion::Caruana,
    ];
}

/// The score fusion maximizes on validation: the primary metric (AUROC,
/// macro over outputs; Spearman for regression), from the metrics module.
pub fn primary_score(kind: TaskKind, y: &Array2<f32>, p: &Array2<f32>) -> f64 {
    let (m, _) = super::metrics::compute_metrics(kind, y, p);
    m.get(super::metrics::primary_metric(kind))
        .copied()
        .flatten()
        .unwrap_or(f64::NEG_INFINITY)
}

/// Σ w_m P_m.
pub fn combine(preds: &[&Array2<f32>], w: &[f64]) -> Array2<f32> {
    let mut out = Array2::<f32>::zeros(preds[0].dim());
    for (p, wi) in preds.iter().zip(w) {
        out.scaled_add(*wi as f32, *p);
    }
    out
}

/// Loss of pooled predictions `q` against `y` (mean over rows) and its
/// derivative with respect to each `q` entry.
fn pool_loss(kind: TaskKind, q: &[f64], y: &[f64], cols: usize) -> (f64, Vec<f64>) {
    let eps = 1e-7;
    let rows = (q.len() / cols.max(1)).max(1) as f64;
    let mut g = vec![0.0; q.len()];
    let mut l = 0.0;
    for (i, (qi, yi)) in q.iter().zip(y).enumerate() {
        match kind {
            TaskKind::Regression => {
                l += (qi - yi).powi(2);
                g[i] = 2.0 * (qi - yi) / rows;
            }
            TaskKind::Multiclass => {
                if *yi > 0.5 {
                    let v = qi.max(eps);
                    l -= v.ln();
                    g[i] = -1.0 / v / rows;
                }
            }
            TaskKind::Binary | TaskKind::Multilabel => {
                let v = qi.clamp(eps, 1.0 - eps);
                l -= yi * v.ln() + (1.0 - yi) * (1.0 - v).ln();
                g[i] = (-(yi / v) + (1.0 - yi) / (1.0 - v)) / rows;
            }
        }
    }
    (l / rows, g)
}

/// Euclidean projection onto the probability simplex.
fn project_simplex(v: &[f64]) -> Vec<f64> {
    let mut u = v.to_vec();
    u.sort_by(|a, b| b.total_cmp(a));
    let mut css = 0.0;
    let mut theta = 0.0;
    for (j, uj) in u.iter().enumerate() {
        css += uj;
        let t = (css - 1.0) / (j + 1) as f64;
        if uj - t > 0.0 {
            theta = t;
        }
    }
    v.iter().map(|x| (x - theta).max(0.0)).collect()
}

/// Simplex weights minimizing the pooled loss on `rows` of the predictions.
pub fn pool_weights(
    kind: TaskKind,
    preds: &[&Array2<f32>],
    y: &Array2<f32>,
    rows: &[usize],
) -> Vec<f64> {
    let m = preds.len();
    let sel: Vec<Vec<f64>> = preds
        .iter()
        .map(|p| p.select(Axis(0), rows).iter().map(|v| *v as f64).collect())
        .collect();
    let yy: Vec<f64> = y.select(Axis(0), rows).iter().map(|v| *v as f64).collect();
    let cols = y.ncols();
    let eval = |w: &[f64]| -> (f64, Vec<f64>) {
        let q: Vec<f64> = (0..yy.len())
            .map(|i| (0..m).map(|k| w[k] * sel[k][i]).sum())
            .collect();
        let (l, dq) = pool_loss(kind, &q, &yy, cols);
        let g = (0..m)
            .map(|k| dq.iter().zip(&sel[k]).map(|(a, b)| a * b).sum())
            .collect();
        (l, g)
    };
    let mut w = vec![1.0 / m as f64; m];
    let (mut l, mut g) = eval(&w);
    let mut step = 1.0;
    for _ in 0..500 {
        let mut moved = false;
        for _ in 0..40 {
            let cand = project_simplex(
                &w.iter()
                    .zip(&g)
                    .map(|(a, b)| a - step * b)
                    .collect::<Vec<_>>(),
            );
            let (lc, gc) = eval(&cand);
            let change: f64 = cand.iter().zip(&w).map(|(a, b)| (a - b).abs()).sum();
            if lc
                <= l - 1e-4
                    * g.iter()
                        .zip(&w)
                        .zip(&cand)
                        .map(|((gi, wi), ci)| gi * (wi - ci))
                        .sum::<f64>()
            {
                moved = change > 1e-12;
                (w, l, g) = (cand, lc, gc);
                step *= 2.0;
                break;
            }
            step *= 0.5;
        }
        if !moved {
            break;
        }
    }
    w
}

/// A cross-fitted stacking fit.
#[derive(Debug, Clone)]
pub struct Stacked {
    pub weights: Vec<f64>,
    /// Validation rows of each fold (positions into the validation split).
    pub folds: Vec<Vec<usize>>,
    /// The out-of-fold score of the pool and the best member's score.
    pub oof_score: f64,
    pub best_member_score: f64,
}

/// Folds of `n` validation rows (every `k`-th row, so classes spread).
pub fn folds(n: usize, k: usize) -> Vec<Vec<usize>> {
    let k = k.clamp(2, n.max(2));
    (0..k).map(|f| (f..n).step_by(k).collect()).collect()
}

/// Stacking on the validation predictions `preds` (rows: the validation
/// split) with labels `y`.
pub fn stack(kind: TaskKind, preds: &[&Array2<f32>], y: &Array2<f32>) -> Stacked {
    let n = y.nrows();
    let fs = folds(n, 5);
    let mut oof = Array2::<f32>::zeros(y.dim());
    for f in &fs {
        let fit_rows: Vec<usize> = (0..n).filter(|r| !f.contains(r)).collect();
        let w = pool_weights(kind, preds, y, &fit_rows);
        let pooled = combine(preds, &w);
        for r in f {
            oof.row_mut(*r).assign(&pooled.row(*r));
        }
    }
    let oof_score = primary_score(kind, y, &oof);
    let scores: Vec<f64> = preds.iter().map(|p| primary_score(kind, y, p)).collect();
    let best = argmax(&scores);
    let weights = if oof_score > scores[best] {
        pool_weights(kind, preds, y, &(0..n).collect::<Vec<_>>())
    } else {
        one_hot(preds.len(), best)
    };
    Stacked {
        weights,
        folds: fs,
        oof_score,
        best_member_score: scores[best],
    }
}

fn argmax(v: &[f64]) -> usize {
    let mut b = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[b] {
            b = i;
        }
    }
    b
}

fn one_hot(n: usize, i: usize) -> Vec<f64> {
    let mut w = vec![0.0; n];
    w[i] = 1.0;
    w
}

/// Greedy ensemble selection with replacement (at most `rounds` additions).
pub fn caruana(kind: TaskKind, preds: &[&Array2<f32>], y: &Array2<f32>, rounds: usize) -> Vec<f64> {
    let m = preds.len();
    let scores: Vec<f64> = preds.iter().map(|p| primary_score(kind, y, p)).collect();
    let mut counts = vec![0usize; m];
    counts[argmax(&scores)] = 1;
    let weights = |c: &[usize]| -> Vec<f64> {
        let t = c.iter().sum::<usize>() as f64;
        c.iter().map(|v| *v as f64 / t).collect()
    };
    let mut best = (scores[argmax(&scores)], counts.clone());
    for _ in 1..rounds {
        let trial: Vec<f64> = (0..m)
            .map(|k| {
                let mut c = counts.clone();
                c[k] += 1;
                primary_score(kind, y, &combine(preds, &weights(&c)))
            })
            .collect();
        let k = argmax(&trial);
        counts[k] += 1;
        if trial[k] > best.0 + 1e-12 {
            best = (trial[k], counts.clone());
        }
    }
    weights(&best.1)
}

/// A late fusion's member weights, chosen on the validation split only:
/// stacking and caruana as above; weighted-prob by a grid over the simplex
/// (steps of 0.1, up to three members); equal weights otherwise.
pub fn late_weights(
    fusion: Fusion,
    kind: TaskKind,
    valid_preds: &[&Array2<f32>],
    valid_labels: &Array2<f32>,
) -> Vec<f64> {
    let n = valid_preds.len();
    match fusion {
        Fusion::Stacking => stack(kind, valid_preds, valid_labels).weights,
        Fusion::Caruana => caruana(kind, valid_preds, valid_labels, 25),
        Fusion::WeightedProb if (2..=3).contains(&n) => {
            // Grid over the simplex in steps of 0.1 (n ≤ 3).
            let grid: Vec<Vec<f64>> = if n == 2 {
                (0..=10)
                    .map(|i| vec![i as f64 / 10.0, 1.0 - i as f64 / 10.0])
                    .collect()
            } else {
                (0..=10)
                    .flat_map(|i| {
                        (0..=10 - i).map(move |j| {
                            vec![i as f64 / 10.0, j as f64 / 10.0, (10 - i - j) as f64 / 10.0]
                        })
                    })
                    .collect()
            };
            let mut weights = vec![1.0 / n as f64; n];
            let mut best = f64::NEG_INFINITY;
            for w in grid {
                let s = primary_score(kind, valid_labels, &combine(valid_preds, &w));
                if s > best + 1e-12 {
                    best = s;
                    weights = w;
                }
            }
            weights
        }
        // Equal weights: mean-prob, and weighted-prob beyond three members.
        _ => vec![1.0 / n as f64; n],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A good member (informative probabilities) and a chance-level one.
    fn members(n: usize) -> (Array2<f32>, Array2<f32>, Array2<f32>) {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let y = Array2::from_shape_fn((n, 1), |_| (rng.random::<f32>() < 0.3) as u8 as f32);
        let good = y.mapv(|v| (0.25 + 0.5 * v + rng.random_range(-0.3..0.3)).clamp(0.01, 0.99));
        let noise = Array2::from_shape_fn((n, 1), |_| rng.random_range(0.01..0.99));
        (y, good, noise)
    }

    #[test]
    fn a_chance_level_member_gets_near_zero_weight() {
        let (y, good, noise) = members(400);
        let preds = [&good, &noise];
        let s = stack(TaskKind::Binary, &preds, &y);
        assert!(s.weights[1] < 0.05, "{:?}", s.weights);
        let c = caruana(TaskKind::Binary, &preds, &y, 20);
        assert!(c[1] < 0.1, "{c:?}");
        let alone = primary_score(TaskKind::Binary, &y, &good);
        for w in [&s.weights, &c] {
            let pooled = primary_score(TaskKind::Binary, &y, &combine(&preds, w));
            assert!(pooled >= alone - 0.005, "{pooled} vs {alone} with {w:?}");
        }
    }

    #[test]
    fn stacking_scores_each_fold_with_weights_fitted_elsewhere() {
        let fs = folds(23, 5);
        let mut all: Vec<usize> = fs.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..23).collect::<Vec<_>>(),
            "every row in exactly one fold"
        );
        // Weights fitted without a fold do not depend on that fold's rows:
        // scrambling them leaves the weights used to score them unchanged.
        let (y, good, noise) = members(200);
        let fit_rows: Vec<usize> = (0..200)
            .filter(|r| !fs_contains(&folds(200, 5)[0], *r))
            .collect();
        let w = pool_weights(TaskKind::Binary, &[&good, &noise], &y, &fit_rows);
        let mut scrambled = good.clone();
        for r in &folds(200, 5)[0] {
            scrambled[[*r, 0]] = 1.0 - scrambled[[*r, 0]];
        }
        let w2 = pool_weights(TaskKind::Binary, &[&scrambled, &noise], &y, &fit_rows);
        assert_eq!(w, w2);
    }

    fn fs_contains(f: &[usize], r: usize) -> bool {
        f.contains(&r)
    }

    #[test]
    fn two_informative_members_pool_better_than_either() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let n = 600;
        let y = Array2::from_shape_fn((n, 1), |_| (rng.random::<f32>() < 0.5) as u8 as f32);
        let a = y.mapv(|v| (0.3 + 0.4 * v + rng.random_range(-0.45..0.45)).clamp(0.01, 0.99));
        let b = y.mapv(|v| (0.3 + 0.4 * v + rng.random_range(-0.45..0.45)).clamp(0.01, 0.99));
        let s = stack(TaskKind::Binary, &[&a, &b], &y);
        assert!(s.weights.iter().all(|w| *w > 0.2), "{:?}", s.weights);
        assert!(s.oof_score > s.best_member_score, "{s:?}");
    }

    #[test]
    fn the_simplex_projection_is_exact() {
        assert_eq!(project_simplex(&[0.5, 0.5]), vec![0.5, 0.5]);
        assert_eq!(project_simplex(&[2.0, 0.0]), vec![1.0, 0.0]);
        let p = project_simplex(&[0.3, -0.2, 0.9]);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12 && p.iter().all(|v| *v >= 0.0));
    }
}
