//! Job states and the parsers of `squeue`, `sacct` and `scontrol show job` output.

use crate::SlurmError;
use std::fmt;

/// A Slurm job (or array task) state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum JobState {
    Pending,
    Running,
    Completing,
    Completed,
    Failed,
    Timeout,
    Cancelled,
    NodeFail,
    OutOfMemory,
    Preempted,
    Requeued,
    Suspended,
    BootFail,
    Deadline,
    /// A state this version does not know, kept verbatim.
    Other,
}

impl JobState {
    /// Parses a state word as Slurm prints it (`COMPLETED`, `CANCELLED by 0`, `CD`, ...).
    pub fn parse(s: &str) -> JobState {
        let word = s
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_end_matches('+');
        match word {
            "PENDING" | "PD" => JobState::Pending,
            "RUNNING" | "R" => JobState::Running,
            "COMPLETING" | "CG" => JobState::Completing,
            "COMPLETED" | "CD" => JobState::Completed,
            "FAILED" | "F" => JobState::Failed,
            "TIMEOUT" | "TO" => JobState::Timeout,
            "CANCELLED" | "CA" => JobState::Cancelled,
            "NODE_FAIL" | "NF" => JobState::NodeFail,
            "OUT_OF_MEMORY" | "OOM" => JobState::OutOfMemory,
            "PREEMPTED" | "PR" => JobState::Preempted,
            "REQUEUED" | "RQ" | "REQUEUE_HOLD" | "REQUEUE_FED" => JobState::Requeued,
            "SUSPENDED" | "S" => JobState::Suspended,
            "BOOT_FAIL" | "BF" => JobState::BootFail,
            "DEADLINE" | "DL" => JobState::Deadline,
            _ => JobState::Other,
        }
    }

    /// Whether the job will not change state any more by itself.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Completed
                | JobState::Failed
                | JobState::Timeout
                | JobState::Cancelled
                | JobState::NodeFail
                | JobState::OutOfMemory
                | JobState::Preempted
                | JobState::BootFail
                | JobState::Deadline
        )
    }

    /// Terminal and not successful: a candidate for a retry.
    pub fn is_failure(self) -> bool {
        self.is_terminal() && self != JobState::Completed
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            JobState::Pending => "PENDING",
            JobState::Running => "RUNNING",
            JobState::Completing => "COMPLETING",
            JobState::Completed => "COMPLETED",
            JobState::Failed => "FAILED",
            JobState::Timeout => "TIMEOUT",
            JobState::Cancelled => "CANCELLED",
            JobState::NodeFail => "NODE_FAIL",
            JobState::OutOfMemory => "OUT_OF_MEMORY",
            JobState::Preempted => "PREEMPTED",
            JobState::Requeued => "REQUEUED",
            JobState::Suspended => "SUSPENDED",
            JobState::BootFail => "BOOT_FAIL",
            JobState::Deadline => "DEADLINE",
            JobState::Other => "OTHER",
        };
        f.write_str(s)
    }
}

/// The state of one job or array task.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskStatus {
    /// `123` for a plain job, `123_4` for task 4 of array job 123.
    pub id: String,
    /// The array job id (`123`), or the job id for a plain job.
    pub job: String,
    /// The array index, if an array task.
    pub array_index: Option<u32>,
    pub state: JobState,
    /// Exit code of the batch script (`ExitCode=1:0` → 1), when known.
    pub exit_code: Option<i32>,
    /// Slurm's reason for pending/failed jobs (`Dependency`, `NonZeroExitCode`, ...).
    pub reason: Option<String>,
}

fn parse_exit(s: &str) -> Option<i32> {
    s.split(':').next().and_then(|c| c.trim().parse().ok())
}

/// Splits one `scontrol show job -o` record into key/value pairs. Values may
/// contain spaces (e.g. `Reason=...`): a token without `=` continues the value.
fn kv_pairs(line: &str) -> Vec<(&str, String)> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for tok in line.split_whitespace() {
        match tok.split_once('=') {
            Some((k, v))
                if !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == ':' || c == '/' || c == '_') =>
            {
                out.push((k, v.to_string()))
            }
            _ => {
                if let Some(last) = out.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(tok);
                }
            }
        }
    }
    out
}

/// Parses `scontrol show job -o` output (one record per line; array jobs expand to tasks).
pub fn parse_scontrol_jobs(text: &str) -> Result<Vec<TaskStatus>, SlurmError> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let kv = kv_pairs(line);
        let get = |k: &str| {
            kv.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.as_str())
        };
        let job_id = get("JobId").ok_or_else(|| SlurmError::Parse {
            what: "scontrol show job",
            detail: format!("record without JobId: {line}"),
        })?;
        let state = get("JobState")
            .map(JobState::parse)
            .unwrap_or(JobState::Other);
        let (id, job, idx) = match (get("ArrayJobId"), get("ArrayTaskId")) {
            (Some(aj), Some(at)) => match at.parse::<u32>() {
                Ok(i) => (format!("{aj}_{i}"), aj.to_string(), Some(i)),
                // A pending array record with a range of tasks: `0-3%2` etc.
                Err(_) => (format!("{aj}_[{at}]"), aj.to_string(), None),
            },
            _ => (job_id.to_string(), job_id.to_string(), None),
        };
        out.push(TaskStatus {
            id,
            job,
            array_index: idx,
            state,
            exit_code: get("ExitCode").and_then(parse_exit),
            reason: get("Reason").filter(|r| *r != "None").map(str::to_string),
        });
    }
    Ok(out)
}

fn split_task_id(id: &str) -> (String, Option<u32>) {
    match id.split_once('_') {
        Some((job, idx)) => (job.to_string(), idx.parse().ok()),
        None => (id.to_string(), None),
    }
}

/// Parses `squeue -h -r -o '%i|%T|%r'` output.
pub fn parse_squeue(text: &str) -> Result<Vec<TaskStatus>, SlurmError> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('|').collect();
        if f.len() < 2 {
            return Err(SlurmError::Parse {
                what: "squeue",
                detail: format!("expected `id|state|reason`, got: {line}"),
            });
        }
        let (job, idx) = split_task_id(f[0].trim());
        out.push(TaskStatus {
            id: f[0].trim().to_string(),
            job,
            array_index: idx,
            state: JobState::parse(f[1]),
            exit_code: None,
            reason: f
                .get(2)
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty() && r != "None"),
        });
    }
    Ok(out)
}

/// Parses `sacct -n -X --parsable2 -o JobID,State,ExitCode[,Reason]` output.
pub fn parse_sacct(text: &str) -> Result<Vec<TaskStatus>, SlurmError> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('|').collect();
        if f.len() < 3 {
            return Err(SlurmError::Parse {
                what: "sacct",
                detail: format!("expected `JobID|State|ExitCode`, got: {line}"),
            });
        }
        // Job steps (`123.batch`) are not tasks.
        if f[0].contains('.') {
            continue;
        }
        let (job, idx) = split_task_id(f[0]);
        let state = JobState::parse(f[1]);
        out.push(TaskStatus {
            id: f[0].to_string(),
            job,
            array_index: idx,
            state,
            exit_code: parse_exit(f[2]),
            // sacct's Reason is the last reason the job waited for: kept
            // while it waits, meaningless once it ran.
            reason: f
                .get(3)
                .map(|r| r.trim())
                .filter(|r| !r.is_empty() && *r != "None" && !state.is_terminal())
                .map(str::to_string),
        });
    }
    Ok(out)
}

/// The `MaxTime` of a partition from `scontrol show partition -o` output:
/// of `name`, or of the default partition (`Default=YES`) without a name.
/// `Ok(None)` when unlimited.
pub fn parse_partition_max_time(
    text: &str,
    name: Option<&str>,
) -> Result<Option<std::time::Duration>, SlurmError> {
    let record = text.lines().find(|l| {
        let fields: Vec<&str> = l.split_whitespace().collect();
        match name {
            Some(n) => fields.contains(&format!("PartitionName={n}").as_str()),
            None => fields.iter().any(|f| f.starts_with("Default=YES")),
        }
    });
    let Some(record) = record else {
        return Err(SlurmError::Parse {
            what: "scontrol show partition",
            detail: format!("no partition {}", name.unwrap_or("marked Default=YES")),
        });
    };
    let max = record
        .split_whitespace()
        .find_map(|f| f.strip_prefix("MaxTime="))
        .unwrap_or("UNLIMITED");
    Ok(crate::parse_time(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_max_time_of_named_and_default() {
        let text = "PartitionName=pdebug AllowGroups=ALL Default=YES MaxTime=00:30:00 State=UP\n\
                    PartitionName=pbatch AllowGroups=ALL Default=NO MaxTime=1-00:00:00 State=UP\n\
                    PartitionName=pall Default=NO MaxTime=UNLIMITED State=UP\n";
        let h = |s| Some(std::time::Duration::from_secs(s));
        assert_eq!(parse_partition_max_time(text, None).unwrap(), h(1800));
        assert_eq!(
            parse_partition_max_time(text, Some("pbatch")).unwrap(),
            h(86400)
        );
        assert_eq!(parse_partition_max_time(text, Some("pall")).unwrap(), None);
        assert!(parse_partition_max_time(text, Some("nope")).is_err());
        let rows = parse_sacct("7_1|PENDING|0:0|Dependency\n7_2|TIMEOUT|0:0|Priority\n").unwrap();
        assert_eq!(rows[0].reason.as_deref(), Some("Dependency"));
        assert_eq!(rows[1].reason, None, "a pending reason of a finished task");
    }

    #[test]
    fn states_parse_long_short_and_decorated() {
        assert_eq!(JobState::parse("COMPLETED"), JobState::Completed);
        assert_eq!(JobState::parse("CANCELLED by 0"), JobState::Cancelled);
        assert_eq!(JobState::parse("CANCELLED+"), JobState::Cancelled);
        assert_eq!(JobState::parse("PD"), JobState::Pending);
        assert_eq!(JobState::parse("OUT_OF_MEMORY"), JobState::OutOfMemory);
        assert_eq!(JobState::parse("NODE_FAIL"), JobState::NodeFail);
        assert_eq!(JobState::parse("PREEMPTED"), JobState::Preempted);
        assert_eq!(JobState::parse("REQUEUED"), JobState::Requeued);
        assert_eq!(JobState::parse("TIMEOUT"), JobState::Timeout);
        assert_eq!(JobState::parse("WEIRD"), JobState::Other);
        assert!(JobState::Timeout.is_failure());
        assert!(!JobState::Completed.is_failure());
        assert!(!JobState::Requeued.is_terminal());
    }

    #[test]
    fn scontrol_records_with_arrays_and_spaces() {
        let text = "JobId=5 ArrayJobId=4 ArrayTaskId=1 JobName=wrap UserId=root(0) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) ExitCode=1:0 Command=/tmp/my script.sh\n\
                    JobId=4 ArrayJobId=4 ArrayTaskId=2-3%1 JobName=wrap JobState=PENDING Reason=JobArrayTaskLimit ExitCode=0:0\n\
                    JobId=9 JobName=after JobState=COMPLETED Reason=None ExitCode=0:0\n";
        let t = parse_scontrol_jobs(text).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].id, "4_1");
        assert_eq!(t[0].array_index, Some(1));
        assert_eq!(t[0].state, JobState::Failed);
        assert_eq!(t[0].exit_code, Some(1));
        assert_eq!(t[0].reason.as_deref(), Some("NonZeroExitCode"));
        assert_eq!(t[1].id, "4_[2-3%1]");
        assert_eq!(t[1].state, JobState::Pending);
        assert_eq!(t[2].id, "9");
        assert_eq!(t[2].reason, None);
        assert!(parse_scontrol_jobs("JobName=x\n").is_err());
    }

    #[test]
    fn squeue_and_sacct() {
        let q = parse_squeue(
            "12_3|RUNNING|None\n12_[4-9%2]|PENDING|JobArrayTaskLimit\n13|PENDING|Dependency\n",
        )
        .unwrap();
        assert_eq!(q[0].array_index, Some(3));
        assert_eq!(q[0].state, JobState::Running);
        assert_eq!(q[2].reason.as_deref(), Some("Dependency"));
        assert!(parse_squeue("garbage").is_err());
        let s = parse_sacct("12_0|COMPLETED|0:0\n12_0.batch|COMPLETED|0:0\n12_1|FAILED|1:0\n12_2|CANCELLED by 0|0:15\n").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[1].exit_code, Some(1));
        assert_eq!(s[2].state, JobState::Cancelled);
    }
}
