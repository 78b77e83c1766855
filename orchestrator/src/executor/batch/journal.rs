//! The batch submissions of a sweep, `journal/jobs.jsonl`: one line per job
//! the scheduler accepted (never one it refused), whatever the scheduler.

use crate::config::SweepConfig;
use crate::grid::Stage;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One accepted submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub stage: Stage,
    pub job_id: String,
    /// Global array indices this job covers: lines of its bundle manifest.
    pub indices: Vec<u32>,
    /// Added to the task index.
    pub offset: u32,
    pub script: String,
    /// The bundle manifest its tasks read (none for the finishing job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundles: Option<PathBuf>,
    /// The attempt of its units: 1 for their first submission.
    #[serde(default = "first_attempt")]
    pub attempt: u32,
    /// The time limit its tasks were given, when one was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    pub t: f64,
}

fn first_attempt() -> u32 {
    1
}

/// Every recorded submission, oldest first.
pub fn submissions(cfg: &SweepConfig) -> Vec<Submission> {
    crate::jsonl::read(&cfg.layout().jobs())
}

pub fn record(cfg: &SweepConfig, s: &Submission) -> anyhow::Result<()> {
    crate::store_dir(&cfg.layout().journal_dir())?;
    crate::jsonl::append(&cfg.layout().jobs(), s)?;
    Ok(())
}

/// `resume --retry-given-up`: attempts are counted from now on.
pub fn reset_attempts(cfg: &SweepConfig) -> anyhow::Result<()> {
    crate::store_dir(&cfg.layout().journal_dir())?;
    workers::atomic::write_atomic(
        &cfg.layout().attempts_reset(),
        format!("{}\n", crate::journal::now()).as_bytes(),
    )?;
    Ok(())
}

/// Since when attempts count (0: since the first submission).
pub fn attempts_since(cfg: &SweepConfig) -> f64 {
    std::fs::read_to_string(cfg.layout().attempts_reset())
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0.0)
}
