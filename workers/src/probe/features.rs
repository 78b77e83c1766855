//! Probe inputs: standardized gene features, and symmetric pair features
//! `[a+b, a⊙b, |a−b|]` built per batch (no N² matrix is ever materialized).

use ndarray::{Array1, Array2, ArrayView1, Axis};

/// Rows of features for a probe, produced on demand.
pub trait Features: Sync {
    fn dim(&self) -> usize;
    /// Number of rows (examples).
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The feature rows of `idx`, in that order.
    fn rows(&self, idx: &[usize]) -> Array2<f32>;
}

/// Per-column mean and standard deviation (columns with zero spread get 1).
#[derive(Debug, Clone)]
pub struct Standardizer {
    pub mean: Array1<f32>,
    pub std: Array1<f32>,
}

impl Standardizer {
    /// Statistics of `rows` of `x` only (the training split).
    pub fn fit(x: &Array2<f32>, rows: &[usize]) -> Standardizer {
        let d = x.ncols();
        let n = rows.len().max(1) as f64;
        let mut mean = vec![0f64; d];
        for r in rows {
            for (m, v) in mean.iter_mut().zip(x.row(*r)) {
                *m += *v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0f64; d];
        for r in rows {
            for ((s, v), m) in var.iter_mut().zip(x.row(*r)).zip(&mean) {
                *s += (*v as f64 - m).powi(2);
            }
        }
        let std: Vec<f32> = var
            .iter()
            .map(|s| {
                let sd = (s / n).sqrt();
                if sd > 1e-12 { sd as f32 } else { 1.0 }
            })
            .collect();
        Standardizer {
            mean: mean.iter().map(|m| *m as f32).collect(),
            std: Array1::from(std),
        }
    }

    pub fn apply_row(&self, row: ArrayView1<'_, f32>) -> Array1<f32> {
        (&row - &self.mean) / &self.std
    }

    pub fn apply(&self, x: &Array2<f32>) -> Array2<f32> {
        (x - &self.mean.view().insert_axis(Axis(0))) / self.std.view().insert_axis(Axis(0))
    }
}

/// A dense matrix standardized with the training rows' statistics.
#[derive(Debug, Clone)]
pub struct DenseFeatures {
    pub x: Array2<f32>,
}

impl DenseFeatures {
    pub fn standardized(x: &Array2<f32>, train_rows: &[usize]) -> DenseFeatures {
        DenseFeatures {
            x: Standardizer::fit(x, train_rows).apply(x),
        }
    }

    /// Each column multiplied by its `scale` (after standardization).
    pub fn scaled(mut self, scale: Option<&Array1<f32>>) -> DenseFeatures {
        if let Some(s) = scale {
            self.x *= &s.view().insert_axis(Axis(0));
        }
        self
    }
}

impl Features for DenseFeatures {
    fn dim(&self) -> usize {
        self.x.ncols()
    }
    fn len(&self) -> usize {
        self.x.nrows()
    }
    fn rows(&self, idx: &[usize]) -> Array2<f32> {
        self.x.select(Axis(0), idx)
    }
}

/// Pair features over gene embeddings: row `i` is pair `pairs[i]` =
/// `[a+b, a⊙b, |a−b|]`, symmetric in (a, b). Gene embeddings are standardized
/// on the genes of training pairs; the pair features are standardized again
/// on (up to 20,000) training pairs.
#[derive(Debug, Clone)]
pub struct PairFeatures {
    genes: Array2<f32>,
    pairs: Vec<(usize, usize)>,
    post: Standardizer,
}

impl PairFeatures {
    pub fn new(
        gene_emb: &Array2<f32>,
        pairs: Vec<(usize, usize)>,
        train_rows: &[usize],
    ) -> PairFeatures {
        let mut train_genes: Vec<usize> = train_rows
            .iter()
            .flat_map(|r| [pairs[*r].0, pairs[*r].1])
            .collect();
        train_genes.sort_unstable();
        train_genes.dedup();
        let genes = Standardizer::fit(gene_emb, &train_genes).apply(gene_emb);
        let d = genes.ncols();
        let mut pf = PairFeatures {
            genes,
            pairs,
            post: Standardizer {
                mean: Array1::zeros(3 * d),
                std: Array1::ones(3 * d),
            },
        };
        let step = (train_rows.len() / 20_000).max(1);
        let sample: Vec<usize> = train_rows.iter().step_by(step).copied().collect();
        let raw = pf.rows(&sample);
        pf.post = Standardizer::fit(&raw, &(0..raw.nrows()).collect::<Vec<_>>());
        pf
    }

    /// Each gene column's three pair columns multiplied by its `scale`
    /// (after standardization).
    pub fn scaled(mut self, scale: Option<&Array1<f32>>) -> PairFeatures {
        if let Some(s) = scale {
            let d = self.genes.ncols();
            for k in 0..3 * d {
                self.post.std[k] /= s[k % d];
            }
        }
        self
    }

    fn raw_row(&self, i: usize, out: &mut [f32]) {
        let (a, b) = self.pairs[i];
        let (ra, rb) = (self.genes.row(a), self.genes.row(b));
        let d = ra.len();
        for j in 0..d {
            let (x, y) = (ra[j], rb[j]);
            out[j] = x + y;
            out[d + j] = x * y;
            out[2 * d + j] = (x - y).abs();
        }
    }
}

impl Features for PairFeatures {
    fn dim(&self) -> usize {
        3 * self.genes.ncols()
    }
    fn len(&self) -> usize {
        self.pairs.len()
    }
    fn rows(&self, idx: &[usize]) -> Array2<f32> {
        let d = self.dim();
        let mut out = Array2::<f32>::zeros((idx.len(), d));
        for (k, i) in idx.iter().enumerate() {
            let mut row = out.row_mut(k);
            let s = row.as_slice_mut().expect("row-major");
            self.raw_row(*i, s);
            for ((v, m), sd) in s.iter_mut().zip(&self.post.mean).zip(&self.post.std) {
                *v = (*v - m) / sd;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardization_uses_training_rows_only() {
        let x = Array2::from_shape_vec((4, 2), vec![0.0, 5.0, 2.0, 5.0, 100.0, 5.0, -100.0, 5.0])
            .unwrap();
        let f = DenseFeatures::standardized(&x, &[0, 1]);
        assert_eq!(f.x.row(0).to_vec(), vec![-1.0, 0.0]);
        assert_eq!(f.x.row(1).to_vec(), vec![1.0, 0.0]);
        assert_eq!(f.x[[2, 0]], 99.0);
    }

    #[test]
    fn pair_features_are_symmetric() {
        let g = Array2::from_shape_fn((5, 3), |(i, j)| {
            (i * 3 + j) as f32 * 0.7 - (j as f32).powi(2)
        });
        let pf = PairFeatures::new(&g, vec![(0, 1), (1, 0), (2, 4), (3, 4)], &[0, 2, 3]);
        let r = pf.rows(&[0, 1, 2]);
        assert_eq!(pf.dim(), 9);
        assert_eq!(r.row(0), r.row(1));
        assert_ne!(r.row(0), r.row(2));
        assert!(r.iter().all(|v| v.is_finite()));
    }
}
