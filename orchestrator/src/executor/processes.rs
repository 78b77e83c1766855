//! `executor.kind: processes` — a batch scheduler whose cluster is this
//! machine: every submitted job gets a detached runner (`bash`, in its own
//! session) that waits for the jobs it depends on, then runs the array's
//! tasks one after another as local processes and records each task's end
//! in `store/processes/jobs/<id>/`. It exists to drive the whole batch path
//! (submit → arrays → the finishing job → heal → aggregate) through the
//! neutral [`BatchScheduler`] seam in tests without a cluster, and as the
//! proof that a scheduler is this one module plus one registry line. It is
//! not a production scheduler: no resources, no time limits unless a retry
//! asks for one, one task at a time.

use super::batch::scheduler::{
    After, BatchScheduler, JobRequest, JobState, Phase, SchedulerError, ScriptSpec, Shape,
    TaskStatus,
};
use crate::config::SweepConfig;
use crate::grid::Stage;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The scheduler over a store's `processes/jobs/` folder.
pub struct Processes {
    jobs: PathBuf,
}

impl Processes {
    pub fn new(cfg: &SweepConfig) -> Self {
        let jobs = cfg.layout().scripts_dir("processes").join("jobs");
        Processes {
            jobs: std::path::absolute(&jobs).unwrap_or(jobs),
        }
    }

    /// A new job folder: the lowest free number from 1 (created atomically).
    fn new_job(&self) -> Result<(String, PathBuf), SchedulerError> {
        std::fs::create_dir_all(&self.jobs).map_err(SchedulerError::from_display)?;
        let mut n = std::fs::read_dir(&self.jobs)
            .map(|d| d.count())
            .unwrap_or(0)
            + 1;
        loop {
            let dir = self.jobs.join(n.to_string());
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok((n.to_string(), dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => return Err(SchedulerError::from_display(e)),
            }
        }
    }
}

/// `#PROCESSES key=value` lines of a rendered script.
fn directive(script: &str, key: &str) -> Option<String> {
    script.lines().find_map(|l| {
        l.strip_prefix("#PROCESSES ")
            .and_then(|kv| kv.strip_prefix(key))
            .and_then(|v| v.strip_prefix('='))
            .map(str::to_string)
    })
}

fn q(s: &str) -> String {
    workers::embed::command::shell_quote(s)
}

/// A task file's first word in neutral phases.
fn phase(word: &str) -> Phase {
    match word {
        "RUNNING" => Phase::Running,
        "COMPLETED" => Phase::Done,
        "TIMEOUT" => Phase::TimedOut,
        "CANCELLED" => Phase::Cancelled,
        "FAILED" => Phase::Failed,
        _ => Phase::Queued,
    }
}

impl BatchScheduler for Processes {
    fn name(&self) -> &'static str {
        "processes"
    }

    fn shape(&self, _stage: Stage, _model: Option<&str>) -> Shape {
        Shape {
            queue: None,
            time: None,
            tasks: 1,
            key: "one local process".into(),
        }
    }

    fn task_index_var(&self) -> &'static str {
        "GENOPROT_PROCESS_TASK"
    }

    fn mpi_prefix(&self, _shape: &Shape) -> String {
        String::new()
    }

    fn rerun_hint(&self) -> String {
        "GENOPROT_PROCESS_TASK=<i> GENOPROT_OFFSET=0 GENOPROT_BUNDLES=<manifest> bash <this script>"
            .into()
    }

    fn render(&self, spec: &ScriptSpec) -> anyhow::Result<String> {
        Ok(format!(
            "#!/usr/bin/env bash\n#PROCESSES job-name={}\n#PROCESSES output-dir={}\n{}",
            spec.name,
            spec.log_dir.display(),
            spec.body
        ))
    }

    fn command_line(&self, job: &JobRequest) -> String {
        let mut parts = vec!["processes-submit".to_string()];
        if let Some(a) = job.array {
            parts.push(format!("--array=0-{}", a.len.saturating_sub(1)));
        }
        for (k, v) in &job.env {
            parts.push(format!("--env={k}={v}"));
        }
        if let Some(t) = &job.time {
            parts.push(format!("--time={t}"));
        }
        if let Some((kind, jobs)) = &job.after {
            let k = match kind {
                After::Ok => "ok",
                After::Any => "any",
            };
            parts.push(format!("--after={k}:{}", jobs.join(":")));
        }
        parts.push(job.script.display().to_string());
        parts.join(" ")
    }

    fn submit(&self, job: &JobRequest) -> Result<String, SchedulerError> {
        let text = std::fs::read_to_string(job.script).map_err(|e| {
            SchedulerError(format!("reading the script {}: {e}", job.script.display()))
        })?;
        let name = directive(&text, "job-name").unwrap_or_else(|| "job".into());
        let logs = directive(&text, "output-dir").unwrap_or_else(|| ".".into());
        let (id, dir) = self.new_job()?;
        let (len, array) = match job.array {
            Some(a) => (a.len, true),
            None => (1, false),
        };
        let deps = job.after.as_ref().map_or(&[][..], |(_, j)| j.as_slice());
        let needs_ok = matches!(job.after, Some((After::Ok, _)));
        let env: Vec<String> = job
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", q(v)))
            .collect();
        let limit = job
            .time
            .as_deref()
            .and_then(super::batch::scheduler::parse_time)
            .map_or(String::new(), |t| {
                format!("timeout {} ", t.as_secs().max(1))
            });
        let cwd = std::env::current_dir().map_err(SchedulerError::from_display)?;
        let mut run = format!(
            "#!/usr/bin/env bash\n# genoprot's processes scheduler: job {id}\ncd {cwd}\nS={jobs}\nJ={dir}\n",
            cwd = q(&cwd.display().to_string()),
            jobs = q(&self.jobs.display().to_string()),
            dir = q(&dir.display().to_string()),
        );
        run.push_str(&format!(
            "ok=1\nfor d in {}; do\n  until [ -e \"$S/$d/ended\" ]; do sleep 0.2; done\n  if grep -qv '^COMPLETED' \"$S/$d\"/task-*; then ok=0; fi\ndone\n",
            deps.join(" ")
        ));
        if !needs_ok {
            run.push_str("ok=1\n");
        }
        for i in 0..len {
            let log = if array {
                format!("{logs}/{name}-{id}_{i}.out")
            } else {
                format!("{logs}/{name}-{id}.out")
            };
            run.push_str(&format!(
                "if [ -e \"$J/cancel\" ] || [ $ok = 0 ]; then echo CANCELLED > \"$J/task-{i}\"\nelse\n  echo RUNNING > \"$J/task-{i}\"\n  \
                 env {env} GENOPROT_PROCESS_TASK={i} {limit}bash {script} > {log} 2>&1\n  rc=$?\n  \
                 case $rc in 0) w='COMPLETED 0';; 124) w='TIMEOUT 124';; *) w=\"FAILED $rc\";; esac\n  \
                 echo \"$w\" > \"$J/task-{i}.tmp\" && mv \"$J/task-{i}.tmp\" \"$J/task-{i}\"\nfi\n",
                env = env.join(" "),
                script = q(&job.script.display().to_string()),
                log = q(&log),
            ));
        }
        run.push_str("touch \"$J/ended\"\n");
        let meta = format!("{len} {}\n", if array { "array" } else { "plain" });
        workers::atomic::write_atomic(&dir.join("tasks"), meta.as_bytes())
            .and_then(|_| workers::atomic::write_atomic(&dir.join("run.sh"), run.as_bytes()))
            .map_err(SchedulerError::from_display)?;
        std::process::Command::new("setsid")
            .arg("bash")
            .arg(dir.join("run.sh"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| SchedulerError(format!("starting the runner of job {id}: {e}")))?;
        Ok(id)
    }

    fn query(&self, jobs: &[String]) -> Result<Vec<TaskStatus>, SchedulerError> {
        let mut out = Vec::new();
        for job in jobs {
            let dir = self.jobs.join(job);
            let Ok(meta) = std::fs::read_to_string(dir.join("tasks")) else {
                continue;
            };
            let mut it = meta.split_whitespace();
            let len: u32 = it.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            let array = it.next() == Some("array");
            for i in 0..len {
                let text = std::fs::read_to_string(dir.join(format!("task-{i}")))
                    .unwrap_or_else(|_| "PENDING".into());
                let mut w = text.split_whitespace();
                let word = w.next().unwrap_or("PENDING").to_string();
                out.push(TaskStatus {
                    job: job.clone(),
                    array_index: array.then_some(i),
                    state: JobState::new(phase(&word), word),
                    exit_code: w.next().and_then(|c| c.parse().ok()),
                    reason: None,
                });
            }
        }
        Ok(out)
    }

    fn cancel(&self, jobs: &[String]) -> Result<(), SchedulerError> {
        for job in jobs {
            let dir = self.jobs.join(job);
            if dir.is_dir() {
                std::fs::write(dir.join("cancel"), b"").map_err(SchedulerError::from_display)?;
            }
        }
        Ok(())
    }

    fn max_array_size(&self) -> Result<u32, SchedulerError> {
        Ok(1001)
    }

    fn max_time(&self, _queue: Option<&str>) -> Result<Option<Duration>, SchedulerError> {
        Ok(None)
    }

    fn task_log(&self, log_dir: &Path, name: &str, job: &str, index: u32) -> PathBuf {
        log_dir.join(format!("{name}-{job}_{index}.out"))
    }
}
