//! How a sweep's work gets done: on this machine ([`local::Local`]: a worker
//! pool, the store lock records the run's pid and host) or on Slurm
//! ([`slurm::Slurm`]: one job array per stage and an aggregate job, recorded
//! in `journal/jobs.jsonl`). Both answer the same questions — launch what is
//! left, what is queued or running, stop it — so `run`, `submit`, `resume`,
//! `status` and `cancel` treat local and Slurm sweeps alike. What is done,
//! missing or failed comes from the store, not from an executor
//! (`run::unit_states`).

pub mod local;
pub mod slurm;

use crate::output::Human;
use crate::sweep::Sweep;
use std::collections::BTreeMap;
use std::path::Path;

/// Queued and running work an executor knows of.
#[derive(Debug, Default, serde::Serialize)]
pub struct Activity {
    /// Per stage (embed, probe, fusion, aggregate): array tasks by Slurm state.
    pub jobs: BTreeMap<String, BTreeMap<String, usize>>,
    /// Failed Slurm array tasks with their log files.
    pub failed_jobs: Vec<String>,
    #[serde(flatten)]
    pub retries: Retries,
    /// A local `genoprot run`/`submit` holding the store.
    pub running: Option<crate::lock::Holder>,
}

/// Slurm's retries of a sweep: attempts so far, and what was given up.
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
    pub gave_up: Vec<crate::submit::GaveUp>,
}

/// What [`Executor::cancel`] stopped.
#[derive(Debug, Default, serde::Serialize)]
pub struct Stopped {
    /// Slurm jobs cancelled.
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
    Slurm(slurm::SubmitResult),
}

impl Human for Launch {
    fn human(&self) -> String {
        match self {
            Launch::Local(r) => r.human(),
            Launch::Slurm(r) => r.human(),
        }
    }
}

impl Launch {
    /// After printing: how the command ends (a local run stopped by Ctrl-C
    /// exits 130; failed units are an error naming how to continue).
    pub fn conclude(&self, config: &Path) -> anyhow::Result<()> {
        match self {
            Launch::Local(r) => r.conclude(config),
            Launch::Slurm(_) => Ok(()),
        }
    }
}

/// One way of running a sweep.
pub trait Executor {
    fn name(&self) -> &'static str;
    /// Launches what is left to do: locally, runs it to the end (then
    /// aggregates and reports); on Slurm, submits the arrays of what is
    /// neither done nor queued, and the aggregate job (`dry_run`: writes the
    /// scripts and says what it would submit).
    fn launch(&self, sweep: &Sweep, config: &Path, dry_run: bool) -> anyhow::Result<Launch>;
    /// Queued and running work.
    fn activity(&self, sweep: &Sweep) -> anyhow::Result<Activity>;
    /// Stops the sweep's queued and running work.
    fn cancel(&self, sweep: &Sweep) -> anyhow::Result<Stopped>;
}

/// The executor the config names (`executor.kind`).
pub fn configured(sweep: &Sweep) -> Box<dyn Executor> {
    match sweep.cfg.executor.kind {
        crate::config::ExecutorKind::Slurm => Box::new(slurm::Slurm::cli()),
        crate::config::ExecutorKind::Local => Box::new(local::Local),
    }
}

/// Every executor that may hold work of this sweep: the local one (a `run`
/// works on any sweep) and Slurm once jobs were submitted.
pub fn involved(sweep: &Sweep) -> Vec<Box<dyn Executor>> {
    let mut v: Vec<Box<dyn Executor>> = vec![Box::new(local::Local)];
    if sweep.cfg.executor.kind == crate::config::ExecutorKind::Slurm
        || !crate::submit::submissions(&sweep.cfg).is_empty()
    {
        v.push(Box::new(slurm::Slurm::cli()));
    }
    v
}
