//! What the scheduler made of each unit's submissions: its latest task,
//! that task's state, and how many attempts it has had.

use super::journal::{Submission, attempts_since, submissions};
use super::scheduler::{BatchScheduler, JobState, Phase, TaskStatus};
use crate::config::SweepConfig;
use crate::grid::Stage;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

/// A unit's latest submission and how it ended.
#[derive(Debug, Clone, Serialize)]
pub struct UnitTrack {
    /// Submissions that included the unit.
    pub attempts: u32,
    pub job_id: String,
    /// `123_4`: the array task that ran it last.
    pub task: String,
    /// `None`: the scheduler no longer knows the task (purged, no accounting).
    pub state: Option<JobState>,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    /// Units in its bundle.
    pub bundle_len: usize,
    pub time: Option<String>,
    pub log: PathBuf,
}

impl UnitTrack {
    /// Still queued or running.
    pub fn busy(&self) -> bool {
        self.state.as_ref().is_some_and(|s| !s.is_terminal())
    }

    pub fn phase(&self) -> Option<Phase> {
        self.state.as_ref().map(|s| s.phase)
    }

    /// `TIMEOUT (exit 0, TimeLimit)`, or `unknown to <scheduler>` for a
    /// purged task.
    pub fn describe(&self, scheduler: &str) -> String {
        match &self.state {
            Some(s) => {
                let mut d = format!(
                    "{s} (exit {}",
                    self.exit_code.map_or("?".into(), |c| c.to_string())
                );
                if let Some(r) = &self.reason {
                    d.push_str(", ");
                    d.push_str(r);
                }
                d.push(')');
                d
            }
            None => format!("unknown to {} (purged, or never started)", title(scheduler)),
        }
    }
}

/// `Slurm` for `slurm`.
pub fn title(scheduler: &str) -> String {
    let mut c = scheduler.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Units by (stage, unit).
pub type Tracks = BTreeMap<(Stage, String), UnitTrack>;

/// Every submitted unit's latest attempt, by (stage, unit).
pub fn track(
    cfg: &SweepConfig,
    sched: &dyn BatchScheduler,
    subs: &[Submission],
    states: &[TaskStatus],
) -> Tracks {
    let mut out: Tracks = BTreeMap::new();
    let since = attempts_since(cfg);
    let log_dir = cfg.layout().job_logs_dir(sched.name());
    for s in subs {
        let Some(manifest) = &s.bundles else { continue };
        let Ok(lines) = super::bundles::read_manifest(manifest) else {
            tracing::warn!(
                "{}: unreadable; its units are not tracked",
                manifest.display()
            );
            continue;
        };
        let tasks: Vec<&TaskStatus> = states.iter().filter(|t| t.job == s.job_id).collect();
        let by_index: HashMap<u32, &TaskStatus> = tasks
            .iter()
            .filter_map(|t| t.array_index.map(|i| (i, *t)))
            .collect();
        // A pending range (`123_[4-9]`) has no index of its own.
        let pending_range = tasks
            .iter()
            .find(|t| t.array_index.is_none() && !t.state.is_terminal())
            .copied();
        let name = super::scripts::job_name(cfg, s.stage);
        for &i in &s.indices {
            let Some(units) = lines.get(i as usize) else {
                continue;
            };
            let local = i - s.offset;
            let task = by_index.get(&local).copied().or(pending_range);
            let log = sched.task_log(&log_dir, &name, &s.job_id, local);
            // A task cancelled (by the user, or before it started) is not
            // an attempt, nor is one before `resume --retry-given-up`.
            let counts =
                u32::from(s.t >= since && task.is_none_or(|t| t.state.phase != Phase::Cancelled));
            for u in units {
                let key = (s.stage, u.clone());
                let attempts = out.get(&key).map_or(0, |t| t.attempts) + counts;
                out.insert(
                    key,
                    UnitTrack {
                        attempts,
                        job_id: s.job_id.clone(),
                        task: format!("{}_{local}", s.job_id),
                        state: task.map(|t| t.state.clone()),
                        exit_code: task.and_then(|t| t.exit_code),
                        reason: task.and_then(|t| t.reason.clone()),
                        bundle_len: units.len(),
                        time: s.time.clone(),
                        log: log.clone(),
                    },
                );
            }
        }
    }
    out
}

/// The recorded submissions and the scheduler's view of every task of them
/// (no query when nothing was submitted).
pub fn query_recorded(
    cfg: &SweepConfig,
    sched: &dyn BatchScheduler,
) -> anyhow::Result<(Vec<Submission>, Vec<TaskStatus>)> {
    let subs = submissions(cfg);
    let ids: Vec<String> = subs
        .iter()
        .map(|s| s.job_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let states = if ids.is_empty() {
        Vec::new()
    } else {
        sched.query(&ids)?
    };
    Ok((subs, states))
}
