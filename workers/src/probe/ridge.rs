//! Ridge regression (`kind: ridge`, and the linear probe of regression
//! heads) — scikit-learn's `Ridge(alpha)`: minimise `|y − Xw − b|² + α|w|²`
//! with the intercept unpenalized, by centring and a Cholesky solve of the
//! normal equations (the primal `d × d` system, or the dual `n × n` one when
//! there are fewer rows than features); one solve per `alpha` of a grid.

use super::dot;
use super::output::FitInfo;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;

/// A ridge model: weights [d] and intercept.
#[derive(Debug, Clone)]
pub struct Ridge {
    pub w: Array1<f64>,
    pub b: f64,
}

impl Ridge {
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Array1<f64> {
        x.dot(&self.w) + self.b
    }
}

/// Lower-triangular Cholesky factor of a symmetric positive-definite `a`
/// (row-major L, zeros above the diagonal), or `None` when it is not
/// positive definite. Rows below the pivot are updated in parallel.
fn cholesky(a: Array2<f64>) -> Option<Array2<f64>> {
    let n = a.nrows();
    let mut m: Vec<f64> = a.iter().copied().collect();
    for j in 0..n {
        let (top, below) = m.split_at_mut((j + 1) * n);
        let rj = &mut top[j * n..];
        let djj = rj[j] - dot(&rj[..j], &rj[..j]);
        if djj <= 0.0 || !djj.is_finite() {
            return None;
        }
        let djj = djj.sqrt();
        rj[j] = djj;
        let rj = &rj[..j];
        below.par_chunks_mut(n).for_each(|ri| {
            ri[j] = (ri[j] - dot(&ri[..j], rj)) / djj;
        });
    }
    for j in 0..n {
        m[j * n + j + 1..(j + 1) * n].fill(0.0);
    }
    Some(Array2::from_shape_vec((n, n), m).expect("square"))
}

/// Solves L Lᵀ x = b for the factor `l` of [`cholesky`].
fn cholesky_solve(l: &Array2<f64>, b: &Array1<f64>) -> Array1<f64> {
    let n = l.nrows();
    let mut y = b.clone();
    for i in 0..n {
        let mut v = y[i];
        for k in 0..i {
            v -= l[[i, k]] * y[k];
        }
        y[i] = v / l[[i, i]];
    }
    for i in (0..n).rev() {
        let mut v = y[i];
        for k in i + 1..n {
            v -= l[[k, i]] * y[k];
        }
        y[i] = v / l[[i, i]];
    }
    y
}

/// Ridge fits for each `alpha` (one Gram matrix, one factorization each).
pub fn fit_ridge(x: ArrayView2<'_, f64>, y: &[f64], alphas: &[f64]) -> Vec<(Ridge, FitInfo)> {
    let (n, d) = x.dim();
    let xm = x.mean_axis(Axis(0)).expect("rows");
    let ym = y.iter().sum::<f64>() / n.max(1) as f64;
    let xc = &x - &xm;
    let yc = Array1::from_iter(y.iter().map(|v| v - ym));
    let primal = d <= n;
    let gram = if primal {
        xc.t().dot(&xc)
    } else {
        xc.dot(&xc.t())
    };
    let rhs = if primal { xc.t().dot(&yc) } else { yc.clone() };
    alphas
        .iter()
        .map(|alpha| {
            let mut a = gram.clone();
            // A tiny jitter keeps alpha = 0 on rank-deficient inputs solvable.
            let jitter = alpha.max(1e-10 * gram.diag().iter().fold(0.0f64, |m, v| m.max(*v)));
            a.diag_mut().mapv_inplace(|v| v + jitter);
            let (w, converged) = match cholesky(a) {
                Some(l) => {
                    let sol = cholesky_solve(&l, &rhs);
                    (if primal { sol } else { xc.t().dot(&sol) }, true)
                }
                None => (Array1::zeros(d), false),
            };
            let b = ym - xm.dot(&w);
            let resid = &yc - &xc.dot(&w);
            let objective = resid.iter().map(|r| r * r).sum::<f64>()
                + alpha * w.iter().map(|v| v * v).sum::<f64>();
            (
                Ridge { w, b },
                FitInfo {
                    solver: "cholesky".into(),
                    converged,
                    iterations: 0,
                    grad_norm: 0.0,
                    objective,
                    stop: if converged {
                        "closed form"
                    } else {
                        "not positive definite"
                    }
                    .into(),
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_symmetric_system() {
        let a = ndarray::arr2(&[[4.0, 2.0, 0.6], [2.0, 5.0, 1.0], [0.6, 1.0, 3.0]]);
        let b = ndarray::arr1(&[1.0, 2.0, 3.0]);
        let l = cholesky(a.clone()).unwrap();
        let x = cholesky_solve(&l, &b);
        let r = a.dot(&x) - &b;
        assert!(r.iter().all(|v| v.abs() < 1e-12), "{r}");
        assert!(cholesky(ndarray::arr2(&[[1.0, 2.0], [2.0, 1.0]])).is_none());
    }
}
