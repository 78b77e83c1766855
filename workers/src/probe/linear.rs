//! Linear probes solved to their optimum, in f64 on the host:
//!
//! * **logistic regression** (`kind: logreg`, classification heads) — the
//!   problem of scikit-learn's `LogisticRegression(C, class_weight=...,
//!   solver="lbfgs")`: minimise
//!   `(1/S) Σᵢ sᵢ ℓᵢ + |W|² / (2 C S)` (sᵢ sample weights, S = Σ sᵢ, the
//!   intercepts not penalized), with ℓ the binary log loss (sigmoid) or the
//!   multinomial one (softmax over all classes); multilabel heads solve one
//!   binary problem per label. Full-batch L-BFGS (10 pairs, backtracking
//!   Armijo line search) until the largest gradient entry is ≤ `tol`
//!   (scikit-learn's `tol`, scipy's `gtol`) or the relative decrease of the
//!   objective falls to 64 ε (scipy's `ftol` as scikit-learn sets it), at
//!   most `max_iter` iterations. A `c` grid is solved from the smallest `c`
//!   up, each warm-started from the previous solution.
//! * **ridge regression** (regression heads): `ridge.rs`.
//!
//! The value of a grid with the best validation score wins (the first listed
//! of equals). Row blocks are evaluated in parallel on the rayon pool.

use super::dot;
use super::features::Features;
use super::output::{CurvePoint, FitInfo, ProbeOutput, score};
use super::ridge::fit_ridge;
use super::{Head, PenaltyC, ProbeError, ProbeParams};
use ndarray::{Array1, Array2, ArrayView2, Axis, s};
use rayon::prelude::*;

/// Class labels of the training rows.
pub enum Labels<'a> {
    /// 0/1 targets, one problem.
    Binary(&'a [f64]),
    /// Class index per row, `k` classes (multinomial).
    Multinomial(&'a [usize], usize),
}

impl Labels<'_> {
    fn outputs(&self) -> usize {
        match self {
            Labels::Binary(_) => 1,
            Labels::Multinomial(_, k) => *k,
        }
    }
}

/// scikit-learn's `class_weight="balanced"`: n / (classes present · n_c)
/// per row of class c.
pub fn balanced_weights(labels: &Labels<'_>) -> Vec<f64> {
    let classes: Vec<usize> = match labels {
        Labels::Binary(y) => y.iter().map(|v| (*v > 0.5) as usize).collect(),
        Labels::Multinomial(y, _) => y.to_vec(),
    };
    let k = classes.iter().max().map_or(1, |m| m + 1);
    let mut count = vec![0usize; k];
    for c in &classes {
        count[*c] += 1;
    }
    let present = count.iter().filter(|n| **n > 0).count() as f64;
    let n = classes.len() as f64;
    classes
        .iter()
        .map(|c| n / (present * count[*c] as f64))
        .collect()
}

/// A logistic model: weights [d, k] and intercepts [k] (k = 1 for binary).
#[derive(Debug, Clone)]
pub struct Logistic {
    pub w: Array2<f64>,
    pub b: Array1<f64>,
}

impl Logistic {
    fn zeros(d: usize, k: usize) -> Logistic {
        Logistic {
            w: Array2::zeros((d, k)),
            b: Array1::zeros(k),
        }
    }

    fn to_vec(&self) -> Vec<f64> {
        self.w.iter().chain(self.b.iter()).copied().collect()
    }

    fn from_vec(v: &[f64], d: usize, k: usize) -> Logistic {
        Logistic {
            w: Array2::from_shape_vec((d, k), v[..d * k].to_vec()).expect("shape"),
            b: Array1::from(v[d * k..].to_vec()),
        }
    }

    /// Probabilities: sigmoid of the one output, or softmax over k.
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        let mut z = x.dot(&self.w) + &self.b;
        if z.ncols() == 1 {
            z.mapv_inplace(sigmoid);
        } else {
            for mut row in z.rows_mut() {
                let m = row.fold(f64::NEG_INFINITY, |a, b| a.max(*b));
                row.mapv_inplace(|v| (v - m).exp());
                let s = row.sum();
                row.mapv_inplace(|v| v / s);
            }
        }
        z
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// log(1 + e^z), stable.
fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// Rows per block of the parallel objective.
const BLOCK: usize = 256;

/// The logistic objective and its gradient at `theta` (W row-major, then b).
fn logistic_objective(
    x: ArrayView2<'_, f64>,
    labels: &Labels<'_>,
    sw: &[f64],
    c: f64,
    theta: &[f64],
) -> (f64, Vec<f64>) {
    let (n, d) = x.dim();
    let k = labels.outputs();
    let m = Logistic::from_vec(theta, d, k);
    let s_sum: f64 = sw.iter().sum();
    let blocks: Vec<(f64, Array2<f64>, Array1<f64>)> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|bi| {
            let (a, e) = (bi * BLOCK, ((bi + 1) * BLOCK).min(n));
            let xb = x.slice(s![a..e, ..]);
            let mut z = xb.dot(&m.w) + &m.b;
            let mut loss = 0.0;
            for (r, mut row) in z.rows_mut().into_iter().enumerate() {
                let i = a + r;
                let wi = sw[i] / s_sum;
                match labels {
                    Labels::Binary(y) => {
                        let zi = row[0];
                        loss += wi * (softplus(zi) - y[i] * zi);
                        row[0] = wi * (sigmoid(zi) - y[i]);
                    }
                    Labels::Multinomial(y, _) => {
                        let mx = row.fold(f64::NEG_INFINITY, |p, q| p.max(*q));
                        let se: f64 = row.iter().map(|v| (v - mx).exp()).sum();
                        let lse = mx + se.ln();
                        loss += wi * (lse - row[y[i]]);
                        row.mapv_inplace(|v| wi * (v - lse).exp());
                        row[y[i]] -= wi;
                    }
                }
            }
            let gw = xb.t().dot(&z);
            let gb = z.sum_axis(Axis(0));
            (loss, gw, gb)
        })
        .collect();
    let mut f = 0.0;
    let mut gw = Array2::<f64>::zeros((d, k));
    let mut gb = Array1::<f64>::zeros(k);
    for (l, w, b) in blocks {
        f += l;
        gw += &w;
        gb += &b;
    }
    let reg = 1.0 / (c * s_sum);
    f += 0.5 * reg * m.w.iter().map(|v| v * v).sum::<f64>();
    gw.scaled_add(reg, &m.w);
    (f, gw.iter().chain(gb.iter()).copied().collect())
}

/// What [`lbfgs`] returns.
struct Minimum {
    stop: &'static str,
    x: Vec<f64>,
    f: f64,
    grad_norm: f64,
    iterations: usize,
    converged: bool,
}

fn inf_norm(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Minimises a smooth convex `f` from `x0` by L-BFGS.
fn lbfgs(
    f: impl Fn(&[f64]) -> (f64, Vec<f64>),
    x0: Vec<f64>,
    tol: f64,
    max_iter: usize,
) -> Minimum {
    const HISTORY: usize = 10;
    let mut x = x0;
    let (mut fx, mut g) = f(&x);
    let mut pairs: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> =
        std::collections::VecDeque::new();
    let mut iterations = 0;
    let mut converged = inf_norm(&g) <= tol;
    let mut stop = if converged { "tol" } else { "max_iter" };
    while !converged && iterations < max_iter {
        iterations += 1;
        // Two-loop recursion: d = −H g.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(pairs.len());
        for (s, y, rho) in pairs.iter().rev() {
            let a = rho * dot(s, &q);
            q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= a * yi);
            alphas.push(a);
        }
        let gamma = match pairs.back() {
            Some((s, y, _)) => dot(s, y) / dot(y, y),
            None => 1.0 / dot(&g, &g).sqrt().max(1.0),
        };
        q.iter_mut().for_each(|v| *v *= gamma);
        for ((s, y, rho), a) in pairs.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            q.iter_mut().zip(s).for_each(|(qi, si)| *qi += (a - b) * si);
        }
        let mut dir: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dot(&g, &dir);
        if slope >= 0.0 {
            // Not a descent direction (numerical trouble): restart.
            pairs.clear();
            let scale = 1.0 / dot(&g, &g).sqrt().max(1.0);
            dir = g.iter().map(|v| -v * scale).collect();
            slope = dot(&g, &dir);
        }
        // Backtracking Armijo line search from the full step.
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..50 {
            let xn: Vec<f64> = x.iter().zip(&dir).map(|(a, b)| a + t * b).collect();
            let (fn_, gn) = f(&xn);
            if fn_.is_finite() && fn_ <= fx + 1e-4 * t * slope {
                accepted = Some((xn, fn_, gn));
                break;
            }
            t *= 0.5;
        }
        let Some((xn, fn_, gn)) = accepted else {
            // No decrease possible at machine precision: as good as it gets.
            converged = inf_norm(&g) <= tol;
            stop = if converged { "tol" } else { "line search" };
            break;
        };
        let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = gn.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&y, &y).max(f64::MIN_POSITIVE) {
            if pairs.len() == HISTORY {
                pairs.pop_front();
            }
            pairs.push_back((s, y, 1.0 / sy));
        }
        let decrease = (fx - fn_) / fx.abs().max(fn_.abs()).max(1.0);
        x = xn;
        fx = fn_;
        g = gn;
        if inf_norm(&g) <= tol {
            (converged, stop) = (true, "tol");
        } else if decrease <= 64.0 * f64::EPSILON {
            (converged, stop) = (true, "ftol");
        }
    }
    Minimum {
        stop,
        grad_norm: inf_norm(&g),
        x,
        f: fx,
        iterations,
        converged,
    }
}

/// Fits a logistic model (warm-started from `init` when given).
pub fn fit_logistic(
    x: ArrayView2<'_, f64>,
    labels: &Labels<'_>,
    sw: &[f64],
    c: f64,
    tol: f64,
    max_iter: usize,
    init: Option<&Logistic>,
) -> (Logistic, FitInfo) {
    let (d, k) = (x.ncols(), labels.outputs());
    let x0 = init.map_or_else(|| Logistic::zeros(d, k).to_vec(), Logistic::to_vec);
    let m = lbfgs(
        |theta| logistic_objective(x, labels, sw, c, theta),
        x0,
        tol,
        max_iter,
    );
    (
        Logistic::from_vec(&m.x, d, k),
        FitInfo {
            solver: "lbfgs".into(),
            converged: m.converged,
            iterations: m.iterations,
            grad_norm: m.grad_norm,
            objective: m.f,
            stop: m.stop.into(),
        },
    )
}

/// The penalized logistic objective of a model (what [`fit_logistic`]
/// minimises), for checks against other solvers.
pub fn logistic_objective_of(
    x: ArrayView2<'_, f64>,
    labels: &Labels<'_>,
    sw: &[f64],
    c: f64,
    m: &Logistic,
) -> f64 {
    logistic_objective(x, labels, sw, c, &m.to_vec()).0
}

/// Trains a linear probe (`kind: logreg` or `ridge`) on `train` rows: the
/// grid of `c` (classification) or `alpha` (regression) values, each solved
/// to convergence, the best validation score kept. One curve point per grid
/// value (`train_loss` = the penalized objective).
#[allow(clippy::too_many_arguments)]
pub fn train_linear(
    x: &dyn Features,
    y: &Array2<f32>,
    train: &[usize],
    valid: &[usize],
    test: &[usize],
    head: Head,
    p: &ProbeParams,
) -> Result<ProbeOutput, ProbeError> {
    if p.kind == super::ProbeKind::Ridge && head != Head::Regression {
        return Err(ProbeError::Input(format!(
            "probe.kind ridge fits regression tasks, and this task is {}; use kind: logreg \
             (logistic regression for classification, ridge for regression tasks)",
            match head {
                Head::Binary => "binary",
                Head::Multiclass(_) => "multiclass",
                Head::Multilabel(_) => "multilabel",
                Head::Regression => "regression",
            }
        )));
    }
    let to64 = |rows: &[usize]| x.rows(rows).mapv(|v| v as f64);
    let xs = [to64(train), to64(valid), to64(test)];
    let yv = y.select(Axis(0), valid);
    let regression = head == Head::Regression;
    let (mut grid, auto) = if regression {
        (
            p.alpha_grid(),
            p.alpha.as_ref().is_some_and(PenaltyC::is_auto),
        )
    } else {
        (p.c_grid(), p.c.as_ref().is_some_and(PenaltyC::is_auto))
    };
    let solve = |values: &[f64]| {
        if regression {
            ridge_grid(&xs, y, train, values)
        } else {
            logistic_grid(&xs, y, train, head, p, values)
        }
    };
    let mut fits = solve(&grid);
    let (mut best, mut curve) = select_best(&mut fits, head, &yv);
    if auto {
        // `auto`: a decade beyond the edge where the best value sits, while
        // it sits there (bounded). The grid stays sorted.
        for _ in 0..super::AUTO_WIDENINGS {
            let Some((at, next)) = super::grid::widened(&grid, best) else {
                break;
            };
            let fit = solve(&[next]).pop().expect("one value solved");
            grid.insert(at, next);
            fits.insert(at, fit);
            (best, curve) = select_best(&mut fits, head, &yv);
        }
    }
    let edge = super::grid::grid_edge(&grid, best, regression, auto);
    let score_name = score(head, &fits[best].valid, &yv, curve[best].valid_loss).1;
    let GridFit {
        valid: pv,
        test: pt,
        info,
        ..
    } = fits.swap_remove(best);
    let chosen = grid[best];
    Ok(ProbeOutput {
        valid: pv,
        test: pt,
        curve,
        best_epoch: best + 1,
        score_name,
        c: (!regression).then_some(chosen),
        alpha: regression.then_some(chosen),
        grid,
        grid_edge: edge,
        fit: info,
    })
}

fn as32(a: Array2<f64>) -> Array2<f32> {
    a.mapv(|v| v as f32)
}

/// Ridge at every `alpha` of the grid (one closed form each).
fn ridge_grid(
    xs: &[Array2<f64>; 3],
    y: &Array2<f32>,
    train: &[usize],
    grid: &[f64],
) -> Vec<GridFit> {
    let [xtr, xv, xt] = xs;
    let mut fits = Vec::new();
    let ytr: Vec<f64> = train.iter().map(|r| y[[*r, 0]] as f64).collect();
    for (m, info) in fit_ridge(xtr.view(), &ytr, grid) {
        let col = |a: Array1<f64>| as32(a.insert_axis(Axis(1)));
        fits.push(GridFit {
            valid: col(m.predict(xv.view())),
            test: col(m.predict(xt.view())),
            info,
            score: 0.0,
        });
    }
    fits
}

/// The targets of one logistic problem: labels to fit (binary targets, or
/// compact class indices, and the output columns they predict), or a
/// label with one class in training, predicted as its training frequency.
enum Target {
    Fit(Vec<f64>, Vec<usize>, Vec<usize>),
    Fixed(f64),
}

fn problem_targets(head: Head, y: &Array2<f32>, train: &[usize], label: usize) -> Target {
    let k = head.outputs();
    match head {
        Head::Multiclass(_) => {
            // Classes present in training only (an absent
            // class's unpenalized intercept has no optimum).
            let ytr: Vec<usize> = train
                .iter()
                .map(|r| (0..k).find(|c| y[[*r, *c]] > 0.5).unwrap_or(0))
                .collect();
            let mut present: Vec<usize> = ytr.clone();
            present.sort_unstable();
            present.dedup();
            let compact: Vec<usize> = ytr
                .iter()
                .map(|c| present.binary_search(c).expect("present"))
                .collect();
            Target::Fit(Vec::new(), compact, present)
        }
        _ => {
            let ytr: Vec<f64> = train.iter().map(|r| y[[*r, label]] as f64).collect();
            if ytr.iter().all(|v| *v > 0.5) || ytr.iter().all(|v| *v < 0.5) {
                return Target::Fixed(ytr.iter().sum::<f64>() / ytr.len().max(1) as f64);
            }
            Target::Fit(ytr, Vec::new(), vec![label])
        }
    }
}

/// Logistic regression at every `c` of the grid, solved from the smallest
/// `c` (the strongest penalty) up, each warm-started from the previous
/// solution; one problem per label for multilabel heads.
fn logistic_grid(
    xs: &[Array2<f64>; 3],
    y: &Array2<f32>,
    train: &[usize],
    head: Head,
    p: &ProbeParams,
    grid: &[f64],
) -> Vec<GridFit> {
    let [xtr, xv, xt] = xs;
    let k = head.outputs();
    let (nv, nt) = (xv.nrows(), xt.nrows());
    // Solved from the smallest c (the strongest penalty) up, warm-started.
    let mut order: Vec<usize> = (0..grid.len()).collect();
    order.sort_by(|a, b| grid[*a].total_cmp(&grid[*b]));
    let mut solved: Vec<Option<GridFit>> = vec![None; grid.len()];
    // One problem per label for multilabel heads; one for the others.
    let problems: Vec<usize> = match head {
        Head::Multilabel(n) => (0..n).collect(),
        _ => vec![0],
    };
    let mut warm: Vec<Option<Logistic>> = vec![None; problems.len()];
    for gi in order {
        let c = grid[gi];
        let mut pv = Array2::<f64>::zeros((nv, k));
        let mut pt = Array2::<f64>::zeros((nt, k));
        let mut total = FitInfo {
            solver: "lbfgs".into(),
            converged: true,
            iterations: 0,
            grad_norm: 0.0,
            objective: 0.0,
            stop: "tol".into(),
        };
        for (pi, &label) in problems.iter().enumerate() {
            // The problem's targets and the output columns it predicts.
            let (ybin, yclass, cols) = match problem_targets(head, y, train, label) {
                Target::Fit(ybin, yclass, cols) => (ybin, yclass, cols),
                Target::Fixed(f) => {
                    // A label with one class in training: its
                    // training frequency (AUROC is undefined there).
                    pv.column_mut(label).fill(f);
                    pt.column_mut(label).fill(f);
                    continue;
                }
            };
            let labels = if head == Head::Multiclass(k) {
                Labels::Multinomial(&yclass, cols.len())
            } else {
                Labels::Binary(&ybin)
            };
            let sw = weights(p, &labels);
            let (model, info) = fit_logistic(
                xtr.view(),
                &labels,
                &sw,
                c,
                p.tol,
                p.max_iter,
                warm[pi].as_ref(),
            );
            let (a, b) = (model.predict(xv.view()), model.predict(xt.view()));
            for (j, col) in cols.iter().enumerate() {
                pv.column_mut(*col).assign(&a.column(j));
                pt.column_mut(*col).assign(&b.column(j));
            }
            if !info.converged || total.iterations == 0 {
                total.stop = info.stop.clone();
            }
            total.converged &= info.converged;
            total.iterations += info.iterations;
            total.grad_norm = total.grad_norm.max(info.grad_norm);
            total.objective += info.objective;
            warm[pi] = Some(model);
        }
        solved[gi] = Some(GridFit {
            valid: as32(pv),
            test: as32(pt),
            info: total,
            score: 0.0,
        });
    }
    solved
        .into_iter()
        .map(|s| s.expect("every grid value solved"))
        .collect()
}

/// Each grid value's validation score and curve point; the best (the first
/// of equals).
fn select_best(fits: &mut [GridFit], head: Head, yv: &Array2<f32>) -> (usize, Vec<CurvePoint>) {
    let mut curve = Vec::new();
    let mut best = 0;
    for (i, f) in fits.iter_mut().enumerate() {
        let vloss = valid_loss(head, &f.valid, yv);
        f.score = score(head, &f.valid, yv, vloss).0;
        curve.push(CurvePoint {
            epoch: i + 1,
            train_loss: f.info.objective,
            valid_loss: vloss,
            valid_score: f.score,
        });
    }
    for i in 1..fits.len() {
        if fits[i].score > fits[best].score {
            best = i;
        }
    }
    (best, curve)
}

/// One grid value's predictions and fit.
#[derive(Clone)]
struct GridFit {
    valid: Array2<f32>,
    test: Array2<f32>,
    info: FitInfo,
    score: f64,
}

/// Sample weights: balanced, or 1.
fn weights(p: &ProbeParams, labels: &Labels<'_>) -> Vec<f64> {
    if p.class_weights {
        balanced_weights(labels)
    } else {
        let n = match labels {
            Labels::Binary(y) => y.len(),
            Labels::Multinomial(y, _) => y.len(),
        };
        vec![1.0; n]
    }
}

/// Validation loss of predictions (mean log loss; MSE for regression).
fn valid_loss(head: Head, pred: &Array2<f32>, y: &Array2<f32>) -> f64 {
    let eps = 1e-12;
    let n = pred.nrows().max(1) as f64;
    match head {
        Head::Regression => {
            pred.iter()
                .zip(y.iter())
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>()
                / n
        }
        Head::Multiclass(_) => {
            pred.iter()
                .zip(y.iter())
                .filter(|(_, t)| **t > 0.5)
                .map(|(p, _)| -((*p as f64).max(eps)).ln())
                .sum::<f64>()
                / n
        }
        _ => {
            pred.iter()
                .zip(y.iter())
                .map(|(p, t)| {
                    let p = (*p as f64).clamp(eps, 1.0 - eps);
                    let t = *t as f64;
                    -(t * p.ln() + (1.0 - t) * (1.0 - p).ln())
                })
                .sum::<f64>()
                / (n * pred.ncols().max(1) as f64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn the_gradient_is_the_objectives_derivative() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = Array2::from_shape_fn((40, 3), |_| rng.random_range(-1.0..1.0));
        let y: Vec<usize> = (0..40).map(|i| i % 3).collect();
        let labels = Labels::Multinomial(&y, 3);
        let sw = balanced_weights(&labels);
        let theta: Vec<f64> = (0..12).map(|_| rng.random_range(-0.5..0.5)).collect();
        let (f0, g) = logistic_objective(x.view(), &labels, &sw, 0.7, &theta);
        for j in 0..theta.len() {
            let mut t = theta.clone();
            t[j] += 1e-6;
            let (f1, _) = logistic_objective(x.view(), &labels, &sw, 0.7, &t);
            assert!(((f1 - f0) / 1e-6 - g[j]).abs() < 1e-5, "entry {j}");
        }
    }

    #[test]
    fn balanced_weights_are_sklearns() {
        let y = [1.0, 0.0, 0.0, 0.0];
        let w = balanced_weights(&Labels::Binary(&y));
        assert_eq!(w, vec![2.0, 4.0 / 6.0, 4.0 / 6.0, 4.0 / 6.0]);
    }
}
