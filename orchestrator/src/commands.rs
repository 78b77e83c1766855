//! The user commands over a sweep: `plan`, `run`, `aggregate`, `report`,
//! `submit`, `resume`, `status`, `cancel` — each builds a typed result that
//! the output layer prints as text or JSON.

use crate::grid::Grid;
use crate::output::Human;
use crate::run::{StageCounts, UnitRow};
use crate::worker::load;
use anyhow::bail;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// The sweep config (YAML).
    pub config: PathBuf,
}

/// `report`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  genoprot report configs/demo.yaml && xdg-open runs/demo/report/report.html"
)]
pub struct ReportArgs {
    /// The sweep config (YAML).
    pub config: PathBuf,
    /// Rebuild the report even when its inputs have not changed.
    #[arg(long)]
    pub force: bool,
}

/// `plan`: the grid per stage, and (JSON) every unit with its state.
#[derive(Debug, serde::Serialize)]
pub struct PlanResult {
    pub sweep: String,
    pub models: usize,
    pub ensembles: usize,
    pub tasks: usize,
    pub seeds: usize,
    pub stages: Vec<StageCounts>,
    pub units: Vec<UnitRow>,
}

fn stage_table(out: &mut String, counts: &[StageCounts]) {
    let _ = writeln!(
        out,
        "{:<8} {:>8} {:>8} {:>8} {:>8}",
        "stage", "total", "done", "missing", "failed"
    );
    for c in counts {
        let _ = writeln!(
            out,
            "{:<8} {:>8} {:>8} {:>8} {:>8}",
            c.stage, c.total, c.done, c.missing, c.failed
        );
    }
}

impl Human for PlanResult {
    fn human(&self) -> String {
        let mut out = format!(
            "sweep {}: {} models, {} ensembles, {} tasks, {} seeds\n",
            self.sweep, self.models, self.ensembles, self.tasks, self.seeds
        );
        stage_table(&mut out, &self.stages);
        out
    }
}

pub fn plan(config: &Path, json: bool) -> anyhow::Result<()> {
    let (cfg, ds, tasks) = load(config)?;
    cfg.preflight_models()?;
    let grid = Grid::build(&cfg, &ds, &tasks);
    let units = crate::run::unit_states(&cfg, &ds, &grid, &crate::run::history(&cfg));
    let r = PlanResult {
        sweep: cfg.name.clone(),
        models: cfg.models.len(),
        ensembles: cfg.ensembles.len(),
        tasks: tasks.len(),
        seeds: cfg.seeds.len(),
        stages: crate::run::counts_of(&units),
        units,
    };
    crate::output::print(json, &r)
}

/// `aggregate` and `report`: what was gathered and written.
#[derive(Debug, Default, serde::Serialize)]
pub struct AggregateResult {
    pub cells: usize,
    pub missing: usize,
    pub unreadable: Vec<Unreadable>,
    pub results_h5: PathBuf,
    pub results_csv: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, serde::Serialize)]
pub struct Unreadable {
    pub cell: String,
    pub error: String,
}

impl Human for AggregateResult {
    fn human(&self) -> String {
        let mut out = format!(
            "aggregated {} cells into {} and {}\n",
            self.cells,
            self.results_h5.display(),
            self.results_csv.display()
        );
        if let Some(r) = &self.report {
            let _ = writeln!(out, "report: {}", r.display());
        }
        out
    }
}

fn aggregate_and_report(
    cfg: &crate::config::SweepConfig,
    ds: &workers::dataset::Dataset,
    tasks: &[String],
    report: bool,
    force: bool,
) -> anyhow::Result<AggregateResult> {
    let grid = Grid::build(cfg, ds, tasks);
    let agg = crate::aggregate::collect(
        &grid,
        &cfg.store.join("cells"),
        &cfg.store.join("journal/aggregate-rows.jsonl"),
    );
    let (h5, csv) = crate::aggregate::write(&agg, &cfg.store)?;
    for (id, e) in &agg.unreadable {
        tracing::warn!("cell {id} is unreadable and counted as missing: {e}");
    }
    if !agg.missing.is_empty() {
        tracing::warn!(
            "{} of {} cells are missing (listed in results.h5 `missing`); `genoprot run` computes them",
            agg.missing.len(),
            agg.missing.len() + agg.rows.len()
        );
    }
    let report = if report {
        Some(crate::report::write_report(cfg, ds, &agg, force)?.join("summary.md"))
    } else {
        None
    };
    Ok(AggregateResult {
        cells: agg.rows.len(),
        missing: agg.missing.len(),
        unreadable: agg
            .unreadable
            .iter()
            .map(|(cell, error)| Unreadable {
                cell: cell.clone(),
                error: error.clone(),
            })
            .collect(),
        results_h5: h5,
        results_csv: csv,
        report,
    })
}

/// `run` (and `resume` of a local sweep).
#[derive(Debug, serde::Serialize)]
pub struct RunResult {
    pub sweep: String,
    pub embedded: usize,
    pub cells_run: usize,
    pub cells_skipped: usize,
    pub seconds: f64,
    pub stopped: bool,
    pub failed: Vec<FailedUnit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<AggregateResult>,
}

#[derive(Debug, serde::Serialize)]
pub struct FailedUnit {
    pub unit: String,
    pub error: String,
}

impl Human for RunResult {
    fn human(&self) -> String {
        let mut out = format!(
            "{}: {} models embedded, {} cells run, {} already done, {:.1} s\n",
            self.sweep, self.embedded, self.cells_run, self.cells_skipped, self.seconds
        );
        if let Some(a) = &self.aggregate {
            out.push_str(&a.human());
        }
        out
    }
}

pub fn run(config: &Path, json: bool) -> anyhow::Result<()> {
    let (cfg, ds, tasks) = load(config)?;
    cfg.preflight_models()?;
    if cfg.executor.kind == crate::config::ExecutorKind::Slurm {
        tracing::warn!("executor.kind is slurm; `genoprot run` runs the sweep locally anyway");
    }
    // Fail before any work when the device is unusable here.
    let (placement, _) = workers::device::resolve(cfg.device)
        .map_err(|e| anyhow::anyhow!("{}: device: {e}", config.display()))?;
    tracing::info!("models and probes run on {placement}");
    let _lock = crate::lock::acquire(&cfg.store, "run", config)?;
    let log = cfg
        .logs_dir()
        .join(format!("run-{}.log", crate::journal::now() as u64));
    crate::logging::log_to(&log)?;
    tracing::info!(log = %log.display(), pid = std::process::id(), "genoprot run {}", config.display());
    let t0 = std::time::Instant::now();
    let s = crate::run::run_local(&cfg, &ds, &tasks, std::io::stderr().is_terminal())?;
    let mut r = RunResult {
        sweep: cfg.name.clone(),
        embedded: s.embedded,
        cells_run: s.cells_run,
        cells_skipped: s.cells_skipped,
        seconds: t0.elapsed().as_secs_f64(),
        stopped: s.stopped,
        failed: s
            .failed
            .iter()
            .map(|(unit, error)| FailedUnit {
                unit: unit.clone(),
                error: error.clone(),
            })
            .collect(),
        aggregate: None,
    };
    if s.stopped {
        crate::output::print(json, &r)?;
        crate::signals::exit_stopped(&format!(
            "stopped by Ctrl-C; run `genoprot run {}` again to continue where it stopped",
            config.display()
        ));
    }
    r.aggregate = Some(aggregate_and_report(&cfg, &ds, &tasks, true, false)?);
    crate::output::print(json, &r)?;
    if !s.failed.is_empty() {
        for (_, msg) in s.failed.iter().take(20) {
            eprintln!("failed: {msg}");
        }
        bail!(
            "{} units failed (see above and store/logs); the rest is done — fix and rerun to finish",
            s.failed.len()
        );
    }
    Ok(())
}

pub fn aggregate(config: &Path, report: bool, force: bool, json: bool) -> anyhow::Result<()> {
    let (cfg, ds, tasks) = load(config)?;
    crate::run::remove_dead_temps(&cfg);
    let r = aggregate_and_report(&cfg, &ds, &tasks, report, force)?;
    crate::output::print(json, &r)
}

/// `resume`: a Slurm sweep submits what is missing; a local one runs it.
pub fn resume(config: &Path, json: bool) -> anyhow::Result<()> {
    let (cfg, _, _) = load(config)?;
    if cfg.executor.kind == crate::config::ExecutorKind::Slurm {
        submit(
            &SubmitArgs {
                config: config.to_path_buf(),
                dry_run: false,
            },
            json,
        )
    } else {
        run(config, json)
    }
}

#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    pub config: PathBuf,
    /// Print the scripts' paths and the sbatch commands; submit nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    pub config: PathBuf,
    /// Refresh every few seconds until no recorded job is queued or running.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between refreshes with --watch.
    #[arg(long, default_value_t = 10)]
    pub interval: u64,
}

/// `submit` (and `resume` of a Slurm sweep).
#[derive(Debug, serde::Serialize)]
pub struct SubmitResult {
    pub dry_run: bool,
    /// `--dry-run`: the scripts written and the commands that would run.
    pub scripts: Vec<PathBuf>,
    pub commands: Vec<String>,
    pub jobs: Vec<SubmittedJob>,
    pub skipped_busy: usize,
    pub gave_up: Vec<GaveUp>,
}

#[derive(Debug, serde::Serialize)]
pub struct SubmittedJob {
    pub stage: String,
    pub job_id: String,
    pub tasks: usize,
}

#[derive(Debug, serde::Serialize)]
pub struct GaveUp {
    pub stage: String,
    pub task: u32,
}

impl Human for SubmitResult {
    fn human(&self) -> String {
        let mut out = String::new();
        if self.dry_run {
            for p in &self.scripts {
                let _ = writeln!(
                    out,
                    "==> {} <==\n{}",
                    p.display(),
                    std::fs::read_to_string(p).unwrap_or_default()
                );
            }
            out.push_str("would run:\n");
            for c in &self.commands {
                let _ = writeln!(out, "  {c}");
            }
            return out;
        }
        for j in &self.jobs {
            let _ = writeln!(
                out,
                "submitted {} job {} ({} tasks)",
                j.stage, j.job_id, j.tasks
            );
        }
        if self.jobs.is_empty() {
            out.push_str("nothing to submit: every cell is done or queued\n");
        }
        if self.skipped_busy > 0 {
            let _ = writeln!(
                out,
                "{} array tasks are still queued or running and were not submitted again",
                self.skipped_busy
            );
        }
        out
    }
}

pub fn submit(a: &SubmitArgs, json: bool) -> anyhow::Result<()> {
    let (cfg, ds, tasks) = load(&a.config)?;
    cfg.preflight_models()?;
    crate::submit::check_executor(&cfg, &a.config)?;
    let grid = Grid::build(&cfg, &ds, &tasks);
    let sched = slurm::SlurmCli::new();
    let _lock = if a.dry_run {
        None
    } else {
        Some(crate::lock::acquire(&cfg.store, "submit", &a.config)?)
    };
    let rep = crate::submit::submit(&cfg, &ds, &grid, &a.config, &sched, a.dry_run)?;
    for (stage, i) in &rep.gave_up {
        tracing::warn!(
            "{stage} task {i} failed on every attempt (retries exhausted); see `genoprot status` for logs"
        );
    }
    let r = SubmitResult {
        dry_run: a.dry_run,
        scripts: if a.dry_run {
            ["embed", "probe", "fusion", "aggregate"]
                .iter()
                .map(|stage| cfg.store.join("slurm").join(format!("{stage}.sh")))
                .collect()
        } else {
            Vec::new()
        },
        commands: rep.commands.clone(),
        jobs: rep
            .jobs
            .iter()
            .map(|j| SubmittedJob {
                stage: j.stage.clone(),
                job_id: j.job_id.clone(),
                tasks: j.indices.len().max(1),
            })
            .collect(),
        skipped_busy: rep.skipped_busy,
        gave_up: rep
            .gave_up
            .iter()
            .map(|(stage, task)| GaveUp {
                stage: stage.clone(),
                task: *task,
            })
            .collect(),
    };
    crate::output::print(json, &r)
}

/// `status`: per stage from the store (and Slurm), the local holder, failed
/// units with their errors and logs, and warnings of finished cells.
#[derive(Debug, serde::Serialize)]
pub struct StatusResult {
    pub sweep: String,
    pub stages: Vec<StageStatus>,
    /// Slurm's view of the aggregate job, by state.
    pub aggregate: BTreeMap<String, usize>,
    /// A local `genoprot run`/`submit` holding the store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<crate::lock::Holder>,
    pub failed: Vec<FailedStatus>,
    /// Failed Slurm array tasks with their log files.
    pub failed_jobs: Vec<String>,
    pub warnings: Vec<CellWarning>,
}

#[derive(Debug, serde::Serialize)]
pub struct StageStatus {
    #[serde(flatten)]
    pub counts: StageCounts,
    /// Slurm tasks by state (latest attempt per array index).
    pub scheduler: BTreeMap<String, usize>,
}

#[derive(Debug, serde::Serialize)]
pub struct FailedStatus {
    #[serde(flatten)]
    pub unit: UnitRow,
    pub attempts: usize,
    pub error: String,
    /// The unit's log file, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<PathBuf>,
}

#[derive(Debug, serde::Serialize)]
pub struct CellWarning {
    pub unit: String,
    pub warning: String,
}

impl Human for StatusResult {
    fn human(&self) -> String {
        let mut out = String::new();
        if let Some(h) = &self.running {
            let _ = writeln!(out, "running: {}", h.describe());
        }
        let _ = writeln!(
            out,
            "{:<9} {:>7} {:>7} {:>8} {:>7}   scheduler",
            "stage", "total", "done", "missing", "failed"
        );
        let states = |m: &BTreeMap<String, usize>| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        for s in &self.stages {
            let c = &s.counts;
            let _ = writeln!(
                out,
                "{:<9} {:>7} {:>7} {:>8} {:>7}   {}",
                c.stage,
                c.total,
                c.done,
                c.missing,
                c.failed,
                states(&s.scheduler)
            );
        }
        if !self.aggregate.is_empty() {
            let _ = writeln!(
                out,
                "{:<9} {:>7} {:>7} {:>8} {:>7}   {}",
                "aggregate",
                "",
                "",
                "",
                "",
                states(&self.aggregate)
            );
        }
        for f in &self.failed_jobs {
            let _ = writeln!(out, "failed: {f}");
        }
        if !self.failed.is_empty() {
            let _ = writeln!(out, "failed units: {}", self.failed.len());
            for f in self.failed.iter().take(20) {
                let u = &f.unit;
                let what = match (&u.task, u.seed) {
                    (Some(t), Some(s)) => format!("{} × {t} × seed {s}", u.model),
                    _ => u.model.clone(),
                };
                let _ = writeln!(
                    out,
                    "  {} {what} ({} attempts): {}",
                    u.stage,
                    f.attempts,
                    f.error.lines().last().unwrap_or("")
                );
                if let Some(l) = &f.log {
                    let _ = writeln!(out, "    log: {}", l.display());
                }
            }
            if self.failed.len() > 20 {
                let _ = writeln!(
                    out,
                    "  … {} more (`--json` lists all)",
                    self.failed.len() - 20
                );
            }
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(
                out,
                "warnings: {} finished cells need a look",
                self.warnings.len()
            );
            for w in self.warnings.iter().take(5) {
                let _ = writeln!(out, "  {}: {}", w.unit, w.warning);
            }
            if self.warnings.len() > 5 {
                let _ = writeln!(
                    out,
                    "  … {} more in the journal (journal/events.jsonl)",
                    self.warnings.len() - 5
                );
            }
        }
        out
    }
}

fn status_once(
    cfg: &crate::config::SweepConfig,
    ds: &workers::dataset::Dataset,
    grid: &Grid,
    sched: &dyn slurm::Scheduler,
) -> anyhow::Result<StatusResult> {
    let hist = crate::run::history(cfg);
    let units = crate::run::unit_states(cfg, ds, grid, &hist);
    let counts = crate::run::counts_of(&units);
    let (mut by, failed_jobs) = if crate::submit::submissions(cfg).is_empty() {
        (Default::default(), Vec::new())
    } else {
        crate::submit::scheduler_summary(cfg, sched)?
    };
    let failed = units
        .iter()
        .filter(|u| u.state == crate::run::UnitState::Failed)
        .map(|u| {
            let h = hist.get(&u.id);
            FailedStatus {
                attempts: h.map_or(0, |h| h.attempts),
                error: h.and_then(|h| h.error.clone()).unwrap_or_default(),
                log: Some(crate::run::unit_log(cfg, u)).filter(|p| p.is_file()),
                unit: u.clone(),
            }
        })
        .collect();
    let running = crate::lock::holder(&cfg.store).filter(|h| h.alive());
    Ok(StatusResult {
        sweep: cfg.name.clone(),
        aggregate: by.remove("aggregate").unwrap_or_default(),
        stages: counts
            .into_iter()
            .map(|c| StageStatus {
                scheduler: by.remove(&c.stage).unwrap_or_default(),
                counts: c,
            })
            .collect(),
        running,
        failed,
        failed_jobs,
        warnings: crate::journal::Journal::warnings_in(&cfg.store)
            .into_iter()
            .map(|(unit, warning)| CellWarning { unit, warning })
            .collect(),
    })
}

pub fn status(a: &StatusArgs, json: bool) -> anyhow::Result<()> {
    let (cfg, ds, tasks) = load(&a.config)?;
    let grid = Grid::build(&cfg, &ds, &tasks);
    let sched = slurm::SlurmCli::new();
    loop {
        let r = status_once(&cfg, &ds, &grid, &sched)?;
        let live = r.running.is_some()
            || r.stages
                .iter()
                .flat_map(|s| s.scheduler.keys())
                .chain(r.aggregate.keys())
                .any(|k| {
                    ![
                        "COMPLETED",
                        "FAILED",
                        "CANCELLED",
                        "TIMEOUT",
                        "NODE_FAIL",
                        "OUT_OF_MEMORY",
                        "PREEMPTED",
                        "BOOT_FAIL",
                        "DEADLINE",
                    ]
                    .contains(&k.as_str())
                });
        if !a.watch {
            return crate::output::print(json, &r);
        }
        crate::output::print_line(json, &r)?;
        if !live {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_secs(a.interval.max(1)));
        if !json {
            println!();
        }
    }
}

/// `cancel`: the Slurm jobs cancelled and the local run stopped.
#[derive(Debug, serde::Serialize)]
pub struct CancelResult {
    pub jobs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<crate::lock::Holder>,
}

impl Human for CancelResult {
    fn human(&self) -> String {
        let mut out = String::new();
        if let Some(h) = &self.stopped {
            let _ = writeln!(out, "stopped {}", h.describe());
        }
        if !self.jobs.is_empty() {
            let _ = writeln!(out, "cancelled jobs {}", self.jobs.join(" "));
        }
        if out.is_empty() {
            out.push_str(
                "nothing to stop: no queued or running jobs and no local run on this sweep\n",
            );
        }
        out
    }
}

pub fn cancel(config: &Path, json: bool) -> anyhow::Result<()> {
    let (cfg, _, _) = load(config)?;
    let stopped = crate::lock::stop_local(&cfg.store, std::time::Duration::from_secs(60))?;
    let jobs = if crate::submit::submissions(&cfg).is_empty() {
        Vec::new()
    } else {
        crate::submit::cancel(&cfg, &slurm::SlurmCli::new())?
    };
    crate::output::print(json, &CancelResult { jobs, stopped })
}
