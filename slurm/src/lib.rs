//! Slurm for genoprot: typed job options, sbatch script rendering, array specs
//! chunked to `MaxArraySize` with a `%N` throttle, dependencies, submission with
//! `--parsable`, and job states read back from `squeue`, `sacct` or
//! `scontrol show job`.
//!
//! This crate knows Slurm and nothing of models. The [`Scheduler`] trait has the
//! real command-line implementation ([`SlurmCli`]) and a recording fake
//! ([`RecordingScheduler`]) for unit tests of code that drives it.

mod array;
mod cli;
mod fake;
mod options;
mod state;

pub use array::{ArrayChunk, ArraySpec};
pub use cli::SlurmCli;
pub use fake::{RecordedCall, RecordingScheduler};
pub use options::{Dependency, DependencyKind, JobOptions, Resources, format_time, parse_time};
pub use state::{
    JobState, TaskStatus, parse_partition_max_time, parse_sacct, parse_scontrol_jobs, parse_squeue,
};

use std::path::Path;
use std::time::Duration;

/// A Slurm job id as sbatch prints it (`123`, or `123_4` for one array task).
pub type JobId = String;

/// A command's exit in words: `exit 1`, or `killed by a signal` (no code).
pub fn exit_words(code: Option<i32>) -> String {
    code.map_or_else(|| "killed by a signal".into(), |c| format!("exit {c}"))
}

/// Errors from talking to Slurm.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    #[error("`{cmd}` could not be started: {source}. Hint: is Slurm installed and on PATH?")]
    Spawn {
        cmd: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{cmd}` failed ({}): {stderr}", exit_words(*.code))]
    Command {
        cmd: String,
        code: Option<i32>,
        stderr: String,
    },
    #[error("sbatch refused the job script {script}: {message}")]
    Refused { script: String, message: String },
    #[error("could not parse {what} output: {detail}")]
    Parse { what: &'static str, detail: String },
    #[error(
        "timed out after {0:?} waiting for jobs {1:?} (last states: {2}); hint: `sinfo` shows whether a node is up to run them"
    )]
    Timeout(Duration, Vec<JobId>, String),
    /// A job option Slurm would refuse or misread.
    #[error("{key} = {value:?}: {reason}")]
    Options {
        key: String,
        value: String,
        reason: String,
    },
}

/// What genoprot needs from a scheduler.
pub trait Scheduler {
    /// Submits a batch script; `extra` are additional sbatch arguments
    /// (`--array=...`, `--dependency=...`) given on the command line.
    fn submit(&self, script: &Path, extra: &[String]) -> Result<JobId, SlurmError>;
    /// States of every task of the given jobs (array jobs expand to their tasks).
    fn query(&self, jobs: &[JobId]) -> Result<Vec<TaskStatus>, SlurmError>;
    /// Cancels the given jobs.
    fn cancel(&self, jobs: &[JobId]) -> Result<(), SlurmError>;
    /// The cluster's `MaxArraySize`.
    fn max_array_size(&self) -> Result<u32, SlurmError>;
    /// The `MaxTime` of a partition (`None`: the default partition);
    /// `Ok(None)` when unlimited.
    fn partition_max_time(&self, partition: Option<&str>) -> Result<Option<Duration>, SlurmError>;
}

/// A borrowed scheduler is a scheduler (tests keep the fake to inspect it).
impl<T: Scheduler + ?Sized> Scheduler for &T {
    fn submit(&self, script: &Path, extra: &[String]) -> Result<JobId, SlurmError> {
        (**self).submit(script, extra)
    }
    fn query(&self, jobs: &[JobId]) -> Result<Vec<TaskStatus>, SlurmError> {
        (**self).query(jobs)
    }
    fn cancel(&self, jobs: &[JobId]) -> Result<(), SlurmError> {
        (**self).cancel(jobs)
    }
    fn max_array_size(&self) -> Result<u32, SlurmError> {
        (**self).max_array_size()
    }
    fn partition_max_time(&self, partition: Option<&str>) -> Result<Option<Duration>, SlurmError> {
        (**self).partition_max_time(partition)
    }
}

/// Polls `sched.query` until every task of `jobs` is in a terminal state, or
/// fails with [`SlurmError::Timeout`] naming the last states seen.
pub fn wait_terminal(
    sched: &dyn Scheduler,
    jobs: &[JobId],
    timeout: Duration,
    poll: Duration,
) -> Result<Vec<TaskStatus>, SlurmError> {
    let start = std::time::Instant::now();
    loop {
        let states = sched.query(jobs)?;
        if !states.is_empty() && states.iter().all(|t| t.state.is_terminal()) {
            return Ok(states);
        }
        if start.elapsed() >= timeout {
            let last = states
                .iter()
                .map(|t| match &t.reason {
                    Some(r) => format!("{}={}({r})", t.id, t.state),
                    None => format!("{}={}", t.id, t.state),
                })
                .collect::<Vec<_>>()
                .join(", ");
            return Err(SlurmError::Timeout(
                timeout,
                jobs.to_vec(),
                if last.is_empty() { "none".into() } else { last },
            ));
        }
        std::thread::sleep(poll);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_command_names_its_exit_in_words() {
        let e = SlurmError::Command {
            cmd: "sacct".into(),
            code: Some(1),
            stderr: "no accounting".into(),
        };
        assert_eq!(e.to_string(), "`sacct` failed (exit 1): no accounting");
        let e = SlurmError::Command {
            cmd: "squeue".into(),
            code: None,
            stderr: String::new(),
        };
        assert_eq!(e.to_string(), "`squeue` failed (killed by a signal): ");
    }
}
