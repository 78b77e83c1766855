//! The seam between genoprot's batch planning and a batch scheduler (Slurm,
//! Flux, ...): what a scheduler must do, in words that belong to none of
//! them. A scheduler renders a job script for a stage's resources, submits
//! it (as an array of tasks, after other jobs), reports the state of every
//! task in [`Phase`]s with its own word kept for display, cancels, and says
//! its limits (array size, a queue's longest time). Everything else — what
//! is left, bundles, attempts, retries, the healing decision — is planned
//! once, above this trait (`executor::batch`).

use crate::grid::Stage;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A job id as the scheduler prints it.
pub type JobId = String;

/// Where a task is in its life, the same for every scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Waiting (for resources, a dependency, or held).
    Queued,
    Running,
    /// Ended successfully.
    Done,
    /// Ended unsuccessfully (non-zero exit, node failure, out of memory, ...).
    Failed,
    /// Killed at its time limit.
    TimedOut,
    /// Cancelled by a user or the scheduler before it could finish.
    Cancelled,
}

impl Phase {
    /// It will not change by itself any more.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Phase::Queued | Phase::Running)
    }

    /// Terminal and not successful: a candidate for a retry.
    pub fn is_failure(self) -> bool {
        self.is_terminal() && self != Phase::Done
    }
}

/// A task's state: the neutral phase and the scheduler's own word for it
/// (`NODE_FAIL`, `exception`, ...), which is what users see.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobState {
    pub phase: Phase,
    pub word: String,
}

impl JobState {
    pub fn new(phase: Phase, word: impl Into<String>) -> Self {
        JobState {
            phase,
            word: word.into(),
        }
    }

    pub fn is_terminal(&self) -> bool {
        self.phase.is_terminal()
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.word)
    }
}

/// One job or array task as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStatus {
    /// The job (the array's id for an array task).
    pub job: JobId,
    /// The task's index within its array (`None`: a plain job, or a range
    /// of tasks not started yet).
    pub array_index: Option<u32>,
    pub state: JobState,
    pub exit_code: Option<i32>,
    /// Why it waits or why it failed, in the scheduler's words.
    pub reason: Option<String>,
}

/// When a job may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Once the jobs ended successfully.
    Ok,
    /// Once the jobs ended, whatever their outcome.
    Any,
}

/// Tasks `0..len` of one array; task `i` runs bundle `offset + i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArrayChunk {
    pub offset: u32,
    pub len: u32,
}

/// One submission.
#[derive(Debug, Clone)]
pub struct JobRequest<'a> {
    pub script: &'a Path,
    pub array: Option<ArrayChunk>,
    /// At most this many tasks of the array at once.
    pub throttle: Option<u32>,
    /// Environment added to the job's (the bundle manifest and offset).
    pub env: Vec<(String, String)>,
    /// A time limit overriding the script's (`D-HH:MM:SS`).
    pub time: Option<String>,
    pub after: Option<(After, Vec<JobId>)>,
}

/// The resources a stage's (or model's) jobs run with, as planning needs
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// Partition or queue (`None`: the default one).
    pub queue: Option<String>,
    /// Time limit (`D-HH:MM:SS` or any form [`parse_time`] reads).
    pub time: Option<String>,
    /// Tasks per job (several: the worker runs as MPI ranks).
    pub tasks: u32,
    /// Equal keys mean one script serves both (the scheduler's resources).
    pub key: String,
}

/// What a job script runs, before the scheduler adds its directives.
#[derive(Debug, Clone)]
pub struct ScriptSpec<'a> {
    pub stage: Stage,
    /// `embed` with a model: that model's resources.
    pub model: Option<&'a str>,
    /// Job name, also the prefix of its log files.
    pub name: String,
    /// Folder of the job logs.
    pub log_dir: PathBuf,
    /// The shell lines after the directives.
    pub body: String,
}

/// Errors a scheduler reports.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SchedulerError(pub String);

impl SchedulerError {
    pub fn from_display(e: impl std::fmt::Display) -> Self {
        SchedulerError(e.to_string())
    }
}

/// A batch scheduler genoprot can drive.
pub trait BatchScheduler {
    /// `slurm`, `flux`, ...: also `executor.kind` and the key of its config.
    fn name(&self) -> &'static str;
    /// Checks before anything is submitted (the config asks for this
    /// scheduler; warnings on resources).
    fn preflight(&self, _cfg: &crate::config::SweepConfig, _config: &Path) -> anyhow::Result<()> {
        Ok(())
    }
    /// The resources of `stage`'s jobs (`model`: the embed stage's
    /// per-model overrides).
    fn shape(&self, stage: Stage, model: Option<&str>) -> Shape;
    /// The shell expression of the array task's index (`SLURM_ARRAY_TASK_ID`).
    fn task_index_var(&self) -> &'static str;
    /// The prefix that starts a multi-task job's ranks (`srun --mpi=pmix `),
    /// empty for one task.
    fn mpi_prefix(&self, shape: &Shape) -> String;
    /// How to rerun a script by hand (a comment line for its header).
    fn rerun_hint(&self) -> String;
    /// The whole script: the scheduler's directives, then `spec.body`.
    fn render(&self, spec: &ScriptSpec) -> anyhow::Result<String>;
    /// The command line that submits `job` (shown by `--dry-run`).
    fn command_line(&self, job: &JobRequest) -> String;
    fn submit(&self, job: &JobRequest) -> Result<JobId, SchedulerError>;
    /// Every task of the given jobs (array jobs expand to their tasks).
    fn query(&self, jobs: &[JobId]) -> Result<Vec<TaskStatus>, SchedulerError>;
    fn cancel(&self, jobs: &[JobId]) -> Result<(), SchedulerError>;
    /// The most tasks one array may index.
    fn max_array_size(&self) -> Result<u32, SchedulerError>;
    /// The longest time a job may ask for in `queue`; `None` when unlimited.
    fn max_time(&self, queue: Option<&str>) -> Result<Option<Duration>, SchedulerError>;
    /// The log file of task `index` of `job` (named `name`) under `log_dir`.
    fn task_log(&self, log_dir: &Path, name: &str, job: &str, index: u32) -> PathBuf;
}

/// A scheduler's preflight warnings where the config's `device` and its GPU
/// requests disagree: a GPU device with no GPUs asked for (`gpu_keys`: the
/// keys that ask; `no_gpu`: what then happens), or GPUs asked for a CPU run.
pub fn warn_gpu_mismatch(
    cfg: &crate::config::SweepConfig,
    config: &Path,
    section: &str,
    asks_gpus: bool,
    gpu_keys: &str,
    no_gpu: &str,
) {
    if cfg.device.needs_gpu() && !asks_gpus {
        tracing::warn!(
            "{}: device is `{}` but {section} requests no GPUs ({gpu_keys} at its top or under stages/models){no_gpu}",
            config.display(),
            cfg.device
        );
    }
    if !cfg.device.wants_gpu() && asks_gpus {
        tracing::warn!(
            "{}: {section} requests GPUs but device is `cpu`: the GPUs will sit idle (set `device: cuda` or `auto`)",
            config.display()
        );
    }
}

/// `D-HH:MM:SS`, `HH:MM:SS`, `MM:SS`, `MM` or `D-HH[:MM]`: Slurm's forms,
/// which genoprot's configs and journal use for every scheduler.
pub fn parse_time(v: &str) -> Option<Duration> {
    slurm::parse_time(v)
}

/// `D-HH:MM:SS`.
pub fn format_time(d: Duration) -> String {
    slurm::format_time(d)
}
