//! Every path under a sweep's store, in one place (docs/store-schema.md):
//!
//! ```text
//! store/
//!   genoprot.lock            the one writer's lock
//!   embeddings/<model>.h5    one store per model
//!   cells/<cell-id>.h5       one store per probe cell
//!   results.h5, results.csv  aggregate
//!   report/                  the report
//!   journal/                 plan, events, caches, batch submissions
//!   logs/                    run logs, per-cell logs, batch job logs
//!   <scheduler>/             job scripts and bundle manifests (slurm/, ...)
//!   tmp/                     external programs' working files
//! ```
//!
//! No other module joins a path onto a store folder.

use std::path::PathBuf;

/// The paths of one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLayout {
    root: PathBuf,
}

impl StoreLayout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StoreLayout { root: root.into() }
    }

    pub fn lock(&self) -> PathBuf {
        self.root.join("genoprot.lock")
    }

    pub fn embeddings_dir(&self) -> PathBuf {
        self.root.join("embeddings")
    }

    /// A model's embedding store.
    pub fn embedding(&self, model: &str) -> PathBuf {
        self.embeddings_dir().join(format!("{model}.h5"))
    }

    pub fn cells_dir(&self) -> PathBuf {
        self.root.join("cells")
    }

    /// A probe cell's store.
    pub fn cell(&self, id: &str) -> PathBuf {
        self.cells_dir().join(format!("{id}.h5"))
    }

    pub fn results_h5(&self) -> PathBuf {
        self.root.join("results.h5")
    }

    pub fn results_csv(&self) -> PathBuf {
        self.root.join("results.csv")
    }

    pub fn report_dir(&self) -> PathBuf {
        self.root.join("report")
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// Per-cell logs of local runs.
    pub fn cell_logs_dir(&self) -> PathBuf {
        self.logs_dir().join("cells")
    }

    /// A batch scheduler's job logs (`logs/slurm/`).
    pub fn job_logs_dir(&self, scheduler: &str) -> PathBuf {
        self.logs_dir().join(scheduler)
    }

    /// A batch scheduler's job scripts (`slurm/`).
    pub fn scripts_dir(&self, scheduler: &str) -> PathBuf {
        self.root.join(scheduler)
    }

    /// A batch scheduler's bundle manifests (`slurm/bundles/`).
    pub fn bundles_dir(&self, scheduler: &str) -> PathBuf {
        self.scripts_dir(scheduler).join("bundles")
    }

    pub fn journal_dir(&self) -> PathBuf {
        self.root.join("journal")
    }

    /// The grid as planned.
    pub fn plan(&self) -> PathBuf {
        self.journal_dir().join("plan.json")
    }

    /// Started/done/failed events of every unit.
    pub fn events(&self) -> PathBuf {
        self.journal_dir().join("events.jsonl")
    }

    /// The name of the sweep that owns the store.
    pub fn owner(&self) -> PathBuf {
        self.journal_dir().join("sweep")
    }

    /// Batch submissions (`jobs.jsonl`).
    pub fn jobs(&self) -> PathBuf {
        self.journal_dir().join("jobs.jsonl")
    }

    /// `resume --retry-given-up`: attempts count from the time in it.
    pub fn attempts_reset(&self) -> PathBuf {
        self.journal_dir().join("attempts-reset")
    }

    /// Cache: cell stores verified done, by file stamp.
    pub fn verified_cells(&self) -> PathBuf {
        self.journal_dir().join("verified-cells.tsv")
    }

    /// Cache: input files' content hashes, by file stamp.
    pub fn file_hashes(&self) -> PathBuf {
        self.journal_dir().join("file-hashes.tsv")
    }

    /// Cache: one results row per cell, by file stamp.
    pub fn aggregate_rows(&self) -> PathBuf {
        self.journal_dir().join("aggregate-rows.jsonl")
    }

    /// Each finished cell's results row with its store's stamp, appended by
    /// the worker that ran it (read by `aggregate` in place of the store).
    pub fn cell_rows(&self) -> PathBuf {
        self.journal_dir().join("cell-rows.jsonl")
    }

    /// Cache: the report's bootstrap comparisons, by cell ids.
    pub fn report_comparisons(&self) -> PathBuf {
        self.journal_dir().join("report-comparisons.jsonl")
    }

    /// The digest of the inputs of the report last written.
    pub fn report_inputs(&self) -> PathBuf {
        self.journal_dir().join("report-inputs")
    }
}
