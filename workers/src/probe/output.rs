//! What a probe's training gives back, whichever trainer ran (the MLP in
//! `train.rs`, the linear solvers in `linear.rs`): predictions of the kept
//! epoch or grid value, the curve, how the fit ended, and the validation
//! score both select by.

use super::Head;
use super::metrics::mean_auroc;
use ndarray::Array2;

/// How a linear fit ended.
#[derive(Debug, Clone, PartialEq)]
pub struct FitInfo {
    /// `lbfgs`, `cholesky` or (MLP) `adamw`.
    pub solver: String,
    pub converged: bool,
    /// L-BFGS iterations (summed over the labels of a multilabel head); 0
    /// for a closed form.
    pub iterations: usize,
    /// The largest |gradient entry| at the end (the worst label's).
    pub grad_norm: f64,
    /// The penalized objective at the end (summed over labels).
    pub objective: f64,
    /// Why it stopped: `tol` (gradient), `ftol` (no relative decrease),
    /// `max_iter`, `line search` (no decrease at machine precision),
    /// `closed form`, `not positive definite`; MLP: `patience`, `max_epochs`,
    /// `max_epochs, still improving`.
    pub stop: String,
}

/// One point of the training curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    pub epoch: usize,
    pub train_loss: f64,
    pub valid_loss: f64,
    pub valid_score: f64,
}

/// Predictions of the best epoch.
#[derive(Debug, Clone)]
pub struct ProbeOutput {
    /// Probabilities (sigmoid/softmax) or values (regression, original scale), [n, outputs].
    pub valid: Array2<f32>,
    pub test: Array2<f32>,
    pub curve: Vec<CurvePoint>,
    pub best_epoch: usize,
    /// What the validation score is (`auroc`, `neg_mse`, `neg_loss`).
    pub score_name: &'static str,
    /// The `probe.c` used (the grid's choice).
    pub c: Option<f64>,
    /// The `probe.alpha` used (ridge; the grid's choice).
    pub alpha: Option<f64>,
    /// The values solved (linear probes: the `c` or `alpha` grid, as widened
    /// by `auto`); empty otherwise.
    pub grid: Vec<f64>,
    /// The chosen value sits at the grid's edge (the best may lie beyond):
    /// the words for the cell log, the journal and the report.
    pub grid_edge: Option<String>,
    /// How the fit ended (solver, convergence, iterations).
    pub fit: FitInfo,
}

impl ProbeOutput {
    /// The validation score of the epoch kept.
    pub fn valid_score(&self) -> f64 {
        self.curve[self.best_epoch - 1].valid_score
    }
}

/// Validation score (higher is better): mean AUROC over defined outputs for
/// classification, negative MSE for regression; negative loss when no AUROC
/// is defined.
pub fn score(head: Head, pred: &Array2<f32>, y: &Array2<f32>, vloss: f64) -> (f64, &'static str) {
    match head {
        Head::Regression => {
            let mse = pred
                .iter()
                .zip(y.iter())
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>()
                / pred.len().max(1) as f64;
            (-mse, "neg_mse")
        }
        _ => match mean_auroc(y, pred) {
            Some(a) => (a, "auroc"),
            None => (-vloss, "neg_loss"),
        },
    }
}
