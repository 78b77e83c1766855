//! `genoprot aggregate`: every cell's metrics in one table,
//! `store/results.h5` (one dataset per column; h5py/pandas friendly) and
//! `store/results.csv`. Missing cells are listed, never silently dropped.
//!
//! Reading a cell store costs ~0.4 ms of HDF5 calls, and the HDF5 library
//! runs one call at a time in a process (threads only contend for its lock),
//! so 10,000 cells would take ~4 s. So the worker that finishes a cell reads
//! its row back from the store it wrote and appends it, with the store's
//! file stamp (size, mtime, inode), to `journal/cell-rows.jsonl`
//! ([`record_row`]); each row aggregate reads is kept in
//! `journal/aggregate-rows.jsonl` the same way. A row is taken from either
//! only while its store's stamp is unchanged: the store stays the truth, and
//! one that is new, rewritten or replaced since is read again.

use crate::grid::Grid;
use crate::layout::StoreLayout;
use anyhow::Context;
use hdf5::types::VarLenUnicode;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use workers::probe::cell::CellSpec;
use workers::probe::cell_store::CellSummary;

pub const METRICS: [&str; 8] = [
    "auroc", "auprc", "f1", "mcc", "accuracy", "spearman", "r2", "mse",
];

/// One row of the results table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub cell_id: String,
    pub model: String,
    pub fusion: String,
    pub members: String,
    pub task: String,
    pub kind: String,
    pub scope: String,
    pub seed: u64,
    /// [`METRICS`] in order; NaN when undefined (`null` in the row cache).
    #[serde(with = "nan_as_null")]
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
    /// Why the probe's chosen `c`/`alpha` sits at its grid's edge (empty: it
    /// does not, or no grid).
    #[serde(default)]
    pub grid_edge: String,
    /// How many `c`/`alpha` values the probe chose from (0: none recorded).
    #[serde(default)]
    pub grid_values: usize,
}

pub struct Aggregate {
    pub rows: Vec<Row>,
    pub missing: Vec<CellSpec>,
    pub unreadable: Vec<(String, String)>,
}

/// Appends cell `id`'s row, read back from its finished store, to
/// `journal/cell-rows.jsonl`.
pub fn record_row(layout: &StoreLayout, id: &str) -> anyhow::Result<()> {
    let p = layout.cells_dir().join(format!("{id}.h5"));
    let stamp =
        workers::file_hash::stamp(&p).with_context(|| format!("{}: no file stamp", p.display()))?;
    let row = row_of(CellSummary::read_as(&p, id)?);
    crate::jsonl::append(
        &layout.cell_rows(),
        &Cached {
            id: id.to_string(),
            stamp,
            row,
        },
    )?;
    Ok(())
}

/// Reads every cell of the grid: its row from `journal/cell-rows.jsonl` or
/// the row cache when its store is unchanged, else from the store (then the
/// cache is rewritten).
pub fn collect(grid: &Grid, layout: &StoreLayout) -> Aggregate {
    let (cells_dir, cache) = (layout.cells_dir(), layout.aggregate_rows());
    let cached = read_cache(&cache);
    // The workers' rows (a cell run again: its last).
    let recorded: HashMap<String, Cached> = crate::jsonl::read::<Cached>(&layout.cell_rows())
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let mut from_workers = 0usize;
    let mut fresh: Vec<Cached> = Vec::new();
    let mut rows = Vec::new();
    let mut missing = Vec::new();
    let mut unreadable = Vec::new();
    let mut reread = 0usize;
    for c in grid.all_cells() {
        let p = cells_dir.join(format!("{}.h5", c.id));
        let Some(stamp) = workers::file_hash::stamp(&p) else {
            missing.push(c.clone());
            continue;
        };
        if let Some(hit) = cached.get(&c.id).filter(|h| h.stamp == stamp) {
            rows.push(hit.row.clone());
            fresh.push(hit.clone());
            continue;
        }
        if let Some(hit) = recorded.get(&c.id).filter(|h| h.stamp == stamp) {
            from_workers += 1;
            rows.push(hit.row.clone());
            fresh.push(hit.clone());
            continue;
        }
        reread += 1;
        match CellSummary::read_as(&p, &c.id) {
            Ok(s) => {
                let row = row_of(s);
                fresh.push(Cached {
                    id: c.id.clone(),
                    stamp,
                    row: row.clone(),
                });
                rows.push(row);
            }
            Err(e) => {
                unreadable.push((c.id.clone(), e.to_string()));
                missing.push(c.clone());
            }
        }
    }
    tracing::debug!(
        "aggregate: {} cell stores read, {} rows recorded by workers, {} from {}",
        reread,
        from_workers,
        rows.len() + unreadable.len() - reread - from_workers,
        cache.display()
    );
    if reread > 0 || from_workers > 0 || fresh.len() != cached.len() {
        write_cache(&cache, &fresh);
    }
    Aggregate {
        rows,
        missing,
        unreadable,
    }
}

fn row_of(c: CellSummary) -> Row {
    Row {
        metrics: METRICS.map(|m| c.metrics.get(m).copied().flatten().unwrap_or(f64::NAN)),
        cell_id: c.id,
        model: c.model,
        fusion: c.fusion.as_str().into(),
        members: c.members.join("+"),
        task: c.task,
        kind: format!("{:?}", c.kind).to_lowercase(),
        scope: format!("{:?}", c.scope).to_lowercase(),
        seed: c.seed,
        undefined: c.undefined.join("; "),
        n_test: c.n_test,
        n_train: c.n_train,
        n_valid: c.n_valid,
        test_positives: c.test_positives.unwrap_or(-1),
        seconds: c.seconds,
        weights: c.weights,
        grid_edge: c.grid_edge,
        grid_values: c.grid_values,
    }
}

/// One line of the row cache.
#[derive(Clone, Serialize, Deserialize)]
struct Cached {
    id: String,
    stamp: workers::file_hash::Stamp,
    row: Row,
}

/// The row cache by cell id; lines that do not parse (an older layout, a
/// torn write) are skipped, so those cells are read again.
fn read_cache(path: &Path) -> HashMap<String, Cached> {
    crate::jsonl::read_checked::<Cached>(path)
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect()
}

/// Rewrites the row cache atomically; a store that cannot be written (read
/// only) just goes without.
fn write_cache(path: &Path, rows: &[Cached]) {
    if let Err(e) = crate::jsonl::rewrite_checked(path, rows) {
        tracing::debug!("not caching aggregate rows: {e}");
    }
}

/// Metric values with NaN (undefined) as JSON `null`.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64; 8], s: S) -> Result<S::Ok, S::Error> {
        v.map(|x| x.is_finite().then_some(x)).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[f64; 8], D::Error> {
        Ok(<[Option<f64>; 8]>::deserialize(d)?.map(|x| x.unwrap_or(f64::NAN)))
    }
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
    let h5 = crate::layout::StoreLayout::new(store).results_h5();
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
        use workers::h5attr;
        h5attr::write_int(&f, "n_cells", r.len() as i64, &h5)?;
        h5attr::write_int(&f, "n_missing", agg.missing.len() as i64, &h5)?;
        h5attr::write_str(&f, "tool_version", workers::TOOL_VERSION, &h5)?;
        drop(g);
        workers::store::finish_h5(f, tmp.path(), &h5)?;
    }
    tmp.commit()
        .with_context(|| format!("renaming the new {} into place", h5.display()))?;
    let csv = crate::layout::StoreLayout::new(store).results_csv();
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
    workers::atomic::write_atomic(&csv, out.as_bytes())
        .with_context(|| format!("writing {}", csv.display()))?;
    Ok((h5, csv))
}
