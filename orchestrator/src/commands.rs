//! The user commands over a sweep: `plan`, `run`, `aggregate`, `report`,
//! `submit`, `resume`, `status`, `cancel` — each builds a typed result that
//! the output layer prints as text or JSON.

use crate::executor::Executor;
use crate::grid::Grid;
use crate::output::Human;
use crate::sweep::Sweep;
use crate::units::{StageCounts, UnitRow};
use std::collections::BTreeMap;
use std::fmt::Write;
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

/// A stage's counts as table cells: stage, total, done, missing, failed.
fn stage_cells(c: &StageCounts) -> Vec<String> {
    vec![
        c.stage.to_string(),
        c.total.to_string(),
        c.done.to_string(),
        c.missing.to_string(),
        c.failed.to_string(),
    ]
}

fn stage_table(out: &mut String, counts: &[StageCounts]) {
    let rows: Vec<Vec<String>> = counts.iter().map(stage_cells).collect();
    out.push_str(&crate::output::table(
        &["stage", "total", "done", "missing", "failed"],
        &rows,
        &[1, 2, 3, 4],
    ));
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
    let sweep = Sweep::open(config)?;
    let (cfg, tasks) = (&sweep.cfg, &sweep.tasks);
    cfg.preflight_models()?;
    let grid = sweep.grid();
    let units = crate::units::unit_states(cfg, &sweep.ds, &grid, &crate::units::history(cfg));
    let r = PlanResult {
        sweep: cfg.name.clone(),
        models: cfg.models.len(),
        ensembles: cfg.ensembles.len(),
        tasks: tasks.len(),
        seeds: cfg.seeds.len(),
        stages: crate::units::counts_of(&units),
        units,
    };
    crate::output::print(json, &r)
}

/// `run`: the whole sweep on this machine (the local executor, whatever
/// `executor.kind` says).
pub fn run(config: &Path, json: bool) -> anyhow::Result<()> {
    let sweep = Sweep::open(config)?;
    launch(&crate::executor::local::Local, &sweep, config, false, json)
}

fn launch(
    ex: &dyn Executor,
    sweep: &Sweep,
    config: &Path,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<()> {
    let r = ex.launch(sweep, config, dry_run)?;
    crate::output::print(json, &r)?;
    r.conclude(config)
}

pub fn aggregate(config: &Path, report: bool, force: bool, json: bool) -> anyhow::Result<()> {
    let sweep = Sweep::open(config)?;
    crate::run::remove_dead_temps(&sweep.cfg);
    let r = crate::gather::aggregate_and_report(&sweep, report, force)?;
    crate::output::print(json, &r)
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  genoprot resume configs/x.yaml\n  genoprot resume configs/x.yaml --retry-given-up   # after fixing why units failed on every attempt"
)]
pub struct ResumeArgs {
    pub config: PathBuf,
    /// Slurm: count attempts from now, so units that used up their retries
    /// are submitted again (with `retries` new retries).
    #[arg(long)]
    pub retry_given_up: bool,
}

/// `resume`: a Slurm sweep submits what is missing; a local one runs it.
pub fn resume(a: &ResumeArgs, json: bool) -> anyhow::Result<()> {
    let sweep = Sweep::open(&a.config)?;
    if a.retry_given_up {
        crate::executor::batch::journal::reset_attempts(&sweep.cfg)?;
    }
    let ex = crate::executor::configured(&sweep);
    launch(ex.as_ref(), &sweep, &a.config, false, json)
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

pub fn submit(a: &SubmitArgs, json: bool) -> anyhow::Result<()> {
    let sweep = Sweep::open(&a.config)?;
    let ex = crate::executor::batch(&sweep, &a.config)?;
    launch(&ex, &sweep, &a.config, a.dry_run, json)
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
    #[serde(flatten)]
    pub retries: crate::executor::Retries,
    pub warnings: Vec<CellWarning>,
    /// Stages a scheduler has queued or running work of.
    #[serde(skip)]
    pub busy: std::collections::BTreeSet<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct StageStatus {
    #[serde(flatten)]
    pub counts: StageCounts,
    /// Units finished per minute over the last 30 minutes (journal), while
    /// the stage has work queued or running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_per_min: Option<f64>,
    /// At that rate, seconds until every unit is done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<f64>,
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
        let states = |m: &BTreeMap<String, usize>| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let r = &self.retries;
        let attempt = |stage: &str| match (r.attempts.get(stage), r.max_attempts) {
            (Some(a), Some(m)) => format!("{a}/{m}"),
            _ => String::new(),
        };
        let mut rows: Vec<Vec<String>> = self
            .stages
            .iter()
            .map(|s| {
                let mut cells = stage_cells(&s.counts);
                cells.push(
                    s.rate_per_min
                        .map_or(String::new(), |r| format!("{r:.1}/min")),
                );
                cells.push(s.eta_seconds.map_or(String::new(), |e| {
                    indicatif::HumanDuration(std::time::Duration::from_secs_f64(e)).to_string()
                }));
                cells.push(attempt(s.counts.stage.as_str()));
                cells.push(states(&s.scheduler));
                cells
            })
            .collect();
        if !self.aggregate.is_empty() {
            let mut row = vec![String::new(); 8];
            row[0] = "finish".into();
            row[7] = attempt("aggregate");
            row.push(states(&self.aggregate));
            rows.push(row);
        }
        let mut header = vec!["stage", "total", "done", "missing", "failed", "rate", "eta"];
        if r.max_attempts.is_some() {
            header.extend(["attempt", "scheduler"]);
        }
        for r in &mut rows {
            r.truncate(header.len());
        }
        out.push_str(&crate::output::table(&header, &rows, &[1, 2, 3, 4, 5]));
        if !r.gave_up.is_empty() {
            let _ = writeln!(
                out,
                "retries exhausted for {} units (`genoprot resume` will not resubmit them):",
                r.gave_up.len()
            );
            for g in r.gave_up.iter().take(20) {
                let _ = writeln!(
                    out,
                    "  {} {} after {} attempts: {} log {}",
                    g.stage,
                    g.what,
                    g.attempts,
                    g.last,
                    g.log.display()
                );
            }
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

/// `status`: the window its rates are measured over, in seconds.
const RATE_WINDOW_S: f64 = 1800.0;

fn status_once(sweep: &Sweep, grid: &Grid) -> anyhow::Result<StatusResult> {
    let cfg = &sweep.cfg;
    // The journal is read once for histories, rates and warnings.
    let events = if cfg.layout().journal_dir().is_dir() {
        crate::journal::Journal::open(&cfg.store)
            .map(|j| j.events())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let hist = crate::journal::history_of(&events);
    let units = crate::units::unit_states(cfg, &sweep.ds, grid, &hist);
    let counts = crate::units::counts_of(&units);
    let stage_of: std::collections::HashMap<&str, crate::grid::Stage> =
        units.iter().map(|u| (u.id.as_str(), u.stage)).collect();
    let rates =
        crate::journal::done_rates(&events, &stage_of, crate::journal::now(), RATE_WINDOW_S);
    let mut by = BTreeMap::new();
    let mut busy = std::collections::BTreeSet::new();
    let mut failed_jobs = Vec::new();
    let mut running = None;
    let mut retries = crate::executor::Retries::default();
    for ex in crate::executor::involved(sweep) {
        let a = ex.activity(sweep)?;
        by.extend(a.jobs);
        busy.extend(a.busy);
        failed_jobs.extend(a.failed_jobs);
        running = running.or(a.running);
        retries.attempts.extend(a.retries.attempts);
        retries.max_attempts = retries.max_attempts.or(a.retries.max_attempts);
        retries.gave_up.extend(a.retries.gave_up);
    }
    let failed = units
        .iter()
        .filter(|u| u.state == crate::units::UnitState::Failed)
        .map(|u| {
            let h = hist.get(&u.id);
            FailedStatus {
                attempts: h.map_or(0, |h| h.attempts),
                error: h.and_then(|h| h.error.clone()).unwrap_or_default(),
                log: Some(crate::units::unit_log(cfg, u)).filter(|p| p.is_file()),
                unit: u.clone(),
            }
        })
        .collect();
    Ok(StatusResult {
        sweep: cfg.name.clone(),
        aggregate: by.remove("aggregate").unwrap_or_default(),
        stages: counts
            .into_iter()
            .map(|c| {
                let scheduler = by.remove(c.stage.as_str()).unwrap_or_default();
                // A rate while work is under way: a local run holds the
                // store, or Slurm has this stage's tasks queued or running.
                let active = running.is_some() || busy.contains(c.stage.as_str());
                let rate = rates
                    .get(&c.stage)
                    .map(|r| r * 60.0)
                    .filter(|_| active && c.total > c.done);
                StageStatus {
                    scheduler,
                    rate_per_min: rate,
                    eta_seconds: rate.map(|r| (c.total - c.done) as f64 / r * 60.0),
                    counts: c,
                }
            })
            .collect(),
        running,
        failed,
        failed_jobs,
        retries,
        warnings: crate::journal::warnings_of(&hist)
            .into_iter()
            .map(|(unit, warning)| CellWarning { unit, warning })
            .collect(),
        busy,
    })
}

pub fn status(a: &StatusArgs, json: bool) -> anyhow::Result<()> {
    let sweep = Sweep::open(&a.config)?;
    let grid = sweep.grid();
    loop {
        let r = status_once(&sweep, &grid)?;
        let live = r.running.is_some() || !r.busy.is_empty();
        if !a.watch {
            return crate::output::print(json, &r);
        }
        crate::output::print_line(json, &r)?;
        if !live {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_secs(a.interval.max(1)));
        if !json {
            crate::output::stdout("\n")?;
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
    let sweep = Sweep::open(config)?;
    let mut r = CancelResult {
        jobs: Vec::new(),
        stopped: None,
    };
    for ex in crate::executor::involved(&sweep) {
        let s = ex.cancel(&sweep)?;
        r.jobs.extend(s.jobs);
        r.stopped = r.stopped.or(s.local);
    }
    crate::output::print(json, &r)
}
