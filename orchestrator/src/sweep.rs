//! A sweep opened from its config — the config, its dataset (validated) and
//! the tasks it selects — which every command starts from; its grid of
//! units on demand ([`Sweep::grid`]: hashing model weights, cached).

use crate::config::SweepConfig;
use crate::grid::Grid;
use std::path::Path;
use workers::dataset::Dataset;

pub struct Sweep {
    pub cfg: SweepConfig,
    pub ds: Dataset,
    /// The dataset's tasks the config selects, in dataset order.
    pub tasks: Vec<String>,
}

impl Sweep {
    /// Reads the config and its dataset, and resolves the task list; errors
    /// name the config (and its line and column) or the dataset file.
    pub fn open(config: &Path) -> anyhow::Result<Sweep> {
        let cfg = SweepConfig::load(config)?;
        workers::file_hash::cache_in_store(&cfg.layout().file_hashes());
        let ds = Dataset::load(&cfg.dataset).map_err(|f| {
            anyhow::anyhow!(
                "{}: dataset {} is not valid:\n{}",
                config.display(),
                cfg.dataset.display(),
                f.report(20)
            )
        })?;
        let names: Vec<String> = ds.tasks.iter().map(|t| t.name.clone()).collect();
        let tasks = cfg.check_tasks(&names)?;
        if cfg.probe.kind == workers::probe::ProbeKind::Ridge {
            let classification: Vec<&str> = ds
                .tasks
                .iter()
                .filter(|t| tasks.contains(&t.name))
                .filter(|t| t.kind != workers::dataset::TaskKind::Regression)
                .map(|t| t.name.as_str())
                .collect();
            if !classification.is_empty() {
                anyhow::bail!(
                    "{}: probe.kind ridge fits regression tasks, and {} are classification tasks \
                     ({}); use kind: logreg (logistic regression for classification, ridge for \
                     regression), or list only regression tasks under `tasks:`",
                    config.display(),
                    classification.len(),
                    classification.join(", ")
                );
            }
        }
        Ok(Sweep { cfg, ds, tasks })
    }

    /// Every unit of the sweep (embeddings, probe cells, late fusions).
    pub fn grid(&self) -> Grid {
        Grid::build(&self.cfg, &self.ds, &self.tasks)
    }
}
