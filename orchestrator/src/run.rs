//! The local executor (the embedded default): stages in dependency order on
//! this machine — embeddings, probe cells, late-fusion cells, aggregate,
//! report — with a worker pool, progress bars, per-cell logs, a journal, and a
//! clean stop on Ctrl-C. Running it again continues where it stopped.
//! What is done, missing or failed is `units.rs`.

use crate::config::SweepConfig;
use crate::embed::{EmbedOutcome, is_current, run_embed};

use crate::journal::{EventKind, Journal};
use crate::units::cell_log_name;
use anyhow::Context;
use indicatif::ProgressBar;
use std::collections::BTreeSet;

use crate::cost::Shape;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use workers::dataset::Dataset;
use workers::probe::cell::{CellResult, CellSpec, run_cell};

/// The CPUs this process may use (its affinity mask, so a Slurm task's
/// `--cpus-per-task`).
fn cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Cells run at once: `executor.workers`, or one per core.
fn pool_size(cfg: &SweepConfig) -> usize {
    if cfg.executor.workers > 0 {
        cfg.executor.workers
    } else {
        cpus()
    }
}

/// The threads of each of `workers` cells running at once on `cores`: an
/// equal share, the remainder to the first ones, at least one each (more
/// workers than cores share them).
fn threads_of(cores: usize, workers: usize) -> Vec<usize> {
    let workers = workers.max(1);
    (0..workers)
        .map(|w| (cores / workers + usize::from(w < cores % workers)).max(1))
        .collect()
}

/// Threads for the cells' numerics: `RAYON_NUM_THREADS` when set (as for
/// rayon's global pool), else [`cpus`].
fn compute_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(cpus)
}

pub fn stopped() -> bool {
    crate::signals::stopped()
}

/// Is a cell's store there and readable?
pub fn cell_done(cfg: &SweepConfig, id: &str) -> bool {
    cell_seconds(cfg, id).is_some()
}

/// The seconds a finished cell took to train; `None` when it is not done.
pub fn cell_seconds(cfg: &SweepConfig, id: &str) -> Option<f64> {
    let p = cfg.layout().cell(id);
    if !p.exists() {
        return None;
    }
    match CellResult::read_as(&p, id) {
        Ok(c) => Some(c.seconds),
        // Damage is reported by `seal::verify`, once.
        Err(workers::store::StoreError::Damaged { .. }) => None,
        Err(e) => {
            tracing::warn!("cell store not counted as done: {e}");
            None
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct RunSummary {
    pub embedded: usize,
    pub cells_run: usize,
    pub cells_skipped: usize,
    pub failed: Vec<(String, String)>,
    pub stopped: bool,
}

const BAR: &str = "{prefix:>8} [{bar:30}] {pos}/{len} {msg} eta {eta}";

fn bar(len: usize, prefix: &str, show: bool) -> ProgressBar {
    crate::progress::bar(len as u64, BAR, prefix, show)
}

/// The file system's refusal behind an error, if that is what it is.
fn storage_fault(e: &anyhow::Error) -> Option<String> {
    e.chain().find_map(|c| {
        if let Some(s) = c.downcast_ref::<workers::store::StoreError>() {
            return s.storage_fault();
        }
        match c.downcast_ref::<workers::embed::EmbedError>() {
            Some(workers::embed::EmbedError::Store(s)) => s.storage_fault(),
            _ => None,
        }
    })
}

/// Removes temp files that killed writers of this host left in the store.
pub fn remove_dead_temps(cfg: &SweepConfig) {
    let n: usize = [
        cfg.store.clone(),
        cfg.layout().cells_dir(),
        cfg.layout().embeddings_dir(),
        cfg.layout().journal_dir(),
    ]
    .iter()
    .map(|d| workers::atomic::remove_dead_temps(d))
    .sum();
    if n > 0 {
        tracing::info!("removed {n} temp file(s) left by killed writers");
    }
}

/// Runs the cells that are not done, `workers` at a time.
/// The warning a finished fit deserves: a linear probe that did not
/// converge, an MLP stopped by `max_epochs` while still improving.
pub fn fit_warning(f: &workers::probe::output::FitInfo) -> Option<String> {
    match (f.solver.as_str(), f.converged, f.stop.as_str()) {
        ("adamw", _, "max_epochs, still improving") => Some(format!(
            "the MLP probe reached probe.max_epochs ({}) while validation was still improving; \
             raise probe.max_epochs",
            f.iterations
        )),
        ("adamw", _, _) | (_, true, _) => None,
        (solver, false, stop) => Some(format!(
            "the linear probe did not converge ({solver} stopped by {stop} after {} iterations, \
             largest gradient entry {:.2e}); raise probe.max_iter or probe.tol",
            f.iterations, f.grad_norm
        )),
    }
}

/// Everything about a finished cell that deserves a look: the fit's
/// warning and a chosen `c`/`alpha` at its grid's edge, `; `-joined.
pub fn cell_warning(r: &workers::probe::cell::CellResult) -> Option<String> {
    let parts: Vec<String> = r
        .fit
        .as_ref()
        .and_then(fit_warning)
        .into_iter()
        .chain((!r.grid_edge.is_empty()).then(|| r.grid_edge.clone()))
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// A finished cell's log: what it trained on, its metrics, the fit, the grid.
fn cell_log(
    label: &str,
    c: &CellSpec,
    shape: Shape,
    r: &CellResult,
    secs: f64,
    threads: Option<usize>,
) -> String {
    let m: Vec<String> = r
        .metrics
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.map_or("undefined".into(), |x| format!("{x:.4}"))
            )
        })
        .collect();
    let fit = r.fit.as_ref().map_or(String::new(), |f| {
        format!(
            "fit: {} {} after {} iterations (stop: {}, |grad| {:.2e}, objective {:.6e})\n",
            f.solver,
            if f.converged {
                "converged"
            } else {
                "did NOT converge"
            },
            f.iterations,
            f.stop,
            f.grad_norm,
            f.objective
        )
    });
    let on = threads.map_or(String::new(), |n| {
        format!(", {n} thread{}", if n == 1 { "" } else { "s" })
    });
    format!(
        "{label}\ncell {}\ninput {} rows × {} columns\n{}\nbest epoch {}\n{fit}{}{}\n{secs:.2} s{on}\n",
        c.id,
        shape.rows,
        shape.columns,
        m.join(" "),
        r.best_epoch,
        grid_line(r),
        r.undefined.join("\n")
    )
}

/// The cell log's line on the probe's grid (none without one).
fn grid_line(r: &workers::probe::cell::CellResult) -> String {
    if r.probe_grid.len() < 2 {
        return String::new();
    }
    let chosen = r.probe_c.or(r.probe_alpha).unwrap_or(f64::NAN);
    let edge = if r.grid_edge.is_empty() {
        String::new()
    } else {
        format!(" — AT THE EDGE: {}", r.grid_edge)
    };
    format!("grid {:?}, chosen {chosen}{edge}\n", r.probe_grid)
}

/// `cells` with their shapes, costliest first (`cost.rs`).
fn by_cost<'a>(
    cfg: &SweepConfig,
    ds: &Dataset,
    cells: &[&'a CellSpec],
) -> Vec<(&'a CellSpec, Shape)> {
    let widths = crate::cost::widths(&cfg.layout().embeddings_dir(), cells);
    let shapes: Vec<Shape> = cells
        .iter()
        .map(|c| crate::cost::shape(ds, c, &widths))
        .collect();
    let costs: Vec<f64> = shapes.iter().map(|s| s.cost()).collect();
    crate::cost::costliest_first(&costs)
        .into_iter()
        .map(|i| (cells[i], shapes[i]))
        .collect()
}

/// Runs `todo` (from [`by_cost`]), `workers` cells at a time.
#[allow(clippy::too_many_arguments)]
fn run_cells(
    cfg: &SweepConfig,
    ds: &Dataset,
    journal: &Journal,
    todo: &[(&CellSpec, Shape)],
    workers: usize,
    pb: &ProgressBar,
    work: &crate::progress::Work,
    failed_models: &BTreeSet<String>,
) -> anyhow::Result<(usize, Vec<(String, String)>)> {
    let emb_dir = cfg.layout().embeddings_dir();
    let cdir = cfg.layout().cells_dir();
    let log_dir = cfg.layout().cell_logs_dir();
    for d in [&log_dir, &cdir] {
        crate::store_dir(d)?;
    }
    let (_, device) = workers::device::resolve(cfg.device)?;
    let ran = AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    // The first write the file system refuses (full, read-only) stops the
    // run: every later cell would be trained only to fail the same way.
    let fault: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    // `workers` cells at a time, each on a thread pool of its own holding
    // its share of the cores (`threads_of`), or more when it is large
    // (`cores::run_in_turns`). (LibTorch runs its own threads.)
    let libtorch = workers::device::is_libtorch(&device);
    let workers = workers.clamp(1, todo.len().max(1));
    let total = compute_threads();
    let threads = threads_of(total, workers);
    tracing::debug!(
        "{} cells: {workers} at a time, threads per cell {threads:?}",
        todo.len()
    );
    let one_cell = |c: &CellSpec, shape: Shape, compute: Option<&rayon::ThreadPool>| {
        if stopped() || fault.lock().unwrap().is_some() {
            return;
        }
        let cost = shape.cost();
        let label = format!("{} × {} (seed {})", c.model, c.task, c.seed);
        if let Some(m) = c.members.iter().find(|m| failed_models.contains(*m)) {
            failures.lock().unwrap().push((
                c.id.clone(),
                format!("{label}: not run, the embedding of {m} failed"),
            ));
            work.add(cost);
            pb.inc(1);
            return;
        }
        let _ = journal.record(&c.id, EventKind::Start, None, None);
        let t0 = Instant::now();
        let res = match compute {
            Some(pool) => pool.install(|| run_cell(ds, &emb_dir, &cdir, c, &device)),
            // LibTorch runs its own (OpenMP) threads, one team per calling
            // thread: each worker thread keeps calling from itself.
            None => run_cell(ds, &emb_dir, &cdir, c, &device),
        };
        let secs = t0.elapsed().as_secs_f64();
        let log = log_dir.join(cell_log_name(&c.model, &c.task, c.seed, &c.id));
        match res {
            Ok(r) => {
                let threads = compute.map(|p| p.current_num_threads());
                let _ = std::fs::write(&log, cell_log(&label, c, shape, &r, secs, threads));
                if let Some(w) = cell_warning(&r) {
                    tracing::warn!(cell = %c.id, "{label}: {w}");
                    let _ = journal.record(&c.id, EventKind::Warning, Some(w), None);
                }
                // Its results row, so `aggregate` need not open the store.
                if let Err(e) = crate::aggregate::record_row(&cfg.layout(), &c.id) {
                    tracing::debug!(cell = %c.id, "results row not recorded (aggregate reads the store): {e:#}");
                }
                let _ = journal.record(&c.id, EventKind::Done, None, Some(secs));
                tracing::debug!(cell = %c.id, %label, seconds = secs, "cell done");
                ran.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) if e.storage_fault().is_some() => {
                let reason = e.storage_fault().unwrap_or_default();
                let _ = journal.record(&c.id, EventKind::Failed, Some(e.to_string()), Some(secs));
                let mut f = fault.lock().unwrap();
                if f.is_none() {
                    *f = Some(format!(
                        "the store stopped accepting writes: {e}; {reason}. Stopped at the first \
                         failed write; finished cells are kept. Free space (or make the store writable) \
                         and run again to continue"
                    ));
                }
            }
            Err(e) => {
                let msg = format!("{label}: {e} (log {})", log.display());
                let _ = std::fs::write(&log, format!("{label}\ncell {}\nFAILED: {e}\n", c.id));
                let _ = journal.record(&c.id, EventKind::Failed, Some(e.to_string()), Some(secs));
                tracing::warn!(cell = %c.id, "{msg}");
                failures.lock().unwrap().push((c.id.clone(), msg));
            }
        }
        work.add(cost);
        pb.inc(1);
    };
    // Each cell takes the cores its size calls for (`cost::Shape::threads`:
    // its worker's share, more for large cells, up to every core), in the
    // order the cells are handed out, on a pool of that many threads.
    crate::cores::run_in_turns(
        todo.len(),
        &threads,
        total,
        !libtorch,
        |turn, share| todo[turn].1.threads(share, total),
        |turn, pool| one_cell(todo[turn].0, todo[turn].1, pool),
    )
    .map_err(|e| anyhow::anyhow!("starting the cells' compute threads: {e}"))?;
    if let Some(msg) = fault.into_inner().unwrap() {
        anyhow::bail!(msg);
    }
    Ok((ran.into_inner(), failures.into_inner().unwrap()))
}

/// `genoprot run`: the whole sweep on this machine.
pub fn run_local(sweep: &crate::sweep::Sweep, show_progress: bool) -> anyhow::Result<RunSummary> {
    let (cfg, ds) = (&sweep.cfg, &sweep.ds);
    crate::signals::install();
    std::fs::create_dir_all(&cfg.store).with_context(|| {
        format!(
            "creating the store folder {} (hint: is the file system writable and not full? `store:` in {})",
            cfg.store.display(),
            cfg.path.display()
        )
    })?;
    remove_dead_temps(cfg);
    crate::embed::reap_orphans(cfg);
    let journal = Journal::open(&cfg.store)?;
    let grid = sweep.grid();
    journal.write_plan(&grid)?;
    let workers = pool_size(cfg);
    let mut summary = RunSummary::default();

    // Stage 1: embeddings.
    let mut failed_models = BTreeSet::new();
    // On a terminal each model shows its own bar in genes (below); the
    // models count feeds the progress lines off a terminal.
    let eb = bar(grid.embed.len(), "embed", false);
    let ticker = crate::progress::ticker(&eb, "embed", "models", show_progress);
    for job in &grid.embed {
        if stopped() {
            break;
        }
        eb.set_message(job.model.clone());
        let unit = format!("embed:{}", job.model);
        if is_current(cfg, ds, &job.model) {
            eb.inc(1);
            continue;
        }
        journal.record(&unit, EventKind::Start, None, None)?;
        let t0 = Instant::now();
        match run_embed(cfg, ds, &job.model, None, show_progress) {
            Ok(EmbedOutcome::Written { .. }) => {
                summary.embedded += 1;
                journal.record(
                    &unit,
                    EventKind::Done,
                    None,
                    Some(t0.elapsed().as_secs_f64()),
                )?;
            }
            Ok(EmbedOutcome::UpToDate(_)) => {}
            Err(_) if stopped() => break,
            Err(e) => {
                let msg = format!("{e:#}");
                if let Some(reason) = storage_fault(&e) {
                    let _ = journal.record(&unit, EventKind::Failed, Some(msg.clone()), None);
                    anyhow::bail!(
                        "the store stopped accepting writes: {msg}; {reason}. Stopped at the first \
                         failed write. Free space (or make the store writable) and run again to continue"
                    );
                }
                tracing::error!(model = %job.model, "embedding failed: {msg}");
                journal.record(
                    &unit,
                    EventKind::Failed,
                    Some(msg.clone()),
                    Some(t0.elapsed().as_secs_f64()),
                )?;
                summary
                    .failed
                    .push((unit, format!("embedding {}: {msg}", job.model)));
                failed_models.insert(job.model.clone());
            }
        }
        eb.inc(1);
    }
    drop(ticker);
    eb.finish_and_clear();

    // Stages 2 and 3: cells, then late-fusion cells (they read their members' cells).
    for (stage, list) in [("probe", &grid.cells), ("fusion", &grid.late)] {
        if stopped() {
            break;
        }
        let todo: Vec<&CellSpec> = list.iter().filter(|c| !cell_done(cfg, &c.id)).collect();
        summary.cells_skipped += list.len() - todo.len();
        let todo = by_cost(cfg, ds, &todo);
        let work = crate::progress::Work::new(todo.iter().map(|(_, s)| s.cost()).sum());
        let pb = crate::progress::weighted_bar(todo.len() as u64, BAR, stage, show_progress, &work);
        let ticker = crate::progress::weighted_ticker(
            &pb,
            stage,
            "cells",
            show_progress,
            Some(work.clone()),
        );
        let (ran, failed) = run_cells(
            cfg,
            ds,
            &journal,
            &todo,
            workers,
            &pb,
            &work,
            &failed_models,
        )?;
        drop(ticker);
        pb.finish_and_clear();
        summary.cells_run += ran;
        summary.failed.extend(failed);
    }
    summary.stopped = stopped();
    Ok(summary)
}

/// Runs a bundle of cells in this process (what a Slurm array task does);
/// finished cells are skipped.
pub fn run_bundle(
    cfg: &SweepConfig,
    ds: &Dataset,
    cells: &[&CellSpec],
) -> anyhow::Result<RunSummary> {
    crate::signals::install();
    let journal = Journal::open(&cfg.store)?;
    let todo: Vec<&CellSpec> = cells
        .iter()
        .copied()
        .filter(|c| !cell_done(cfg, &c.id))
        .collect();
    let workers = pool_size(cfg);
    let (ran, failed) = run_cells(
        cfg,
        ds,
        &journal,
        &by_cost(cfg, ds, &todo),
        workers,
        &ProgressBar::hidden(),
        &Default::default(),
        &BTreeSet::new(),
    )?;
    Ok(RunSummary {
        cells_run: ran,
        cells_skipped: cells.len() - todo.len(),
        failed,
        stopped: stopped(),
        ..Default::default()
    })
}

/// Runs a bundle of cells across MPI ranks with a dynamic work queue: rank 0
/// hands out cell indices one at a time (so a long cell never idles the other
/// ranks) and runs cells itself between requests; each cell is written by
/// the rank that ran it. Every rank returns the same summary.
#[cfg(feature = "mpi")]
pub fn run_bundle_mpi<C: mpi::traits::Communicator>(
    cfg: &SweepConfig,
    ds: &Dataset,
    cells: &[&CellSpec],
    world: &C,
) -> anyhow::Result<RunSummary> {
    use mpi::traits::*;
    let journal = Journal::open(&cfg.store)?;
    let (rank, size) = (world.rank(), world.size());
    let todo: Vec<&CellSpec> = cells
        .iter()
        .copied()
        .filter(|c| !cell_done(cfg, &c.id))
        .collect();
    let skipped = cells.len() - todo.len();
    let run_one = |i: usize| -> Result<(), (String, String)> {
        let c = todo[i];
        let (ran, failed) = run_cells(
            cfg,
            ds,
            &journal,
            &by_cost(cfg, ds, &[c]),
            1,
            &ProgressBar::hidden(),
            &Default::default(),
            &BTreeSet::new(),
        )
        .map_err(|e| (c.id.clone(), e.to_string()))?;
        match failed.into_iter().next() {
            Some((id, msg)) => Err((id, format!("rank {rank}: {msg}"))),
            None => {
                debug_assert_eq!(ran, 1);
                Ok(())
            }
        }
    };
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut ran = 0usize;
    if rank == 0 {
        let mut next = 0usize;
        let mut stopped_workers = 0;
        // Requests: a worker sends its last result (0 ok, 1 failed, -1 first request).
        let serve =
            |next: &mut usize, stopped_workers: &mut i32, failures: &mut usize, blocking: bool| {
                loop {
                    let msg = if blocking {
                        Some(world.any_process().matched_probe())
                    } else {
                        world.any_process().immediate_matched_probe()
                    };
                    let Some((m, status)) = msg else { return };
                    let (code, _) = m.matched_receive::<i64>();
                    if code == 1 {
                        *failures += 1;
                    }
                    let reply: i64 = if *next < todo.len() && !stopped() {
                        *next += 1;
                        (*next - 1) as i64
                    } else {
                        *stopped_workers += 1;
                        -1
                    };
                    world.process_at_rank(status.source_rank()).send(&reply);
                    if blocking {
                        return;
                    }
                }
            };
        let mut worker_failures = 0usize;
        while next < todo.len() && !stopped() {
            serve(&mut next, &mut stopped_workers, &mut worker_failures, false);
            if next >= todo.len() {
                break;
            }
            let i = next;
            next += 1;
            match run_one(i) {
                Ok(()) => ran += 1,
                Err(f) => failed.push(f),
            }
        }
        while stopped_workers < size - 1 {
            serve(&mut next, &mut stopped_workers, &mut worker_failures, true);
        }
        let total_failed = (failed.len() + worker_failures) as u64;
        let mut n = total_failed;
        world.process_at_rank(0).broadcast_into(&mut n);
        if total_failed > failed.len() as u64 {
            failed.push((
                String::new(),
                format!("{worker_failures} cells failed on other ranks (see store/logs/cells)"),
            ));
        }
    } else {
        let mut last: i64 = -1;
        loop {
            world.process_at_rank(0).send(&last);
            let (i, _) = world.process_at_rank(0).receive::<i64>();
            if i < 0 {
                break;
            }
            last = match run_one(i as usize) {
                Ok(()) => {
                    ran += 1;
                    0
                }
                Err(f) => {
                    crate::output::stderr_line(&format!("failed: {}", f.1));
                    failed.push(f);
                    1
                }
            };
        }
        let mut n = 0u64;
        world.process_at_rank(0).broadcast_into(&mut n);
        if n > failed.len() as u64 && failed.is_empty() {
            failed.push((
                String::new(),
                format!("{n} cells failed on other ranks (see store/logs/cells)"),
            ));
        }
    }
    Ok(RunSummary {
        cells_run: ran,
        cells_skipped: skipped,
        failed,
        stopped: stopped(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::fit_warning;
    use workers::probe::output::FitInfo;

    fn fit(solver: &str, converged: bool, stop: &str) -> FitInfo {
        FitInfo {
            solver: solver.into(),
            converged,
            iterations: 7,
            grad_norm: 0.5,
            objective: 1.0,
            stop: stop.into(),
        }
    }

    #[test]
    fn which_fits_are_warned_about() {
        assert_eq!(fit_warning(&fit("lbfgs", true, "tol")), None);
        assert_eq!(fit_warning(&fit("adamw", true, "patience")), None);
        assert_eq!(fit_warning(&fit("adamw", false, "max_epochs")), None);
        let w = fit_warning(&fit("adamw", false, "max_epochs, still improving")).unwrap();
        assert!(w.contains("raise probe.max_epochs"), "{w}");
        let w = fit_warning(&fit("lbfgs", false, "max_iter")).unwrap();
        assert!(
            w.contains("did not converge (lbfgs stopped by max_iter after 7 iterations"),
            "{w}"
        );
    }
}
