//! The real scheduler: Slurm's command-line tools.

use crate::{JobId, Scheduler, SlurmError, TaskStatus, parse_sacct, parse_scontrol_jobs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// Calls `sbatch`, `scontrol`, `sacct` and `scancel` (from `PATH`, or a prefix).
#[derive(Debug, Clone, Default)]
pub struct SlurmCli {
    /// Folder holding the Slurm binaries; `None` uses `PATH`.
    pub bin_dir: Option<PathBuf>,
    /// Whether `sacct` answers for purged jobs; `None`: where the cluster
    /// keeps accounting (`AccountingStorageType` is not `accounting_storage/none`).
    pub accounting: Option<bool>,
    detected: OnceLock<bool>,
}

impl SlurmCli {
    pub fn new() -> Self {
        SlurmCli::default()
    }

    /// Asks `sacct` for purged jobs (`true`) or never (`false`), whatever
    /// the cluster keeps.
    pub fn with_accounting(accounting: bool) -> Self {
        SlurmCli {
            accounting: Some(accounting),
            ..Default::default()
        }
    }

    fn cmd(&self, name: &str) -> Command {
        match &self.bin_dir {
            Some(d) => Command::new(d.join(name)),
            None => Command::new(name),
        }
    }

    fn run(&self, name: &str, args: &[&str]) -> Result<String, SlurmError> {
        let cmdline = format!("{name} {}", args.join(" "));
        tracing::debug!(cmd = %cmdline, "slurm");
        let out = self
            .cmd(name)
            .args(args)
            .output()
            .map_err(|source| SlurmError::Spawn {
                cmd: cmdline.clone(),
                source,
            })?;
        if !out.status.success() {
            return Err(SlurmError::Command {
                cmd: cmdline,
                code: out.status.code(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Whether the cluster keeps accounting, so `sacct` can answer for jobs
    /// the controller has purged.
    pub fn has_accounting(&self) -> bool {
        if let Some(a) = self.accounting {
            return a;
        }
        *self
            .detected
            .get_or_init(|| match self.config_value("AccountingStorageType") {
                Ok(Some(v)) => !v.ends_with("/none") && v != "(null)",
                _ => false,
            })
    }

    /// `sacct` rows of the given jobs (array tasks one per row; a pending
    /// range as one row).
    pub fn query_sacct(&self, jobs: &[JobId]) -> Result<Vec<TaskStatus>, SlurmError> {
        let list = jobs.join(",");
        let text = self.run(
            "sacct",
            &[
                "-n",
                "-X",
                "--parsable2",
                "-o",
                "JobID,State,ExitCode,Reason",
                "-j",
                &list,
            ],
        )?;
        parse_sacct(&text)
    }

    /// `scontrol show config` value of a key.
    pub fn config_value(&self, key: &str) -> Result<Option<String>, SlurmError> {
        let text = self.run("scontrol", &["show", "config"])?;
        Ok(text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_string())
        }))
    }
}

impl Scheduler for SlurmCli {
    fn submit(&self, script: &Path, extra: &[String]) -> Result<JobId, SlurmError> {
        let mut args: Vec<&str> = vec!["--parsable"];
        args.extend(extra.iter().map(String::as_str));
        let s = script.to_string_lossy();
        args.push(&s);
        let out = self.run("sbatch", &args).map_err(|e| match e {
            SlurmError::Command { stderr, .. } => SlurmError::Refused {
                script: script.display().to_string(),
                message: stderr,
            },
            other => other,
        })?;
        // `--parsable` prints `id` or `id;cluster`.
        let id = out.trim().split(';').next().unwrap_or("").to_string();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
            return Err(SlurmError::Parse {
                what: "sbatch --parsable",
                detail: format!("unexpected output {out:?}"),
            });
        }
        Ok(id)
    }

    /// The controller (`scontrol show job`) answers for the jobs it still
    /// holds: it is current, while accounting is written asynchronously (a
    /// just-finished array can show in `sacct` as one row, or not yet). Jobs
    /// it has purged (older than `MinJobAge`) are asked of `sacct` in one
    /// call where the cluster keeps accounting; without accounting they are
    /// absent from the answer.
    fn query(&self, jobs: &[JobId]) -> Result<Vec<TaskStatus>, SlurmError> {
        let mut all = Vec::new();
        let mut purged: Vec<JobId> = Vec::new();
        for job in jobs {
            match self.run("scontrol", &["show", "job", "-o", job]) {
                Ok(text) => all.extend(parse_scontrol_jobs(&text)?),
                Err(SlurmError::Command { stderr, .. }) if stderr.contains("Invalid job id") => {
                    purged.push(job.clone());
                }
                Err(e) => return Err(e),
            }
        }
        if !purged.is_empty() {
            if self.has_accounting() {
                all.extend(self.query_sacct(&purged)?);
            } else {
                tracing::debug!(jobs = ?purged, "purged from the controller; no accounting");
            }
        }
        Ok(all)
    }

    fn cancel(&self, jobs: &[JobId]) -> Result<(), SlurmError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let args: Vec<&str> = jobs.iter().map(String::as_str).collect();
        self.run("scancel", &args).map(|_| ())
    }

    fn max_array_size(&self) -> Result<u32, SlurmError> {
        let v = self
            .config_value("MaxArraySize")?
            .ok_or_else(|| SlurmError::Parse {
                what: "scontrol show config",
                detail: "no MaxArraySize".into(),
            })?;
        v.parse().map_err(|_| SlurmError::Parse {
            what: "scontrol show config",
            detail: format!("MaxArraySize = {v:?}"),
        })
    }

    fn partition_max_time(&self, partition: Option<&str>) -> Result<Option<Duration>, SlurmError> {
        let text = self.run("scontrol", &["show", "partition", "-o"])?;
        crate::parse_partition_max_time(&text, partition)
    }
}
