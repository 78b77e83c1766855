//! A cell store, `store/cells/<cell-id>.h5` (schema: docs/store-schema.md):
//! written atomically, read whole for the report and late fusion, read as a
//! summary (attributes, metrics and sizes; no predictions) by `aggregate`.

use super::fusion::Fusion;
use super::output::{CurvePoint, FitInfo};
use crate::atomic::AtomicPath;
use crate::dataset::{Scope, TaskKind};
use crate::h5attr::{self, h5err};
use crate::store::StoreError;
use hdf5::types::VarLenUnicode;
use ndarray::Array2;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

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
    /// The training split, so anyone can refit the cell: ids (gene ids, or
    /// `a|b` for pairs), rows (indices into the task's rows: its labelled
    /// genes in `genes.tsv` order, or its pairs in `pairs.tsv` order) and
    /// labels. Empty in stores written before it was kept.
    pub train_ids: Vec<String>,
    pub train_rows: Vec<u64>,
    pub train_labels: Array2<f32>,
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
    /// The values a linear probe solved (its `c` or `alpha` grid, as widened
    /// by `auto`); dataset `probe_grid`, empty otherwise.
    pub probe_grid: Vec<f64>,
    /// Why the chosen value is at the grid's edge (empty: it is not, or no
    /// grid); attribute `grid_edge`.
    pub grid_edge: String,
    /// How the probe's fit ended (attributes `solver`, `converged`,
    /// `iterations`, `grad_norm`, `objective`, `stop_reason`); `None` for late
    /// fusion, which trains nothing.
    pub fit: Option<FitInfo>,
    /// Where it ran: `device`, `host`, `local_rank`, `cuda_visible_devices`,
    /// `slurm_job` (see [`crate::device::runtime_info`]).
    pub runtime: BTreeMap<String, String>,
}

/// 3: the training split (`train/`), `probe_grid` and `grid_edge`.
pub const CELL_FORMAT_VERSION: i64 = 3;

/// ids, labels, predictions of one split.
type SplitArrays = (Vec<String>, Array2<f32>, Array2<f32>);
fn vlu(s: &str) -> VarLenUnicode {
    VarLenUnicode::from_str(s).unwrap_or_default()
}

impl CellResult {
    /// Writes the cell store atomically.
    pub fn write(&self, dest: &Path) -> Result<(), StoreError> {
        let tmp = AtomicPath::new(dest).map_err(|source| StoreError::Io {
            path: dest.to_path_buf(),
            source,
        })?;
        {
            let e = h5err(dest);
            let f = hdf5::File::create(tmp.path()).map_err(&e)?;
            let sattr = |loc: &hdf5::Location, k: &str, v: &str| h5attr::write_str(loc, k, v, dest);
            let iattr = |loc: &hdf5::Location, k: &str, v: i64| h5attr::write_int(loc, k, v, dest);
            let fattr =
                |loc: &hdf5::Location, k: &str, v: f64| h5attr::write_float(loc, k, v, dest);
            let kind = format!("{:?}", self.kind).to_lowercase();
            let scope = format!("{:?}", self.scope).to_lowercase();
            for (k, v) in [
                ("cell_id", self.id.as_str()),
                ("model", &self.model),
                ("members", &self.members.join(",")),
                ("fusion", self.fusion.as_str()),
                ("task", &self.task),
                ("task_kind", &kind),
                ("scope", &scope),
                ("dataset_hash", &self.dataset_hash),
                ("tool_version", crate::TOOL_VERSION),
                ("created", &crate::store::now_rfc3339()),
                ("undefined", &self.undefined.join("; ")),
            ] {
                sattr(&f, k, v)?;
            }
            for (k, v) in &self.runtime {
                sattr(&f, k, v)?;
            }
            iattr(&f, "seed", self.seed as i64)?;
            iattr(&f, "best_epoch", self.best_epoch as i64)?;
            iattr(&f, "n_train", self.n_train as i64)?;
            iattr(&f, "dropped_pairs", self.dropped_pairs as i64)?;
            iattr(&f, "format_version", CELL_FORMAT_VERSION)?;
            fattr(&f, "seconds", self.seconds)?;
            if let Some(c) = self.probe_c {
                fattr(&f, "probe_c", c)?;
            }
            if let Some(a) = self.probe_alpha {
                fattr(&f, "probe_alpha", a)?;
            }
            sattr(&f, "grid_edge", &self.grid_edge)?;
            f.new_dataset_builder()
                .with_data(&self.probe_grid)
                .create("probe_grid")
                .map_err(&e)?;
            if let Some(fit) = &self.fit {
                sattr(&f, "solver", &fit.solver)?;
                sattr(&f, "stop_reason", &fit.stop)?;
                iattr(&f, "converged", fit.converged as i64)?;
                iattr(&f, "iterations", fit.iterations as i64)?;
                fattr(&f, "grad_norm", fit.grad_norm)?;
                fattr(&f, "objective", fit.objective)?;
            }
            let mg = f.create_group("metrics").map_err(&e)?;
            for (k, v) in &self.metrics {
                fattr(&mg, k, v.unwrap_or(f64::NAN))?;
            }
            // A split's group with its ids and labels (test and valid add
            // their predictions, train its rows).
            let split = |name: &str, ids: &[String], y: &Array2<f32>| {
                let g = f.create_group(name).map_err(&e)?;
                let v: Vec<VarLenUnicode> = ids.iter().map(|s| vlu(s)).collect();
                g.new_dataset_builder()
                    .with_data(&v)
                    .create("ids")
                    .map_err(&e)?;
                g.new_dataset_builder()
                    .with_data(y)
                    .create("labels")
                    .map_err(&e)?;
                Ok::<_, StoreError>(g)
            };
            for (name, ids, y, p) in [
                ("test", &self.test_ids, &self.test_labels, &self.test_pred),
                (
                    "valid",
                    &self.valid_ids,
                    &self.valid_labels,
                    &self.valid_pred,
                ),
            ] {
                split(name, ids, y)?
                    .new_dataset_builder()
                    .with_data(p)
                    .create("pred")
                    .map_err(&e)?;
            }
            split("train", &self.train_ids, &self.train_labels)?
                .new_dataset_builder()
                .with_data(&self.train_rows)
                .create("rows")
                .map_err(&e)?;
            let c = f.create_group("curve").map_err(&e)?;
            let ep: Vec<i64> = self.curve.iter().map(|p| p.epoch as i64).collect();
            c.new_dataset_builder()
                .with_data(&ep)
                .create("epoch")
                .map_err(&e)?;
            for (name, vals) in [
                (
                    "train_loss",
                    self.curve
                        .iter()
                        .map(|p| p.train_loss)
                        .collect::<Vec<f64>>(),
                ),
                (
                    "valid_loss",
                    self.curve.iter().map(|p| p.valid_loss).collect(),
                ),
                (
                    "valid_score",
                    self.curve.iter().map(|p| p.valid_score).collect(),
                ),
            ] {
                c.new_dataset_builder()
                    .with_data(&vals)
                    .create(name)
                    .map_err(&e)?;
            }
            f.new_dataset_builder()
                .with_data(&self.weights)
                .create("fusion_weights")
                .map_err(&e)?;
            drop((mg, c));
            crate::store::finish_h5(f, tmp.path(), dest)?;
        }
        tmp.commit().map_err(|source| StoreError::Io {
            path: dest.to_path_buf(),
            source,
        })?;
        Ok(())
    }

    /// Reads the cell store of cell `id` and checks that it is that cell's: a
    /// valid store copied or renamed under another cell's file name is an
    /// error (callers treat it as missing).
    pub fn read_as(path: &Path, id: &str) -> Result<CellResult, StoreError> {
        let r = Self::read(path)?;
        check_id(path, &r.id, id)?;
        Ok(r)
    }

    /// Reads a cell store.
    pub fn read(path: &Path) -> Result<CellResult, StoreError> {
        let e = h5err(path);
        let f = crate::store::open_h5(path)?;
        let (sum, test_labels) = summary_of(&f, path)?;
        let s = |k: &str| h5attr::read_str(&f, k, path);
        let i = |k: &str| h5attr::read_int(&f, k, path);
        let fl = |k: &str| h5attr::read_float(&f, k, path).unwrap_or(f64::NAN);
        let read_split = |split: &str| -> Result<SplitArrays, StoreError> {
            let g = f.group(split).map_err(&e)?;
            let ids: Vec<VarLenUnicode> =
                g.dataset("ids").and_then(|d| d.read_raw()).map_err(&e)?;
            let y: Array2<f32> = if split == "test" {
                test_labels.clone()
            } else {
                g.dataset("labels").and_then(|d| d.read_2d()).map_err(&e)?
            };
            let p: Array2<f32> = g.dataset("pred").and_then(|d| d.read_2d()).map_err(&e)?;
            Ok((ids.iter().map(|s| s.as_str().to_string()).collect(), y, p))
        };
        let (test_ids, test_labels, test_pred) = read_split("test")?;
        let (valid_ids, valid_labels, valid_pred) = read_split("valid")?;
        // Absent in stores written before the training split was kept.
        let (train_ids, train_rows, train_labels) = match f.group("train") {
            Ok(g) => {
                let ids: Vec<VarLenUnicode> =
                    g.dataset("ids").and_then(|d| d.read_raw()).map_err(&e)?;
                let rows: Vec<u64> = g.dataset("rows").and_then(|d| d.read_raw()).map_err(&e)?;
                let y: Array2<f32> = g.dataset("labels").and_then(|d| d.read_2d()).map_err(&e)?;
                (
                    ids.iter().map(|s| s.as_str().to_string()).collect(),
                    rows,
                    y,
                )
            }
            Err(_) => (
                Vec::new(),
                Vec::new(),
                Array2::zeros((0, test_labels.ncols())),
            ),
        };
        let c = f.group("curve").map_err(&e)?;
        let ep: Vec<i64> = c.dataset("epoch").and_then(|d| d.read_raw()).map_err(&e)?;
        let col = |n: &str| -> Result<Vec<f64>, StoreError> {
            c.dataset(n).and_then(|d| d.read_raw()).map_err(&e)
        };
        let (tl, vl, vs) = (col("train_loss")?, col("valid_loss")?, col("valid_score")?);
        let curve = (0..ep.len())
            .map(|j| CurvePoint {
                epoch: ep[j] as usize,
                train_loss: tl[j],
                valid_loss: vl[j],
                valid_score: vs[j],
            })
            .collect();
        Ok(CellResult {
            id: sum.id,
            model: sum.model,
            members: sum.members,
            fusion: sum.fusion,
            task: sum.task,
            seed: sum.seed,
            kind: sum.kind,
            scope: sum.scope,
            metrics: sum.metrics,
            undefined: sum.undefined,
            test_ids,
            test_labels,
            test_pred,
            valid_ids,
            valid_labels,
            valid_pred,
            train_ids,
            train_rows,
            train_labels,
            curve,
            best_epoch: i("best_epoch")? as usize,
            seconds: sum.seconds,
            dataset_hash: s("dataset_hash")?,
            n_train: sum.n_train,
            dropped_pairs: i("dropped_pairs")? as usize,
            weights: sum.weights,
            // Absent without `probe.c`.
            probe_c: h5attr::read_float(&f, "probe_c", path).ok(),
            probe_alpha: h5attr::read_float(&f, "probe_alpha", path).ok(),
            // Absent in stores written before grids were recorded.
            probe_grid: f
                .dataset("probe_grid")
                .and_then(|d| d.read_raw())
                .unwrap_or_default(),
            grid_edge: sum.grid_edge.clone(),
            // Absent for late fusion.
            fit: s("solver").ok().map(|solver| FitInfo {
                solver,
                stop: s("stop_reason").unwrap_or_default(),
                converged: i("converged").unwrap_or(0) != 0,
                iterations: i("iterations").unwrap_or(0) as usize,
                grad_norm: fl("grad_norm"),
                objective: fl("objective"),
            }),
            // Absent in stores written before these attributes existed.
            runtime: crate::device::RUNTIME_KEYS
                .iter()
                .filter_map(|k| s(k).ok().map(|v| (k.to_string(), v)))
                .collect(),
        })
    }
}

/// A cell's test split: what the report's bootstrap resamples.
#[derive(Debug, Clone, PartialEq)]
pub struct TestSplit {
    pub kind: TaskKind,
    pub ids: Vec<String>,
    pub labels: Array2<f32>,
    pub pred: Array2<f32>,
}

impl TestSplit {
    /// Reads the test split of cell `id` only (not the validation split or
    /// the curve), checking the store is that cell's.
    pub fn read_as(path: &Path, id: &str) -> Result<TestSplit, StoreError> {
        let e = h5err(path);
        let f = crate::store::open_h5(path)?;
        let (sum, labels) = summary_of(&f, path)?;
        check_id(path, &sum.id, id)?;
        let g = f.group("test").map_err(&e)?;
        let ids: Vec<VarLenUnicode> = g.dataset("ids").and_then(|d| d.read_raw()).map_err(&e)?;
        let pred: Array2<f32> = g.dataset("pred").and_then(|d| d.read_2d()).map_err(&e)?;
        Ok(TestSplit {
            kind: sum.kind,
            ids: ids.iter().map(|s| s.as_str().to_string()).collect(),
            labels,
            pred,
        })
    }
}

/// What `aggregate` tabulates of a cell: its identity, metrics and sizes,
/// read from attributes, dataset shapes and the test labels, without the
/// predictions, ids or the training curve.
#[derive(Debug, Clone, PartialEq)]
pub struct CellSummary {
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
    pub undefined: Vec<String>,
    pub n_train: usize,
    pub n_valid: usize,
    pub n_test: usize,
    /// Classification: the rarest label's positives among the test rows (a
    /// multiclass task: its rarest class present there); `None` for regression.
    pub test_positives: Option<i64>,
    pub seconds: f64,
    /// Late fusion member weights.
    pub weights: Vec<f64>,
    /// Why the probe's chosen `c`/`alpha` is at its grid's edge (empty: it is not).
    pub grid_edge: String,
    /// How many `c`/`alpha` values the probe solved (0: none recorded).
    pub grid_values: usize,
}

impl CellSummary {
    /// Reads the summary of cell `id`'s store; a store that holds another
    /// cell (copied or renamed) is an error, as for [`CellResult::read_as`].
    pub fn read_as(path: &Path, id: &str) -> Result<CellSummary, StoreError> {
        let f = crate::store::open_h5(path)?;
        let (sum, _) = summary_of(&f, path)?;
        check_id(path, &sum.id, id)?;
        Ok(sum)
    }
}

fn check_id(path: &Path, stored: &str, id: &str) -> Result<(), StoreError> {
    if stored == id {
        return Ok(());
    }
    Err(StoreError::Invalid {
        path: path.to_path_buf(),
        msg: format!(
            "holds cell {stored} (attribute cell_id), not {id}: a copied or renamed cell store; \
             it is treated as missing and rewritten when the cell runs"
        ),
    })
}

/// The summary of an open cell store, with its test labels (read for the
/// positives count; [`CellResult::read`] keeps them).
fn summary_of(f: &hdf5::File, path: &Path) -> Result<(CellSummary, Array2<f32>), StoreError> {
    let e = h5err(path);
    let s = |k: &str| h5attr::read_str(f, k, path);
    let i = |k: &str| h5attr::read_int(f, k, path);
    let kind = match s("task_kind")?.as_str() {
        "binary" => TaskKind::Binary,
        "multiclass" => TaskKind::Multiclass,
        "multilabel" => TaskKind::Multilabel,
        _ => TaskKind::Regression,
    };
    let stored = s("fusion")?;
    let fusion = Fusion::ALL
        .into_iter()
        .find(|x| x.as_str() == stored)
        .unwrap_or(Fusion::None);
    let mg = f.group("metrics").map_err(&e)?;
    let mut metrics = BTreeMap::new();
    for name in mg.attr_names().map_err(&e)? {
        let v: f64 = mg.attr(&name).and_then(|a| a.read_scalar()).map_err(&e)?;
        metrics.insert(name, v.is_finite().then_some(v));
    }
    let rows = |split: &str| -> Result<usize, StoreError> {
        f.dataset(&format!("{split}/ids"))
            .map(|d| d.size())
            .map_err(&e)
    };
    let test_labels: Array2<f32> = f
        .dataset("test/labels")
        .and_then(|d| d.read_2d())
        .map_err(&e)?;
    let sum = CellSummary {
        id: s("cell_id")?,
        model: s("model")?,
        members: s("members")?
            .split(',')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
        fusion,
        task: s("task")?,
        seed: i("seed")? as u64,
        kind,
        scope: if s("scope")? == "pair" {
            Scope::Pair
        } else {
            Scope::Gene
        },
        metrics,
        undefined: s("undefined")?
            .split("; ")
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
        n_train: i("n_train")? as usize,
        n_valid: rows("valid")?,
        n_test: rows("test")?,
        test_positives: test_positives(kind, &test_labels),
        seconds: h5attr::read_float(f, "seconds", path)?,
        weights: f
            .dataset("fusion_weights")
            .and_then(|d| d.read_raw())
            .map_err(&e)?,
        grid_edge: s("grid_edge").unwrap_or_default(),
        grid_values: f.dataset("probe_grid").map_or(0, |d| d.size()),
    };
    Ok((sum, test_labels))
}

/// The rarest label's positives among test rows (`None`: regression).
pub fn test_positives(kind: TaskKind, labels: &Array2<f32>) -> Option<i64> {
    if kind == TaskKind::Regression {
        return None;
    }
    let counts = labels
        .columns()
        .into_iter()
        .map(|col| col.iter().filter(|v| **v > 0.5).count() as i64);
    // Multiclass: classes absent from the test split do not count.
    Some(
        counts
            .filter(|n| kind != TaskKind::Multiclass || *n > 0)
            .min()
            .unwrap_or(0),
    )
}

/// The `cell_id` attribute of a cell store: what [`CellResult::read_as`]
/// checks, without reading the arrays.
pub fn stored_cell_id(path: &Path) -> Result<String, StoreError> {
    let f = crate::store::open_h5(path)?;
    h5attr::read_str(&f, "cell_id", path)
}

/// Cell stores in `dir` by id (file stem).
pub fn cell_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.h5"))
}
