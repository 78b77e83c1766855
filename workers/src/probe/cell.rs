//! A cell: one model (or ensemble) × task × seed. Trains the probe on the
//! training split, selects by validation, scores the test split, and writes
//! `store/cells/<cell-id>.h5` (schema: docs/store-schema.md).
//! Its unit tests are in `cell_tests.rs`.

pub use super::cell_store::{
    CELL_FORMAT_VERSION, CellResult, TestSplit, cell_path, stored_cell_id,
};
use super::features::{DenseFeatures, Features, PairFeatures};
pub use super::fusion::Fusion;
use super::metrics::compute_metrics;
pub use super::metrics::primary_metric;
use super::output::CurvePoint;
use super::train::train_probe;
use super::{Head, ProbeError, ProbeParams};
use crate::dataset::splits::{SplitConfig, split_task};
use crate::dataset::{Dataset, Label, Scope, TaskKind, TaskSpec};
use burn::tensor::Device;
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

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
    let (mut probe_grid, mut grid_edge) = (Vec::new(), None);
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
        probe_grid = out.grid;
        grid_edge = out.grid_edge;
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
        train_ids: prep.train.iter().map(|r| prep.ids[*r].clone()).collect(),
        train_rows: prep.train.iter().map(|r| *r as u64).collect(),
        train_labels: prep.y.select(Axis(0), &prep.train),
        curve,
        best_epoch,
        seconds: t0.elapsed().as_secs_f64(),
        dataset_hash: ds.manifest.dataset_hash.clone(),
        n_train: prep.train.len(),
        dropped_pairs: prep.dropped,
        weights,
        probe_c,
        probe_alpha,
        probe_grid,
        grid_edge: grid_edge.unwrap_or_default(),
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
    let valid_preds: Vec<&Array2<f32>> = members.iter().map(|r| &r.valid_pred).collect();
    let test_preds: Vec<&Array2<f32>> = members.iter().map(|r| &r.test_pred).collect();
    let valid_labels = prep.y.select(Axis(0), &prep.valid);
    let kind = prep.spec.kind;
    let weights = super::fusion::late_weights(cell.fusion, kind, &valid_preds, &valid_labels);
    Ok((
        super::fusion::combine(&valid_preds, &weights),
        super::fusion::combine(&test_preds, &weights),
        Vec::new(),
        0,
        weights,
    ))
}

#[cfg(test)]
#[path = "cell_tests.rs"]
mod tests;
