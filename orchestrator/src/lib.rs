//! genoprot's orchestrator: the CLI, sweep configs, the grid, the journal, the
//! executors (local, and batch schedulers: Slurm), status, resume, aggregate and report.

pub mod aggregate;
pub mod clean;
pub mod cli;
pub mod commands;
pub mod config;
pub mod cores;
pub mod cost;
pub mod dataset;
pub mod doctor;
pub mod embed;
pub mod executor;
pub mod gather;
pub mod grid;
pub mod journal;
pub mod jsonl;
pub mod layout;
pub mod list;
pub mod lock;
pub mod logging;
pub mod output;
pub mod progress;
pub mod report;
pub mod run;
pub mod signals;
pub mod sweep;
pub mod units;
pub mod verified;
pub mod worker;

/// Creates a folder of the store, with an error that names it and says what
/// to check (a file in its place, a read-only or full file system).
pub fn store_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        let hint = if dir.is_file() {
            "it is a file: move it away so genoprot can make the folder"
        } else {
            "it must be a writable folder; is the file system read-only or full?"
        };
        anyhow::anyhow!("creating {}: {e} (hint: {hint})", dir.display())
    })
}
