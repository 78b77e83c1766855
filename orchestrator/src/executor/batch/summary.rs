//! The scheduler's view of a sweep for `status`, and `cancel`.

use super::BatchSettings;
use super::scheduler::{BatchScheduler, Phase};
use super::submit::GaveUp;
use super::track::{query_recorded, track};
use crate::config::SweepConfig;
use crate::grid::{Grid, Stage};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use workers::dataset::Dataset;

/// The scheduler's view of a sweep.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SchedulerSummary {
    /// Per stage: the array tasks that ran each unit last, by the
    /// scheduler's state word; the aggregate stage: finishing jobs by state.
    pub states: BTreeMap<String, BTreeMap<String, usize>>,
    /// Stages with tasks queued or running.
    pub busy: BTreeSet<String>,
    /// Per stage: the highest attempt submitted.
    pub attempts: BTreeMap<String, u32>,
    /// `retries + 1`.
    pub max_attempts: u32,
    /// One line per failed array task: state, exit, attempt, log.
    pub failed: Vec<String>,
    /// Units not done after their last allowed attempt.
    pub gave_up: Vec<GaveUp>,
}

impl SchedulerSummary {
    fn count(&mut self, stage: Stage, word: String, live: bool) {
        *self
            .states
            .entry(stage.to_string())
            .or_default()
            .entry(word)
            .or_default() += 1;
        if live {
            self.busy.insert(stage.to_string());
        }
    }
}

/// Scheduler view of the recorded jobs, latest attempt per unit.
pub fn scheduler_summary(
    cfg: &SweepConfig,
    ds: &Dataset,
    grid: &Grid,
    sched: &dyn BatchScheduler,
    settings: &BatchSettings,
) -> anyhow::Result<SchedulerSummary> {
    let (subs, states) = query_recorded(cfg, sched)?;
    let tracks = track(cfg, sched, &subs, &states);
    let retries = settings.retries();
    let mut sum = SchedulerSummary {
        max_attempts: retries + 1,
        ..Default::default()
    };
    let todo = super::todo::todo(cfg, ds, grid);
    let left = todo.set();
    let mut failed_tasks: BTreeMap<String, String> = BTreeMap::new();
    // Array tasks (a bundle mixes finished and failed cells) by state.
    let mut tasks: BTreeMap<(Stage, &str), (String, bool)> = BTreeMap::new();
    for ((stage, unit), t) in &tracks {
        tasks.insert(
            (*stage, t.task.as_str()),
            (
                t.state
                    .as_ref()
                    .map_or("UNKNOWN".to_string(), |s| s.to_string()),
                t.busy(),
            ),
        );
        let a = sum.attempts.entry(stage.to_string()).or_default();
        *a = (*a).max(t.attempts);
        if let Some(p) = t.phase()
            && p.is_failure()
            && p != Phase::Cancelled
        {
            failed_tasks.entry(t.task.clone()).or_insert_with(|| {
                format!(
                    "{stage} {} {} attempt {} of {} log {}",
                    t.task,
                    t.describe(sched.name()),
                    t.attempts,
                    retries + 1,
                    t.log.display()
                )
            });
        }
        let not_done = left.contains(&(*stage, unit.as_str()));
        if not_done && !t.busy() && t.attempts > retries {
            sum.gave_up.push(GaveUp::new(*stage, unit, grid, t, sched));
        }
    }
    for ((stage, _), (word, live)) in tasks {
        sum.count(stage, word, live);
    }
    sum.failed = failed_tasks.into_values().collect();
    for s in subs.iter().filter(|s| s.stage == Stage::Aggregate) {
        let st = states.iter().find(|t| t.job == s.job_id);
        let word = st.map_or("UNKNOWN".to_string(), |t| t.state.to_string());
        sum.count(
            Stage::Aggregate,
            word,
            st.is_some_and(|t| !t.state.is_terminal()),
        );
        let a = sum
            .attempts
            .entry(Stage::Aggregate.to_string())
            .or_default();
        *a = (*a).max(s.attempt);
    }
    Ok(sum)
}

/// Cancels every recorded job that is not finished.
pub fn cancel(cfg: &SweepConfig, sched: &dyn BatchScheduler) -> anyhow::Result<Vec<String>> {
    let (_, states) = query_recorded(cfg, sched)?;
    let live: Vec<String> = states
        .iter()
        .filter(|t| !t.state.is_terminal())
        .map(|t| t.job.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    sched.cancel(&live)?;
    Ok(live)
}
