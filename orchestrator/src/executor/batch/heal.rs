//! The finishing job of a batch sweep (`genoprot worker finish`), which the
//! scheduler starts once every array of an attempt has ended (`afterany`).
//! It heals the sweep without a daemon: it asks the store what is not done
//! and the scheduler how those units ended, and while retries
//! remain it resubmits just them (a unit that hit its time limit in bundles
//! half as big with `time × time_factor`, capped by the queue's longest
//! time) with a new finishing job chained after them. When nothing is
//! left it aggregates and reports; when units are left that have used up
//! their retries, it reports what finished and names them (exit 1).

use super::BatchSettings;
use super::scheduler::BatchScheduler;
use super::submit::GaveUp;
use super::todo::Todo;
use crate::sweep::Sweep;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the finishing job did.
#[derive(Debug, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Finish {
    /// Every unit is done: aggregated and reported.
    Complete { report: Option<PathBuf> },
    /// Units were resubmitted (attempt `attempt`) with a new finishing job.
    Resubmitted {
        attempt: u32,
        jobs: Vec<String>,
        units: usize,
        timed_out: usize,
    },
    /// Other jobs of the sweep are still queued or running (a `resume`
    /// submitted them); their own finishing job follows them.
    Waiting { busy: usize },
    /// Units failed on every allowed attempt: what finished is reported.
    GaveUp {
        units: Vec<GaveUp>,
        report: Option<PathBuf>,
    },
}

impl crate::output::Human for Finish {
    fn human(&self) -> String {
        let mut out = String::new();
        match self {
            Finish::Complete { report } => {
                out.push_str("every unit is done: aggregated");
                if let Some(r) = report {
                    let _ = write!(out, "; report {}", r.display());
                }
                out.push('\n');
            }
            Finish::Resubmitted {
                attempt,
                jobs,
                units,
                timed_out,
            } => {
                let _ = writeln!(
                    out,
                    "attempt {attempt}: resubmitted {units} units ({timed_out} after a time limit) as jobs {}",
                    jobs.join(" ")
                );
            }
            Finish::Waiting { busy } => {
                let _ = writeln!(
                    out,
                    "{busy} units are still queued or running in other jobs of this sweep; their finishing job takes over"
                );
            }
            Finish::GaveUp { units, report } => {
                let _ = writeln!(
                    out,
                    "{} units failed on every attempt (retries exhausted):",
                    units.len()
                );
                for g in units {
                    let _ = writeln!(
                        out,
                        "  {} {} after {} attempts: {} (log {})",
                        g.stage,
                        g.what,
                        g.attempts,
                        g.last,
                        g.log.display()
                    );
                }
                if let Some(r) = report {
                    let _ = writeln!(out, "report of what finished: {}", r.display());
                }
            }
        }
        out
    }
}

/// Takes the store's lock, waiting up to a minute for a `submit` or
/// `resume` that holds it.
fn lock(sweep: &Sweep, config: &Path) -> anyhow::Result<crate::lock::StoreLock> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        match crate::lock::acquire(&sweep.cfg.store, "finish", config) {
            Ok(l) => return Ok(l),
            Err(e) if std::time::Instant::now() < deadline => {
                tracing::info!("waiting for the store: {e}");
                std::thread::sleep(Duration::from_secs(3));
            }
            Err(e) => return Err(e),
        }
    }
}

/// How long the finishing job waits for the scheduler's view to settle.
const SETTLE: Duration = Duration::from_secs(45);

/// Waits (up to [`SETTLE`]) until no unit left to do looks queued, running
/// or unknown to the scheduler: the arrays this job waited for have ended, but
/// accounting is written asynchronously, so `sacct` may not show their end
/// yet. Units of another chain (a `resume` while this one ran) stay busy and
/// are left to that chain's finishing job.
fn settle(sweep: &Sweep, todo: &Todo, sched: &dyn BatchScheduler) -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    loop {
        let (subs, states) = super::track::query_recorded(&sweep.cfg, sched)?;
        let tracks = super::track::track(&sweep.cfg, sched, &subs, &states);
        let unsettled = todo
            .units
            .iter()
            .flat_map(|(stage, units)| units.iter().map(move |u| (*stage, u.clone())))
            .filter(|k| tracks.get(k).is_some_and(|t| t.busy() || t.state.is_none()))
            .count();
        if unsettled == 0 || start.elapsed() >= SETTLE {
            if unsettled > 0 {
                tracing::info!(
                    "{unsettled} units still look queued, running or unknown to {}",
                    super::track::title(sched.name())
                );
            }
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Runs the finishing step over `sched`.
pub fn finish(
    sweep: &Sweep,
    config: &Path,
    sched: &dyn BatchScheduler,
    settings: &BatchSettings,
) -> anyhow::Result<Finish> {
    let cfg = &sweep.cfg;
    let grid = sweep.grid();
    let _lock = lock(sweep, config)?;
    let todo = super::todo::todo(cfg, &sweep.ds, &grid);
    let left = todo.len();
    if left == 0 {
        let r = crate::gather::aggregate_and_report(sweep, true, false)?;
        return Ok(Finish::Complete { report: r.report });
    }
    settle(sweep, &todo, sched)?;
    tracing::info!("{left} units are not done; resubmitting those with retries left");
    // The arrays this job waited for have ended: what was left then is
    // what is left now.
    let rep = super::submit::submit(cfg, &grid, &todo, config, sched, settings, false)?;
    if rep.units > 0 {
        return Ok(Finish::Resubmitted {
            attempt: rep
                .jobs
                .iter()
                .filter(|j| j.stage != crate::grid::Stage::Aggregate)
                .map(|j| j.attempt)
                .max()
                .unwrap_or(1),
            jobs: rep.jobs.iter().map(|j| j.job_id.clone()).collect(),
            units: rep.units,
            timed_out: rep.timed_out,
        });
    }
    if rep.skipped_busy > 0 {
        return Ok(Finish::Waiting {
            busy: rep.skipped_busy,
        });
    }
    // Nothing could be resubmitted: report what finished.
    let r = crate::gather::aggregate_and_report(sweep, true, false)?;
    Ok(Finish::GaveUp {
        units: rep.gave_up,
        report: r.report,
    })
}
