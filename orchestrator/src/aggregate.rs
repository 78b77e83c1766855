//! `genoprot aggregate`: every cell's metrics in one table,
//! `store/results.h5` (one dataset per column; h5py/pandas friendly) and
//! `store/results.csv`. Missing cells are listed, never silently dropped.

use crate::grid::Grid;
use anyhow::Context;
use hdf5::types::VarLenUnicode;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use workers::probe::cell::{CellResult, CellSpec};

pub const METRICS: [&str; 8] = [
    "auroc", "auprc", "f1", "mcc", "accuracy", "spearman", "r2", "mse",
];

/// One row of the results table.
#[derive(Debug, Clone)]
pub struct Row {
    pub cell_id: String,
    pub model: String,
    pub fusion: String,
    pub members: String,
    pub task: String,
    pub kind: String,
    pub scope: String,
    pub seed: u64,
    pub metrics: [f64; 8],
    pub undefined: String,
    pub n_test: usize,
    pub n_train: usize,
    pub n_valid: usize,
    /// Classification: the rarest label's positives in the test split (a
    /// multiclass task: its rarest present class); -1 for regression.
    pub test_positives: i64,
    pub seconds: f64,
    /// Late fusion: the members' weights (in `members` order); empty otherwise.
    pub weights: Vec<f64>,
}

pub struct Aggregate {
    pub rows: Vec<Row>,
    pub missing: Vec<CellSpec>,
    pub unreadable: Vec<(String, String)>,
}

/// Reads every cell of the grid (in parallel).
pub fn collect(grid: &Grid, cells_dir: &Path) -> Aggregate {
    let all: Vec<&CellSpec> = grid.all_cells().collect();
    let read: Vec<(usize, Result<CellResult, String>)> = all
        .par_iter()
        .enumerate()
        .map(|(i, c)| {
            let p = cells_dir.join(format!("{}.h5", c.id));
            if !p.exists() {
                return (i, Err(String::new()));
            }
            (i, CellResult::read_as(&p, &c.id).map_err(|e| e.to_string()))
        })
        .collect();
    let mut rows = Vec::new();
    let mut missing = Vec::new();
    let mut unreadable = Vec::new();
    for (i, r) in read {
        match r {
            Ok(c) => rows.push(Row {
                cell_id: c.id.clone(),
                model: c.model.clone(),
                fusion: c.fusion.as_str().into(),
                members: c.members.join("+"),
                task: c.task.clone(),
                kind: format!("{:?}", c.kind).to_lowercase(),
                scope: format!("{:?}", c.scope).to_lowercase(),
                seed: c.seed,
                metrics: METRICS.map(|m| c.metrics.get(m).copied().flatten().unwrap_or(f64::NAN)),
                undefined: c.undefined.join("; "),
                n_test: c.test_ids.len(),
                n_train: c.n_train,
                n_valid: c.valid_ids.len(),
                test_positives: test_positives(&c),
                seconds: c.seconds,
                weights: c.weights.clone(),
            }),
            Err(e) if e.is_empty() => missing.push(all[i].clone()),
            Err(e) => {
                unreadable.push((all[i].id.clone(), e));
                missing.push(all[i].clone());
            }
        }
    }
    Aggregate {
        rows,
        missing,
        unreadable,
    }
}

/// The rarest label's positives among a cell's test rows (-1: regression).
pub fn test_positives(c: &CellResult) -> i64 {
    if c.kind == workers::dataset::TaskKind::Regression {
        return -1;
    }
    let counts: Vec<i64> = c
        .test_labels
        .columns()
        .into_iter()
        .map(|col| col.iter().filter(|v| **v > 0.5).count() as i64)
        .collect();
    // Multiclass: classes absent from the test split do not count.
    counts
        .iter()
        .copied()
        .filter(|n| c.kind != workers::dataset::TaskKind::Multiclass || *n > 0)
        .min()
        .unwrap_or(0)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes results.h5 and results.csv (both atomically).
pub fn write(agg: &Aggregate, store: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let h5 = store.join("results.h5");
    if h5.is_dir() {
        anyhow::bail!(
            "{}: is a folder; results.h5 is the file aggregate writes (move that folder away)",
            h5.display()
        );
    }
    let tmp = workers::atomic::AtomicPath::new(&h5)
        .with_context(|| format!("creating a temp file beside {}", h5.display()))?;
    {
        let f = hdf5::File::create(tmp.path()).context("creating results.h5")?;
        let g = f.create_group("cells")?;
        let s = |name: &str, v: Vec<&str>| -> anyhow::Result<()> {
            let v: Vec<VarLenUnicode> = v
                .iter()
                .map(|x| VarLenUnicode::from_str(x).unwrap_or_default())
                .collect();
            g.new_dataset_builder().with_data(&v).create(name)?;
            Ok(())
        };
        let r = &agg.rows;
        s("cell_id", r.iter().map(|x| x.cell_id.as_str()).collect())?;
        s("model", r.iter().map(|x| x.model.as_str()).collect())?;
        s("fusion", r.iter().map(|x| x.fusion.as_str()).collect())?;
        s("members", r.iter().map(|x| x.members.as_str()).collect())?;
        s("task", r.iter().map(|x| x.task.as_str()).collect())?;
        s("kind", r.iter().map(|x| x.kind.as_str()).collect())?;
        s("scope", r.iter().map(|x| x.scope.as_str()).collect())?;
        s(
            "undefined",
            r.iter().map(|x| x.undefined.as_str()).collect(),
        )?;
        g.new_dataset_builder()
            .with_data(&r.iter().map(|x| x.seed as i64).collect::<Vec<_>>())
            .create("seed")?;
        g.new_dataset_builder()
            .with_data(&r.iter().map(|x| x.n_test as i64).collect::<Vec<_>>())
            .create("n_test")?;
        for (name, v) in [
            (
                "n_train",
                r.iter().map(|x| x.n_train as i64).collect::<Vec<_>>(),
            ),
            ("n_valid", r.iter().map(|x| x.n_valid as i64).collect()),
            (
                "test_positives",
                r.iter().map(|x| x.test_positives).collect(),
            ),
        ] {
            g.new_dataset_builder().with_data(&v).create(name)?;
        }
        g.new_dataset_builder()
            .with_data(&r.iter().map(|x| x.seconds).collect::<Vec<_>>())
            .create("seconds")?;
        for (j, m) in METRICS.iter().enumerate() {
            g.new_dataset_builder()
                .with_data(&r.iter().map(|x| x.metrics[j]).collect::<Vec<_>>())
                .create(*m)?;
        }
        let miss: Vec<VarLenUnicode> = agg
            .missing
            .iter()
            .map(|c| {
                VarLenUnicode::from_str(&format!("{}\t{}\t{}\t{}", c.id, c.model, c.task, c.seed))
                    .unwrap_or_default()
            })
            .collect();
        f.new_dataset_builder().with_data(&miss).create("missing")?;
        f.new_attr::<i64>()
            .shape(())
            .create("n_cells")?
            .write_scalar(&(r.len() as i64))?;
        f.new_attr::<i64>()
            .shape(())
            .create("n_missing")?
            .write_scalar(&(agg.missing.len() as i64))?;
        let tv = VarLenUnicode::from_str(workers::TOOL_VERSION).unwrap_or_default();
        f.new_attr::<VarLenUnicode>()
            .shape(())
            .create("tool_version")?
            .write_scalar(&tv)?;
        drop(g);
        workers::store::finish_h5(f, tmp.path(), &h5)?;
    }
    tmp.commit()
        .with_context(|| format!("renaming the new {} into place", h5.display()))?;
    let csv = store.join("results.csv");
    let mut out = String::from("cell_id,model,fusion,members,task,kind,scope,seed,");
    out.push_str(&METRICS.join(","));
    out.push_str(",n_test,seconds,undefined,n_train,n_valid,test_positives\n");
    for r in &agg.rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}",
            r.cell_id,
            csv_field(&r.model),
            r.fusion,
            csv_field(&r.members),
            csv_field(&r.task),
            r.kind,
            r.scope,
            r.seed
        ));
        for v in r.metrics {
            if v.is_finite() {
                out.push_str(&format!(",{v}"));
            } else {
                out.push(',');
            }
        }
        out.push_str(&format!(
            ",{},{:.3},{},{},{},{}\n",
            r.n_test,
            r.seconds,
            csv_field(&r.undefined),
            r.n_train,
            r.n_valid,
            r.test_positives
        ));
    }
    workers::atomic::write_atomic(&csv, out.as_bytes())?;
    Ok((h5, csv))
}
