//! A cell: one model (or ensemble) × task × seed. Trains the probe on the
//! training split, selects by validation, scores the test split, and writes
//! `store/cells/<cell-id>.h5` (schema: docs/store-schema.md).
//!
//! Length: about 670 lines of code; the rest (353 lines) are the
//! unit tests of this module, kept beside the code they check.

use super::features::{DenseFeatures, Features, PairFeatures};
use super::linear::FitInfo;
use super::metrics;
use super::train::{CurvePoint, train_probe};
use super::{Head, ProbeError, ProbeParams};
use crate::dataset::splits::{SplitConfig, split_task};
use crate::dataset::{Dataset, Label, Scope, TaskKind, TaskSpec};
use burn::tensor::Device;
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

pub use super::cell_store::{CELL_FORMAT_VERSION, TestSplit, cell_path, stored_cell_id};

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
    /// on the validation split with cross-fitting ([`super::fusion::stack`]).
    Stacking,
    /// Late fusion: greedy ensemble selection with replacement on the
    /// validation split ([`super::fusion::caruana`]).
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

/// Everything that determines a cell's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellSpec {
    pub id: String,
    /// Model or ensemble name (a row of the report).
    pub model: String,
    /// The embedding models it reads (one for a single model).
    pub members: Vec<String>,
    pub fusion: Fusion,
    pub task: String,
    pub seed: u64,
    pub probe: ProbeParams,
    pub splits: SplitConfig,
    /// For late fusion: the member cells' ids, in `members` order.
    #[serde(default)]
    pub member_cells: Vec<String>,
    /// concat-balanced: reduce each member to this many principal
    /// components (fitted on the training split) before balancing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pca: Option<usize>,
}

/// A finished cell as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CellResult {
    pub id: String,
    pub model: String,
    pub members: Vec<String>,
    pub fusion: Fusion,
    pub task: String,
    pub seed: u64,
    pub kind: TaskKind,
    pub scope: Scope,
    /// Metric → value; `None` when undefined (see `undefined`).
    pub metrics: BTreeMap<String, Option<f64>>,
    /// Why undefined metrics are undefined.
    pub undefined: Vec<String>,
    pub test_ids: Vec<String>,
    pub test_labels: Array2<f32>,
    pub test_pred: Array2<f32>,
    pub valid_ids: Vec<String>,
    pub valid_labels: Array2<f32>,
    pub valid_pred: Array2<f32>,
    pub curve: Vec<CurvePoint>,
    pub best_epoch: usize,
    pub seconds: f64,
    pub dataset_hash: String,
    pub n_train: usize,
    pub dropped_pairs: usize,
    /// Late fusion member weights.
    pub weights: Vec<f64>,
    /// The `probe.c` the probe used (a grid's choice); attribute `probe_c`.
    pub probe_c: Option<f64>,
    /// The `probe.alpha` a ridge probe used (a grid's choice); attribute `probe_alpha`.
    pub probe_alpha: Option<f64>,
    /// How the probe's fit ended (attributes `solver`, `converged`,
    /// `iterations`, `grad_norm`, `objective`, `stop_reason`); `None` for late
    /// fusion, which trains nothing.
    pub fit: Option<FitInfo>,
    /// Where it ran: `device`, `host`, `local_rank`, `cuda_visible_devices`,
    /// `slurm_job` (see [`crate::device::runtime_info`]).
    pub runtime: BTreeMap<String, String>,
}

fn head_of(t: &TaskSpec) -> Head {
    match t.kind {
        TaskKind::Binary => Head::Binary,
        TaskKind::Multiclass => Head::Multiclass(t.classes.len()),
        TaskKind::Multilabel => Head::Multilabel(t.classes.len()),
        TaskKind::Regression => Head::Regression,
    }
}

fn target_row(t: &TaskSpec, l: &Label) -> Vec<f32> {
    let k = t.n_outputs();
    let mut v = vec![0f32; k];
    match l {
        Label::Binary(b) => v[0] = *b as u8 as f32,
        Label::Class(c) => v[*c as usize] = 1.0,
        Label::Multi(cs) => cs.iter().for_each(|c| v[*c as usize] = 1.0),
        Label::Value(x) => v[0] = *x,
    }
    v
}

/// Test-split metrics of predictions `p` against targets `y`.
pub fn compute_metrics(
    kind: TaskKind,
    y: &Array2<f32>,
    p: &Array2<f32>,
) -> (BTreeMap<String, Option<f64>>, Vec<String>) {
    let mut m = BTreeMap::new();
    let mut why = Vec::new();
    let col =
        |a: &Array2<f32>, c: usize| -> Vec<f64> { a.column(c).iter().map(|v| *v as f64).collect() };
    let bools =
        |a: &Array2<f32>, c: usize| -> Vec<bool> { a.column(c).iter().map(|v| *v > 0.5).collect() };
    match kind {
        TaskKind::Binary => {
            let (yt, s) = (bools(y, 0), col(p, 0));
            let pred: Vec<bool> = s.iter().map(|v| *v >= 0.5).collect();
            let au = metrics::auroc(&yt, &s);
            if au.is_none() {
                why.push(format!(
                    "auroc: the test split has only {} (no {})",
                    if yt.iter().any(|v| *v) {
                        "positives"
                    } else {
                        "negatives"
                    },
                    if yt.iter().any(|v| *v) {
                        "negatives"
                    } else {
                        "positives"
                    }
                ));
            }
            let ap = metrics::average_precision(&yt, &s);
            if ap.is_none() {
                why.push("auprc: the test split has no positives".into());
            }
            m.insert("auroc".into(), au);
            m.insert("auprc".into(), ap);
            m.insert("f1".into(), Some(metrics::f1_binary(&yt, &pred)));
            m.insert("mcc".into(), Some(metrics::mcc_binary(&yt, &pred)));
            m.insert("accuracy".into(), Some(metrics::accuracy(&yt, &pred)));
        }
        TaskKind::Multiclass | TaskKind::Multilabel => {
            let k = y.ncols();
            let (mut aus, mut aps, mut undefined) = (Vec::new(), Vec::new(), 0);
            for c in 0..k {
                let (yt, s) = (bools(y, c), col(p, c));
                match (metrics::auroc(&yt, &s), metrics::average_precision(&yt, &s)) {
                    (Some(a), Some(b)) => {
                        aus.push(a);
                        aps.push(b);
                    }
                    _ => undefined += 1,
                }
            }
            if undefined > 0 {
                why.push(format!("auroc/auprc: macro over {} of {k} classes ({undefined} have no positive or no negative in the test split)", k - undefined));
            }
            let mean =
                |v: &Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
            if aus.is_empty() {
                why.push(
                    "auroc: no class has both positives and negatives in the test split".into(),
                );
            }
            m.insert("auroc".into(), mean(&aus));
            m.insert("auprc".into(), mean(&aps));
            if kind == TaskKind::Multiclass {
                let argmax = |a: &Array2<f32>| -> Vec<usize> {
                    a.rows()
                        .into_iter()
                        .map(|r| {
                            r.iter()
                                .enumerate()
                                .max_by(|x, y| x.1.total_cmp(y.1))
                                .map(|(i, _)| i)
                                .unwrap_or(0)
                        })
                        .collect()
                };
                let (yt, pt) = (argmax(y), argmax(p));
                m.insert("f1".into(), Some(metrics::f1_macro_multiclass(&yt, &pt)));
                m.insert("mcc".into(), Some(metrics::mcc_multiclass(&yt, &pt, k)));
                m.insert("accuracy".into(), Some(metrics::accuracy(&yt, &pt)));
            } else {
                let f1s: Vec<f64> = (0..k)
                    .map(|c| {
                        let pred: Vec<bool> = p.column(c).iter().map(|v| *v >= 0.5).collect();
                        metrics::f1_binary(&bools(y, c), &pred)
                    })
                    .collect();
                m.insert("f1".into(), Some(f1s.iter().sum::<f64>() / k as f64));
                let yf: Vec<bool> = y.iter().map(|v| *v > 0.5).collect();
                let pf: Vec<bool> = p.iter().map(|v| *v >= 0.5).collect();
                m.insert("mcc".into(), Some(metrics::mcc_binary(&yf, &pf)));
                let exact = y
                    .rows()
                    .into_iter()
                    .zip(p.rows())
                    .filter(|(a, b)| {
                        a.iter()
                            .zip(b.iter())
                            .all(|(u, v)| (*u > 0.5) == (*v >= 0.5))
                    })
                    .count();
                m.insert(
                    "accuracy".into(),
                    Some(exact as f64 / y.nrows().max(1) as f64),
                );
            }
        }
        TaskKind::Regression => {
            let (yt, pt) = (col(y, 0), col(p, 0));
            let sp = metrics::spearman(&yt, &pt);
            let r2 = metrics::r2(&yt, &pt);
            if sp.is_none() {
                why.push("spearman: constant truth or prediction on the test split".into());
            }
            if r2.is_none() {
                why.push("r2: constant truth on the test split".into());
            }
            m.insert("spearman".into(), sp);
            m.insert("r2".into(), r2);
            let mse = yt
                .iter()
                .zip(&pt)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                / yt.len().max(1) as f64;
            m.insert("mse".into(), Some(mse));
        }
    }
    (m, why)
}

/// The primary metric only (fast path for bootstrap resampling).
pub fn primary_value(kind: TaskKind, y: &Array2<f32>, p: &Array2<f32>) -> Option<f64> {
    match kind {
        TaskKind::Regression => {
            let yt: Vec<f64> = y.column(0).iter().map(|v| *v as f64).collect();
            let pt: Vec<f64> = p.column(0).iter().map(|v| *v as f64).collect();
            metrics::spearman(&yt, &pt)
        }
        _ => {
            let mut s = Vec::new();
            for c in 0..y.ncols() {
                let yt: Vec<bool> = y.column(c).iter().map(|v| *v > 0.5).collect();
                let pt: Vec<f64> = p.column(c).iter().map(|v| *v as f64).collect();
                if let Some(a) = metrics::auroc(&yt, &pt) {
                    s.push(a);
                }
            }
            (!s.is_empty()).then(|| s.iter().sum::<f64>() / s.len() as f64)
        }
    }
}

/// The headline metric of a task kind (the report's main table).
pub fn primary_metric(kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::Regression => "spearman",
        _ => "auroc",
    }
}

struct Prepared {
    spec: TaskSpec,
    /// For each task row: its id (gene id or "a|b").
    ids: Vec<String>,
    y: Array2<f32>,
    train: Vec<usize>,
    valid: Vec<usize>,
    test: Vec<usize>,
    dropped: usize,
    /// Gene rows (into ds.genes) the features need; pair tasks: pair → (row, row) into this list.
    genes: Vec<usize>,
    pairs: Vec<(usize, usize)>,
}

fn prepare(ds: &Dataset, cell: &CellSpec) -> Result<Prepared, ProbeError> {
    let spec = ds
        .task(&cell.task)
        .ok_or_else(|| ProbeError::Input(format!("task {:?} is not in the dataset", cell.task)))?
        .clone();
    let split = split_task(ds, &cell.task, cell.seed, &cell.splits)
        .map_err(|e| ProbeError::Input(e.to_string()))?;
    let k = spec.n_outputs();
    match spec.scope {
        Scope::Gene => {
            let rows = &ds.gene_labels[&cell.task];
            let mut y = Array2::<f32>::zeros((rows.len(), k));
            for (i, (_, l)) in rows.iter().enumerate() {
                y.row_mut(i).assign(&Array1::from(target_row(&spec, l)));
            }
            Ok(Prepared {
                ids: rows
                    .iter()
                    .map(|(g, _)| ds.genes[*g as usize].id.clone())
                    .collect(),
                genes: rows.iter().map(|(g, _)| *g as usize).collect(),
                pairs: Vec::new(),
                y,
                train: split.train,
                valid: split.valid,
                test: split.test,
                dropped: 0,
                spec,
            })
        }
        Scope::Pair => {
            let rows = &ds.pair_labels[&cell.task];
            let mut genes: Vec<usize> = rows
                .iter()
                .flat_map(|(a, b, _)| [*a as usize, *b as usize])
                .collect();
            genes.sort_unstable();
            genes.dedup();
            let pos: BTreeMap<usize, usize> =
                genes.iter().enumerate().map(|(i, g)| (*g, i)).collect();
            let mut y = Array2::<f32>::zeros((rows.len(), k));
            for (i, (_, _, l)) in rows.iter().enumerate() {
                y.row_mut(i).assign(&Array1::from(target_row(&spec, l)));
            }
            Ok(Prepared {
                ids: rows
                    .iter()
                    .map(|(a, b, _)| {
                        format!("{}|{}", ds.genes[*a as usize].id, ds.genes[*b as usize].id)
                    })
                    .collect(),
                pairs: rows
                    .iter()
                    .map(|(a, b, _)| (pos[&(*a as usize)], pos[&(*b as usize)]))
                    .collect(),
                genes,
                y,
                train: split.train,
                valid: split.valid,
                test: split.test,
                dropped: split.dropped,
                spec,
            })
        }
    }
}

/// Loads the members' embeddings of `genes` and concatenates them.
/// The members' embeddings side by side, and each column's member width.
fn load_embeddings(
    ds: &Dataset,
    emb_dir: &Path,
    members: &[String],
    genes: &[usize],
) -> Result<(Array2<f32>, Vec<usize>), ProbeError> {
    let ids: Vec<&str> = genes.iter().map(|g| ds.genes[*g].id.as_str()).collect();
    let mut parts = Vec::new();
    for m in members {
        let p = emb_dir.join(format!("{m}.h5"));
        if !p.exists() {
            return Err(ProbeError::Input(format!(
                "model {m}: no embedding store {} (run the embed stage first)",
                p.display()
            )));
        }
        let e = crate::store::read_rows_cached(&p, &ids)?;
        if let Some(((r, c), _)) = e.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(ProbeError::Input(format!(
                "model {m}: non-finite embedding for gene {} (column {c}) in {}: the store is damaged \
                 (genoprot checks every value before writing one); to recover, delete that file and run \
                 again: the model is embedded anew and only its cells rerun",
                ids[r],
                p.display()
            )));
        }
        parts.push(e);
    }
    let widths: Vec<usize> = parts
        .iter()
        .flat_map(|a| std::iter::repeat_n(a.ncols(), a.ncols()))
        .collect();
    let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
    let x = ndarray::concatenate(Axis(1), &views)
        .map_err(|e| ProbeError::Input(format!("cannot concatenate members {members:?}: {e}")))?;
    Ok((x, widths))
}

/// Each member's block of `x` (member widths as [`load_embeddings`] gives
/// them) standardized and reduced to its top `k` principal components,
/// fitted on `fit_rows`; a member of at most `k` columns is kept whole.
fn reduce_members(
    x: &Array2<f32>,
    widths: &[usize],
    fit_rows: &[usize],
    k: usize,
    seed: u64,
) -> (Array2<f32>, Vec<usize>) {
    let mut blocks = Vec::new();
    let mut at = 0;
    while at < widths.len() {
        let w = widths[at];
        let block = x.slice(ndarray::s![.., at..at + w]).to_owned();
        at += w;
        if w <= k {
            blocks.push(block);
            continue;
        }
        let z = super::features::Standardizer::fit(&block, fit_rows).apply(&block);
        let pca = super::pca::Pca::fit(&z, fit_rows, k, seed);
        blocks.push(pca.transform(&z));
    }
    let widths = blocks
        .iter()
        .flat_map(|b| std::iter::repeat_n(b.ncols(), b.ncols()))
        .collect();
    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
    (
        ndarray::concatenate(Axis(1), &views).expect("blocks share their rows"),
        widths,
    )
}

/// Runs one cell and writes its store to `cells_dir/<id>.h5`.
pub fn run_cell(
    ds: &Dataset,
    emb_dir: &Path,
    cells_dir: &Path,
    cell: &CellSpec,
    device: &Device,
) -> Result<CellResult, ProbeError> {
    let t0 = Instant::now();
    let prep = prepare(ds, cell)?;
    let head = head_of(&prep.spec);
    let mut probe_c = None;
    let mut probe_alpha = None;
    let mut fit = None;
    let (valid_pred, test_pred, curve, best_epoch, weights) = if cell.fusion.is_late() {
        late_fusion(cells_dir, cell, &prep)?
    } else {
        let (emb, widths) = load_embeddings(ds, emb_dir, &cell.members, &prep.genes)?;
        let (emb, widths) = match cell.pca {
            Some(k) if cell.fusion == Fusion::ConcatBalanced => {
                // Fitted on the training genes: the training split's rows,
                // or for pair tasks the genes of training pairs.
                let mut fit: Vec<usize> = match prep.spec.scope {
                    Scope::Gene => prep.train.clone(),
                    Scope::Pair => prep
                        .train
                        .iter()
                        .flat_map(|r| [prep.pairs[*r].0, prep.pairs[*r].1])
                        .collect(),
                };
                fit.sort_unstable();
                fit.dedup();
                reduce_members(&emb, &widths, &fit, k, cell.seed)
            }
            _ => (emb, widths),
        };
        // concat-balanced: after standardization, each member's columns are
        // scaled by 1/√(its width), so each member has total variance 1.
        let scale = (cell.fusion == Fusion::ConcatBalanced)
            .then(|| Array1::from_iter(widths.iter().map(|w| 1.0 / (*w as f32).sqrt())));
        let feats: Box<dyn Features> = match prep.spec.scope {
            Scope::Gene => {
                Box::new(DenseFeatures::standardized(&emb, &prep.train).scaled(scale.as_ref()))
            }
            Scope::Pair => Box::new(
                PairFeatures::new(&emb, prep.pairs.clone(), &prep.train).scaled(scale.as_ref()),
            ),
        };
        let seed = u64::from_str_radix(&cell.id[..16.min(cell.id.len())], 16).unwrap_or(cell.seed);
        let out = train_probe(
            feats.as_ref(),
            &prep.y,
            &prep.train,
            &prep.valid,
            &prep.test,
            head,
            &cell.probe,
            seed,
            device,
        )
        .map_err(|e| {
            ProbeError::Degenerate(format!(
                "{} × {} (seed {}): {e}",
                cell.model, cell.task, cell.seed
            ))
        })?;
        probe_c = out.c;
        probe_alpha = out.alpha;
        fit = Some(out.fit);
        (out.valid, out.test, out.curve, out.best_epoch, Vec::new())
    };
    let test_labels = prep.y.select(Axis(0), &prep.test);
    let valid_labels = prep.y.select(Axis(0), &prep.valid);
    let (metrics, undefined) = compute_metrics(prep.spec.kind, &test_labels, &test_pred);
    let res = CellResult {
        id: cell.id.clone(),
        model: cell.model.clone(),
        members: cell.members.clone(),
        fusion: cell.fusion,
        task: cell.task.clone(),
        seed: cell.seed,
        kind: prep.spec.kind,
        scope: prep.spec.scope,
        metrics,
        undefined,
        test_ids: prep.test.iter().map(|r| prep.ids[*r].clone()).collect(),
        test_labels,
        test_pred,
        valid_ids: prep.valid.iter().map(|r| prep.ids[*r].clone()).collect(),
        valid_labels,
        valid_pred,
        curve,
        best_epoch,
        seconds: t0.elapsed().as_secs_f64(),
        dataset_hash: ds.manifest.dataset_hash.clone(),
        n_train: prep.train.len(),
        dropped_pairs: prep.dropped,
        weights,
        probe_c,
        probe_alpha,
        fit,
        runtime: crate::device::runtime_info(device),
    };
    res.write(&cells_dir.join(format!("{}.h5", cell.id)))?;
    Ok(res)
}

type Fused = (Array2<f32>, Array2<f32>, Vec<CurvePoint>, usize, Vec<f64>);

fn late_fusion(cells_dir: &Path, cell: &CellSpec, prep: &Prepared) -> Result<Fused, ProbeError> {
    if cell.member_cells.len() != cell.members.len() {
        return Err(ProbeError::Input(format!(
            "late fusion {}: member cells not given",
            cell.model
        )));
    }
    let mut members = Vec::new();
    for (m, id) in cell.members.iter().zip(&cell.member_cells) {
        let p = cells_dir.join(format!("{id}.h5"));
        let r = CellResult::read_as(&p, id).map_err(|e| {
            ProbeError::Input(format!(
                "late fusion {}: member {m}'s cell {} is not available: {e}",
                cell.model,
                p.display()
            ))
        })?;
        let want_test: Vec<&String> = prep.test.iter().map(|r| &prep.ids[*r]).collect();
        if r.test_ids.iter().collect::<Vec<_>>() != want_test {
            return Err(ProbeError::Input(format!(
                "late fusion {}: member {m}'s cell has other test genes (different split?)",
                cell.model
            )));
        }
        members.push(r);
    }
    let k = members[0].test_pred.ncols();
    if members.iter().any(|r| r.test_pred.ncols() != k) {
        return Err(ProbeError::Input(format!(
            "late fusion {}: members predict different numbers of outputs",
            cell.model
        )));
    }
    let n = members.len();
    let valid_preds: Vec<&Array2<f32>> = members.iter().map(|r| &r.valid_pred).collect();
    let test_preds: Vec<&Array2<f32>> = members.iter().map(|r| &r.test_pred).collect();
    let valid_labels = prep.y.select(Axis(0), &prep.valid);
    let kind = prep.spec.kind;
    let weights = match cell.fusion {
        Fusion::Stacking => super::fusion::stack(kind, &valid_preds, &valid_labels).weights,
        Fusion::Caruana => super::fusion::caruana(kind, &valid_preds, &valid_labels, 25),
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
                let s = super::fusion::primary_score(
                    kind,
                    &valid_labels,
                    &super::fusion::combine(&valid_preds, &w),
                );
                if s > best + 1e-12 {
                    best = s;
                    weights = w;
                }
            }
            weights
        }
        // Equal weights: mean-prob, and weighted-prob beyond three members.
        _ => vec![1.0 / n as f64; n],
    };
    Ok((
        super::fusion::combine(&valid_preds, &weights),
        super::fusion::combine(&test_preds, &weights),
        Vec::new(),
        0,
        weights,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn undefined_metrics_are_reported_not_nan() {
        let y = array![[0.0f32], [0.0], [0.0]];
        let p = array![[0.1f32], [0.7], [0.2]];
        let (m, why) = compute_metrics(TaskKind::Binary, &y, &p);
        assert_eq!(m["auroc"], None);
        assert_eq!(m["auprc"], None);
        assert_eq!(m["accuracy"], Some(2.0 / 3.0));
        assert!(
            why[0].starts_with("auroc: the test split has only negatives"),
            "{why:?}"
        );
        let (m, why) = compute_metrics(
            TaskKind::Regression,
            &array![[1.0f32], [1.0]],
            &array![[0.5f32], [2.0]],
        );
        assert_eq!((m["spearman"], m["r2"]), (None, None));
        assert_eq!(why.len(), 2);
        // Multiclass: classes absent from the test split are left out of the macro average, and said so.
        let y = array![[1.0f32, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]];
        let p = array![[0.8f32, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]];
        let (m, why) = compute_metrics(TaskKind::Multiclass, &y, &p);
        assert_eq!(m["auroc"], Some(1.0));
        assert_eq!(m["accuracy"], Some(1.0));
        assert!(why[0].contains("macro over 2 of 3 classes"), "{why:?}");
    }

    fn tiny() -> (tempfile::TempDir, Dataset) {
        let d = tempfile::tempdir().unwrap();
        let mut ds = crate::dataset::synth::synthesize(&crate::dataset::synth::SynthConfig {
            genes: 60,
            seed: 2,
            ..Default::default()
        });
        ds.write(&d.path().join("data"), false).unwrap();
        (d, ds)
    }

    fn spec(members: &[&str], fusion: Fusion, member_cells: Vec<String>) -> CellSpec {
        CellSpec {
            id: "c".into(),
            model: members.join("+"),
            members: members.iter().map(|s| s.to_string()).collect(),
            fusion,
            task: "membrane".into(),
            seed: 0,
            probe: ProbeParams {
                max_epochs: 3,
                ..Default::default()
            },
            splits: SplitConfig::default(),
            member_cells,
            pca: None,
        }
    }

    #[test]
    fn bad_embedding_inputs_are_clear_errors() {
        let (d, ds) = tiny();
        let emb = d.path().join("emb");
        let cells = d.path().join("cells");
        let dev = crate::device::cpu();
        let e = run_cell(
            &ds,
            &emb,
            &cells,
            &spec(&["nope"], Fusion::None, vec![]),
            &dev,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("model nope: no embedding store"), "{e}");
        // A store missing genes.
        let some = crate::store::Embeddings {
            ids: ds.genes[..10].iter().map(|g| g.id.clone()).collect(),
            emb: Array2::zeros((10, 4)),
            meta: Default::default(),
        };
        some.write(&emb.join("part.h5")).unwrap();
        let e = run_cell(
            &ds,
            &emb,
            &cells,
            &spec(&["part"], Fusion::None, vec![]),
            &dev,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("requested ids are not in the store"), "{e}");
        // NaN written behind genoprot's back (another tool).
        let p = emb.join("nan.h5");
        {
            let f = hdf5::File::create(&p).unwrap();
            let ids: Vec<hdf5::types::VarLenUnicode> = ds
                .genes
                .iter()
                .map(|g| std::str::FromStr::from_str(&g.id).unwrap())
                .collect();
            f.new_dataset_builder()
                .with_data(&ids)
                .create("ids")
                .unwrap();
            let mut a = Array2::<f32>::zeros((ds.genes.len(), 3));
            a[[5, 2]] = f32::NAN;
            f.new_dataset_builder().with_data(&a).create("emb").unwrap();
        }
        let e = run_cell(
            &ds,
            &emb,
            &cells,
            &spec(&["nan"], Fusion::None, vec![]),
            &dev,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("model nan: non-finite embedding")
                && e.contains("column 2")
                && e.contains("delete that file and run again"),
            "{e}"
        );
        // Late fusion without member cells.
        let e = run_cell(
            &ds,
            &emb,
            &cells,
            &spec(&["a", "b"], Fusion::MeanProb, vec!["x".into(), "y".into()]),
            &dev,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("member a's cell") && e.contains("is not available"),
            "{e}"
        );
    }

    #[test]
    fn a_c_grid_choice_is_recorded_in_the_cell_store() {
        let (d, ds) = tiny();
        let emb = d.path().join("emb");
        let cells = d.path().join("cells");
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        crate::store::Embeddings {
            ids: ds.genes.iter().map(|g| g.id.clone()).collect(),
            emb: Array2::from_shape_fn((ds.genes.len(), 6), |_| rng.random_range(-1.0f32..1.0)),
            meta: Default::default(),
        }
        .write(&emb.join("m.h5"))
        .unwrap();
        let dev = crate::device::cpu();
        let mut one = spec(&["m"], Fusion::None, vec![]);
        one.probe.kind = crate::probe::ProbeKind::Logreg;
        one.probe.c = Some(crate::probe::PenaltyC::Grid(vec![0.01, 1.0]));
        let r = run_cell(&ds, &emb, &cells, &one, &dev).unwrap();
        assert!(
            [Some(0.01), Some(1.0)].contains(&r.probe_c),
            "{:?}",
            r.probe_c
        );
        let back = CellResult::read(&cells.join("c.h5")).unwrap();
        assert_eq!(back.probe_c, r.probe_c);
        // How the fit ended is stored and read back.
        let fit = back.fit.clone().unwrap();
        assert_eq!(Some(fit.clone()), r.fit);
        assert!(
            fit.solver == "lbfgs" && fit.converged && fit.iterations > 0,
            "{fit:?}"
        );
        assert!(fit.grad_norm <= 1e-6 || fit.stop == "ftol", "{fit:?}");
        // Without `c`: scikit-learn's default C = 1.
        one.probe.c = None;
        run_cell(&ds, &emb, &cells, &one, &dev).unwrap();
        assert_eq!(
            CellResult::read(&cells.join("c.h5")).unwrap().probe_c,
            Some(1.0)
        );
        // Too few iterations: recorded as not converged.
        one.probe.max_iter = 1;
        let r = run_cell(&ds, &emb, &cells, &one, &dev).unwrap();
        let fit = CellResult::read(&cells.join("c.h5")).unwrap().fit.unwrap();
        assert_eq!(Some(fit.clone()), r.fit);
        assert!(
            !fit.converged && fit.stop == "max_iter" && fit.iterations == 1,
            "{fit:?}"
        );
    }
}

#[cfg(test)]
mod fusion_tests {
    use super::*;
    use crate::embed::{Embedder, Modality, SeqInput};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A good member (amino-acid composition, which carries the planted
    /// membrane signal) and a chance-level member (noise only): learned
    /// fusions give the noise (near) zero weight and stay within 0.005 of the
    /// good member on test.
    #[test]
    fn learned_fusions_ignore_a_chance_level_member() {
        let d = tempfile::tempdir().unwrap();
        let ds = crate::dataset::synth::synthesize(&crate::dataset::synth::SynthConfig {
            genes: 400,
            seed: 5,
            ..Default::default()
        });
        let emb = d.path().join("emb");
        let cells = d.path().join("cells");
        std::fs::create_dir_all(&emb).unwrap();
        std::fs::create_dir_all(&cells).unwrap();
        let ids: Vec<String> = ds.genes.iter().map(|g| g.id.clone()).collect();
        let inputs: Vec<SeqInput<'_>> = ds.genes.iter().map(SeqInput::of).collect();
        let aac = crate::embed::kmer::KmerEmbedder::new("aac", Modality::Protein, 1).unwrap();
        let good = aac.embed(&inputs).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let noise = Array2::from_shape_fn((ids.len(), 50), |_| rng.random_range(-1.0f32..1.0));
        for (name, e) in [("good", good), ("noise", noise)] {
            crate::store::Embeddings {
                ids: ids.clone(),
                emb: e,
                meta: Default::default(),
            }
            .write(&emb.join(format!("{name}.h5")))
            .unwrap();
        }
        let dev = crate::device::cpu();
        let cell =
            |id: &str, members: &[&str], fusion: Fusion, member_cells: Vec<String>| CellSpec {
                id: id.into(),
                model: members.join("+"),
                members: members.iter().map(|s| s.to_string()).collect(),
                fusion,
                task: "membrane".into(),
                seed: 0,
                probe: ProbeParams {
                    kind: crate::probe::ProbeKind::Logreg,
                    c: Some(crate::probe::PenaltyC::Grid(vec![0.01, 0.1, 1.0])),
                    ..Default::default()
                },
                splits: SplitConfig::default(),
                member_cells,
                pca: None,
            };
        let g = run_cell(
            &ds,
            &emb,
            &cells,
            &cell("g", &["good"], Fusion::None, vec![]),
            &dev,
        )
        .unwrap();
        run_cell(
            &ds,
            &emb,
            &cells,
            &cell("n", &["noise"], Fusion::None, vec![]),
            &dev,
        )
        .unwrap();
        let good_auroc = g.metrics["auroc"].unwrap();
        for fusion in [Fusion::Stacking, Fusion::Caruana] {
            let r = run_cell(
                &ds,
                &emb,
                &cells,
                &cell(
                    "f",
                    &["good", "noise"],
                    fusion,
                    vec!["g".into(), "n".into()],
                ),
                &dev,
            )
            .unwrap();
            assert!(r.weights[1] < 0.1, "{fusion:?}: {:?}", r.weights);
            let a = r.metrics["auroc"].unwrap();
            assert!(a >= good_auroc - 0.005, "{fusion:?}: {a} vs {good_auroc}");
            assert_eq!(
                CellResult::read(&cells.join("f.h5")).unwrap().weights,
                r.weights
            );
        }
        // Balanced early fusion: the 50 noise columns count as much as the
        // 20 signal columns, not 2.5 times as much.
        let plain = run_cell(
            &ds,
            &emb,
            &cells,
            &cell("p", &["good", "noise"], Fusion::Concat, vec![]),
            &dev,
        )
        .unwrap();
        let balanced = run_cell(
            &ds,
            &emb,
            &cells,
            &cell("b", &["good", "noise"], Fusion::ConcatBalanced, vec![]),
            &dev,
        )
        .unwrap();
        assert_eq!(balanced.fusion, Fusion::ConcatBalanced);
        assert!(
            balanced.metrics["auroc"].unwrap() >= good_auroc - 0.02,
            "balanced {:?} plain {:?} good {good_auroc}",
            balanced.metrics["auroc"],
            plain.metrics["auroc"]
        );
        // With `pca: 8`, each member is cut to 8 components fitted on the
        // training genes: the noise member's 50 columns become 8, the
        // composition member's 20 become 8, and the signal survives.
        let reduced = run_cell(
            &ds,
            &emb,
            &cells,
            &CellSpec {
                pca: Some(8),
                ..cell("r", &["good", "noise"], Fusion::ConcatBalanced, vec![])
            },
            &dev,
        )
        .unwrap();
        let r = reduced.metrics["auroc"].unwrap();
        assert!(r >= good_auroc - 0.05, "pca {r} vs good {good_auroc}");
        assert_ne!(
            reduced.test_pred, balanced.test_pred,
            "pca changed the features"
        );
    }

    #[test]
    fn member_reduction_keeps_narrow_members_and_cuts_wide_ones() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let x = Array2::from_shape_fn((60, 7), |_| rng.random_range(-1.0f32..1.0));
        let widths = [3, 3, 3, 4, 4, 4, 4];
        let fit: Vec<usize> = (0..40).collect();
        let (y, w) = reduce_members(&x, &widths, &fit, 3, 0);
        assert_eq!(y.dim(), (60, 6));
        assert_eq!(w, vec![3; 6]);
        // The narrow member passes through unchanged.
        assert_eq!(y.slice(ndarray::s![.., ..3]), x.slice(ndarray::s![.., ..3]));
    }
}
