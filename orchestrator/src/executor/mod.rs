//! How a sweep's work gets done: on this machine ([`local::Local`]: a worker
//! pool, the store lock records the run's pid and host) or on a cluster
//! scheduler ([`batch::Batch`]: one job array per stage and a finishing job,
//! recorded in `journal/jobs.jsonl`, over any [`BatchScheduler`]; Slurm is
//! `slurm/`). All answer the same questions — launch what is left, what is
//! queued or running, stop it — so `run`, `submit`, `resume`, `status` and
//! `cancel` treat every sweep alike. What is done, missing or failed comes
//! from the store, not from an executor (`units::unit_states`).
//!
//! A scheduler is one module implementing [`BatchScheduler`] and one line in
//! [`scheduler`] (and its `executor.kind`).

pub mod batch;
pub mod flux;
pub mod local;
pub mod processes;
pub mod slurm;

use batch::scheduler::BatchScheduler;

use crate::output::Human;
use crate::sweep::Sweep;
use std::collections::BTreeMap;
use std::path::Path;

/// Queued and running work an executor knows of.
#[derive(Debug, Default, serde::Serialize)]
pub struct Activity {
    /// Per stage (embed, probe, fusion, aggregate): array tasks by the
    /// scheduler's state word.
    pub jobs: BTreeMap<String, BTreeMap<String, usize>>,
    /// Stages with tasks queued or running.
    #[serde(skip)]
    pub busy: std::collections::BTreeSet<String>,
    /// Failed array tasks with their log files.
    pub failed_jobs: Vec<String>,
    #[serde(flatten)]
    pub retries: Retries,
    /// A local `genoprot run`/`submit` holding the store.
    pub running: Option<crate::lock::Holder>,
}

/// A batch sweep's retries: attempts so far, and what was given up.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Retries {
    /// The highest attempt submitted per stage.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attempts: BTreeMap<String, u32>,
    /// Attempts a unit may have (`retries + 1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Units not done after their last allowed attempt.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gave_up: Vec<batch::submit::GaveUp>,
}

/// What [`Executor::cancel`] stopped.
#[derive(Debug, Default, serde::Serialize)]
pub struct Stopped {
    /// Batch jobs cancelled.
    pub jobs: Vec<String>,
    /// The local run stopped (it lets running cells finish).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<crate::lock::Holder>,
}

/// The outcome of [`Executor::launch`], printed as text or JSON.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum Launch {
    Local(local::RunResult),
    Batch(batch::SubmitResult),
}

impl Human for Launch {
    fn human(&self) -> String {
        match self {
            Launch::Local(r) => r.human(),
            Launch::Batch(r) => r.human(),
        }
    }
}

impl Launch {
    /// After printing: how the command ends (a local run stopped by Ctrl-C
    /// exits 130; failed units are an error naming how to continue).
    pub fn conclude(&self, config: &Path) -> anyhow::Result<()> {
        match self {
            Launch::Local(r) => r.conclude(config),
            Launch::Batch(_) => Ok(()),
        }
    }
}

/// One way of running a sweep.
pub trait Executor {
    fn name(&self) -> &'static str;
    /// Launches what is left to do: locally, runs it to the end (then
    /// aggregates and reports); on a scheduler, submits the arrays of what
    /// is neither done nor queued, and the finishing job (`dry_run`: writes the
    /// scripts and says what it would submit).
    fn launch(&self, sweep: &Sweep, config: &Path, dry_run: bool) -> anyhow::Result<Launch>;
    /// Queued and running work.
    fn activity(&self, sweep: &Sweep) -> anyhow::Result<Activity>;
    /// Stops the sweep's queued and running work.
    fn cancel(&self, sweep: &Sweep) -> anyhow::Result<Stopped>;
}

/// The registry of batch schedulers: the one `executor.kind` names, with
/// its settings (`None`: the local executor).
pub fn scheduler(
    cfg: &crate::config::SweepConfig,
) -> Option<(Box<dyn BatchScheduler>, batch::BatchSettings)> {
    use crate::config::ExecutorKind;
    match cfg.executor.kind {
        ExecutorKind::Local => None,
        ExecutorKind::Slurm => Some((Box::new(slurm::Slurm::cli(cfg)), cfg.executor.slurm.batch())),
        ExecutorKind::Flux => Some((Box::new(flux::Flux::cli(cfg)), cfg.executor.flux.batch())),
        ExecutorKind::Processes => Some((
            Box::new(processes::Processes::new(cfg)),
            cfg.executor.processes.clone(),
        )),
    }
}

/// The batch executor of a sweep (`submit`, array tasks, the finishing
/// job): an error naming the config when it names none.
pub fn batch(sweep: &Sweep, config: &Path) -> anyhow::Result<batch::Batch<'static>> {
    match scheduler(&sweep.cfg) {
        Some((s, settings)) => Ok(batch::Batch::new(s, settings)),
        None => anyhow::bail!(
            "{}: executor.kind is local; set `executor: {{kind: slurm, slurm: {{...}}}}` (or `kind: flux`) to submit, or use `genoprot run`",
            config.display()
        ),
    }
}

/// The executor the config names (`executor.kind`).
pub fn configured(sweep: &Sweep) -> Box<dyn Executor> {
    match scheduler(&sweep.cfg) {
        Some((s, settings)) => Box::new(batch::Batch::new(s, settings)),
        None => Box::new(local::Local),
    }
}

/// Every executor that may hold work of this sweep: the local one (a `run`
/// works on any sweep) and the configured scheduler.
pub fn involved(sweep: &Sweep) -> Vec<Box<dyn Executor>> {
    let mut v: Vec<Box<dyn Executor>> = vec![Box::new(local::Local)];
    if let Some((s, settings)) = scheduler(&sweep.cfg) {
        v.push(Box::new(batch::Batch::new(s, settings)));
    } else if !batch::journal::submissions(&sweep.cfg).is_empty() {
        // Jobs submitted before the config became local: Slurm's.
        v.push(Box::new(batch::Batch::new(
            Box::new(slurm::Slurm::cli(&sweep.cfg)),
            sweep.cfg.executor.slurm.batch(),
        )));
    }
    v
}
