//! The Slurm executor, over a [`slurm::Scheduler`] (the real `sbatch` /
//! `squeue` / `sacct` / `scancel`, or the recording fake in tests): one job
//! array per stage of what is neither done nor queued, an aggregate job
//! after them (afterany), every submission recorded in
//! `journal/jobs.jsonl`. The scripts and arrays are built by
//! `crate::submit`; this module is the executor's face of it.

use super::{Activity, Executor, Launch, Stopped};
use crate::output::Human;
use crate::sweep::Sweep;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub struct Slurm<'a> {
    sched: Box<dyn slurm::Scheduler + 'a>,
}

impl Slurm<'static> {
    /// The executor over this machine's Slurm commands.
    pub fn cli() -> Slurm<'static> {
        Slurm::over(Box::new(slurm::SlurmCli::new()))
    }
}

impl<'a> Slurm<'a> {
    /// The executor over any scheduler (tests: `&slurm::fake::RecordingScheduler`).
    pub fn over(sched: Box<dyn slurm::Scheduler + 'a>) -> Slurm<'a> {
        Slurm { sched }
    }
}

/// `submit` (and `resume` of a Slurm sweep).
#[derive(Debug, serde::Serialize)]
pub struct SubmitResult {
    pub dry_run: bool,
    /// `--dry-run`: the scripts written and the commands that would run.
    pub scripts: Vec<PathBuf>,
    pub commands: Vec<String>,
    pub jobs: Vec<SubmittedJob>,
    pub skipped_busy: usize,
    pub gave_up: Vec<GaveUp>,
}

#[derive(Debug, serde::Serialize)]
pub struct SubmittedJob {
    pub stage: String,
    pub job_id: String,
    pub tasks: usize,
}

#[derive(Debug, serde::Serialize)]
pub struct GaveUp {
    pub stage: String,
    pub task: u32,
}

impl Human for SubmitResult {
    fn human(&self) -> String {
        let mut out = String::new();
        if self.dry_run {
            for p in &self.scripts {
                let _ = writeln!(
                    out,
                    "==> {} <==\n{}",
                    p.display(),
                    std::fs::read_to_string(p).unwrap_or_default()
                );
            }
            out.push_str("would run:\n");
            for c in &self.commands {
                let _ = writeln!(out, "  {c}");
            }
            return out;
        }
        for j in &self.jobs {
            let _ = writeln!(
                out,
                "submitted {} job {} ({} tasks)",
                j.stage, j.job_id, j.tasks
            );
        }
        if self.jobs.is_empty() {
            out.push_str("nothing to submit: every cell is done or queued\n");
        }
        if self.skipped_busy > 0 {
            let _ = writeln!(
                out,
                "{} array tasks are still queued or running and were not submitted again",
                self.skipped_busy
            );
        }
        out
    }
}

impl Executor for Slurm<'_> {
    fn name(&self) -> &'static str {
        "slurm"
    }

    fn launch(&self, sweep: &Sweep, config: &Path, dry_run: bool) -> anyhow::Result<Launch> {
        let cfg = &sweep.cfg;
        cfg.preflight_models()?;
        crate::submit::check_executor(cfg, config)?;
        let grid = sweep.grid();
        let _lock = if dry_run {
            None
        } else {
            Some(crate::lock::acquire(&cfg.store, "submit", config)?)
        };
        let rep =
            crate::submit::submit(cfg, &sweep.ds, &grid, config, self.sched.as_ref(), dry_run)?;
        for (stage, i) in &rep.gave_up {
            tracing::warn!(
                "{stage} task {i} failed on every attempt (retries exhausted); see `genoprot status` for logs"
            );
        }
        Ok(Launch::Slurm(SubmitResult {
            dry_run,
            scripts: if dry_run {
                crate::grid::Stage::ALL
                    .iter()
                    .map(|stage| cfg.store.join("slurm").join(format!("{stage}.sh")))
                    .collect()
            } else {
                Vec::new()
            },
            commands: rep.commands.clone(),
            jobs: rep
                .jobs
                .iter()
                .map(|j| SubmittedJob {
                    stage: j.stage.to_string(),
                    job_id: j.job_id.clone(),
                    tasks: j.indices.len().max(1),
                })
                .collect(),
            skipped_busy: rep.skipped_busy,
            gave_up: rep
                .gave_up
                .iter()
                .map(|(stage, task)| GaveUp {
                    stage: stage.to_string(),
                    task: *task,
                })
                .collect(),
        }))
    }

    fn activity(&self, sweep: &Sweep) -> anyhow::Result<Activity> {
        if crate::submit::submissions(&sweep.cfg).is_empty() {
            return Ok(Activity::default());
        }
        let (jobs, failed_jobs) =
            crate::submit::scheduler_summary(&sweep.cfg, self.sched.as_ref())?;
        Ok(Activity {
            jobs,
            failed_jobs,
            running: None,
        })
    }

    fn cancel(&self, sweep: &Sweep) -> anyhow::Result<Stopped> {
        if crate::submit::submissions(&sweep.cfg).is_empty() {
            return Ok(Stopped::default());
        }
        Ok(Stopped {
            jobs: crate::submit::cancel(&sweep.cfg, self.sched.as_ref())?,
            local: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slurm::JobState;
    use slurm::{RecordedCall, RecordingScheduler};

    /// A two-model Slurm sweep of one task on a synthetic dataset.
    fn sweep(dir: &Path) -> (Sweep, PathBuf) {
        let mut ds = workers::dataset::synth::synthesize(&workers::dataset::synth::SynthConfig {
            genes: 120,
            ..Default::default()
        });
        ds.write(&dir.join("data"), false).unwrap();
        let config = dir.join("s.yaml");
        std::fs::write(
            &config,
            format!(
                "name: s\ndataset: {d}/data\nstore: {d}/runs/s\nseeds: [0, 1]\ntasks: [membrane]\n\
                 models:\n  - {{name: rscu, kind: codon, rscu: true}}\n  - {{name: aac, kind: kmer, modality: protein, k: 1}}\n\
                 ensembles:\n  - {{name: both, members: [rscu, aac], fusion: [mean-prob]}}\n\
                 executor: {{kind: slurm, slurm: {{partition: pdebug, launcher: mpirun, cells_per_task: 1}}}}\n",
                d = dir.display()
            ),
        )
        .unwrap();
        (Sweep::open(&config).unwrap(), config)
    }

    #[test]
    fn launch_activity_and_cancel_go_through_the_scheduler() {
        let d = tempfile::tempdir().unwrap();
        let (sweep, config) = sweep(d.path());
        let fake = RecordingScheduler::default();
        let ex = Slurm::over(Box::new(&fake));
        // Nothing submitted yet: no activity, nothing to cancel, no calls.
        assert!(ex.activity(&sweep).unwrap().jobs.is_empty());
        assert!(ex.cancel(&sweep).unwrap().jobs.is_empty());
        assert!(fake.calls().is_empty());

        let Launch::Slurm(r) = ex.launch(&sweep, &config, false).unwrap() else {
            panic!("a Slurm launch")
        };
        // One array per stage with work, one cell per array task
        // (`cells_per_task: 1`): 2 embeddings, 2 models × 2 seeds of probes,
        // 2 seeds of the late fusion; then the aggregate job.
        let stages: Vec<(&str, usize)> =
            r.jobs.iter().map(|j| (j.stage.as_str(), j.tasks)).collect();
        assert_eq!(
            stages,
            [("embed", 2), ("probe", 4), ("fusion", 2), ("aggregate", 1)],
            "{r:?}"
        );
        let subs = fake.submissions();
        assert_eq!(subs.len(), 4);
        assert!(subs[0].0.ends_with("slurm/embed.sh"), "{subs:?}");
        // The aggregate job runs after every array, whatever their outcome.
        assert!(
            subs[3]
                .1
                .iter()
                .any(|a| a.starts_with("--dependency=afterany:")),
            "{subs:?}"
        );

        // Slurm's states show per stage; a failed task names its log.
        let probe = r.jobs[1].job_id.clone();
        fake.set_state(&probe, Some(0), JobState::Failed, Some(1));
        fake.set_state(&probe, Some(1), JobState::Running, None);
        let a = ex.activity(&sweep).unwrap();
        assert_eq!(a.jobs["probe"].get("FAILED"), Some(&1), "{a:?}");
        assert_eq!(a.jobs["probe"].get("RUNNING"), Some(&1), "{a:?}");
        assert_eq!(a.failed_jobs.len(), 1);
        assert!(a.failed_jobs[0].contains(".out"), "{:?}", a.failed_jobs);

        // A second launch submits nothing that is queued or running.
        let Launch::Slurm(again) = ex.launch(&sweep, &config, false).unwrap() else {
            panic!()
        };
        assert!(again.skipped_busy > 0, "{again:?}");

        // Cancel reaches every recorded job that is not finished.
        let stopped = ex.cancel(&sweep).unwrap();
        assert!(stopped.jobs.contains(&probe), "{stopped:?}");
        assert!(
            fake.calls()
                .iter()
                .any(|c| matches!(c, RecordedCall::Cancel(ids) if ids.contains(&probe))),
            "{:?}",
            fake.calls()
        );
    }
}
