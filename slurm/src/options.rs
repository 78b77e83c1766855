//! Typed sbatch options, dependencies and batch-script rendering.

use crate::SlurmError;
use std::fmt::Write as _;

/// `#SBATCH` options of a job. Empty fields are left out of the script so the
/// site's defaults apply.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobOptions {
    pub job_name: Option<String>,
    /// Account (LLNL: the bank).
    pub account: Option<String>,
    pub partition: Option<String>,
    pub qos: Option<String>,
    /// Wall time, `[D-]HH:MM:SS` or minutes.
    pub time: Option<String>,
    pub nodes: Option<u32>,
    pub ntasks_per_node: Option<u32>,
    pub cpus_per_task: Option<u32>,
    pub gpus_per_node: Option<u32>,
    /// `--gpus-per-task`: Slurm binds each task to its own GPUs
    /// (`CUDA_VISIBLE_DEVICES` per task).
    pub gpus_per_task: Option<u32>,
    /// `--gres` for sites that allocate GPUs as generic resources (`gpu:4`,
    /// `gpu:a100:2`).
    pub gres: Option<String>,
    /// Memory per node (`16G`).
    pub mem: Option<String>,
    pub constraint: Option<String>,
    /// `%A`/`%a` patterns allowed.
    pub output: Option<String>,
    pub error: Option<String>,
    pub requeue: bool,
    /// Extra `#SBATCH` lines, verbatim, without the `#SBATCH` prefix (`--gres=gpu:4`).
    pub extra: Vec<String>,
}

fn check_token(name: &str, v: &str) -> Result<(), SlurmError> {
    if v.is_empty()
        || v.chars()
            .any(|c| c.is_whitespace() || c == '#' || c == '\'' || c == '"')
    {
        return Err(SlurmError::Options(format!(
            "{name} = {v:?}: must be non-empty without spaces, quotes or '#'"
        )));
    }
    Ok(())
}

fn check_time(v: &str) -> Result<(), SlurmError> {
    // minutes | MM:SS | HH:MM:SS | D-HH | D-HH:MM | D-HH:MM:SS
    let (days, rest) = match v.split_once('-') {
        Some((d, r)) => (Some(d), r),
        None => (None, v),
    };
    let ok_num = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let parts: Vec<&str> = rest.split(':').collect();
    let ok = days.is_none_or(ok_num) && parts.len() <= 3 && parts.iter().all(|p| ok_num(p));
    if ok {
        Ok(())
    } else {
        Err(SlurmError::Options(format!(
            "time = {v:?}: expected minutes, HH:MM:SS or D-HH:MM:SS (e.g. \"01:00:00\")"
        )))
    }
}

impl JobOptions {
    /// Checks every field; called by [`JobOptions::render`].
    pub fn validate(&self) -> Result<(), SlurmError> {
        for (n, v) in [
            ("job_name", &self.job_name),
            ("account", &self.account),
            ("partition", &self.partition),
            ("qos", &self.qos),
            ("mem", &self.mem),
            ("constraint", &self.constraint),
            ("gres", &self.gres),
            ("output", &self.output),
            ("error", &self.error),
        ] {
            if let Some(v) = v {
                check_token(n, v)?;
            }
        }
        if let Some(t) = &self.time {
            check_time(t)?;
        }
        for (n, v) in [
            ("nodes", self.nodes),
            ("ntasks_per_node", self.ntasks_per_node),
            ("cpus_per_task", self.cpus_per_task),
        ] {
            if v == Some(0) {
                return Err(SlurmError::Options(format!("{n} must be at least 1")));
            }
        }
        for e in &self.extra {
            if e.contains('\n') || !e.trim_start().starts_with('-') {
                return Err(SlurmError::Options(format!(
                    "extra sbatch line {e:?}: expected one option such as \"--gres=gpu:4\""
                )));
            }
        }
        Ok(())
    }

    /// The `#SBATCH` lines of these options.
    pub fn sbatch_lines(&self) -> Result<Vec<String>, SlurmError> {
        self.validate()?;
        let mut l = Vec::new();
        let mut push = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                l.push(format!("#SBATCH --{k}={v}"));
            }
        };
        push("job-name", self.job_name.clone());
        push("account", self.account.clone());
        push("partition", self.partition.clone());
        push("qos", self.qos.clone());
        push("time", self.time.clone());
        push("nodes", self.nodes.map(|v| v.to_string()));
        push(
            "ntasks-per-node",
            self.ntasks_per_node.map(|v| v.to_string()),
        );
        push("cpus-per-task", self.cpus_per_task.map(|v| v.to_string()));
        push(
            "gpus-per-node",
            self.gpus_per_node.filter(|g| *g > 0).map(|v| v.to_string()),
        );
        push(
            "gpus-per-task",
            self.gpus_per_task.filter(|g| *g > 0).map(|v| v.to_string()),
        );
        push("gres", self.gres.clone());
        push("mem", self.mem.clone());
        push("constraint", self.constraint.clone());
        push("output", self.output.clone());
        push("error", self.error.clone());
        if self.requeue {
            l.push("#SBATCH --requeue".into());
        }
        for e in &self.extra {
            l.push(format!("#SBATCH {}", e.trim()));
        }
        Ok(l)
    }

    /// A complete batch script: shebang, `#SBATCH` lines, `set -euo pipefail`, then `body`.
    pub fn render(&self, body: &str) -> Result<String, SlurmError> {
        let mut s = String::from("#!/bin/bash\n");
        for line in self.sbatch_lines()? {
            let _ = writeln!(s, "{line}");
        }
        s.push_str("set -euo pipefail\n");
        s.push_str(body);
        if !body.ends_with('\n') {
            s.push('\n');
        }
        Ok(s)
    }
}

/// Kinds of `--dependency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DependencyKind {
    AfterOk,
    AfterAny,
    AfterNotOk,
}

/// A dependency on one or more jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub kind: DependencyKind,
    pub jobs: Vec<String>,
}

impl Dependency {
    pub fn new(kind: DependencyKind, jobs: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Dependency {
            kind,
            jobs: jobs.into_iter().map(Into::into).collect(),
        }
    }

    /// The sbatch argument, e.g. `--dependency=afterok:12:13`; `None` without jobs.
    pub fn to_arg(&self) -> Option<String> {
        if self.jobs.is_empty() {
            return None;
        }
        let k = match self.kind {
            DependencyKind::AfterOk => "afterok",
            DependencyKind::AfterAny => "afterany",
            DependencyKind::AfterNotOk => "afternotok",
        };
        Some(format!("--dependency={k}:{}", self.jobs.join(":")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_llnl_style_script() {
        let o = JobOptions {
            job_name: Some("gp-embed".into()),
            account: Some("mybank".into()),
            partition: Some("pbatch".into()),
            time: Some("01:00:00".into()),
            nodes: Some(1),
            ntasks_per_node: Some(4),
            gpus_per_node: Some(4),
            gpus_per_task: Some(1),
            gres: Some("gpu:a100:4".into()),
            output: Some("logs/%A_%a.out".into()),
            requeue: true,
            extra: vec!["--exclusive".into()],
            ..Default::default()
        };
        let s = o.render("genoprot worker embed\n").unwrap();
        assert_eq!(
            s,
            "#!/bin/bash\n#SBATCH --job-name=gp-embed\n#SBATCH --account=mybank\n#SBATCH --partition=pbatch\n\
             #SBATCH --time=01:00:00\n#SBATCH --nodes=1\n#SBATCH --ntasks-per-node=4\n#SBATCH --gpus-per-node=4\n\
             #SBATCH --gpus-per-task=1\n#SBATCH --gres=gpu:a100:4\n#SBATCH --output=logs/%A_%a.out\n#SBATCH --requeue\n#SBATCH --exclusive\nset -euo pipefail\ngenoprot worker embed\n"
        );
    }

    #[test]
    fn rejects_bad_options() {
        let bad_time = JobOptions {
            time: Some("1h".into()),
            ..Default::default()
        };
        assert!(
            bad_time
                .render("x")
                .unwrap_err()
                .to_string()
                .contains("HH:MM:SS")
        );
        let bad_part = JobOptions {
            partition: Some("p batch".into()),
            ..Default::default()
        };
        assert!(bad_part.validate().is_err());
        let bad_extra = JobOptions {
            extra: vec!["gres=gpu".into()],
            ..Default::default()
        };
        assert!(bad_extra.validate().is_err());
        for ok in ["30", "1-00:00:00", "00:30:00", "2-12"] {
            JobOptions {
                time: Some(ok.into()),
                ..Default::default()
            }
            .validate()
            .unwrap();
        }
    }

    #[test]
    fn dependency_args() {
        assert_eq!(
            Dependency::new(DependencyKind::AfterOk, ["1", "2"])
                .to_arg()
                .unwrap(),
            "--dependency=afterok:1:2"
        );
        assert_eq!(
            Dependency::new(DependencyKind::AfterAny, ["7"])
                .to_arg()
                .unwrap(),
            "--dependency=afterany:7"
        );
        assert!(
            Dependency::new(DependencyKind::AfterNotOk, Vec::<String>::new())
                .to_arg()
                .is_none()
        );
    }
}
