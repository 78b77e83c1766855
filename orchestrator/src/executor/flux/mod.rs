//! Flux (LLNL's resource manager on El Capitan-class systems), behind the
//! batch seam. A job script carries its resources as `# flux:` lines (what
//! `flux batch` reads, so a plain script can be submitted by hand); an
//! array is `flux submit --cc=0-(N-1)` of `bash <script>` with those
//! options — each copy is a job of its own, `FLUX_JOB_CC` its index — and a
//! job with several tasks is started by Flux as that many MPI ranks (no
//! launcher in front). Flux has no array id: genoprot names an array by its
//! first copy's id and keeps the copies' ids in `store/flux/arrays/` (with
//! the tag of their log files), so dependencies, states and `cancel` reach
//! every copy. States come from `flux jobs --json` (state, result,
//! exception), mapped to neutral phases with Flux's words kept.

mod ids;
#[cfg(test)]
mod tests;

use super::batch::scheduler::{
    After, BatchScheduler, JobRequest, JobState, Phase, SchedulerError, ScriptSpec, Shape,
    TaskStatus,
};
use crate::config::{FluxConfig, FluxResources, SweepConfig};
use crate::grid::Stage;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use ids::{f58_decode, f58_encode};

/// How genoprot runs `flux` (tests: recorded answers).
pub trait FluxCommand: Send + Sync {
    /// Runs `flux <args>` and returns its standard output, or an error
    /// with its exit and standard error.
    fn run(&self, args: &[String]) -> Result<String, SchedulerError>;
}

/// The `flux` on PATH (ASCII job ids: `FLUX_F58_FORCE_ASCII=1`).
pub struct FluxCli;

impl FluxCommand for FluxCli {
    fn run(&self, args: &[String]) -> Result<String, SchedulerError> {
        let out = std::process::Command::new("flux")
            .args(args)
            .env("FLUX_F58_FORCE_ASCII", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| {
                SchedulerError(format!(
                    "`flux {}` could not be started: {e}. Hint: is Flux on PATH, and is this inside a Flux instance (FLUX_URI)?",
                    args.first().map_or("", String::as_str)
                ))
            })?;
        if !out.status.success() {
            let said = format!(
                "{} {}",
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            );
            return Err(SchedulerError(format!(
                "`flux {}` failed ({}): {}",
                args.first().map_or("", String::as_str),
                slurm::exit_words(out.status.code()),
                said.trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Flux as a batch scheduler.
pub struct Flux {
    cmd: Box<dyn FluxCommand>,
    cfg: FluxConfig,
    /// `store/flux/arrays`: each submission's copies.
    arrays: PathBuf,
}

impl Flux {
    pub fn cli(cfg: &SweepConfig) -> Flux {
        Flux::over(Box::new(FluxCli), cfg)
    }

    pub fn over(cmd: Box<dyn FluxCommand>, cfg: &SweepConfig) -> Flux {
        let arrays = cfg.layout().scripts_dir("flux").join("arrays");
        Flux {
            cmd,
            cfg: cfg.executor.flux.clone(),
            arrays: std::path::absolute(&arrays).unwrap_or(arrays),
        }
    }

    /// The copies of a submission named `job`: their ids in index order
    /// and the tag of their log files (a job genoprot did not submit: itself).
    fn copies(&self, job: &str) -> (Vec<String>, Option<String>, bool) {
        match std::fs::read_to_string(self.arrays.join(job)) {
            Ok(text) => {
                let mut lines = text.lines();
                let head = lines.next().unwrap_or("");
                let (tag, array) = match head.split_once(' ') {
                    Some((t, kind)) => (Some(t.to_string()), kind == "array"),
                    None => (None, false),
                };
                let ids: Vec<String> = lines.map(str::to_string).collect();
                if ids.is_empty() {
                    (vec![job.to_string()], tag, false)
                } else {
                    (ids, tag, array)
                }
            }
            Err(_) => (vec![job.to_string()], None, false),
        }
    }

    /// The `flux submit` arguments of a request, the log file template and
    /// the tag that names its logs.
    fn args(&self, job: &JobRequest, script: &str, tag: &str) -> Vec<String> {
        let mut args = vec!["submit".to_string()];
        let name = directive_value(script, "--job-name").unwrap_or_else(|| "genoprot".into());
        let logs = directive_value(script, "--output-dir").unwrap_or_else(|| ".".into());
        match job.array {
            Some(a) => {
                // An idset: `0` alone, `0-N` otherwise (Flux refuses `0-0`).
                args.push(match a.len {
                    0 | 1 => "--cc=0".to_string(),
                    n => format!("--cc=0-{}", n - 1),
                });
                args.push(format!("--output={logs}/{name}-{tag}_{{cc}}.out"));
            }
            None => args.push(format!("--output={logs}/{name}-{tag}.out")),
        }
        args.extend(directives(script));
        for (k, v) in &job.env {
            args.push(format!("--env={k}={v}"));
        }
        if let Some(t) = job
            .time
            .as_deref()
            .and_then(super::batch::scheduler::parse_time)
        {
            // The last --time-limit wins: the request's over the script's.
            args.push(format!("--time-limit={}s", t.as_secs().max(1)));
        }
        if let Some((kind, jobs)) = &job.after {
            let k = match kind {
                After::Ok => "afterok",
                After::Any => "afterany",
            };
            for j in jobs {
                for id in self.copies(j).0 {
                    args.push(format!("--dependency={k}:{id}"));
                }
            }
        }
        args.push("bash".into());
        args.push(job.script.display().to_string());
        args
    }

    /// The resources of a stage's jobs, as in `executor.slurm`: the top
    /// level, then the stage's, then (embed) the model's.
    pub fn resources_for(&self, stage: Stage, model: Option<&str>) -> FluxResources {
        let mut r = self.cfg.resources.clone();
        if stage == Stage::Aggregate {
            // It only reads HDF5: no GPUs, one task.
            r.gpus_per_task = None;
            r.tasks = None;
            r.nodes = None;
        }
        let over = match stage {
            Stage::Embed => &self.cfg.stages.embed,
            Stage::Probe => &self.cfg.stages.probe,
            Stage::Fusion => &self.cfg.stages.fusion,
            Stage::Aggregate => &self.cfg.stages.aggregate,
        };
        r = overlaid(&r, over);
        // A `layers:` row's embed job takes its entry's resources.
        let entry = |m: &str| {
            let models = &self.cfg.models;
            models
                .get(m)
                .or_else(|| models.get(workers::embed::spec::entry_name(m)))
        };
        match model.and_then(entry) {
            Some(m) if stage == Stage::Embed => overlaid(&r, m),
            _ => r,
        }
    }
}

/// `base` with every key `over` sets in its place (`extra` appended).
fn overlaid(base: &FluxResources, over: &FluxResources) -> FluxResources {
    let mut extra = base.extra.clone();
    extra.extend(
        over.extra
            .iter()
            .filter(|e| !base.extra.contains(e))
            .cloned(),
    );
    FluxResources {
        queue: over.queue.clone().or_else(|| base.queue.clone()),
        time: over.time.clone().or_else(|| base.time.clone()),
        nodes: over.nodes.or(base.nodes),
        tasks: over.tasks.or(base.tasks),
        cores_per_task: over.cores_per_task.or(base.cores_per_task),
        gpus_per_task: over.gpus_per_task.or(base.gpus_per_task),
        exclusive: over.exclusive.or(base.exclusive),
        extra,
    }
}

/// The `# flux:` options of a script (what `flux batch` would read; the log
/// folder is genoprot's own `# genoprot:` line).
fn directives(script: &str) -> Vec<String> {
    script
        .lines()
        .filter_map(|l| l.strip_prefix("# flux: "))
        .map(|o| o.trim().to_string())
        .collect()
}

/// A `# flux: --key=value` or `# genoprot: --key=value` line's value.
fn directive_value(script: &str, key: &str) -> Option<String> {
    script.lines().find_map(|l| {
        l.strip_prefix("# flux: ")
            .or_else(|| l.strip_prefix("# genoprot: "))
            .and_then(|o| o.trim().strip_prefix(key))
            .and_then(|v| v.strip_prefix('='))
            .map(str::to_string)
    })
}

/// Flux's job words in neutral phases: `state` until the job is inactive,
/// then its `result`.
pub fn phase(state: &str, result: Option<&str>) -> Phase {
    match (state, result) {
        ("INACTIVE", Some("COMPLETED")) => Phase::Done,
        ("INACTIVE", Some("TIMEOUT")) => Phase::TimedOut,
        ("INACTIVE", Some("CANCELED")) => Phase::Cancelled,
        ("INACTIVE", _) => Phase::Failed,
        ("RUN" | "CLEANUP", _) => Phase::Running,
        _ => Phase::Queued,
    }
}

/// One job of `flux jobs --json`.
#[derive(Debug, serde::Deserialize)]
struct JobJson {
    id: u64,
    state: String,
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    returncode: Option<i32>,
    #[serde(default)]
    exception: Option<ExceptionJson>,
}

#[derive(Debug, serde::Deserialize)]
struct ExceptionJson {
    #[serde(default)]
    occurred: bool,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// One job `flux jobs` listed: its number, state, exit code and reason.
type Listed = (u64, JobState, Option<i32>, Option<String>);

/// `flux jobs --json` parsed: id → (state word, phase, exit, reason).
fn parse_jobs(text: &str) -> Result<Vec<Listed>, SchedulerError> {
    // Several ids: `{"jobs": [...]}`; one id: that job's object alone.
    let bad =
        |e: serde_json::Error| SchedulerError(format!("could not parse `flux jobs --json`: {e}"));
    let v: serde_json::Value = serde_json::from_str(text).map_err(bad)?;
    let jobs: Vec<JobJson> = match v.get("jobs") {
        Some(list) => serde_json::from_value(list.clone()).map_err(bad)?,
        None => vec![serde_json::from_value(v).map_err(bad)?],
    };
    Ok(jobs
        .into_iter()
        .map(|j| {
            let p = phase(&j.state, j.result.as_deref());
            let word = if j.state == "INACTIVE" {
                j.result.clone().unwrap_or_else(|| "INACTIVE".into())
            } else {
                j.state.clone()
            };
            let reason = j.exception.filter(|e| e.occurred).map(|e| {
                let kind = e.kind.unwrap_or_default();
                match e.note.filter(|n| !n.is_empty()) {
                    Some(n) => format!("exception {kind}: {n}"),
                    None => format!("exception {kind}"),
                }
            });
            (j.id, JobState::new(p, word), j.returncode, reason)
        })
        .collect())
}

/// Seconds of a Flux duration (`30`, `30s`, `5m`, `2h`, `1d`; `inf`: none).
pub fn parse_fsd(v: &str) -> Option<Duration> {
    let v = v.trim();
    if v == "inf" || v == "infinity" || v.is_empty() {
        return None;
    }
    let (num, unit) = match v.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&v[..i], &v[i..]),
        None => (v, "s"),
    };
    let n: f64 = num.parse().ok()?;
    let f = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return None,
    };
    (n.is_finite() && n > 0.0).then(|| Duration::from_secs_f64(n * f))
}

/// A tag no earlier submission of this store used (names its log files).
fn new_tag(arrays: &Path) -> String {
    let n = std::fs::read_dir(arrays).map_or(0, |d| d.count());
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("s{}-{}", t, n + 1)
}

impl BatchScheduler for Flux {
    fn name(&self) -> &'static str {
        "flux"
    }

    fn preflight(&self, cfg: &SweepConfig, config: &Path) -> anyhow::Result<()> {
        let asks_gpus = [Stage::Embed, Stage::Probe]
            .iter()
            .any(|s| self.resources_for(*s, None).gpus_per_task.unwrap_or(0) > 0)
            || self
                .cfg
                .models
                .values()
                .any(|m| m.gpus_per_task.unwrap_or(0) > 0);
        super::batch::scheduler::warn_gpu_mismatch(
            cfg,
            config,
            "executor.flux",
            asks_gpus,
            "gpus_per_task",
            ": tasks will find no GPU",
        );
        Ok(())
    }

    fn shape(&self, stage: Stage, model: Option<&str>) -> Shape {
        let r = self.resources_for(stage, model);
        Shape {
            queue: r.queue.clone(),
            time: r.time.clone(),
            tasks: r.tasks.unwrap_or(1).max(1),
            key: format!("{r:?}"),
        }
    }

    fn task_index_var(&self) -> &'static str {
        "${FLUX_JOB_CC:-0}"
    }

    fn mpi_prefix(&self, _shape: &Shape) -> String {
        // Flux starts a job's tasks itself, as MPI ranks (its PMI).
        String::new()
    }

    fn rerun_hint(&self) -> String {
        "flux submit --cc=<indices> --env=GENOPROT_OFFSET=0 --env=GENOPROT_BUNDLES=<manifest> <its # flux: options> bash <this script>".into()
    }

    fn render(&self, spec: &ScriptSpec) -> anyhow::Result<String> {
        let r = self.resources_for(spec.stage, spec.model);
        let mut lines = vec![
            "#!/usr/bin/env bash".to_string(),
            format!("# flux: --job-name={}", spec.name),
            format!("# genoprot: --output-dir={}", spec.log_dir.display()),
        ];
        if let Some(b) = &self.cfg.bank {
            lines.push(format!("# flux: --bank={b}"));
        }
        if let Some(q) = &r.queue {
            lines.push(format!("# flux: --queue={q}"));
        }
        if let Some(t) = &r.time {
            let d = super::batch::scheduler::parse_time(t).ok_or_else(|| {
                anyhow::anyhow!("executor.flux time {t:?}: not a time limit (e.g. 1:00:00 or 30)")
            })?;
            lines.push(format!("# flux: --time-limit={}s", d.as_secs().max(1)));
        }
        for (k, v) in [
            ("--nodes", r.nodes),
            ("--ntasks", r.tasks),
            ("--cores-per-task", r.cores_per_task),
            ("--gpus-per-task", r.gpus_per_task),
        ] {
            if let Some(v) = v {
                lines.push(format!("# flux: {k}={v}"));
            }
        }
        if r.exclusive == Some(true) {
            lines.push("# flux: --exclusive".into());
        }
        for e in &r.extra {
            lines.push(format!("# flux: {e}"));
        }
        Ok(format!("{}\n{}", lines.join("\n"), spec.body))
    }

    fn command_line(&self, job: &JobRequest) -> String {
        let script = std::fs::read_to_string(job.script).unwrap_or_default();
        format!("flux {}", self.args(job, &script, "<tag>").join(" "))
    }

    fn submit(&self, job: &JobRequest) -> Result<String, SchedulerError> {
        let script = std::fs::read_to_string(job.script).map_err(|e| {
            SchedulerError(format!("reading the script {}: {e}", job.script.display()))
        })?;
        std::fs::create_dir_all(&self.arrays).map_err(SchedulerError::from_display)?;
        let tag = new_tag(&self.arrays);
        let out = self.cmd.run(&self.args(job, &script, &tag))?;
        let ids: Vec<String> = out
            .split_whitespace()
            .map(|w| w.replace('ƒ', "f"))
            .collect();
        let want = job.array.map_or(1, |a| a.len as usize);
        if ids.len() != want || ids.iter().any(|i| f58_decode(i).is_none()) {
            return Err(SchedulerError(format!(
                "`flux submit` printed {:?}: expected {want} job id(s)",
                out.trim()
            )));
        }
        let first = ids[0].clone();
        let kind = if job.array.is_some() {
            "array"
        } else {
            "plain"
        };
        let record = format!("{tag} {kind}\n{}\n", ids.join("\n"));
        workers::atomic::write_atomic(&self.arrays.join(&first), record.as_bytes())
            .map_err(SchedulerError::from_display)?;
        Ok(first)
    }

    fn query(&self, jobs: &[String]) -> Result<Vec<TaskStatus>, SchedulerError> {
        // Every copy of every submission, by its numeric id.
        let mut wanted: Vec<(String, Option<u32>, u64, String)> = Vec::new();
        for job in jobs {
            let (ids, _, array) = self.copies(job);
            for (i, id) in ids.iter().enumerate() {
                let Some(n) = f58_decode(id) else { continue };
                wanted.push((job.clone(), array.then_some(i as u32), n, id.clone()));
            }
        }
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(wanted.len());
        // Not too many ids on one command line.
        for chunk in wanted.chunks(500) {
            let ask = |ids: &mut dyn Iterator<Item = &String>| {
                let mut args = vec!["jobs".to_string(), "--json".into()];
                args.extend(ids.cloned());
                self.cmd.run(&args).and_then(|t| parse_jobs(&t))
            };
            let known = match ask(&mut chunk.iter().map(|w| &w.3)) {
                Ok(k) => k,
                // One id Flux no longer knows fails the whole call: ask
                // for each, leaving out the unknown ones.
                Err(e) if e.0.contains("unknown") => {
                    let mut k = Vec::new();
                    for w in chunk {
                        match ask(&mut std::iter::once(&w.3)) {
                            Ok(v) => k.extend(v),
                            Err(e) if e.0.contains("unknown") => {}
                            Err(e) => return Err(e),
                        }
                    }
                    k
                }
                Err(e) => return Err(e),
            };
            for (job, index, n, _) in chunk {
                // A job Flux no longer lists (purged): nothing to report,
                // as a Slurm job the controller forgot.
                if let Some((_, state, exit, reason)) = known.iter().find(|k| k.0 == *n) {
                    out.push(TaskStatus {
                        job: job.clone(),
                        array_index: *index,
                        state: state.clone(),
                        exit_code: *exit,
                        reason: reason.clone(),
                    });
                }
            }
        }
        Ok(out)
    }

    fn cancel(&self, jobs: &[String]) -> Result<(), SchedulerError> {
        let mut args = vec!["cancel".to_string()];
        for j in jobs {
            args.extend(self.copies(j).0);
        }
        if args.len() == 1 {
            return Ok(());
        }
        match self.cmd.run(&args) {
            Ok(_) => Ok(()),
            // Jobs that already ended cannot be cancelled: not an error.
            Err(e) if e.0.contains("inactive") => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn max_array_size(&self) -> Result<u32, SchedulerError> {
        // `--cc` has no limit of its own; one submission's ids stay a
        // readable command line for the jobs that depend on it.
        Ok(self.cfg.max_array_size.unwrap_or(1000))
    }

    fn max_time(&self, queue: Option<&str>) -> Result<Option<Duration>, SchedulerError> {
        let Ok(text) = self.cmd.run(&["config".into(), "get".into()]) else {
            return Ok(None);
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let of = |p: &serde_json::Value| {
            p.pointer("/policy/limits/duration").and_then(|d| {
                d.as_str()
                    .map(str::to_string)
                    .or_else(|| d.as_f64().map(|s| format!("{s}s")))
            })
        };
        let limit = queue
            .and_then(|q| v.pointer(&format!("/queues/{q}")).and_then(of))
            .or_else(|| of(&v));
        Ok(limit.and_then(|l| parse_fsd(&l)))
    }

    fn task_log(&self, log_dir: &Path, name: &str, job: &str, index: u32) -> PathBuf {
        let (_, tag, array) = self.copies(job);
        let tag = tag.unwrap_or_else(|| job.to_string());
        if array {
            log_dir.join(format!("{name}-{tag}_{index}.out"))
        } else {
            log_dir.join(format!("{name}-{tag}.out"))
        }
    }
}

/// `genoprot doctor`'s line on Flux: its version, the instance it talks to
/// and its resources, or why not.
pub fn doctor() -> Result<String, SchedulerError> {
    let v = FluxCli.run(&["version".into()])?;
    let version = v
        .lines()
        .find_map(|l| l.strip_prefix("commands:"))
        .map_or("?".to_string(), |s| s.trim().to_string());
    let uri = std::env::var("FLUX_URI").unwrap_or_default();
    if uri.is_empty() {
        return Err(SchedulerError(format!(
            "flux-core {version} is installed, but this is not inside a Flux instance (FLUX_URI \
             is unset): run genoprot in an allocation (`flux alloc`, a `flux batch` job) or under `flux start`"
        )));
    }
    let res = FluxCli
        .run(&[
            "resource".into(),
            "list".into(),
            "--no-header".into(),
            "-o".into(),
            "{state} {nnodes} {ncores} {ngpus}".into(),
        ])
        .unwrap_or_default();
    let free = res
        .lines()
        .find(|l| l.starts_with("free"))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            format!(
                "{} nodes, {} cores, {} GPUs free",
                w.get(1).unwrap_or(&"?"),
                w.get(2).unwrap_or(&"?"),
                w.get(3).unwrap_or(&"?")
            )
        })
        .unwrap_or_else(|| "resources unknown".into());
    Ok(format!("(flux-core {version}; FLUX_URI={uri}; {free})"))
}
