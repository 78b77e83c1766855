//! The Slurm executor: one array per stage (embed → probe → fusion), then an
//! aggregate job; arrays chunked to MaxArraySize with a `%N` throttle, stages
//! chained with dependencies, each array task running a bundle of cells.
//! Scripts are written to `store/slurm/` (readable, re-runnable by hand); the
//! journal (`store/journal/jobs.jsonl`) records only what Slurm accepted.

use crate::config::SweepConfig;
use crate::embed::is_current;
use crate::grid::{Grid, Stage};
use crate::run::cell_done;
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use slurm::{ArraySpec, Dependency, DependencyKind, JobOptions, JobState, Scheduler, TaskStatus};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use workers::dataset::Dataset;

/// One accepted submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub stage: Stage,
    pub job_id: String,
    /// Global array indices this job covers (bundles; models for embed).
    pub indices: Vec<u32>,
    /// Added to SLURM_ARRAY_TASK_ID.
    pub offset: u32,
    pub script: String,
    pub t: f64,
}

fn jobs_file(cfg: &SweepConfig) -> PathBuf {
    cfg.store.join("journal").join("jobs.jsonl")
}

pub fn submissions(cfg: &SweepConfig) -> Vec<Submission> {
    crate::jsonl::read(&jobs_file(cfg))
}

fn record(cfg: &SweepConfig, s: &Submission) -> anyhow::Result<()> {
    crate::store_dir(&cfg.store.join("journal"))?;
    crate::jsonl::append(&jobs_file(cfg), s)?;
    Ok(())
}

/// What is left to do, in array indices per stage.
#[derive(Debug, Clone, Default)]
pub struct Todo {
    /// Indices into `cfg.models`.
    pub embed: Vec<u32>,
    pub probe: Vec<u32>,
    pub fusion: Vec<u32>,
}

fn bundle_size(cfg: &SweepConfig) -> usize {
    cfg.executor.slurm.cells_per_task.unwrap_or(20).max(1)
}

pub fn todo(cfg: &SweepConfig, ds: &Dataset, grid: &Grid) -> Todo {
    let size = bundle_size(cfg);
    let bundles = |cells: &[workers::probe::cell::CellSpec]| -> Vec<u32> {
        let mut v = BTreeSet::new();
        for (i, c) in cells.iter().enumerate() {
            if !cell_done(cfg, &c.id) {
                v.insert((i / size) as u32);
            }
        }
        v.into_iter().collect()
    };
    Todo {
        embed: grid
            .embed
            .iter()
            .enumerate()
            .filter(|(_, j)| !is_current(cfg, ds, &j.model))
            .map(|(i, _)| i as u32)
            .collect(),
        probe: bundles(&grid.cells),
        fusion: bundles(&grid.late),
    }
}

/// (stage, global index) of tasks still queued or running, and every task's status.
pub type InFlight = (BTreeSet<(Stage, u32)>, Vec<TaskStatus>);
/// Per stage: state → task count; and one line per failed task.
pub type SchedulerSummary = (BTreeMap<String, BTreeMap<String, usize>>, Vec<String>);

/// The recorded submissions and the scheduler's view of every task of them
/// (no query when nothing was submitted).
fn query_recorded(
    cfg: &SweepConfig,
    sched: &dyn Scheduler,
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

/// Array tasks of recorded jobs that are still queued or running: (stage, index).
pub fn in_flight(cfg: &SweepConfig, sched: &dyn Scheduler) -> anyhow::Result<InFlight> {
    let (subs, states) = query_recorded(cfg, sched)?;
    let mut busy = BTreeSet::new();
    for s in &subs {
        for t in states.iter().filter(|t| t.job == s.job_id) {
            if t.state.is_terminal() {
                continue;
            }
            match t.array_index {
                Some(i) => {
                    busy.insert((s.stage, i + s.offset));
                }
                // A pending array record covering a range: treat every index as busy.
                None => {
                    for i in &s.indices {
                        busy.insert((s.stage, *i));
                    }
                }
            }
        }
    }
    Ok((busy, states))
}

/// `gp-<sweep>-<stage>`: the job name, also the prefix of its log files.
pub fn job_name(cfg: &SweepConfig, stage: Stage) -> String {
    format!(
        "gp-{}-{stage}",
        cfg.name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>()
    )
}

fn options(cfg: &SweepConfig, stage: Stage) -> JobOptions {
    let s = &cfg.executor.slurm;
    JobOptions {
        job_name: Some(job_name(cfg, stage)),
        account: s.account.clone(),
        partition: s.partition.clone(),
        qos: s.qos.clone(),
        time: s.time.clone(),
        nodes: s.nodes,
        ntasks_per_node: if stage == Stage::Aggregate {
            None
        } else {
            s.ntasks_per_node
        },
        cpus_per_task: s.cpus_per_task,
        // GPUs for the stages that run models and probes; the aggregate job
        // only reads HDF5.
        gpus_per_node: s.gpus_per_node.filter(|_| stage != Stage::Aggregate),
        gpus_per_task: s.gpus_per_task.filter(|_| stage != Stage::Aggregate),
        gres: s.gres.clone().filter(|_| stage != Stage::Aggregate),
        mem: s.mem.clone(),
        constraint: s.constraint.clone(),
        output: Some(
            std::env::current_dir()
                .unwrap_or_default()
                .join(cfg.logs_dir())
                .join("slurm")
                .join(if stage == Stage::Aggregate {
                    "%x-%j.out"
                } else {
                    "%x-%A_%a.out"
                })
                .display()
                .to_string(),
        ),
        error: None,
        requeue: true,
        extra: s.extra.clone(),
    }
}

fn shell_quote(s: &str) -> String {
    workers::embed::command::shell_quote(s)
}

/// How multi-task jobs start their ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launcher {
    Srun,
    Mpirun,
}

/// `executor.slurm.launcher`, or detected: `srun --mpi=pmix` where this
/// Slurm lists the pmix plugin (`srun --mpi=list`), else `mpirun` inside the
/// allocation (OpenMPI reads the Slurm allocation itself).
pub fn launcher(cfg: &SweepConfig) -> Launcher {
    match cfg.executor.slurm.launcher.as_deref() {
        Some("srun") => Launcher::Srun,
        Some("mpirun") => Launcher::Mpirun,
        _ => {
            let out = std::process::Command::new("srun")
                .arg("--mpi=list")
                .output();
            let text = out
                .map(|o| {
                    format!(
                        "{}{}",
                        String::from_utf8_lossy(&o.stdout),
                        String::from_utf8_lossy(&o.stderr)
                    )
                })
                .unwrap_or_default();
            if text.contains("pmix") {
                Launcher::Srun
            } else {
                Launcher::Mpirun
            }
        }
    }
}

/// Renders the stage scripts into `store/slurm/`.
pub fn write_scripts(
    cfg: &SweepConfig,
    config_path: &Path,
) -> anyhow::Result<BTreeMap<Stage, PathBuf>> {
    let dir = cfg.store.join("slurm");
    crate::store_dir(&dir)?;
    crate::store_dir(&cfg.logs_dir().join("slurm"))?;
    let exe = std::env::current_exe().context("locating the genoprot binary")?;
    let cwd = std::env::current_dir()?;
    let conf = std::fs::canonicalize(config_path).unwrap_or_else(|_| cwd.join(config_path));
    let gp = format!("{} -q", shell_quote(&exe.display().to_string()));
    let c = shell_quote(&conf.display().to_string());
    let head = format!(
        "# genoprot sweep {name}: generated by `genoprot submit`; re-runnable by hand with\n\
         #   sbatch --array=<indices> --export=ALL,GENOPROT_OFFSET=0 <this script>\n\
         cd {cwd}\n\
         i=$(( SLURM_ARRAY_TASK_ID + ${{GENOPROT_OFFSET:-0}} ))\n",
        name = cfg.name,
        cwd = shell_quote(&cwd.display().to_string())
    );
    let models: Vec<String> = cfg.models.iter().map(|m| m.name.clone()).collect();
    let size = bundle_size(cfg);
    // MPI launch for jobs with several tasks: every rank runs the worker.
    let tasks =
        cfg.executor.slurm.nodes.unwrap_or(1) * cfg.executor.slurm.ntasks_per_node.unwrap_or(1);
    let launch = if tasks > 1 {
        match launcher(cfg) {
            Launcher::Srun => "srun --mpi=pmix ".to_string(),
            Launcher::Mpirun => "mpirun -np \"$SLURM_NTASKS\" ".to_string(),
        }
    } else {
        String::new()
    };
    let plain = gp.clone();
    let gp = format!("{launch}{gp}");
    let bodies = [
        (
            Stage::Embed,
            format!(
                "{head}models=({})\nexec {gp} worker embed --config {c} --model \"${{models[$i]}}\"\n",
                models.join(" ")
            ),
        ),
        (
            Stage::Probe,
            format!(
                "{head}exec {gp} worker probe --config {c} --stage probe --bundle \"$i\" --bundle-size {size}\n"
            ),
        ),
        (
            Stage::Fusion,
            format!(
                "{head}exec {gp} worker probe --config {c} --stage fusion --bundle \"$i\" --bundle-size {size}\n"
            ),
        ),
        (
            Stage::Aggregate,
            format!(
                "# genoprot sweep {}: aggregate and report after the arrays.\ncd {}\nexec {plain} report {c}\n",
                cfg.name,
                shell_quote(&cwd.display().to_string())
            ),
        ),
    ];
    let mut out = BTreeMap::new();
    for (stage, body) in bodies {
        let text = options(cfg, stage)
            .render(&body)
            .map_err(|e| anyhow::anyhow!("{}: executor.slurm: {e}", config_path.display()))?;
        let p = dir.join(format!("{stage}.sh"));
        workers::atomic::write_atomic(&p, text.as_bytes())?;
        out.insert(stage, p);
    }
    Ok(out)
}

#[derive(Debug, Default)]
pub struct SubmitReport {
    pub commands: Vec<String>,
    pub jobs: Vec<Submission>,
    pub skipped_busy: usize,
    pub gave_up: Vec<(Stage, u32)>,
}

/// Submits what is missing: `embed` array → `probe` array (afterok) →
/// `fusion` array (afterany) → aggregate job (afterany). Indices already
/// queued or running are not submitted again; indices submitted more than
/// `retries + 1` times are given up (reported).
pub fn submit(
    cfg: &SweepConfig,
    ds: &Dataset,
    grid: &Grid,
    config_path: &Path,
    sched: &dyn Scheduler,
    dry_run: bool,
) -> anyhow::Result<SubmitReport> {
    let scripts = write_scripts(cfg, config_path)?;
    crate::journal::Journal::open(&cfg.store)?.write_plan(grid)?;
    let mut rep = SubmitReport::default();
    let (busy, _) = if dry_run {
        (BTreeSet::new(), Vec::new())
    } else {
        in_flight(cfg, sched)?
    };
    let todo = todo(cfg, ds, grid);
    let retries = cfg.executor.slurm.retries.unwrap_or(2) as usize;
    let mut attempts: BTreeMap<(Stage, u32), usize> = BTreeMap::new();
    for s in submissions(cfg) {
        for i in s.indices {
            *attempts.entry((s.stage, i)).or_default() += 1;
        }
    }
    let max_array = match cfg.executor.slurm.max_array_size {
        Some(m) => m,
        None if dry_run => 1001,
        None => sched
            .max_array_size()
            .context("reading MaxArraySize (set executor.slurm.max_array_size to skip)")?,
    };
    let throttle = cfg.executor.slurm.throttle;
    let mut prev: Vec<String> = Vec::new();
    let mut all_jobs: Vec<String> = Vec::new();
    for (stage, idx, dep_kind) in [
        (Stage::Embed, &todo.embed, DependencyKind::AfterOk),
        (Stage::Probe, &todo.probe, DependencyKind::AfterOk),
        (Stage::Fusion, &todo.fusion, DependencyKind::AfterAny),
    ] {
        let mut want = Vec::new();
        for &i in idx {
            let key = (stage, i);
            if busy.contains(&key) {
                rep.skipped_busy += 1;
            } else if attempts.get(&key).copied().unwrap_or(0) > retries {
                rep.gave_up.push(key);
            } else {
                want.push(i);
            }
        }
        // Still-queued jobs of this stage are what later stages must wait for.
        let busy_jobs: Vec<String> = submissions(cfg)
            .iter()
            .filter(|s| s.stage == stage && s.indices.iter().any(|i| busy.contains(&(stage, *i))))
            .map(|s| s.job_id.clone())
            .collect();
        let mut this_stage = busy_jobs;
        for chunk in ArraySpec::indices(want.clone()).chunks(max_array, throttle) {
            let mut args = vec![
                format!("--array={}", chunk.spec),
                format!("--export=ALL,GENOPROT_OFFSET={}", chunk.offset),
            ];
            if let Some(d) = Dependency::new(dep_kind, prev.clone()).to_arg() {
                args.push(d);
            }
            let script = &scripts[&stage];
            rep.commands.push(format!(
                "sbatch --parsable {} {}",
                args.join(" "),
                script.display()
            ));
            if dry_run {
                this_stage.push(format!("<{stage}>"));
                continue;
            }
            let job = sched
                .submit(script, &args)
                .map_err(|e| anyhow::anyhow!("{stage} array: {e}"))?;
            let indices: Vec<u32> = want
                .iter()
                .copied()
                .filter(|i| *i >= chunk.offset && *i < chunk.offset + max_array)
                .collect();
            let s = Submission {
                stage,
                job_id: job.clone(),
                indices,
                offset: chunk.offset,
                script: script.display().to_string(),
                t: crate::journal::now(),
            };
            record(cfg, &s)?;
            tracing::info!(stage = %stage, job = %job, array = %chunk.spec, "submitted");
            rep.jobs.push(s);
            this_stage.push(job);
        }
        if !this_stage.is_empty() {
            prev = this_stage.clone();
            all_jobs.extend(this_stage);
        }
    }
    // The aggregate job follows new arrays only (a resubmission while
    // everything is still queued submits nothing at all).
    if !rep.jobs.is_empty() || (dry_run && !rep.commands.is_empty()) {
        let mut args = Vec::new();
        if let Some(d) = Dependency::new(DependencyKind::AfterAny, all_jobs.clone()).to_arg() {
            args.push(d);
        }
        rep.commands.push(format!(
            "sbatch --parsable {} {}",
            args.join(" "),
            scripts[&Stage::Aggregate].display()
        ));
        if !dry_run {
            let job = sched
                .submit(&scripts[&Stage::Aggregate], &args)
                .map_err(|e| anyhow::anyhow!("aggregate job: {e}"))?;
            let s = Submission {
                stage: Stage::Aggregate,
                job_id: job,
                indices: vec![],
                offset: 0,
                script: scripts[&Stage::Aggregate].display().to_string(),
                t: crate::journal::now(),
            };
            record(cfg, &s)?;
            rep.jobs.push(s);
        }
    }
    Ok(rep)
}

/// Cancels every recorded job that is not finished.
pub fn cancel(cfg: &SweepConfig, sched: &dyn Scheduler) -> anyhow::Result<Vec<String>> {
    let (_, states) = in_flight(cfg, sched)?;
    let live: Vec<String> = states
        .iter()
        .filter(|t| !t.state.is_terminal())
        .map(|t| t.job.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    sched.cancel(&live)?;
    Ok(live)
}

/// Scheduler view of the recorded jobs, latest attempt per array index: per
/// stage, task counts by state, and failed tasks with their log files.
pub fn scheduler_summary(
    cfg: &SweepConfig,
    sched: &dyn Scheduler,
) -> anyhow::Result<SchedulerSummary> {
    let (subs, states) = query_recorded(cfg, sched)?;
    // (stage, global index) -> (submission order, task status, submission)
    let mut latest: BTreeMap<(Stage, i64), (usize, TaskStatus, &Submission)> = BTreeMap::new();
    for (order, s) in subs.iter().enumerate() {
        for t in states.iter().filter(|t| t.job == s.job_id) {
            // Pending ranges (no index yet) and plain jobs get a key of their own.
            let key = match t.array_index {
                Some(i) => (s.stage, (i + s.offset) as i64),
                None => (s.stage, -1 - order as i64),
            };
            if latest.get(&key).is_none_or(|(o, _, _)| *o <= order) {
                latest.insert(key, (order, t.clone(), s));
            }
        }
    }
    let mut by: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut failed = Vec::new();
    for ((stage, _), (_, t, s)) in &latest {
        *by.entry(stage.to_string())
            .or_default()
            .entry(t.state.to_string())
            .or_default() += 1;
        if t.state.is_failure() && t.state != JobState::Cancelled {
            let name = match t.array_index {
                Some(i) => format!("{}-{}_{}.out", job_name(cfg, *stage), s.job_id, i),
                None => format!("{}-{}.out", job_name(cfg, *stage), s.job_id),
            };
            failed.push(format!(
                "{stage} {} {} (exit {}) log {}",
                t.id,
                t.state,
                t.exit_code.map_or("?".into(), |c| c.to_string()),
                cfg.logs_dir().join("slurm").join(name).display()
            ));
        }
    }
    Ok((by, failed))
}

pub fn check_executor(cfg: &SweepConfig, config_path: &Path) -> anyhow::Result<()> {
    if cfg.executor.kind != crate::config::ExecutorKind::Slurm {
        bail!(
            "{}: executor.kind is local; set `executor: {{kind: slurm, slurm: {{...}}}}` to submit, or use `genoprot run`",
            config_path.display()
        );
    }
    // Compute nodes run this same binary: a `cuda` sweep from a build
    // without a GPU backend would fail in every task.
    cfg.device
        .check_build()
        .map_err(|e| anyhow::anyhow!("{}: device: {e}", config_path.display()))?;
    let s = &cfg.executor.slurm;
    let asks_gpus = s.gpus_per_node.unwrap_or(0) > 0
        || s.gpus_per_task.unwrap_or(0) > 0
        || s.gres.as_deref().is_some_and(|g| g.contains("gpu"))
        || s.extra.iter().any(|e| e.contains("gpu"));
    if cfg.device.needs_gpu() && !asks_gpus {
        tracing::warn!(
            "{}: device is `{}` but executor.slurm requests no GPUs (gpus_per_node, gpus_per_task or gres); fine where the partition gives whole GPU nodes, otherwise tasks will find no GPU",
            config_path.display(),
            cfg.device
        );
    }
    if !cfg.device.wants_gpu() && asks_gpus {
        tracing::warn!(
            "{}: executor.slurm requests GPUs but device is `cpu`: the GPUs will sit idle (set `device: cuda` or `auto`)",
            config_path.display()
        );
    }
    Ok(())
}
