//! What is done, missing or failed, per unit and per stage, from the store
//! and the journal (never from an executor): one computation
//! ([`unit_states`]) for `plan` and `status`, and the log file of each unit.

use crate::config::SweepConfig;
use crate::embed::is_current;
use crate::grid::{Grid, Stage};
use crate::journal::{EventKind, Journal};
use std::path::PathBuf;
use workers::dataset::Dataset;

/// Counts per stage for `plan` and `status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageCounts {
    pub stage: Stage,
    pub total: usize,
    pub done: usize,
    pub missing: usize,
    pub failed: usize,
}

/// Where a unit stands, from the store and the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitState {
    Done,
    Missing,
    /// Missing, and its last attempt failed.
    Failed,
}

/// One unit of the grid: an embedding job or a cell.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UnitRow {
    pub stage: Stage,
    /// The cell id, or `embed:<model>`.
    pub id: String,
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub state: UnitState,
}

/// A cell's log file name: model, task, seed and a short id
/// (`esm2.membrane.s0.1a2b3c4d.log`; `:` of ensemble rows as `_`).
pub fn cell_log_name(model: &str, task: &str, seed: u64, id: &str) -> String {
    let safe = |s: &str| s.replace([':', '/'], "_");
    format!(
        "{}.{}.s{seed}.{}.log",
        safe(model),
        safe(task),
        &id[..8.min(id.len())]
    )
}

/// The log file of a unit (cells: store/logs/cells/; embedding jobs:
/// store/logs/embed-<model>.log).
pub fn unit_log(cfg: &SweepConfig, u: &UnitRow) -> PathBuf {
    match (&u.task, u.seed) {
        (Some(task), Some(seed)) => cfg
            .layout()
            .cell_logs_dir()
            .join(cell_log_name(&u.model, task, seed, &u.id)),
        _ => cfg
            .layout()
            .logs_dir()
            .join(format!("embed-{}.log", u.model)),
    }
}

/// The journal's per-unit history (empty when there is no journal yet).
pub fn history(
    cfg: &SweepConfig,
) -> std::collections::BTreeMap<String, crate::journal::UnitHistory> {
    Journal::open(&cfg.store)
        .map(|j| j.history())
        .unwrap_or_default()
}

/// Every unit of the grid with its state, from the store and `hist`
/// ([`history`]).
pub fn unit_states(
    cfg: &SweepConfig,
    ds: &Dataset,
    grid: &Grid,
    hist: &std::collections::BTreeMap<String, crate::journal::UnitHistory>,
) -> Vec<UnitRow> {
    let state = |unit: &str, done: bool| {
        if done {
            UnitState::Done
        } else if hist
            .get(unit)
            .is_some_and(|h| h.last == Some(EventKind::Failed))
        {
            UnitState::Failed
        } else {
            UnitState::Missing
        }
    };
    let mut out = Vec::new();
    for j in &grid.embed {
        let id = format!("embed:{}", j.model);
        out.push(UnitRow {
            stage: Stage::Embed,
            state: state(&id, is_current(cfg, ds, &j.model)),
            id,
            model: j.model.clone(),
            task: None,
            seed: None,
        });
    }
    // A cell counts as done when its file opens and records its own id (a
    // truncated file, or a valid one copied under another cell's name, does
    // not); files unchanged since they were checked are not opened again.
    let dir = cfg.layout().cells_dir();
    let names: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_suffix(".h5"))
                        .filter(|n| !n.starts_with('.'))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    let present = crate::verified::done_cells(&dir, names, &cfg.layout().verified_cells());
    for (stage, list) in [(Stage::Probe, &grid.cells), (Stage::Fusion, &grid.late)] {
        for c in list {
            out.push(UnitRow {
                stage,
                state: state(&c.id, present.contains(&c.id)),
                id: c.id.clone(),
                model: c.model.clone(),
                task: Some(c.task.clone()),
                seed: Some(c.seed),
            });
        }
    }
    out
}

/// Per stage: total, done, missing (failed included), failed.
pub fn counts_of(units: &[UnitRow]) -> Vec<StageCounts> {
    Stage::UNITS
        .iter()
        .map(|stage| {
            let of: Vec<&UnitRow> = units.iter().filter(|u| u.stage == *stage).collect();
            let done = of.iter().filter(|u| u.state == UnitState::Done).count();
            StageCounts {
                stage: *stage,
                total: of.len(),
                done,
                missing: of.len() - done,
                failed: of.iter().filter(|u| u.state == UnitState::Failed).count(),
            }
        })
        .collect()
}

pub fn stage_counts(cfg: &SweepConfig, ds: &Dataset, grid: &Grid) -> Vec<StageCounts> {
    counts_of(&unit_states(cfg, ds, grid, &history(cfg)))
}
