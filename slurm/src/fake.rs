//! A recording fake scheduler for unit tests: records every call, hands out
//! increasing job ids, and reports states the test sets.

use crate::{JobId, JobState, Scheduler, SlurmError, TaskStatus};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One call made to the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordedCall {
    Submit {
        script: PathBuf,
        args: Vec<String>,
        id: JobId,
    },
    Query(Vec<JobId>),
    Cancel(Vec<JobId>),
}

/// Records calls; job ids start at 1000. Set states with [`RecordingScheduler::set_state`].
#[derive(Debug)]
pub struct RecordingScheduler {
    calls: Mutex<Vec<RecordedCall>>,
    states: Mutex<HashMap<JobId, Vec<TaskStatus>>>,
    next: Mutex<u64>,
    max_array: u32,
    refuse: Mutex<Option<String>>,
    max_time: Mutex<Option<std::time::Duration>>,
}

impl Default for RecordingScheduler {
    fn default() -> Self {
        Self::new(1001)
    }
}

impl RecordingScheduler {
    pub fn new(max_array: u32) -> Self {
        RecordingScheduler {
            calls: Mutex::new(Vec::new()),
            states: Mutex::new(HashMap::new()),
            next: Mutex::new(1000),
            max_array,
            refuse: Mutex::new(None),
            max_time: Mutex::new(None),
        }
    }

    /// Sets every partition's `MaxTime` (`None`: unlimited, the default).
    pub fn set_max_time(&self, max: Option<std::time::Duration>) {
        *self.max_time.lock().unwrap() = max;
    }

    pub fn calls(&self) -> Vec<RecordedCall> {
        self.calls.lock().unwrap().clone()
    }

    /// Scripts and arguments of every submission, in order.
    pub fn submissions(&self) -> Vec<(PathBuf, Vec<String>)> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                RecordedCall::Submit { script, args, .. } => Some((script, args)),
                _ => None,
            })
            .collect()
    }

    /// Makes the next submissions fail like sbatch does with `message`.
    pub fn refuse_with(&self, message: Option<&str>) {
        *self.refuse.lock().unwrap() = message.map(str::to_string);
    }

    /// Sets the state of a job (or of one task with `index`).
    pub fn set_state(&self, job: &str, index: Option<u32>, state: JobState, exit: Option<i32>) {
        let mut m = self.states.lock().unwrap();
        let v = m.entry(job.to_string()).or_default();
        let id = index.map_or_else(|| job.to_string(), |i| format!("{job}_{i}"));
        v.retain(|t| t.id != id);
        v.push(TaskStatus {
            id,
            job: job.to_string(),
            array_index: index,
            state,
            exit_code: exit,
            reason: None,
        });
    }
}

impl Scheduler for RecordingScheduler {
    fn submit(&self, script: &Path, extra: &[String]) -> Result<JobId, SlurmError> {
        if let Some(m) = self.refuse.lock().unwrap().clone() {
            return Err(SlurmError::Refused {
                script: script.display().to_string(),
                message: m,
            });
        }
        let mut n = self.next.lock().unwrap();
        let id = n.to_string();
        *n += 1;
        self.calls.lock().unwrap().push(RecordedCall::Submit {
            script: script.to_path_buf(),
            args: extra.to_vec(),
            id: id.clone(),
        });
        self.set_state(&id, None, JobState::Pending, None);
        Ok(id)
    }

    fn query(&self, jobs: &[JobId]) -> Result<Vec<TaskStatus>, SlurmError> {
        self.calls
            .lock()
            .unwrap()
            .push(RecordedCall::Query(jobs.to_vec()));
        let m = self.states.lock().unwrap();
        Ok(jobs
            .iter()
            .flat_map(|j| m.get(j).cloned().unwrap_or_default())
            .collect())
    }

    fn cancel(&self, jobs: &[JobId]) -> Result<(), SlurmError> {
        self.calls
            .lock()
            .unwrap()
            .push(RecordedCall::Cancel(jobs.to_vec()));
        let mut m = self.states.lock().unwrap();
        for j in jobs {
            if let Some(v) = m.get_mut(j) {
                for t in v.iter_mut().filter(|t| !t.state.is_terminal()) {
                    t.state = JobState::Cancelled;
                }
            }
        }
        Ok(())
    }

    fn max_array_size(&self) -> Result<u32, SlurmError> {
        Ok(self.max_array)
    }

    fn partition_max_time(
        &self,
        _partition: Option<&str>,
    ) -> Result<Option<std::time::Duration>, SlurmError> {
        Ok(*self.max_time.lock().unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wait_terminal;
    use std::time::Duration;

    #[test]
    fn records_and_waits() {
        let f = RecordingScheduler::default();
        let id = f
            .submit(Path::new("a.sh"), &["--array=0-3".into()])
            .unwrap();
        assert_eq!(id, "1000");
        let err = wait_terminal(
            &f,
            std::slice::from_ref(&id),
            Duration::from_millis(30),
            Duration::from_millis(5),
        )
        .unwrap_err();
        assert!(err.to_string().contains("1000=PENDING"), "{err}");
        f.set_state(&id, None, JobState::Completed, Some(0));
        let s = wait_terminal(
            &f,
            std::slice::from_ref(&id),
            Duration::from_secs(1),
            Duration::from_millis(5),
        )
        .unwrap();
        assert_eq!(s[0].state, JobState::Completed);
        f.refuse_with(Some("sbatch: error: invalid partition specified: nope"));
        let e = f.submit(Path::new("b.sh"), &[]).unwrap_err();
        assert!(e.to_string().contains("invalid partition"));
        assert_eq!(f.submissions().len(), 1);
    }
}
