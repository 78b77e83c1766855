//! Principal components of an embedding block, fitted on given rows only
//! (the training split): randomized subspace iteration (Halko, Martinsson
//! and Tropp 2011: a Gaussian sketch of k + 10 columns, four power
//! iterations with re-orthonormalization), then the exact eigenvectors of
//! the small projected problem (cyclic Jacobi). Used by `concat-balanced`
//! ensembles with `pca: k` to reduce each member to k components before
//! balancing.

use ndarray::{Array2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Fitted principal axes.
#[derive(Debug, Clone)]
pub struct Pca {
    pub mean: ndarray::Array1<f64>,
    /// Axes as columns, [d, k], by decreasing variance.
    pub axes: Array2<f64>,
    /// Variance along each axis (over the fitted rows).
    pub variance: Vec<f64>,
}

/// Orthonormalizes the columns of `y` in place (modified Gram–Schmidt);
/// columns that vanish are left zero.
fn orthonormalize(y: &mut Array2<f64>) {
    for j in 0..y.ncols() {
        for i in 0..j {
            let d = y.column(i).dot(&y.column(j));
            let ci = y.column(i).to_owned();
            y.column_mut(j).scaled_add(-d, &ci);
        }
        let n = y.column(j).dot(&y.column(j)).sqrt();
        if n > 1e-12 {
            y.column_mut(j).mapv_inplace(|v| v / n);
        } else {
            y.column_mut(j).fill(0.0);
        }
    }
}

/// Eigenvalues and eigenvectors (columns) of a small symmetric matrix, by
/// cyclic Jacobi rotations; sorted by decreasing eigenvalue.
pub fn symmetric_eigen(a: &Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let n = a.nrows();
    let mut a = a.clone();
    let mut v = Array2::<f64>::eye(n);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |j| *j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[[i, j]].powi(2))
            .sum();
        if off < 1e-22 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if a[[p, q]].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * a[[p, q]]);
                let sign = if theta >= 0.0 { 1.0 } else { -1.0 };
                let t = sign / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[[k, p]], a[[k, q]]);
                    a[[k, p]] = c * akp - s * akq;
                    a[[k, q]] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[[p, k]], a[[q, k]]);
                    a[[p, k]] = c * apk - s * aqk;
                    a[[q, k]] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
                    v[[k, p]] = c * vkp - s * vkq;
                    v[[k, q]] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|x, y| a[[*y, *y]].total_cmp(&a[[*x, *x]]));
    let vals = order.iter().map(|i| a[[*i, *i]]).collect();
    let vecs = v.select(Axis(1), &order);
    (vals, vecs)
}

impl Pca {
    /// The top `k` axes of `x`'s `rows` (centered on their mean).
    pub fn fit(x: &Array2<f32>, rows: &[usize], k: usize, seed: u64) -> Pca {
        let d = x.ncols();
        let z0 = x.select(Axis(0), rows).mapv(|v| v as f64);
        let mean = z0
            .mean_axis(Axis(0))
            .unwrap_or_else(|| ndarray::Array1::zeros(d));
        let z = &z0 - &mean.view().insert_axis(Axis(0));
        let n = z.nrows().max(1);
        let k = k.min(d).min(n);
        let l = (k + 10).min(d);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let omega = Array2::from_shape_fn((d, l), |_| StandardNormal.sample(&mut rng));
        let mut y = z.dot(&omega);
        orthonormalize(&mut y);
        for _ in 0..4 {
            y = z.dot(&z.t().dot(&y));
            orthonormalize(&mut y);
        }
        // B = Yᵀ Z (l × d); B Bᵀ = U S² Uᵀ; right singular vectors V = Bᵀ U / s.
        let b = y.t().dot(&z);
        let (s2, u) = symmetric_eigen(&b.dot(&b.t()));
        let mut axes = Array2::<f64>::zeros((d, k));
        let mut variance = Vec::with_capacity(k);
        let bt_u = b.t().dot(&u);
        for (j, ev) in s2.iter().take(k).enumerate() {
            let s = ev.max(0.0).sqrt();
            if s > 1e-12 {
                axes.column_mut(j).assign(&bt_u.column(j).mapv(|v| v / s));
            }
            variance.push(ev.max(0.0) / n as f64);
        }
        Pca {
            mean,
            axes,
            variance,
        }
    }

    /// Scores of every row of `x` on the axes, [n, k].
    pub fn transform(&self, x: &Array2<f32>) -> Array2<f32> {
        let z = x.mapv(|v| v as f64) - self.mean.view().insert_axis(Axis(0));
        z.dot(&self.axes).mapv(|v| v as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn jacobi_diagonalizes_a_symmetric_matrix() {
        let a = ndarray::array![[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 1.0]];
        let (vals, vecs) = symmetric_eigen(&a);
        assert!(vals.windows(2).all(|w| w[0] >= w[1]), "{vals:?}");
        for j in 0..3 {
            let av = a.dot(&vecs.column(j));
            for i in 0..3 {
                assert!((av[i] - vals[j] * vecs[[i, j]]).abs() < 1e-9);
            }
        }
        assert!((vals.iter().sum::<f64>() - 8.0).abs() < 1e-9);
    }

    /// Three strong directions in 40 dimensions plus small noise: the top
    /// three axes span them and carry their variance; rows outside the
    /// fitted ones do not change the fit.
    #[test]
    fn recovers_a_planted_subspace_from_the_fitted_rows_only() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (n, d) = (300, 40);
        let dirs = Array2::from_shape_fn((3, d), |_| rng.random_range(-1.0..1.0f32));
        let mut x = Array2::from_shape_fn((n, d), |_| rng.random_range(-0.05..0.05f32));
        for r in 0..n {
            for (s, dir) in [5.0f32, 3.0, 2.0].iter().zip(dirs.rows()) {
                let c: f32 = rng.random_range(-1.0..1.0) * s;
                x.row_mut(r).scaled_add(c, &dir);
            }
        }
        let fit_rows: Vec<usize> = (0..200).collect();
        let p = Pca::fit(&x, &fit_rows, 3, 1);
        // Each planted direction lies (almost) within the span of the axes.
        for dir in dirs.rows() {
            let dir = dir.mapv(|v| v as f64);
            let proj = p.axes.t().dot(&dir);
            let kept = proj.dot(&proj) / dir.dot(&dir);
            assert!(kept > 0.999, "{kept}");
        }
        assert!(p.variance.windows(2).all(|w| w[0] >= w[1]));
        // Scrambling rows that were not fitted leaves the axes unchanged.
        let mut y = x.clone();
        for r in 200..n {
            y.row_mut(r).mapv_inplace(|v| v * 7.0 + 1.0);
        }
        let q = Pca::fit(&y, &fit_rows, 3, 1);
        assert_eq!(p.axes, q.axes);
        assert_eq!(p.transform(&x).dim(), (n, 3));
    }
}
