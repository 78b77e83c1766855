//! What is left of a sweep, per stage, from the store alone (whatever ran
//! it), and the measured times that size bundles.

use super::BatchSettings;
use super::bundles::{Estimates, row_of};
use crate::config::{CellsPerTask, SweepConfig};
use crate::embed::is_current;
use crate::grid::{Grid, Stage};
use std::collections::{BTreeMap, HashSet};
use workers::dataset::Dataset;
use workers::probe::cell::CellSpec;

/// Units not done yet, per stage, in plan order (model names for embed,
/// cell ids for probe and fusion).
#[derive(Debug, Default)]
pub struct Todo {
    pub units: BTreeMap<Stage, Vec<String>>,
}

impl Todo {
    /// Units left in all stages.
    pub fn len(&self) -> usize {
        self.units.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every (stage, unit) left, for lookups.
    pub fn set(&self) -> HashSet<(Stage, &str)> {
        self.units
            .iter()
            .flat_map(|(stage, units)| units.iter().map(move |u| (*stage, u.as_str())))
            .collect()
    }
}

pub fn todo(cfg: &SweepConfig, ds: &Dataset, grid: &Grid) -> Todo {
    let mut units: BTreeMap<Stage, Vec<String>> = BTreeMap::new();
    units.insert(
        Stage::Embed,
        grid.embed
            .iter()
            .filter(|j| !is_current(cfg, ds, &j.model))
            .map(|j| j.model.clone())
            .collect(),
    );
    // Done cells by the verified-cells cache (a file unchanged since it was
    // checked is not opened again): a finishing job of a 100,000-cell
    // sweep does not reopen every store.
    let done = crate::verified::done_cells(
        &cfg.layout().cells_dir(),
        grid.all_cells().map(|c| c.id.clone()).collect(),
        &cfg.layout().verified_cells(),
    );
    for (stage, cells) in [(Stage::Probe, &grid.cells), (Stage::Fusion, &grid.late)] {
        let left = cells
            .iter()
            .filter(|c| !done.contains(&c.id))
            .map(|c| c.id.clone())
            .collect();
        units.insert(stage, left);
    }
    Todo { units }
}

/// Finished cells per row whose time is read for `cells_per_task: auto`.
const ESTIMATE_SAMPLE: usize = 25;

/// Bundles sized by time: the stored seconds of up to [`ESTIMATE_SAMPLE`]
/// finished cells per row (none read unless `cells_per_task: auto`).
pub fn estimates(
    cfg: &SweepConfig,
    settings: &BatchSettings,
    grid: &Grid,
    todo: &Todo,
) -> Estimates {
    let mut measured: Vec<(&CellSpec, f64)> = Vec::new();
    if settings.cells_per_task == CellsPerTask::Auto {
        let left: HashSet<&str> = todo.units.values().flatten().map(String::as_str).collect();
        let mut per_row: BTreeMap<String, usize> = BTreeMap::new();
        for c in grid.all_cells().filter(|c| !left.contains(c.id.as_str())) {
            let n = per_row.entry(row_of(c)).or_default();
            if *n < ESTIMATE_SAMPLE
                && let Some(s) = crate::run::cell_seconds(cfg, &c.id)
            {
                measured.push((c, s));
                *n += 1;
            }
        }
    }
    Estimates::from_measured(measured)
}

/// `model × task × seed N` of a cell id; a model name stays as it is.
pub fn what(grid: &Grid, unit: &str) -> String {
    match grid.all_cells().find(|c| c.id == unit) {
        Some(c) => format!("{} × {} × seed {}", c.model, c.task, c.seed),
        None => unit.to_string(),
    }
}
