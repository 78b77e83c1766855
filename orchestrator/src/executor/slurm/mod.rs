//! Slurm, behind the batch seam: `sbatch` scripts with `#SBATCH` lines,
//! arrays (`--array=0-N%throttle`), `--dependency`, states from
//! `scontrol`/`sacct` mapped to neutral phases (Slurm's words kept for
//! display), `scancel`, `MaxArraySize` and a partition's `MaxTime`. The
//! `slurm` crate talks to Slurm; this module is the only place in the
//! orchestrator that builds one of its clients.

mod resources;
#[cfg(test)]
mod tests;

use super::batch::scheduler::{
    After, BatchScheduler, JobRequest, JobState, Phase, SchedulerError, ScriptSpec, Shape,
    TaskStatus,
};
use crate::config::{SlurmConfig, SweepConfig};
use crate::grid::Stage;
use slurm::{ArraySpec, Dependency, DependencyKind, JobOptions};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// Slurm as a batch scheduler, over the real commands or (tests) the
/// `slurm` crate's recording fake.
pub struct Slurm<'a> {
    client: Box<dyn slurm::Scheduler + 'a>,
    cfg: SlurmConfig,
    launcher: OnceLock<Launcher>,
}

impl Slurm<'static> {
    /// Over this machine's Slurm commands.
    pub fn cli(cfg: &SweepConfig) -> Slurm<'static> {
        Slurm::over(Box::new(slurm::SlurmCli::new()), cfg)
    }
}

impl<'a> Slurm<'a> {
    /// Over any Slurm client (tests: `&slurm::RecordingScheduler`).
    pub fn over(client: Box<dyn slurm::Scheduler + 'a>, cfg: &SweepConfig) -> Slurm<'a> {
        Slurm {
            client,
            cfg: cfg.executor.slurm.clone(),
            launcher: OnceLock::new(),
        }
    }
}

/// `genoprot doctor`'s line on Slurm: usable (`MaxArraySize`, accounting)
/// or why not.
pub fn doctor() -> Result<String, slurm::SlurmError> {
    let cli = slurm::SlurmCli::new();
    let m = slurm::Scheduler::max_array_size(&cli)?;
    Ok(format!(
        "(MaxArraySize={m}; {})",
        if cli.has_accounting() {
            "accounting on: sacct answers for jobs the controller has purged"
        } else {
            "no accounting: finished jobs are known until the controller purges them (MinJobAge)"
        }
    ))
}

/// Slurm's state words in neutral phases.
pub fn phase(s: slurm::JobState) -> Phase {
    use slurm::JobState as S;
    match s {
        S::Pending | S::Requeued | S::Suspended => Phase::Queued,
        S::Running | S::Completing => Phase::Running,
        S::Completed => Phase::Done,
        S::Timeout => Phase::TimedOut,
        S::Cancelled => Phase::Cancelled,
        S::Failed | S::NodeFail | S::OutOfMemory | S::Preempted | S::BootFail | S::Deadline => {
            Phase::Failed
        }
        // A word this version does not know: not terminal, as Slurm's own
        // crate treats it, so it is never resubmitted twice.
        S::Other => Phase::Running,
    }
}

fn status(t: slurm::TaskStatus) -> TaskStatus {
    TaskStatus {
        job: t.job,
        array_index: t.array_index,
        state: JobState::new(phase(t.state), t.state.to_string()),
        exit_code: t.exit_code,
        reason: t.reason,
    }
}

fn err(e: slurm::SlurmError) -> SchedulerError {
    SchedulerError::from_display(e)
}

/// How multi-task jobs start their ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launcher {
    Srun,
    Mpirun,
}

/// `executor.slurm.launcher`, or detected: `srun --mpi=pmix` where this
/// Slurm lists the pmix plugin (`srun --mpi=list`), else `mpirun` inside the
/// allocation (OpenMPI reads the Slurm allocation itself).
pub fn launcher(cfg: &SlurmConfig) -> Launcher {
    match cfg.launcher.as_deref() {
        Some("srun") => Launcher::Srun,
        Some("mpirun") => Launcher::Mpirun,
        _ => {
            let out = std::process::Command::new("srun")
                .arg("--mpi=list")
                .output();
            let text = out
                .map(|o| {
                    format!(
                        "{}{}",
                        String::from_utf8_lossy(&o.stdout),
                        String::from_utf8_lossy(&o.stderr)
                    )
                })
                .unwrap_or_default();
            if text.contains("pmix") {
                Launcher::Srun
            } else {
                Launcher::Mpirun
            }
        }
    }
}

impl Slurm<'_> {
    /// The sbatch arguments of a request (after `--parsable`).
    fn args(&self, job: &JobRequest) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(a) = job.array {
            let spec = ArraySpec::range(a.len).chunks(u32::MAX, job.throttle);
            args.push(format!(
                "--array={}",
                spec.first().map_or("0", |c| c.spec.as_str())
            ));
        }
        if !job.env.is_empty() {
            let env: Vec<String> = job.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            args.push(format!("--export=ALL,{}", env.join(",")));
        }
        if let Some(t) = &job.time {
            args.push(format!("--time={t}"));
        }
        if let Some((kind, jobs)) = &job.after {
            let kind = match kind {
                After::Ok => DependencyKind::AfterOk,
                After::Any => DependencyKind::AfterAny,
            };
            if let Some(d) = Dependency::new(kind, jobs.clone()).to_arg() {
                args.push(d);
            }
        }
        args
    }
}

impl BatchScheduler for Slurm<'_> {
    fn name(&self) -> &'static str {
        "slurm"
    }

    fn preflight(&self, cfg: &SweepConfig, config: &Path) -> anyhow::Result<()> {
        if cfg.executor.kind != crate::config::ExecutorKind::Slurm {
            anyhow::bail!(
                "{}: executor.kind is local; set `executor: {{kind: slurm, slurm: {{...}}}}` to submit, or use `genoprot run`",
                config.display()
            );
        }
        super::batch::scheduler::warn_gpu_mismatch(
            cfg,
            config,
            "executor.slurm",
            self.cfg.asks_gpus(),
            "gpus_per_node, gpus_per_task or gres,",
            "; fine where the partition gives whole GPU nodes, otherwise tasks will find no GPU",
        );
        Ok(())
    }

    fn shape(&self, stage: Stage, model: Option<&str>) -> Shape {
        let r = self.cfg.resources_for(stage, model);
        Shape {
            queue: r.partition.clone(),
            time: r.time.clone(),
            tasks: r.tasks(),
            key: format!("{r:?}"),
        }
    }

    fn task_index_var(&self) -> &'static str {
        "SLURM_ARRAY_TASK_ID"
    }

    fn mpi_prefix(&self, shape: &Shape) -> String {
        if shape.tasks <= 1 {
            return String::new();
        }
        match self.launcher.get_or_init(|| launcher(&self.cfg)) {
            Launcher::Srun => "srun --mpi=pmix ".to_string(),
            Launcher::Mpirun => "mpirun -np \"$SLURM_NTASKS\" ".to_string(),
        }
    }

    fn rerun_hint(&self) -> String {
        "sbatch --array=<indices> --export=ALL,GENOPROT_OFFSET=0,GENOPROT_BUNDLES=<manifest> <this script>".into()
    }

    fn render(&self, spec: &ScriptSpec) -> anyhow::Result<String> {
        let opts = JobOptions {
            job_name: Some(spec.name.clone()),
            account: self.cfg.account.clone(),
            resources: self.cfg.resources_for(spec.stage, spec.model),
            output: Some(
                spec.log_dir
                    .join(if spec.stage == Stage::Aggregate {
                        "%x-%j.out"
                    } else {
                        "%x-%A_%a.out"
                    })
                    .display()
                    .to_string(),
            ),
            error: None,
            requeue: true,
        };
        Ok(opts.render(&spec.body)?)
    }

    fn command_line(&self, job: &JobRequest) -> String {
        format!(
            "sbatch --parsable {} {}",
            self.args(job).join(" "),
            job.script.display()
        )
    }

    fn submit(&self, job: &JobRequest) -> Result<String, SchedulerError> {
        self.client.submit(job.script, &self.args(job)).map_err(err)
    }

    fn query(&self, jobs: &[String]) -> Result<Vec<TaskStatus>, SchedulerError> {
        Ok(self
            .client
            .query(jobs)
            .map_err(err)?
            .into_iter()
            .map(status)
            .collect())
    }

    fn cancel(&self, jobs: &[String]) -> Result<(), SchedulerError> {
        self.client.cancel(jobs).map_err(err)
    }

    fn max_array_size(&self) -> Result<u32, SchedulerError> {
        self.client.max_array_size().map_err(err)
    }

    fn max_time(&self, queue: Option<&str>) -> Result<Option<Duration>, SchedulerError> {
        self.client.partition_max_time(queue).map_err(err)
    }

    fn task_log(&self, log_dir: &Path, name: &str, job: &str, index: u32) -> PathBuf {
        log_dir.join(format!("{name}-{job}_{index}.out"))
    }
}
