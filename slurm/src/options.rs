//! Typed sbatch options, dependencies and batch-script rendering.

use crate::SlurmError;
use std::fmt::Write as _;

/// What a job asks of the cluster: the `#SBATCH` resource options, defined
/// once and used at every level of a sweep config (the whole sweep, a stage,
/// a model). Empty fields are left out of the script so the site's defaults
/// apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Resources {
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
    /// Extra `#SBATCH` lines, verbatim, without the `#SBATCH` prefix (`--exclusive`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<String>,
}

impl Resources {
    /// These resources with every field `over` sets taking its place; `extra`
    /// lines are appended.
    pub fn overlaid(&self, over: &Resources) -> Resources {
        fn pick<T: Clone>(base: &Option<T>, over: &Option<T>) -> Option<T> {
            over.clone().or_else(|| base.clone())
        }
        let mut extra = self.extra.clone();
        extra.extend(
            over.extra
                .iter()
                .filter(|e| !self.extra.contains(e))
                .cloned(),
        );
        Resources {
            partition: pick(&self.partition, &over.partition),
            qos: pick(&self.qos, &over.qos),
            time: pick(&self.time, &over.time),
            nodes: pick(&self.nodes, &over.nodes),
            ntasks_per_node: pick(&self.ntasks_per_node, &over.ntasks_per_node),
            cpus_per_task: pick(&self.cpus_per_task, &over.cpus_per_task),
            gpus_per_node: pick(&self.gpus_per_node, &over.gpus_per_node),
            gpus_per_task: pick(&self.gpus_per_task, &over.gpus_per_task),
            gres: pick(&self.gres, &over.gres),
            mem: pick(&self.mem, &over.mem),
            constraint: pick(&self.constraint, &over.constraint),
            extra,
        }
    }

    /// Whether these resources request GPUs in any of Slurm's spellings.
    pub fn asks_gpus(&self) -> bool {
        self.gpus_per_node.unwrap_or(0) > 0
            || self.gpus_per_task.unwrap_or(0) > 0
            || self.gres.as_deref().is_some_and(|g| g.contains("gpu"))
            || self.extra.iter().any(|e| e.contains("gpu"))
    }

    /// These resources without GPU requests (for jobs that only read files).
    pub fn without_gpus(&self) -> Resources {
        Resources {
            gpus_per_node: None,
            gpus_per_task: None,
            gres: self.gres.clone().filter(|g| !g.contains("gpu")),
            extra: self
                .extra
                .iter()
                .filter(|e| !e.contains("gpu"))
                .cloned()
                .collect(),
            ..self.clone()
        }
    }

    /// Tasks of the job: nodes × tasks per node.
    pub fn tasks(&self) -> u32 {
        self.nodes.unwrap_or(1) * self.ntasks_per_node.unwrap_or(1)
    }

    /// The time limit, when set.
    pub fn time_limit(&self) -> Option<std::time::Duration> {
        self.time.as_deref().and_then(parse_time)
    }
}

/// `#SBATCH` options of a job: its name, account, resources and log files.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobOptions {
    pub job_name: Option<String>,
    /// Account (LLNL: the bank).
    pub account: Option<String>,
    #[serde(flatten)]
    pub resources: Resources,
    /// `%A`/`%a` patterns allowed.
    pub output: Option<String>,
    pub error: Option<String>,
    pub requeue: bool,
}

/// A Slurm time (`minutes`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`,
/// `D-HH:MM:SS`) as a duration; `None` when malformed or unlimited.
pub fn parse_time(v: &str) -> Option<std::time::Duration> {
    let (days, rest) = match v.split_once('-') {
        Some((d, r)) => (Some(d.parse::<u64>().ok()?), r),
        None => (None, v),
    };
    let nums: Vec<u64> = rest
        .split(':')
        .map(|p| {
            (!p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        })
        .collect::<Option<Vec<_>>>()?;
    let secs = match (days, nums.as_slice()) {
        (None, [m]) => m * 60,
        (None, [m, s]) => m * 60 + s,
        (None, [h, m, s]) => h * 3600 + m * 60 + s,
        (Some(d), [h]) => d * 86400 + h * 3600,
        (Some(d), [h, m]) => d * 86400 + h * 3600 + m * 60,
        (Some(d), [h, m, s]) => d * 86400 + h * 3600 + m * 60 + s,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(secs))
}

/// A duration as a Slurm time, `D-HH:MM:SS` (whole minutes, rounded up).
pub fn format_time(d: std::time::Duration) -> String {
    let mins = d.as_secs().div_ceil(60).max(1);
    let (days, h, m) = (mins / 1440, (mins % 1440) / 60, mins % 60);
    format!("{days}-{h:02}:{m:02}:00")
}

fn check_token(name: &str, v: &str) -> Result<(), SlurmError> {
    if v.is_empty()
        || v.chars()
            .any(|c| c.is_whitespace() || c == '#' || c == '\'' || c == '"')
    {
        return Err(SlurmError::Options {
            key: name.into(),
            value: v.into(),
            reason: "must be non-empty without spaces, quotes or '#'".into(),
        });
    }
    Ok(())
}

fn check_time(v: &str) -> Result<(), SlurmError> {
    match parse_time(v) {
        Some(_) => Ok(()),
        None => Err(SlurmError::Options {
            key: "time".into(),
            value: v.into(),
            reason: "expected minutes, HH:MM:SS or D-HH:MM:SS (e.g. \"01:00:00\")".into(),
        }),
    }
}

impl JobOptions {
    /// Checks every field; called by [`JobOptions::render`].
    pub fn validate(&self) -> Result<(), SlurmError> {
        for (n, v) in [
            ("job_name", &self.job_name),
            ("account", &self.account),
            ("partition", &self.resources.partition),
            ("qos", &self.resources.qos),
            ("mem", &self.resources.mem),
            ("constraint", &self.resources.constraint),
            ("gres", &self.resources.gres),
            ("output", &self.output),
            ("error", &self.error),
        ] {
            if let Some(v) = v {
                check_token(n, v)?;
            }
        }
        if let Some(t) = &self.resources.time {
            check_time(t)?;
        }
        for (n, v) in [
            ("nodes", self.resources.nodes),
            ("ntasks_per_node", self.resources.ntasks_per_node),
            ("cpus_per_task", self.resources.cpus_per_task),
        ] {
            if v == Some(0) {
                return Err(SlurmError::Options {
                    key: n.into(),
                    value: "0".into(),
                    reason: "must be at least 1".into(),
                });
            }
        }
        for e in &self.resources.extra {
            if e.contains('\n') || !e.trim_start().starts_with('-') {
                return Err(SlurmError::Options {
                    key: "extra".into(),
                    value: e.clone(),
                    reason: "expected one sbatch option per line, such as \"--gres=gpu:4\"".into(),
                });
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
        push("partition", self.resources.partition.clone());
        push("qos", self.resources.qos.clone());
        push("time", self.resources.time.clone());
        push("nodes", self.resources.nodes.map(|v| v.to_string()));
        push(
            "ntasks-per-node",
            self.resources.ntasks_per_node.map(|v| v.to_string()),
        );
        push(
            "cpus-per-task",
            self.resources.cpus_per_task.map(|v| v.to_string()),
        );
        push(
            "gpus-per-node",
            self.resources
                .gpus_per_node
                .filter(|g| *g > 0)
                .map(|v| v.to_string()),
        );
        push(
            "gpus-per-task",
            self.resources
                .gpus_per_task
                .filter(|g| *g > 0)
                .map(|v| v.to_string()),
        );
        push("gres", self.resources.gres.clone());
        push("mem", self.resources.mem.clone());
        push("constraint", self.resources.constraint.clone());
        push("output", self.output.clone());
        push("error", self.error.clone());
        if self.requeue {
            l.push("#SBATCH --requeue".into());
        }
        for e in &self.resources.extra {
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
            resources: Resources {
                partition: Some("pbatch".into()),
                time: Some("01:00:00".into()),
                nodes: Some(1),
                ntasks_per_node: Some(4),
                gpus_per_node: Some(4),
                gpus_per_task: Some(1),
                gres: Some("gpu:a100:4".into()),
                extra: vec!["--exclusive".into()],
                ..Default::default()
            },
            output: Some("logs/%A_%a.out".into()),
            requeue: true,
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
        let with = |r: Resources| JobOptions {
            resources: r,
            ..Default::default()
        };
        let bad_time = with(Resources {
            time: Some("1h".into()),
            ..Default::default()
        });
        assert!(
            bad_time
                .render("x")
                .unwrap_err()
                .to_string()
                .contains("HH:MM:SS")
        );
        let bad_part = with(Resources {
            partition: Some("p batch".into()),
            ..Default::default()
        });
        assert!(bad_part.validate().is_err());
        let bad_extra = with(Resources {
            extra: vec!["gres=gpu".into()],
            ..Default::default()
        });
        assert!(bad_extra.validate().is_err());
        for ok in ["30", "1-00:00:00", "00:30:00", "2-12"] {
            with(Resources {
                time: Some(ok.into()),
                ..Default::default()
            })
            .validate()
            .unwrap();
        }
    }

    #[test]
    fn times_parse_format_and_overlay() {
        use std::time::Duration;
        for (t, secs) in [
            ("30", 1800),
            ("05:30", 330),
            ("01:00:00", 3600),
            ("2-12", 2 * 86400 + 12 * 3600),
            ("1-00:30", 86400 + 1800),
            ("1-00:00:10", 86400 + 10),
        ] {
            assert_eq!(parse_time(t), Some(Duration::from_secs(secs)), "{t}");
        }
        for bad in ["1h", "", "UNLIMITED", "1:2:3:4", "-5"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        assert_eq!(format_time(Duration::from_secs(61)), "0-00:02:00");
        assert_eq!(format_time(Duration::from_secs(90000)), "1-01:00:00");
        let base = Resources {
            partition: Some("pbatch".into()),
            time: Some("01:00:00".into()),
            extra: vec!["--exclusive".into()],
            ..Default::default()
        };
        let gpu = Resources {
            partition: Some("pgpu".into()),
            gpus_per_node: Some(4),
            extra: vec!["--exclusive".into(), "--gres=gpu:4".into()],
            ..Default::default()
        };
        let r = base.overlaid(&gpu);
        assert_eq!(r.partition.as_deref(), Some("pgpu"));
        assert_eq!(r.time.as_deref(), Some("01:00:00"));
        assert_eq!(r.extra, ["--exclusive", "--gres=gpu:4"]);
        assert!(r.asks_gpus() && !r.without_gpus().asks_gpus());
        assert_eq!(r.without_gpus().extra, ["--exclusive"]);
        assert_eq!(r.time_limit(), Some(Duration::from_secs(3600)));
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
