//! `genoprot clean CONFIG [--yes]`: the cell stores in `store/cells/` that
//! the sweep's current grid no longer has (left by an earlier config: other
//! probe settings, a removed model or task). Lists them; deletes them only
//! with `--yes`. Only files named like genoprot's cell stores (a 32-hex id
//! and `.h5`) are ever considered: genoprot never deletes what it did not
//! write.

use crate::output::Human;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct CleanArgs {
    /// The sweep config (YAML).
    pub config: PathBuf,
    /// Delete the listed files (without it, only list them).
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, serde::Serialize)]
pub struct CleanResult {
    pub stale: Vec<PathBuf>,
    pub bytes: u64,
    pub deleted: bool,
}

impl Human for CleanResult {
    fn human(&self) -> String {
        let mut out = String::new();
        for p in &self.stale {
            let _ = writeln!(out, "{}", p.display());
        }
        let mb = self.bytes as f64 / 1e6;
        let _ = writeln!(
            out,
            "{} cell stores not in the current grid ({mb:.1} MB){}",
            self.stale.len(),
            if self.deleted {
                ": deleted"
            } else if self.stale.is_empty() {
                ""
            } else {
                "; `--yes` deletes them"
            }
        );
        out
    }
}

/// Whether `name` is a cell store genoprot writes (`<32 hex>.h5`, grid ids).
fn is_cell_store(name: &str) -> bool {
    name.strip_suffix(".h5").is_some_and(|id| {
        id.len() == crate::grid::CELL_ID_LEN && id.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

pub fn run(a: &CleanArgs, json: bool) -> anyhow::Result<()> {
    let sweep = crate::sweep::Sweep::open(&a.config)?;
    let (cfg, grid) = (&sweep.cfg, sweep.grid());
    let _lock = crate::lock::acquire(&cfg.store, "clean", &a.config)?;
    crate::journal::claim(cfg, &a.config, false)?;
    let keep: BTreeSet<String> = grid.all_cells().map(|c| format!("{}.h5", c.id)).collect();
    let dir = cfg.layout().cells_dir();
    let mut stale: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (is_cell_store(&name) && !keep.contains(&name)).then(|| e.path())
                })
                .collect()
        })
        .unwrap_or_default();
    stale.sort();
    let bytes = stale
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    if a.yes {
        for p in &stale {
            // With its digest (`<id>.h5.sha256`).
            workers::seal::remove(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        }
    }
    crate::output::print(
        json,
        &CleanResult {
            deleted: a.yes && !stale.is_empty(),
            stale,
            bytes,
        },
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_genoprots_cell_store_names_count() {
        let id = "a".repeat(32);
        assert!(super::is_cell_store(&format!("{id}.h5")));
        assert!(!super::is_cell_store("notes.h5"));
        assert!(!super::is_cell_store(&format!("{id}.txt")));
        assert!(!super::is_cell_store(&format!("{}.h5", "g".repeat(32))));
    }
}
