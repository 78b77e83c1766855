//! `genoprot plan | run | aggregate | report`.

use crate::grid::Grid;
use crate::worker::load;
use anyhow::bail;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// The sweep config (YAML).
    pub config: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    pub config: PathBuf,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub fn plan(a: &PlanArgs) -> anyhow::Result<()> {
    let (cfg, ds, tasks) = load(&a.config)?;
    cfg.preflight_models()?;
    let grid = Grid::build(&cfg, &ds, &tasks);
    let counts = crate::run::stage_counts(&cfg, &ds, &grid);
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"sweep": cfg.name, "stages": counts})
            )?
        );
        return Ok(());
    }
    println!(
        "sweep {}: {} models, {} ensembles, {} tasks, {} seeds",
        cfg.name,
        cfg.models.len(),
        cfg.ensembles.len(),
        tasks.len(),
        cfg.seeds.len()
    );
    println!(
        "{:<8} {:>8} {:>8} {:>8} {:>8}",
        "stage", "total", "done", "missing", "failed"
    );
    for c in counts {
        println!(
            "{:<8} {:>8} {:>8} {:>8} {:>8}",
            c.stage, c.total, c.done, c.missing, c.failed
        );
    }
    Ok(())
}

fn aggregate_and_report(
    cfg: &crate::config::SweepConfig,
    ds: &workers::dataset::Dataset,
    tasks: &[String],
    report: bool,
) -> anyhow::Result<()> {
    let grid = Grid::build(cfg, ds, tasks);
    let agg = crate::aggregate::collect(&grid, &cfg.store.join("cells"));
    let (h5, csv) = crate::aggregate::write(&agg, &cfg.store)?;
    println!(
        "aggregated {} cells into {} and {}",
        agg.rows.len(),
        h5.display(),
        csv.display()
    );
    for (id, e) in &agg.unreadable {
        eprintln!("warning: cell {id} is unreadable and counted as missing: {e}");
    }
    if !agg.missing.is_empty() {
        eprintln!(
            "warning: {} of {} cells are missing (listed in results.h5 `missing`); `genoprot run` computes them",
            agg.missing.len(),
            agg.missing.len() + agg.rows.len()
        );
    }
    if report {
        let dir = crate::report::write_report(cfg, ds, &agg)?;
        println!("report: {}", dir.join("summary.md").display());
    }
    Ok(())
}

pub fn run(config: &Path) -> anyhow::Result<()> {
    let (cfg, ds, tasks) = load(config)?;
    cfg.preflight_models()?;
    if cfg.executor.kind == crate::config::ExecutorKind::Slurm {
        tracing::warn!("executor.kind is slurm; `genoprot run` runs the sweep locally anyway");
    }
    // Fail before any work when the device is unusable here.
    let (placement, _) = workers::device::resolve(cfg.device)
        .map_err(|e| anyhow::anyhow!("{}: device: {e}", config.display()))?;
    tracing::info!("models and probes run on {placement}");
    let t0 = std::time::Instant::now();
    let s = crate::run::run_local(&cfg, &ds, &tasks, std::io::stderr().is_terminal())?;
    println!(
        "{}: {} models embedded, {} cells run, {} already done, {:.1} s",
        cfg.name,
        s.embedded,
        s.cells_run,
        s.cells_skipped,
        t0.elapsed().as_secs_f64()
    );
    if s.stopped {
        crate::signals::exit_stopped(&format!(
            "stopped by Ctrl-C; run `genoprot run {}` again to continue where it stopped",
            config.display()
        ));
    }
    aggregate_and_report(&cfg, &ds, &tasks, true)?;
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

pub fn aggregate(config: &Path, report: bool) -> anyhow::Result<()> {
    let (cfg, ds, tasks) = load(config)?;
    crate::run::remove_dead_temps(&cfg);
    aggregate_and_report(&cfg, &ds, &tasks, report)
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

pub fn submit(a: &SubmitArgs) -> anyhow::Result<()> {
    let (cfg, ds, tasks) = load(&a.config)?;
    cfg.preflight_models()?;
    crate::submit::check_executor(&cfg, &a.config)?;
    let grid = Grid::build(&cfg, &ds, &tasks);
    let sched = slurm::SlurmCli::new();
    let rep = crate::submit::submit(&cfg, &ds, &grid, &a.config, &sched, a.dry_run)?;
    if a.dry_run {
        for stage in ["embed", "probe", "fusion", "aggregate"] {
            let p = cfg.store.join("slurm").join(format!("{stage}.sh"));
            println!("==> {} <==\n{}", p.display(), std::fs::read_to_string(&p)?);
        }
        println!("would run:");
        for c in &rep.commands {
            println!("  {c}");
        }
        return Ok(());
    }
    for j in &rep.jobs {
        println!(
            "submitted {} job {} ({} tasks)",
            j.stage,
            j.job_id,
            j.indices.len().max(1)
        );
    }
    if rep.jobs.is_empty() {
        println!("nothing to submit: every cell is done or queued");
    }
    if rep.skipped_busy > 0 {
        println!(
            "{} array tasks are still queued or running and were not submitted again",
            rep.skipped_busy
        );
    }
    for (stage, i) in &rep.gave_up {
        eprintln!(
            "warning: {stage} task {i} failed on every attempt (retries exhausted); see `genoprot status` for logs"
        );
    }
    Ok(())
}

pub fn status(a: &StatusArgs) -> anyhow::Result<()> {
    let (cfg, ds, tasks) = load(&a.config)?;
    let grid = Grid::build(&cfg, &ds, &tasks);
    let sched = slurm::SlurmCli::new();
    loop {
        let counts = crate::run::stage_counts(&cfg, &ds, &grid);
        let (by, failed) = if crate::submit::submissions(&cfg).is_empty() {
            (Default::default(), Vec::new())
        } else {
            crate::submit::scheduler_summary(&cfg, &sched)?
        };
        println!(
            "{:<9} {:>7} {:>7} {:>8} {:>7}   scheduler",
            "stage", "total", "done", "missing", "failed"
        );
        for c in &counts {
            let s = by
                .get(&c.stage)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            println!(
                "{:<9} {:>7} {:>7} {:>8} {:>7}   {s}",
                c.stage, c.total, c.done, c.missing, c.failed
            );
        }
        if let Some(m) = by.get("aggregate") {
            println!(
                "{:<9} {:>7} {:>7} {:>8} {:>7}   {}",
                "aggregate",
                "",
                "",
                "",
                "",
                m.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        for f in &failed {
            println!("failed: {f}");
        }
        let warnings = crate::journal::Journal::warnings_in(&cfg.store);
        if !warnings.is_empty() {
            println!("warnings: {} finished cells need a look", warnings.len());
            for (unit, w) in warnings.iter().take(5) {
                println!("  {unit}: {w}");
            }
            if warnings.len() > 5 {
                println!(
                    "  … {} more in the journal (journal/events.jsonl)",
                    warnings.len() - 5
                );
            }
        }
        let live = by.values().flat_map(|m| m.iter()).any(|(k, _)| {
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
        if !a.watch || !live {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_secs(a.interval.max(1)));
        println!();
    }
}

pub fn cancel(config: &Path) -> anyhow::Result<()> {
    let (cfg, _, _) = load(config)?;
    let jobs = crate::submit::cancel(&cfg, &slurm::SlurmCli::new())?;
    if jobs.is_empty() {
        println!("no queued or running jobs of this sweep");
    } else {
        println!("cancelled jobs {}", jobs.join(" "));
    }
    Ok(())
}
