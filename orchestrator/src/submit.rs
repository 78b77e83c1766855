//! The Slurm executor's submissions: one array per stage (embed → probe →
//! fusion) and, after them (`afterany`), the finishing job
//! (`genoprot worker finish`, crate::heal) that retries what failed or
//! aggregates and reports. Each array task runs one bundle of a manifest
//! (crate::bundles); arrays are chunked to MaxArraySize with a `%N`
//! throttle. Scripts are written to `store/slurm/` (readable, re-runnable by
//! hand), one per stage and, for the embed stage, one per resource shape;
//! the journal (`store/journal/jobs.jsonl`) records only what Slurm accepted.

use crate::bundles::{Estimates, bundle_by_count, bundle_cells, write_manifest};
use crate::config::SweepConfig;
use crate::embed::is_current;
use crate::grid::{Grid, Stage};
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use slurm::{
    ArraySpec, Dependency, DependencyKind, JobOptions, JobState, Resources, Scheduler, TaskStatus,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use workers::dataset::Dataset;
use workers::probe::cell::CellSpec;

/// One accepted submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub stage: Stage,
    pub job_id: String,
    /// Global array indices this job covers: lines of its bundle manifest.
    pub indices: Vec<u32>,
    /// Added to SLURM_ARRAY_TASK_ID.
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

/// Units not done yet, per stage, in plan order (model names for embed,
/// cell ids for probe and fusion).
#[derive(Debug, Default)]
pub struct Todo {
    pub units: BTreeMap<Stage, Vec<String>>,
}

impl Todo {
    /// Units left in all stages.
    pub fn len(&self) -> usize {
        self.units.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub fn todo(cfg: &SweepConfig, ds: &Dataset, grid: &Grid) -> Todo {
    let mut units: BTreeMap<Stage, Vec<String>> = BTreeMap::new();
    units.insert(
        Stage::Embed,
        grid.embed
            .iter()
            .filter(|j| !is_current(cfg, ds, &j.model))
            .map(|j| j.model.clone())
            .collect(),
    );
    // Done cells by the verified-cells cache (a file unchanged since it was
    // checked is not opened again): a finishing job of a 100,000-cell
    // sweep does not reopen every store.
    let done = crate::verified::done_cells(
        &crate::run::cells_dir(cfg),
        grid.all_cells().map(|c| c.id.clone()).collect(),
        &cfg.store.join("journal/verified-cells.tsv"),
    );
    for (stage, cells) in [(Stage::Probe, &grid.cells), (Stage::Fusion, &grid.late)] {
        let left = cells
            .iter()
            .filter(|c| !done.contains(&c.id))
            .map(|c| c.id.clone())
            .collect();
        units.insert(stage, left);
    }
    Todo { units }
}

/// Bundles sized by time: the stored seconds of up to [`ESTIMATE_SAMPLE`]
/// finished cells per row (none read unless `cells_per_task: auto`).
fn estimates(cfg: &SweepConfig, grid: &Grid, todo: &Todo) -> Estimates {
    let mut measured: Vec<(&CellSpec, f64)> = Vec::new();
    if cfg.executor.slurm.cells_per_task == crate::config::CellsPerTask::Auto {
        let left: std::collections::HashSet<&str> =
            todo.units.values().flatten().map(String::as_str).collect();
        let mut per_row: BTreeMap<String, usize> = BTreeMap::new();
        for c in grid.all_cells().filter(|c| !left.contains(c.id.as_str())) {
            let n = per_row.entry(crate::bundles::row_of(c)).or_default();
            if *n < ESTIMATE_SAMPLE
                && let Some(s) = crate::run::cell_seconds(cfg, &c.id)
            {
                measured.push((c, s));
                *n += 1;
            }
        }
    }
    Estimates::from_measured(measured)
}

/// Finished cells per row whose time is read for `cells_per_task: auto`.
const ESTIMATE_SAMPLE: usize = 25;

/// What Slurm made of a unit's latest submission.
#[derive(Debug, Clone, Serialize)]
pub struct UnitTrack {
    /// Submissions that included the unit.
    pub attempts: u32,
    pub job_id: String,
    /// `123_4`: the array task that ran it last.
    pub task: String,
    /// `None`: Slurm no longer knows the task (purged, no accounting).
    pub state: Option<JobState>,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    /// Units in its bundle.
    pub bundle_len: usize,
    pub time: Option<String>,
    pub log: PathBuf,
}

impl UnitTrack {
    /// Still queued or running.
    pub fn busy(&self) -> bool {
        self.state.is_some_and(|s| !s.is_terminal())
    }
}

fn reset_file(cfg: &SweepConfig) -> PathBuf {
    cfg.store.join("journal").join("attempts-reset")
}

/// `resume --retry-given-up`: attempts are counted from now on.
pub fn reset_attempts(cfg: &SweepConfig) -> anyhow::Result<()> {
    crate::store_dir(&cfg.store.join("journal"))?;
    workers::atomic::write_atomic(
        &reset_file(cfg),
        format!("{}\n", crate::journal::now()).as_bytes(),
    )?;
    Ok(())
}

/// Since when attempts count (0: since the first submission).
fn attempts_since(cfg: &SweepConfig) -> f64 {
    std::fs::read_to_string(reset_file(cfg))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Every submitted unit's latest attempt, by (stage, unit).
pub fn track(
    cfg: &SweepConfig,
    subs: &[Submission],
    states: &[TaskStatus],
) -> BTreeMap<(Stage, String), UnitTrack> {
    let mut out: BTreeMap<(Stage, String), UnitTrack> = BTreeMap::new();
    let since = attempts_since(cfg);
    for s in subs {
        let Some(manifest) = &s.bundles else { continue };
        let Ok(lines) = crate::bundles::read_manifest(manifest) else {
            tracing::warn!(
                "{}: unreadable; its units are not tracked",
                manifest.display()
            );
            continue;
        };
        let tasks: Vec<&TaskStatus> = states.iter().filter(|t| t.job == s.job_id).collect();
        let by_index: HashMap<u32, &TaskStatus> = tasks
            .iter()
            .filter_map(|t| t.array_index.map(|i| (i, *t)))
            .collect();
        // A pending range (`123_[4-9]`) has no index of its own.
        let pending_range = tasks
            .iter()
            .find(|t| t.array_index.is_none() && !t.state.is_terminal())
            .copied();
        for &i in &s.indices {
            let Some(units) = lines.get(i as usize) else {
                continue;
            };
            let local = i - s.offset;
            let task = by_index.get(&local).copied().or(pending_range);
            let log = cfg.logs_dir().join("slurm").join(format!(
                "{}-{}_{local}.out",
                job_name(cfg, s.stage),
                s.job_id
            ));
            // A task cancelled (by the user, or before it started) is not
            // an attempt, nor is one before `resume --retry-given-up`.
            let counts =
                u32::from(s.t >= since && task.is_none_or(|t| t.state != JobState::Cancelled));
            for u in units {
                let key = (s.stage, u.clone());
                let attempts = out.get(&key).map_or(0, |t| t.attempts) + counts;
                out.insert(
                    key,
                    UnitTrack {
                        attempts,
                        job_id: s.job_id.clone(),
                        task: format!("{}_{local}", s.job_id),
                        state: task.map(|t| t.state),
                        exit_code: task.and_then(|t| t.exit_code),
                        reason: task.and_then(|t| t.reason.clone()),
                        bundle_len: units.len(),
                        time: s.time.clone(),
                        log: log.clone(),
                    },
                );
            }
        }
    }
    out
}

/// The recorded submissions and the scheduler's view of every task of them
/// (no query when nothing was submitted).
pub fn query_recorded(
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

fn options(cfg: &SweepConfig, stage: Stage, resources: Resources) -> JobOptions {
    JobOptions {
        job_name: Some(job_name(cfg, stage)),
        account: cfg.executor.slurm.account.clone(),
        resources,
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
    }
}

fn shell_quote(s: &str) -> String {
    workers::embed::command::shell_quote(s)
}

/// A batch script written to `store/slurm/` and the resources in it.
#[derive(Debug, Clone)]
pub struct Script {
    pub path: PathBuf,
    pub resources: Resources,
}

/// The sweep's scripts: one per stage, and one per embed resource shape
/// (`embed.sh` for the stage's own, `embed-<model>.sh` for a model's).
#[derive(Debug, Clone)]
pub struct Scripts {
    pub stages: BTreeMap<Stage, Script>,
    /// Every model's embed script.
    pub embed: BTreeMap<String, Script>,
}

impl Scripts {
    /// Every script, each once.
    pub fn paths(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.stages.values().map(|s| s.path.clone()).collect();
        for s in self.embed.values() {
            if !v.contains(&s.path) {
                v.push(s.path.clone());
            }
        }
        v
    }
}

/// Renders the stage scripts into `store/slurm/`.
pub fn write_scripts(cfg: &SweepConfig, config_path: &Path) -> anyhow::Result<Scripts> {
    let dir = cfg.store.join("slurm");
    crate::store_dir(&dir)?;
    crate::store_dir(&cfg.logs_dir().join("slurm"))?;
    let exe = std::env::current_exe().context("locating the genoprot binary")?;
    let cwd = std::env::current_dir()?;
    let conf = std::fs::canonicalize(config_path).unwrap_or_else(|_| cwd.join(config_path));
    let gp = format!("{} -q", shell_quote(&exe.display().to_string()));
    let c = shell_quote(&conf.display().to_string());
    let head = format!(
        "# genoprot sweep {name}: generated by `genoprot submit`. Array task i runs line i of the\n\
         # bundle manifest; re-runnable by hand with the indices and manifest of a submission\n\
         # (journal/jobs.jsonl):\n\
         #   sbatch --array=<indices> --export=ALL,GENOPROT_OFFSET=0,GENOPROT_BUNDLES=<manifest> <this script>\n\
         cd {cwd}\n\
         i=$(( SLURM_ARRAY_TASK_ID + ${{GENOPROT_OFFSET:-0}} ))\n",
        name = cfg.name,
        cwd = shell_quote(&cwd.display().to_string())
    );
    let sl = &cfg.executor.slurm;
    // MPI launch for jobs with several tasks: every rank runs the worker.
    let launch = |r: &Resources| {
        if r.tasks() > 1 {
            match launcher(cfg) {
                Launcher::Srun => "srun --mpi=pmix ".to_string(),
                Launcher::Mpirun => "mpirun -np \"$SLURM_NTASKS\" ".to_string(),
            }
        } else {
            String::new()
        }
    };
    let body = |stage: Stage, r: &Resources| match stage {
        Stage::Embed => format!(
            "{head}exec {}{gp} worker embed --config {c} --bundles \"$GENOPROT_BUNDLES\" --bundle \"$i\"\n",
            launch(r)
        ),
        Stage::Probe | Stage::Fusion => format!(
            "{head}exec {}{gp} worker probe --config {c} --bundles \"$GENOPROT_BUNDLES\" --bundle \"$i\"\n",
            launch(r)
        ),
        Stage::Aggregate => format!(
            "# genoprot sweep {}: after the arrays, resubmits what failed while retries\n\
             # remain, else aggregates and reports.\ncd {}\nexec {gp} worker finish --config {c}\n",
            cfg.name,
            shell_quote(&cwd.display().to_string())
        ),
    };
    let write = |name: String, stage: Stage, r: Resources| -> anyhow::Result<Script> {
        let text = options(cfg, stage, r.clone())
            .render(&body(stage, &r))
            .map_err(|e| anyhow::anyhow!("{}: executor.slurm: {e}", config_path.display()))?;
        let p = dir.join(name);
        workers::atomic::write_atomic(&p, text.as_bytes())?;
        Ok(Script {
            path: p,
            resources: r,
        })
    };
    let mut stages = BTreeMap::new();
    for stage in Stage::ALL {
        let r = sl.resources_for(stage, None);
        stages.insert(stage, write(format!("{stage}.sh"), stage, r)?);
    }
    let mut embed = BTreeMap::new();
    let mut shapes: Vec<Script> = vec![stages[&Stage::Embed].clone()];
    for m in &cfg.models {
        let r = sl.resources_for(Stage::Embed, Some(&m.name));
        let script = match shapes.iter().find(|s| s.resources == r) {
            Some(s) => s.clone(),
            None => {
                let s = write(format!("embed-{}.sh", m.name), Stage::Embed, r)?;
                shapes.push(s.clone());
                s
            }
        };
        embed.insert(m.name.clone(), script);
    }
    Ok(Scripts { stages, embed })
}

/// A unit given up: it was submitted `attempts` times, more than `retries + 1`.
#[derive(Debug, Clone, Serialize)]
pub struct GaveUp {
    pub stage: Stage,
    pub unit: String,
    /// `model × task × seed N` for a cell, the model for an embedding.
    pub what: String,
    pub attempts: u32,
    /// The last Slurm state, exit code and reason.
    pub last: String,
    pub log: PathBuf,
}

#[derive(Debug, Default)]
pub struct SubmitReport {
    pub scripts: Vec<PathBuf>,
    pub commands: Vec<String>,
    pub jobs: Vec<Submission>,
    pub skipped_busy: usize,
    pub gave_up: Vec<GaveUp>,
    /// Units resubmitted with more time or smaller bundles after a TIMEOUT.
    pub timed_out: usize,
    /// Units in the arrays submitted.
    pub units: usize,
}

/// Units (with their next attempt) resubmitted together: script, bundle
/// size, time limit.
type Shape = (PathBuf, usize, Option<String>);

/// One array to submit: a script, its bundles, a time override.
struct ArrayPlan {
    script: PathBuf,
    bundles: Vec<Vec<String>>,
    /// `--time` on the command line (more time after a TIMEOUT).
    time: Option<String>,
    /// The time limit its tasks get.
    effective_time: Option<String>,
    attempt: u32,
}

/// The time a timed-out unit gets next: `time × time_factor`, capped by the
/// partition's MaxTime; with no time known, MaxTime itself.
fn longer_time(
    prev: Option<&str>,
    factor: f64,
    max: Option<std::time::Duration>,
) -> Option<String> {
    let grown = prev
        .and_then(slurm::parse_time)
        .map(|t| t.mul_f64(factor))
        .or(max)?;
    let capped = match max {
        Some(m) if grown > m => m,
        _ => grown,
    };
    Some(slurm::format_time(capped))
}

/// Submits what is neither done nor queued: the arrays of each stage
/// (`embed` → `probe` afterany → `fusion` afterany) and the finishing job
/// (afterany every array). A unit submitted more than `retries + 1` times
/// is given up (reported); one whose last task hit its time limit goes into
/// bundles half as big, with more time.
pub fn submit(
    cfg: &SweepConfig,
    grid: &Grid,
    todo: &Todo,
    config_path: &Path,
    sched: &dyn Scheduler,
    dry_run: bool,
) -> anyhow::Result<SubmitReport> {
    let scripts = write_scripts(cfg, config_path)?;
    crate::journal::Journal::open(&cfg.store)?.write_plan(grid)?;
    let mut rep = SubmitReport {
        scripts: scripts.paths(),
        ..Default::default()
    };
    let (subs, states) = if dry_run {
        (submissions(cfg), Vec::new())
    } else {
        query_recorded(cfg, sched)?
    };
    let tracks = track(cfg, &subs, &states);
    let estimates = estimates(cfg, grid, todo);
    let sl = &cfg.executor.slurm;
    let retries = sl.retries.unwrap_or(2);
    let factor = sl.time_factor.unwrap_or(2.0);
    let max_array = match sl.max_array_size {
        Some(m) => m,
        None if dry_run => 1001,
        None => sched
            .max_array_size()
            .context("reading MaxArraySize (set executor.slurm.max_array_size to skip)")?,
    };
    let specs: BTreeMap<&str, &CellSpec> = grid.all_cells().map(|c| (c.id.as_str(), c)).collect();
    let mut prev: Vec<String> = Vec::new();
    let mut all_jobs: Vec<String> = Vec::new();
    let mut max_attempt = 1;
    for (stage, dep_kind) in [
        (Stage::Embed, DependencyKind::AfterOk),
        // afterany: one model's failed embedding must not hold back the
        // cells of the others (its own cells fail at once and are retried).
        (Stage::Probe, DependencyKind::AfterAny),
        (Stage::Fusion, DependencyKind::AfterAny),
    ] {
        let mut fresh: Vec<(String, u32)> = Vec::new();
        let mut timed_out: Vec<(String, &UnitTrack)> = Vec::new();
        let mut busy_jobs: BTreeSet<String> = BTreeSet::new();
        for u in &todo.units[&stage] {
            match tracks.get(&(stage, u.clone())) {
                Some(t) if t.busy() => {
                    rep.skipped_busy += 1;
                    busy_jobs.insert(t.job_id.clone());
                }
                Some(t) if t.attempts > retries => rep.gave_up.push(GaveUp {
                    stage,
                    unit: u.clone(),
                    what: what(grid, u),
                    attempts: t.attempts,
                    last: describe(t),
                    log: t.log.clone(),
                }),
                Some(t) if t.state == Some(JobState::Timeout) => timed_out.push((u.clone(), t)),
                t => fresh.push((u.clone(), t.map_or(1, |t| t.attempts + 1))),
            }
        }
        let attempt_of = |units: &[(String, u32)]| units.iter().map(|u| u.1).max().unwrap_or(1);
        let mut plans: Vec<ArrayPlan> = Vec::new();
        // Units that ran out of time: half the bundle, more time.
        let mut longer: BTreeMap<Shape, Vec<(String, u32)>> = BTreeMap::new();
        for (u, t) in &timed_out {
            let script = match stage {
                Stage::Embed => &scripts.embed[u.as_str()],
                _ => &scripts.stages[&stage],
            };
            let max = if dry_run {
                None
            } else {
                sched
                    .partition_max_time(script.resources.partition.as_deref())
                    .context("reading the partition's MaxTime (scontrol show partition)")?
            };
            let prev_time = t.time.clone().or_else(|| script.resources.time.clone());
            let time = longer_time(prev_time.as_deref(), factor, max);
            if time.is_none() {
                tracing::warn!(
                    "{stage} unit {u} hit its time limit, and neither a time nor the partition's MaxTime is known: resubmitted in smaller bundles only"
                );
            }
            longer
                .entry((script.path.clone(), (t.bundle_len / 2).max(1), time))
                .or_default()
                .push((u.clone(), t.attempts + 1));
            rep.timed_out += 1;
        }
        for ((script, size, time), units) in longer {
            let ids: Vec<String> = units.iter().map(|u| u.0.clone()).collect();
            plans.push(ArrayPlan {
                script,
                bundles: bundle_by_count(&ids, size),
                effective_time: time.clone(),
                time,
                attempt: attempt_of(&units),
            });
        }
        match stage {
            Stage::Embed => {
                // One array per resource shape; one model per task.
                let mut shapes: BTreeMap<PathBuf, Vec<(String, u32)>> = BTreeMap::new();
                for (u, a) in fresh {
                    shapes
                        .entry(scripts.embed[u.as_str()].path.clone())
                        .or_default()
                        .push((u, a));
                }
                for (script, units) in shapes {
                    let ids: Vec<String> = units.iter().map(|u| u.0.clone()).collect();
                    let effective_time = scripts
                        .embed
                        .values()
                        .find(|s| s.path == script)
                        .and_then(|s| s.resources.time.clone());
                    plans.insert(
                        0,
                        ArrayPlan {
                            script,
                            bundles: bundle_by_count(&ids, 1),
                            time: None,
                            effective_time,
                            attempt: attempt_of(&units),
                        },
                    );
                }
            }
            _ if !fresh.is_empty() => {
                let cells: Vec<&CellSpec> = fresh
                    .iter()
                    .filter_map(|(u, _)| specs.get(u.as_str()).copied())
                    .collect();
                let script = &scripts.stages[&stage];
                plans.insert(
                    0,
                    ArrayPlan {
                        script: script.path.clone(),
                        bundles: bundle_cells(cfg, &cells, &estimates),
                        time: None,
                        effective_time: script.resources.time.clone(),
                        attempt: attempt_of(&fresh),
                    },
                );
            }
            _ => {}
        }
        // Still-queued jobs of this stage are what later stages must wait for.
        let mut this_stage: Vec<String> = busy_jobs.into_iter().collect();
        for plan in plans {
            max_attempt = max_attempt.max(plan.attempt);
            let manifest = if dry_run {
                PathBuf::from(format!("<{stage} manifest>"))
            } else {
                write_manifest(cfg, stage, &plan.bundles)?
            };
            let n = plan.bundles.len() as u32;
            if !dry_run {
                rep.units += plan.bundles.iter().map(Vec::len).sum::<usize>();
            }
            for chunk in ArraySpec::indices((0..n).collect()).chunks(max_array, sl.throttle) {
                let mut args = vec![
                    format!("--array={}", chunk.spec),
                    format!(
                        "--export=ALL,GENOPROT_OFFSET={},GENOPROT_BUNDLES={}",
                        chunk.offset,
                        manifest.display()
                    ),
                ];
                if let Some(t) = &plan.time {
                    args.push(format!("--time={t}"));
                }
                if let Some(d) = Dependency::new(dep_kind, prev.clone()).to_arg() {
                    args.push(d);
                }
                rep.commands.push(format!(
                    "sbatch --parsable {} {}",
                    args.join(" "),
                    plan.script.display()
                ));
                if dry_run {
                    this_stage.push(format!("<{stage}>"));
                    continue;
                }
                let job = sched
                    .submit(&plan.script, &args)
                    .map_err(|e| anyhow::anyhow!("{stage} array: {e}"))?;
                let s = Submission {
                    stage,
                    job_id: job.clone(),
                    indices: (chunk.offset..(chunk.offset + max_array).min(n)).collect(),
                    offset: chunk.offset,
                    script: plan.script.display().to_string(),
                    bundles: Some(manifest.clone()),
                    attempt: plan.attempt,
                    time: plan.effective_time.clone(),
                    t: crate::journal::now(),
                };
                record(cfg, &s)?;
                tracing::info!(stage = %stage, job = %job, array = %chunk.spec, attempt = plan.attempt, "submitted");
                rep.jobs.push(s);
                this_stage.push(job);
            }
        }
        if !this_stage.is_empty() {
            prev = this_stage.clone();
            all_jobs.extend(this_stage);
        }
    }
    // The finishing job follows new arrays only (a resubmission while
    // everything is still queued submits nothing at all).
    if !rep.jobs.is_empty() || (dry_run && !rep.commands.is_empty()) {
        let mut args = Vec::new();
        if let Some(d) = Dependency::new(DependencyKind::AfterAny, all_jobs.clone()).to_arg() {
            args.push(d);
        }
        let script = &scripts.stages[&Stage::Aggregate];
        rep.commands.push(format!(
            "sbatch --parsable {} {}",
            args.join(" "),
            script.path.display()
        ));
        if !dry_run {
            let job = sched
                .submit(&script.path, &args)
                .map_err(|e| anyhow::anyhow!("finishing job: {e}"))?;
            let s = Submission {
                stage: Stage::Aggregate,
                job_id: job,
                indices: vec![],
                offset: 0,
                script: script.path.display().to_string(),
                bundles: None,
                attempt: max_attempt,
                time: script.resources.time.clone(),
                t: crate::journal::now(),
            };
            record(cfg, &s)?;
            rep.jobs.push(s);
        }
    }
    Ok(rep)
}

/// `model × task × seed N` of a cell id; a model name stays as it is.
pub fn what(grid: &Grid, unit: &str) -> String {
    match grid.all_cells().find(|c| c.id == unit) {
        Some(c) => format!("{} × {} × seed {}", c.model, c.task, c.seed),
        None => unit.to_string(),
    }
}

/// `TIMEOUT (exit 0, TimeLimit)`, or `unknown to Slurm` for a purged task.
pub fn describe(t: &UnitTrack) -> String {
    match t.state {
        Some(s) => {
            let mut d = format!(
                "{s} (exit {}",
                t.exit_code.map_or("?".into(), |c| c.to_string())
            );
            if let Some(r) = &t.reason {
                d.push_str(", ");
                d.push_str(r);
            }
            d.push(')');
            d
        }
        None => "unknown to Slurm (purged, or never started)".into(),
    }
}

/// Cancels every recorded job that is not finished.
pub fn cancel(cfg: &SweepConfig, sched: &dyn Scheduler) -> anyhow::Result<Vec<String>> {
    let (_, states) = query_recorded(cfg, sched)?;
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

/// Slurm's view of a sweep for `status`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SchedulerSummary {
    /// Per stage: the array tasks that ran each unit last, by Slurm state;
    /// the aggregate stage: finishing jobs by state.
    pub states: BTreeMap<String, BTreeMap<String, usize>>,
    /// Per stage: the highest attempt submitted.
    pub attempts: BTreeMap<String, u32>,
    /// `retries + 1`.
    pub max_attempts: u32,
    /// One line per failed array task: state, exit, attempt, log.
    pub failed: Vec<String>,
    /// Units not done after their last allowed attempt.
    pub gave_up: Vec<GaveUp>,
}

/// Scheduler view of the recorded jobs, latest attempt per unit.
pub fn scheduler_summary(
    cfg: &SweepConfig,
    ds: &Dataset,
    grid: &Grid,
    sched: &dyn Scheduler,
) -> anyhow::Result<SchedulerSummary> {
    let (subs, states) = query_recorded(cfg, sched)?;
    let tracks = track(cfg, &subs, &states);
    let retries = cfg.executor.slurm.retries.unwrap_or(2);
    let mut sum = SchedulerSummary {
        max_attempts: retries + 1,
        ..Default::default()
    };
    let todo = todo(cfg, ds, grid);
    let left: HashSet<(Stage, &str)> = todo
        .units
        .iter()
        .flat_map(|(stage, units)| units.iter().map(move |u| (*stage, u.as_str())))
        .collect();
    let mut failed_tasks: BTreeMap<String, String> = BTreeMap::new();
    // Array tasks (a bundle mixes finished and failed cells) by state.
    let mut tasks: BTreeMap<(Stage, &str), String> = BTreeMap::new();
    for ((stage, unit), t) in &tracks {
        tasks.insert(
            (*stage, t.task.as_str()),
            t.state.map_or("UNKNOWN".to_string(), |s| s.to_string()),
        );
        let a = sum.attempts.entry(stage.to_string()).or_default();
        *a = (*a).max(t.attempts);
        let not_done = left.contains(&(*stage, unit.as_str()));
        if let Some(s) = t.state
            && s.is_failure()
            && s != JobState::Cancelled
        {
            failed_tasks.entry(t.task.clone()).or_insert_with(|| {
                format!(
                    "{stage} {} {} attempt {} of {} log {}",
                    t.task,
                    describe(t),
                    t.attempts,
                    retries + 1,
                    t.log.display()
                )
            });
        }
        if not_done && !t.busy() && t.attempts > retries {
            sum.gave_up.push(GaveUp {
                stage: *stage,
                unit: unit.clone(),
                what: what(grid, unit),
                attempts: t.attempts,
                last: describe(t),
                log: t.log.clone(),
            });
        }
    }
    for ((stage, _), state) in tasks {
        *sum.states
            .entry(stage.to_string())
            .or_default()
            .entry(state)
            .or_default() += 1;
    }
    sum.failed = failed_tasks.into_values().collect();
    for s in subs.iter().filter(|s| s.stage == Stage::Aggregate) {
        let st = states
            .iter()
            .find(|t| t.job == s.job_id)
            .map_or("UNKNOWN".to_string(), |t| t.state.to_string());
        *sum.states
            .entry(Stage::Aggregate.to_string())
            .or_default()
            .entry(st)
            .or_default() += 1;
        let a = sum
            .attempts
            .entry(Stage::Aggregate.to_string())
            .or_default();
        *a = (*a).max(s.attempt);
    }
    Ok(sum)
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
    let asks_gpus = s.resources_for(Stage::Embed, None).asks_gpus()
        || s.resources_for(Stage::Probe, None).asks_gpus()
        || s.models.values().any(slurm::Resources::asks_gpus);
    if cfg.device.needs_gpu() && !asks_gpus {
        tracing::warn!(
            "{}: device is `{}` but executor.slurm requests no GPUs (gpus_per_node, gpus_per_task or gres, at its top or under stages/models); fine where the partition gives whole GPU nodes, otherwise tasks will find no GPU",
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
