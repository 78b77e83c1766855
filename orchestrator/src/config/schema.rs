//! The sweep config's schema: what each YAML key holds, with its default.

use super::Fusion;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use workers::dataset::splits::SplitConfig;
use workers::embed::spec::ModelSpec;
pub use workers::probe::ProbeParams as ProbeConfig;

/// `tasks: all` or a list of task names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(untagged)]
pub enum TaskSelection {
    #[default]
    #[serde(skip)]
    All,
    Word(String),
    List(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsembleSpec {
    pub name: String,
    pub members: Vec<String>,
    #[serde(default = "default_fusion")]
    pub fusion: Vec<Fusion>,
    /// concat-balanced: each member reduced to this many principal
    /// components, fitted on the training split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pca: Option<usize>,
}

fn default_fusion() -> Vec<Fusion> {
    vec![Fusion::Concat, Fusion::MeanProb]
}

/// `report:` — when a task is too small to rank models on, and the
/// equivalence margin of the verdicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// Fewer test examples than this (in any seed): "too small to rank".
    pub min_test: usize,
    /// Fewer test positives of the rarest label than this: "too small to rank".
    pub min_positives: usize,
    /// The equivalence margin δ of the ensemble verdicts, in units of the
    /// primary metric (AUROC, Spearman): "equivalent" means shown to differ
    /// by less than ±δ (TOST; docs/report.md).
    pub margin: f64,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            min_test: 30,
            min_positives: 10,
            margin: 0.01,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    #[default]
    Local,
    Slurm,
    /// Array tasks as local processes (tests of the batch path).
    Processes,
    /// Flux (El Capitan-class systems; docs/cluster-guide.md).
    Flux,
}

/// `executor.slurm` (docs/cluster-guide.md): the account, the resources of
/// every job (`partition`, `time`, `gpus_per_node`, ... at this level),
/// per-stage and per-model overrides of them, and how work is bundled and
/// retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SlurmConfig {
    pub account: Option<String>,
    /// The resources of every stage's jobs (the aggregate job leaves out
    /// GPUs and tasks per node unless `stages.aggregate` asks for them).
    #[serde(flatten)]
    pub resources: slurm::Resources,
    /// Overrides per stage: `stages: {embed: {partition: pgpu, gpus_per_node: 4}}`.
    pub stages: StageResources,
    /// Overrides of the embed stage per model:
    /// `models: {esm2_15b: {gpus_per_node: 4, time: "12:00:00"}}`; one embed
    /// array per distinct resource shape.
    pub models: std::collections::BTreeMap<String, slurm::Resources>,
    pub max_array_size: Option<u32>,
    pub throttle: Option<u32>,
    /// Probe cells per array task: a number, or `auto` (sized to
    /// `bundle_minutes` from the measured time of earlier cells).
    pub cells_per_task: CellsPerTask,
    /// `cells_per_task: auto`: the target length of one bundle, in minutes
    /// (default 30).
    pub bundle_minutes: Option<f64>,
    /// Times a unit is resubmitted after it failed, timed out or went
    /// missing (default 2), by the job that runs after the arrays.
    pub retries: Option<u32>,
    /// A unit that hit its time limit is resubmitted in bundles half the
    /// size with `time × time_factor` (default 2), capped by the
    /// partition's MaxTime.
    pub time_factor: Option<f64>,
    pub launcher: Option<String>,
}

/// `executor.slurm.stages`: resource overrides per stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StageResources {
    pub embed: slurm::Resources,
    pub probe: slurm::Resources,
    pub fusion: slurm::Resources,
    pub aggregate: slurm::Resources,
}

/// `cells_per_task`: a fixed count or `auto`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellsPerTask {
    Count(usize),
    Auto,
}

impl Default for CellsPerTask {
    fn default() -> Self {
        CellsPerTask::Count(20)
    }
}

impl Serialize for CellsPerTask {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CellsPerTask::Count(n) => s.serialize_u64(*n as u64),
            CellsPerTask::Auto => s.serialize_str("auto"),
        }
    }
}

impl<'de> Deserialize<'de> for CellsPerTask {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = CellsPerTask;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number of cells (at least 1) or `auto`")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<CellsPerTask, E> {
                if v == 0 {
                    return Err(E::custom("cells_per_task must be at least 1 (or `auto`)"));
                }
                Ok(CellsPerTask::Count(v as usize))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<CellsPerTask, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::custom("cells_per_task must be at least 1 (or `auto`)")),
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<CellsPerTask, E> {
                if v == "auto" {
                    Ok(CellsPerTask::Auto)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(v), &self))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// How a batch executor bundles, limits and retries work, whatever the
/// scheduler (read from its config section: `executor.slurm`, ...).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchSettings {
    pub max_array_size: Option<u32>,
    pub throttle: Option<u32>,
    pub cells_per_task: CellsPerTask,
    pub bundle_minutes: Option<f64>,
    pub retries: Option<u32>,
    pub time_factor: Option<f64>,
}

impl BatchSettings {
    /// Times a unit is resubmitted (default 2).
    pub fn retries(&self) -> u32 {
        self.retries.unwrap_or(2)
    }

    /// A timed-out unit's next time is its last × this (default 2).
    pub fn time_factor(&self) -> f64 {
        self.time_factor.unwrap_or(2.0)
    }
}

impl SlurmConfig {
    /// The settings planning reads, whatever the scheduler.
    pub fn batch(&self) -> BatchSettings {
        BatchSettings {
            max_array_size: self.max_array_size,
            throttle: self.throttle,
            cells_per_task: self.cells_per_task,
            bundle_minutes: self.bundle_minutes,
            retries: self.retries,
            time_factor: self.time_factor,
        }
    }

    /// Every key `executor.slurm` takes (for "did you mean" hints).
    pub(crate) fn keys() -> Vec<String> {
        let mut keys: Vec<String> = match yaml_serde::to_value(SlurmConfig::default()) {
            Ok(yaml_serde::Value::Mapping(m)) => m
                .keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        keys.push("extra".into());
        keys
    }
}

/// The resources of Flux jobs at one level (`executor.flux`, its
/// `stages.<stage>`, its `models.<model>`); each key overrides the level
/// before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FluxResources {
    /// `--queue` (LLNL: `pbatch`, `pdebug`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Time limit, `[D-]HH:MM:SS` or minutes (`--time-limit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// `--nodes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<u32>,
    /// `--ntasks`: several run the worker as MPI ranks (Flux starts them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks: Option<u32>,
    /// `--cores-per-task`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cores_per_task: Option<u32>,
    /// `--gpus-per-task`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpus_per_task: Option<u32>,
    /// `--exclusive`: whole nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclusive: Option<bool>,
    /// Extra `flux submit` options, verbatim (`--setattr=...`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<String>,
}

/// `executor.flux.stages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FluxStages {
    pub embed: FluxResources,
    pub probe: FluxResources,
    pub fusion: FluxResources,
    pub aggregate: FluxResources,
}

/// `executor.flux` (docs/cluster-guide.md, "Flux"): the bank, the
/// resources of every job, per-stage and per-model overrides, and how work
/// is bundled and retried (the keys `executor.slurm` has).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FluxConfig {
    /// `--bank` (LLNL's accounts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank: Option<String>,
    /// Every job's resources.
    pub resources: FluxResources,
    pub stages: FluxStages,
    /// Embed-stage overrides per model.
    pub models: std::collections::BTreeMap<String, FluxResources>,
    /// As in `executor.slurm`: tasks per array submission, cells per task
    /// (`auto`: sized to `bundle_minutes`), retries and the time factor of
    /// a timed-out unit's next attempt. (Flux's `--cc` has no throttle.)
    pub max_array_size: Option<u32>,
    pub cells_per_task: CellsPerTask,
    pub bundle_minutes: Option<f64>,
    pub retries: Option<u32>,
    pub time_factor: Option<f64>,
}

impl FluxConfig {
    /// The settings planning reads, whatever the scheduler.
    pub fn batch(&self) -> BatchSettings {
        BatchSettings {
            max_array_size: self.max_array_size,
            throttle: None,
            cells_per_task: self.cells_per_task,
            bundle_minutes: self.bundle_minutes,
            retries: self.retries,
            time_factor: self.time_factor,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutorConfig {
    pub kind: ExecutorKind,
    /// Local executor: cells at a time (0 = one per core), sharing all cores.
    pub workers: usize,
    pub slurm: SlurmConfig,
    /// `kind: processes`: bundling and retries (the keys of
    /// `executor.slurm` that are not resources).
    pub processes: BatchSettings,
    pub flux: FluxConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    pub name: String,
    /// Dataset folder (relative paths: to the directory genoprot runs in).
    pub dataset: PathBuf,
    /// Store folder: embeddings/, cells/, journal/, slurm/, logs/, results.h5, report/.
    pub store: PathBuf,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    #[serde(default)]
    pub tasks: TaskSelection,
    pub models: Vec<ModelSpec>,
    #[serde(default)]
    pub ensembles: Vec<EnsembleSpec>,
    #[serde(default)]
    pub splits: SplitConfig,
    #[serde(default)]
    pub probe: ProbeConfig,
    #[serde(default)]
    pub executor: ExecutorConfig,
    /// `cpu` (default), `cuda`, `cuda:N`, `auto`: the YAML's `device` as
    /// written, parsed into [`SweepConfig::device`] once the file is read
    /// (a bad value is then reported at its key).
    #[serde(rename = "device", default, skip_serializing_if = "Option::is_none")]
    pub(crate) device_text: Option<String>,
    #[serde(skip)]
    pub device: workers::device::DeviceSpec,
    #[serde(default)]
    pub report: ReportConfig,
    /// The file this config was read from (not a YAML key).
    #[serde(skip)]
    pub path: PathBuf,
}

fn default_seeds() -> Vec<u64> {
    vec![0, 1, 2]
}
