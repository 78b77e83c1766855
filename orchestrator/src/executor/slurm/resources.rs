//! `executor.slurm`'s resources at their three levels: the top (every
//! job), `stages.<stage>`, and `models.<model>` (embed jobs), each
//! overriding the one before key by key.

use crate::config::SlurmConfig;
use crate::grid::Stage;
use slurm::Resources;

impl SlurmConfig {
    /// The resources of a stage's jobs; `model` (embed only) adds its own
    /// overrides.
    pub fn resources_for(&self, stage: Stage, model: Option<&str>) -> Resources {
        let base = if stage == Stage::Aggregate {
            // It only reads HDF5: no GPUs, one task.
            Resources {
                ntasks_per_node: None,
                ..self.resources.without_gpus()
            }
        } else {
            self.resources.clone()
        };
        let over = match stage {
            Stage::Embed => &self.stages.embed,
            Stage::Probe => &self.stages.probe,
            Stage::Fusion => &self.stages.fusion,
            Stage::Aggregate => &self.stages.aggregate,
        };
        let r = base.overlaid(over);
        // A `layers:` row's embed job takes its entry's resources.
        let entry = |m: &str| {
            self.models
                .get(m)
                .or_else(|| self.models.get(workers::embed::spec::entry_name(m)))
        };
        match model.and_then(entry) {
            Some(m) if stage == Stage::Embed => r.overlaid(m),
            _ => r,
        }
    }

    /// Whether any level asks for GPUs.
    pub fn asks_gpus(&self) -> bool {
        self.resources_for(Stage::Embed, None).asks_gpus()
            || self.resources_for(Stage::Probe, None).asks_gpus()
            || self.models.values().any(Resources::asks_gpus)
    }
}
