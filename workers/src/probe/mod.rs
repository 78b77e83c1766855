//! Probes on frozen embeddings: logistic regression and MLP heads trained in
//! burn, with features standardized on the training split, symmetric pair
//! features built per batch, and the metrics of each task kind.

pub mod cell;
pub mod cell_store;
pub mod features;
pub mod fusion;
pub mod grid;
pub mod linear;
pub mod metrics;
pub mod net;
pub mod optim;
pub mod output;
pub mod pca;
pub mod ridge;
pub mod train;

use crate::invalid::InvalidField;
use serde::{Deserialize, Serialize};

/// The dot product of two equal-length slices (the solvers' inner loop).
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| p * q).sum()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// Linear: logistic regression for classification heads, ridge for
    /// regression heads, each solved to convergence (`linear`).
    Logreg,
    /// Ridge regression (regression tasks only).
    Ridge,
    #[default]
    Mlp,
}

/// Probe settings (the sweep's `probe:` block).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeParams {
    pub kind: ProbeKind,
    /// MLP hidden layer sizes (ignored by logreg).
    pub hidden: Vec<usize>,
    pub dropout: f64,
    pub lr: f64,
    pub weight_decay: f64,
    pub batch: usize,
    pub max_epochs: usize,
    /// Epochs without a better validation score before stopping.
    pub patience: usize,
    /// How much the validation score must improve to count as better (as
    /// scikit-learn's `tol` and Keras' `min_delta`): without it, AUROC creeping
    /// up by 1e-5 per epoch keeps training long after it stopped mattering.
    pub min_delta: f64,
    /// Weight classes inversely to their frequency (binary/multilabel: positive weight).
    pub class_weights: bool,
    /// L2 penalty on the weights (not the biases) with scikit-learn's
    /// `LogisticRegression` meaning: inverse strength `C`, the penalty
    /// `|W|²/(2C)` set against the *sum* of the (class-weighted, weights
    /// averaging 1) training losses; a list is a grid, the value with the best
    /// validation score wins. None: no penalty (AdamW's decoupled
    /// `weight_decay` still applies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub c: Option<PenaltyC>,
    /// Ridge's L2 strength (scikit-learn's `Ridge(alpha)`); a list is a grid
    /// chosen on validation. Default [0.1, 1, 10, 100, 1000].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpha: Option<PenaltyC>,
    /// Linear probes: stop when the largest gradient entry is at most this
    /// (scikit-learn's `tol`).
    pub tol: f64,
    /// Linear probes: the most L-BFGS iterations per fit.
    pub max_iter: usize,
}

/// The logistic `c` grid when none is given: scikit-learn's default `C`.
pub const DEFAULT_C: f64 = 1.0;
/// The ridge `alpha` grid when none is given.
pub const DEFAULT_ALPHAS: [f64; 5] = [0.1, 1.0, 10.0, 100.0, 1000.0];

/// `probe.c` (`probe.alpha`): one value, a grid chosen on validation, or
/// `auto`: a decade grid widened while the best value sits at its edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PenaltyC {
    One(f64),
    Grid(Vec<f64>),
    Auto(AutoWord),
}

/// The word `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoWord {
    Auto,
}

/// `probe.c: auto` starts from these values (`probe.alpha: auto` from
/// [`DEFAULT_ALPHAS`]) and adds a decade beyond the edge where the best
/// value sits, at most [`AUTO_WIDENINGS`] times, within [`AUTO_BOUNDS`].
pub const AUTO_C: [f64; 5] = [0.01, 0.1, 1.0, 10.0, 100.0];
pub const AUTO_WIDENINGS: usize = 6;
pub const AUTO_BOUNDS: (f64, f64) = (1e-6, 1e6);

impl PenaltyC {
    /// The values to solve (for `auto`: `start`).
    pub fn values_or(&self, start: &[f64]) -> Vec<f64> {
        match self {
            PenaltyC::One(c) => vec![*c],
            PenaltyC::Grid(v) => v.clone(),
            PenaltyC::Auto(_) => start.to_vec(),
        }
    }

    pub fn values(&self) -> Vec<f64> {
        self.values_or(&AUTO_C)
    }

    pub fn is_auto(&self) -> bool {
        matches!(self, PenaltyC::Auto(_))
    }
}

impl Default for ProbeParams {
    fn default() -> Self {
        ProbeParams {
            kind: ProbeKind::Mlp,
            hidden: vec![256],
            dropout: 0.1,
            lr: 1e-3,
            weight_decay: 1e-4,
            batch: 256,
            max_epochs: 100,
            patience: 10,
            min_delta: 1e-4,
            class_weights: true,
            c: None,
            alpha: None,
            tol: 1e-6,
            max_iter: 1000,
        }
    }
}

impl ProbeParams {
    /// The `c` values a logistic probe solves.
    pub fn c_grid(&self) -> Vec<f64> {
        self.c.as_ref().map_or(vec![DEFAULT_C], PenaltyC::values)
    }

    /// The `alpha` values a ridge probe solves.
    pub fn alpha_grid(&self) -> Vec<f64> {
        self.alpha
            .as_ref()
            .map_or(DEFAULT_ALPHAS.to_vec(), |a| a.values_or(&DEFAULT_ALPHAS))
    }

    /// Settings the chosen kind does not use (checked when a config is
    /// read): they would only change every cell's id, and so discard
    /// finished work.
    pub fn check_fields_apply(&self) -> Result<(), InvalidField> {
        let d = ProbeParams::default();
        let set: [(&str, bool, String); 10] = [
            (
                "hidden",
                self.hidden != d.hidden,
                format!("{:?}", self.hidden),
            ),
            (
                "dropout",
                self.dropout != d.dropout,
                self.dropout.to_string(),
            ),
            ("lr", self.lr != d.lr, self.lr.to_string()),
            (
                "weight_decay",
                self.weight_decay != d.weight_decay,
                self.weight_decay.to_string(),
            ),
            ("batch", self.batch != d.batch, self.batch.to_string()),
            (
                "max_epochs",
                self.max_epochs != d.max_epochs,
                self.max_epochs.to_string(),
            ),
            (
                "patience",
                self.patience != d.patience,
                self.patience.to_string(),
            ),
            (
                "min_delta",
                self.min_delta != d.min_delta,
                self.min_delta.to_string(),
            ),
            ("tol", self.tol != d.tol, self.tol.to_string()),
            (
                "max_iter",
                self.max_iter != d.max_iter,
                self.max_iter.to_string(),
            ),
        ];
        let (kind, applies): (&str, &[&str]) = match self.kind {
            ProbeKind::Logreg => (
                "logreg",
                &["c", "alpha", "tol", "max_iter", "class_weights"],
            ),
            ProbeKind::Ridge => ("ridge", &["alpha"]),
            ProbeKind::Mlp => (
                "mlp",
                &[
                    "hidden",
                    "dropout",
                    "lr",
                    "weight_decay",
                    "batch",
                    "max_epochs",
                    "patience",
                    "min_delta",
                    "class_weights",
                    "c",
                ],
            ),
        };
        let extra = set
            .iter()
            .filter(|(_, on, _)| *on)
            .map(|(k, _, v)| (*k, v.clone()))
            .chain((self.alpha.is_some()).then(|| ("alpha", format!("{:?}", self.alpha_grid()))))
            .chain((self.c.is_some()).then(|| ("c", format!("{:?}", self.c_grid()))))
            .chain((!self.class_weights).then(|| ("class_weights", "false".to_string())));
        for (k, v) in extra {
            if !applies.contains(&k) {
                return Err(InvalidField::new(
                    format!("probe.{k}"),
                    v,
                    format!(
                        "does not apply to a {kind} probe (its settings: {}); \
                         remove it — it would only change every cell's id",
                        applies.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn check(&self) -> Result<(), InvalidField> {
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(InvalidField::new("probe.lr", self.lr, "must be > 0"));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(InvalidField::new(
                "probe.dropout",
                self.dropout,
                "must be in [0, 1)",
            ));
        }
        if self.weight_decay.is_nan() || self.weight_decay < 0.0 {
            return Err(InvalidField::new(
                "probe.weight_decay",
                self.weight_decay,
                "must be >= 0",
            ));
        }
        if self.batch == 0 {
            return Err(InvalidField::new("probe.batch", self.batch, "must be >= 1"));
        }
        if self.max_epochs == 0 {
            return Err(InvalidField::new(
                "probe.max_epochs",
                self.max_epochs,
                "must be >= 1",
            ));
        }
        if self.min_delta.is_nan() || self.min_delta < 0.0 {
            return Err(InvalidField::new(
                "probe.min_delta",
                self.min_delta,
                "must be >= 0",
            ));
        }
        if self.kind == ProbeKind::Mlp && self.c.as_ref().is_some_and(PenaltyC::is_auto) {
            return Err(InvalidField::new(
                "probe.c",
                "auto",
                "auto widens the grid of a linear probe (kind: logreg); give the MLP one value or a list",
            ));
        }
        if let Some(c) = &self.c {
            let values = c.values();
            if values.is_empty() {
                return Err(InvalidField::new(
                    "probe.c",
                    "[]",
                    "give one value or a list of values to choose from",
                ));
            }
            if let Some(v) = values.iter().find(|c| !(**c > 0.0 && c.is_finite())) {
                return Err(InvalidField::new(
                    "probe.c",
                    v,
                    "must be > 0 (the inverse L2 strength; leave it out for none)",
                ));
            }
        }
        if let Some(a) = &self.alpha {
            let values = a.values();
            if values.is_empty() {
                return Err(InvalidField::new(
                    "probe.alpha",
                    "[]",
                    "give one value or a list to choose from",
                ));
            }
            if let Some(v) = values.iter().find(|a| !(**a >= 0.0 && a.is_finite())) {
                return Err(InvalidField::new("probe.alpha", v, "must be >= 0"));
            }
        }
        if !(self.tol > 0.0 && self.tol.is_finite()) {
            return Err(InvalidField::new(
                "probe.tol",
                self.tol,
                "must be > 0 (e.g. 1e-6, scikit-learn's tol)",
            ));
        }
        if self.max_iter == 0 {
            return Err(InvalidField::new("probe.max_iter", 0, "must be >= 1"));
        }
        if let Some(w) = self
            .hidden
            .iter()
            .find(|w| **w == 0 || **w > MAX_HIDDEN_WIDTH)
        {
            return Err(InvalidField::new(
                "probe.hidden",
                w,
                format!(
                    "each width must be between 1 and {MAX_HIDDEN_WIDTH} \
                     (probes on frozen embeddings use 64-4096; e.g. hidden: [256])"
                ),
            ));
        }
        Ok(())
    }

    /// Bytes a cell of this probe needs for `in_dim` features and `outputs`
    /// outputs (rough: weights, gradients, two AdamW moments and autodiff
    /// copies, plus a batch of activations through every layer).
    pub fn memory_estimate(&self, in_dim: usize, outputs: usize) -> u128 {
        let widths: Vec<u128> = std::iter::once(in_dim)
            .chain(match self.kind {
                ProbeKind::Mlp => self.hidden.clone(),
                ProbeKind::Logreg | ProbeKind::Ridge => Vec::new(),
            })
            .chain(std::iter::once(outputs))
            .map(|w| w as u128)
            .collect();
        let params: u128 = widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
        let acts: u128 = widths.iter().sum::<u128>() * self.batch as u128;
        4 * (5 * params + 3 * acts)
    }
}

/// The widest hidden layer a config may ask for.
pub const MAX_HIDDEN_WIDTH: usize = 65_536;

/// Bytes of memory the system can still give (`MemAvailable`), when known.
pub fn available_memory() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u128 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// What the probe predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    Binary,
    Multiclass(usize),
    Multilabel(usize),
    Regression,
}

impl Head {
    pub fn outputs(self) -> usize {
        match self {
            Head::Binary | Head::Regression => 1,
            Head::Multiclass(k) | Head::Multilabel(k) => k,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{0}")]
    Degenerate(String),
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl ProbeError {
    /// The file system refused to store the result ([`crate::store::StoreError::storage_fault`]).
    pub fn storage_fault(&self) -> Option<String> {
        match self {
            ProbeError::Store(e) => e.storage_fault(),
            _ => None,
        }
    }
}
