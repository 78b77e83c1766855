//! The local executor: the sweep on this machine, a pool of worker
//! processes (`run::run_local`), then aggregate and report. The run holds the
//! store lock, which records its pid and host: `status` shows it, `cancel`
//! stops it with SIGINT (running cells finish, nothing is left half-written).

use super::{Activity, Executor, Launch, Stopped};
use crate::gather::AggregateResult;
use crate::output::Human;
use crate::sweep::Sweep;
use std::io::IsTerminal;
use std::path::Path;

pub struct Local;

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

impl RunResult {
    pub(super) fn conclude(&self, config: &Path) -> anyhow::Result<()> {
        if self.stopped {
            crate::signals::exit_stopped(&format!(
                "stopped by Ctrl-C; run `genoprot run {}` again to continue where it stopped",
                config.display()
            ));
        }
        if !self.failed.is_empty() {
            for f in self.failed.iter().take(20) {
                crate::output::stderr_line(&format!("failed: {}", f.error));
            }
            anyhow::bail!(
                "{} units failed (see above and store/logs); the rest is done — fix and rerun to finish",
                self.failed.len()
            );
        }
        Ok(())
    }
}

impl Executor for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    fn launch(&self, sweep: &Sweep, config: &Path, dry_run: bool) -> anyhow::Result<Launch> {
        let cfg = &sweep.cfg;
        anyhow::ensure!(
            !dry_run,
            "--dry-run is for Slurm sweeps; `genoprot plan {}` shows what a local run would do",
            config.display()
        );
        cfg.preflight_models()?;
        if !matches!(
            cfg.executor.kind,
            crate::config::ExecutorKind::Local | crate::config::ExecutorKind::Processes
        ) {
            tracing::warn!(
                "executor.kind is {:?}; `genoprot run` runs the sweep locally anyway (`genoprot submit` submits it)",
                cfg.executor.kind
            );
        }
        // Fail before any work when the device is unusable here.
        let (placement, _) = workers::device::resolve(cfg.device)
            .map_err(|e| anyhow::anyhow!("{}: device: {e}", config.display()))?;
        tracing::info!("models and probes run on {placement}");
        let _lock = crate::lock::acquire(&cfg.store, "run", config)?;
        crate::journal::claim(cfg, config, true)?;
        let log = cfg
            .layout()
            .logs_dir()
            .join(format!("run-{}.log", crate::journal::now() as u64));
        crate::logging::log_to(&log)?;
        tracing::info!(log = %log.display(), pid = std::process::id(), "genoprot run {}", config.display());
        let t0 = std::time::Instant::now();
        let s = crate::run::run_local(sweep, std::io::stderr().is_terminal())?;
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
        if !s.stopped {
            r.aggregate = Some(crate::gather::aggregate_and_report(sweep, true, false)?);
        }
        Ok(Launch::Local(r))
    }

    fn activity(&self, sweep: &Sweep) -> anyhow::Result<Activity> {
        Ok(Activity {
            running: crate::lock::holder(&sweep.cfg.store).filter(|h| h.alive()),
            ..Default::default()
        })
    }

    fn cancel(&self, sweep: &Sweep) -> anyhow::Result<Stopped> {
        Ok(Stopped {
            local: crate::lock::stop_local(&sweep.cfg.store, std::time::Duration::from_secs(60))?,
            ..Default::default()
        })
    }
}
