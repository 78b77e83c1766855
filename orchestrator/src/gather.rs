//! The last stage of every executor: gather every cell into results.h5/csv
//! (`aggregate.rs`) and write the report (`report/`), with what was done.

use crate::aggregate::{collect, write};
use crate::sweep::Sweep;
use std::fmt::Write as _;
use std::path::PathBuf;

/// `aggregate` and `report`: what was gathered and written.
#[derive(Debug, Default, serde::Serialize)]
pub struct AggregateResult {
    pub cells: usize,
    pub missing: usize,
    pub unreadable: Vec<Unreadable>,
    pub results_h5: PathBuf,
    pub results_csv: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<PathBuf>,
    /// Whether the report was written now (false: it was up to date and
    /// left as it was); absent when no report was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_rebuilt: Option<bool>,
}

#[derive(Debug, serde::Serialize)]
pub struct Unreadable {
    pub cell: String,
    pub error: String,
}

impl crate::output::Human for AggregateResult {
    fn human(&self) -> String {
        let mut out = format!(
            "aggregated {} cells into {} and {}\n",
            self.cells,
            self.results_h5.display(),
            self.results_csv.display()
        );
        if let Some(r) = &self.report {
            let how = match self.report_rebuilt {
                Some(false) => " (up to date, not rebuilt)",
                _ => "",
            };
            let _ = writeln!(out, "report: {}{how}", r.display());
        }
        out
    }
}

/// Gathers every cell into results.h5/csv and (`report`) writes the report.
pub fn aggregate_and_report(
    sweep: &Sweep,
    report: bool,
    force: bool,
) -> anyhow::Result<AggregateResult> {
    let (cfg, ds) = (&sweep.cfg, &sweep.ds);
    let grid = sweep.grid();
    let agg = collect(&grid, &cfg.layout());
    let (h5, csv) = write(&agg, &cfg.store)?;
    for (id, e) in &agg.unreadable {
        tracing::warn!("cell {id} is unreadable and counted as missing: {e}");
    }
    if !agg.missing.is_empty() {
        tracing::warn!(
            "{} of {} cells are missing (listed in results.h5 `missing`); `genoprot run` computes them",
            agg.missing.len(),
            agg.missing.len() + agg.rows.len()
        );
    }
    let (report, report_rebuilt) = if report {
        let (dir, rebuilt) = crate::report::write_report(cfg, ds, &agg, force)?;
        (Some(dir.join("summary.md")), Some(rebuilt))
    } else {
        (None, None)
    };
    Ok(AggregateResult {
        cells: agg.rows.len(),
        missing: agg.missing.len(),
        unreadable: agg
            .unreadable
            .iter()
            .map(|(cell, error)| Unreadable {
                cell: cell.clone(),
                error: error.clone(),
            })
            .collect(),
        results_h5: h5,
        results_csv: csv,
        report,
        report_rebuilt,
    })
}
