//! The batch executor: a sweep as job arrays on a cluster scheduler, for
//! any scheduler behind [`scheduler::BatchScheduler`] (Slurm today,
//! `executor/slurm/`). Everything that is not the scheduler's own is here,
//! once, and unit-tested through a fake: what is left (`todo.rs`), bundles
//! and their sizes (`bundles.rs`), the scripts' bodies (`scripts.rs`), the
//! submissions journal (`journal.rs`), attempts per unit (`track.rs`), the
//! submission round with retries and longer time limits (`submit.rs`), the
//! finishing job's healing decision (`heal.rs`), and `status`/`cancel`
//! (`summary.rs`).

pub mod bundles;
pub mod heal;
pub mod journal;
pub mod scheduler;
pub mod scripts;
pub mod submit;
pub mod summary;
pub mod todo;
pub mod track;

pub use crate::config::BatchSettings;

use super::{Activity, Executor, Launch, Retries, Stopped};
use crate::output::Human;
use crate::sweep::Sweep;
use scheduler::BatchScheduler;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A sweep on a batch scheduler.
pub struct Batch<'a> {
    sched: Box<dyn BatchScheduler + 'a>,
    settings: BatchSettings,
}

impl<'a> Batch<'a> {
    pub fn new(sched: Box<dyn BatchScheduler + 'a>, settings: BatchSettings) -> Self {
        Batch { sched, settings }
    }

    /// The finishing job (`genoprot worker finish`).
    pub fn finish(&self, sweep: &Sweep, config: &Path) -> anyhow::Result<heal::Finish> {
        heal::finish(sweep, config, self.sched.as_ref(), &self.settings)
    }
}

/// `submit` (and `resume` of a batch sweep).
#[derive(Debug, serde::Serialize)]
pub struct SubmitResult {
    pub dry_run: bool,
    /// `--dry-run`: the scripts written and the commands that would run.
    pub scripts: Vec<PathBuf>,
    pub commands: Vec<String>,
    pub jobs: Vec<SubmittedJob>,
    pub skipped_busy: usize,
    /// Units resubmitted with more time or in smaller bundles after a time limit.
    pub timed_out: usize,
    pub gave_up: Vec<submit::GaveUp>,
}

#[derive(Debug, serde::Serialize)]
pub struct SubmittedJob {
    pub stage: String,
    pub job_id: String,
    pub tasks: usize,
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

impl Executor for Batch<'_> {
    fn name(&self) -> &'static str {
        self.sched.name()
    }

    fn launch(&self, sweep: &Sweep, config: &Path, dry_run: bool) -> anyhow::Result<Launch> {
        let cfg = &sweep.cfg;
        cfg.preflight_models()?;
        // Compute nodes run this same binary: a `cuda` sweep from a build
        // without a GPU backend would fail in every task.
        cfg.device
            .check_build()
            .map_err(|e| anyhow::anyhow!("{}: device: {e}", config.display()))?;
        self.sched.preflight(cfg, config)?;
        let grid = sweep.grid();
        let _lock = if dry_run {
            None
        } else {
            Some(crate::lock::acquire(&cfg.store, "submit", config)?)
        };
        crate::journal::claim(cfg, config, !dry_run)?;
        let todo = todo::todo(cfg, &sweep.ds, &grid);
        let rep = submit::submit(
            cfg,
            &grid,
            &todo,
            config,
            self.sched.as_ref(),
            &self.settings,
            dry_run,
        )?;
        for g in &rep.gave_up {
            tracing::warn!(
                "{} {} failed on every attempt (retries exhausted; {} attempts, last {}); see `genoprot status` for logs",
                g.stage,
                g.unit,
                g.attempts,
                g.last
            );
        }
        Ok(Launch::Batch(SubmitResult {
            dry_run,
            scripts: if dry_run {
                rep.scripts.clone()
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
            timed_out: rep.timed_out,
            gave_up: rep.gave_up,
        }))
    }

    fn activity(&self, sweep: &Sweep) -> anyhow::Result<Activity> {
        if journal::submissions(&sweep.cfg).is_empty() {
            return Ok(Activity::default());
        }
        let sum = summary::scheduler_summary(
            &sweep.cfg,
            &sweep.ds,
            &sweep.grid(),
            self.sched.as_ref(),
            &self.settings,
        )?;
        Ok(Activity {
            jobs: sum.states,
            busy: sum.busy,
            failed_jobs: sum.failed,
            retries: Retries {
                attempts: sum.attempts,
                max_attempts: Some(sum.max_attempts),
                gave_up: sum.gave_up,
            },
            running: None,
        })
    }

    fn cancel(&self, sweep: &Sweep) -> anyhow::Result<Stopped> {
        if journal::submissions(&sweep.cfg).is_empty() {
            return Ok(Stopped::default());
        }
        Ok(Stopped {
            jobs: summary::cancel(&sweep.cfg, self.sched.as_ref())?,
            local: None,
        })
    }
}
