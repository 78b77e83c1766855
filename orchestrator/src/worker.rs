//! `genoprot worker ...`: what sbatch scripts and the local executor call.

use crate::embed::{EmbedOutcome, Shard};
use anyhow::Context;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, clap::Subcommand)]
pub enum WorkerCommand {
    /// Embed one model (or one shard of it) into store/embeddings/<model>.h5.
    Embed {
        #[arg(long)]
        config: PathBuf,
        /// The model, or `--bundles FILE --bundle i`: the models on line i.
        #[arg(long, required_unless_present = "bundles", conflicts_with = "bundles")]
        model: Option<String>,
        /// A bundle manifest written by `submit` (one bundle per line).
        #[arg(long, requires = "bundle")]
        bundles: Option<PathBuf>,
        /// Line of `--bundles` (from 0).
        #[arg(long, requires = "bundles")]
        bundle: Option<usize>,
        /// Shard i of n (balanced by tokens), e.g. 0/4.
        #[arg(long)]
        shard: Option<Shard>,
    },
    /// Run a bundle of probe cells (each skipped when its store exists).
    Probe {
        #[arg(long)]
        config: PathBuf,
        /// Cell ids, comma-separated.
        #[arg(long, value_delimiter = ',', conflicts_with_all = ["stage", "bundle"])]
        cells: Vec<String>,
        /// A bundle manifest written by `submit`: runs the cells on line `--bundle`.
        #[arg(long, requires = "bundle", conflicts_with = "stage")]
        bundles: Option<PathBuf>,
        /// Which cells: `probe` (single models, early fusion) or `fusion` (late fusion).
        #[arg(long, requires = "bundle")]
        stage: Option<String>,
        /// Bundle index k: line k of `--bundles`, or cells [k*size, (k+1)*size)
        /// of `--stage`, in plan order.
        #[arg(long)]
        bundle: Option<usize>,
        /// Cells per bundle.
        #[arg(long, default_value_t = 20)]
        bundle_size: usize,
    },
    /// The job after a Slurm sweep's arrays: resubmit what failed while
    /// retries remain, else aggregate and report.
    Finish {
        #[arg(long)]
        config: PathBuf,
    },
    /// Merge the n shard stores of a model into its store.
    MergeEmbeddings {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        model: String,
        #[arg(long)]
        shards: usize,
    },
}

pub fn run(cmd: WorkerCommand) -> anyhow::Result<()> {
    match cmd {
        WorkerCommand::Embed {
            config,
            model,
            bundles,
            bundle,
            shard,
        } => {
            let crate::sweep::Sweep { cfg, ds, .. } = crate::sweep::Sweep::open(&config)?;
            let models = match (model, bundles, bundle) {
                (Some(m), _, _) => vec![m],
                (None, Some(f), Some(i)) => crate::executor::batch::bundles::bundle(&f, i)?,
                _ => anyhow::bail!("give --model, or --bundles and --bundle"),
            };
            for model in models {
                embed_one(&cfg, &ds, &model, shard)?;
            }
        }
        WorkerCommand::Finish { config } => {
            let sweep = crate::sweep::Sweep::open(&config)?;
            let out = crate::executor::batch(&sweep, &config)?.finish(&sweep, &config)?;
            crate::output::print(false, &out)?;
            if let crate::executor::batch::heal::Finish::GaveUp { units, .. } = &out {
                anyhow::bail!(
                    "{} units failed on every attempt; `genoprot status {}` lists them with their logs",
                    units.len(),
                    config.display()
                );
            }
        }
        WorkerCommand::Probe {
            config,
            cells,
            bundles,
            stage,
            bundle,
            bundle_size,
        } => {
            let sweep = crate::sweep::Sweep::open(&config)?;
            let grid = sweep.grid();
            let crate::sweep::Sweep { cfg, ds, .. } = sweep;
            let chosen: Vec<&workers::probe::cell::CellSpec> = match (stage.as_deref(), bundle) {
                (None, Some(k)) => {
                    let Some(f) = &bundles else {
                        anyhow::bail!("--bundle needs --bundles FILE or --stage");
                    };
                    let mut v = Vec::new();
                    for id in crate::executor::batch::bundles::bundle(f, k)? {
                        match grid.all_cells().find(|c| c.id == id) {
                            Some(c) => v.push(c),
                            None => anyhow::bail!(
                                "{}: bundle {k} names cell {id}, which is not in this sweep's grid (the config changed since `submit`; submit again)",
                                f.display()
                            ),
                        }
                    }
                    v
                }
                (Some(st), Some(k)) => {
                    let list = match st {
                        "probe" => &grid.cells,
                        "fusion" => &grid.late,
                        other => anyhow::bail!("--stage {other:?}: expected probe or fusion"),
                    };
                    let size = bundle_size.max(1);
                    let start = k * size;
                    if start >= list.len() {
                        anyhow::bail!(
                            "bundle {k} of stage {st} is empty ({} cells, {size} per bundle)",
                            list.len()
                        );
                    }
                    list[start..(start + size).min(list.len())].iter().collect()
                }
                _ => {
                    let mut v = Vec::new();
                    for id in &cells {
                        match grid.all_cells().find(|c| &c.id == id) {
                            Some(c) => v.push(c),
                            None => anyhow::bail!(
                                "{}: no cell {id} in this sweep's grid (see `genoprot plan`)",
                                config.display()
                            ),
                        }
                    }
                    v
                }
            };
            #[cfg(feature = "mpi")]
            if crate::embed::launched_under_mpi() {
                let universe = mpi::initialize().context("initializing MPI")?;
                let world = universe.world();
                let rank = mpi::traits::Communicator::rank(&world);
                let r = crate::run::run_bundle_mpi(&cfg, &ds, &chosen, &world)?;
                crate::output::stdout(
                    &(format!(
                        "rank {rank}: {} cells run, {} already done, {} failed",
                        r.cells_run,
                        r.cells_skipped,
                        r.failed.len()
                    ) + "\n"),
                )?;
                if !r.failed.is_empty() {
                    anyhow::bail!(
                        "rank {rank}: {} cells failed: {}",
                        r.failed.len(),
                        r.failed
                            .iter()
                            .map(|f| f.1.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    );
                }
                return Ok(());
            }
            let r = crate::run::run_bundle(&cfg, &ds, &chosen)?;
            crate::output::stdout(
                &(format!(
                    "{} cells run, {} already done, {} failed",
                    r.cells_run,
                    r.cells_skipped,
                    r.failed.len()
                ) + "\n"),
            )?;
            if !r.failed.is_empty() {
                for (_, m) in &r.failed {
                    crate::output::stderr_line(&format!("failed: {m}"));
                }
                anyhow::bail!("{} of {} cells failed", r.failed.len(), chosen.len());
            }
        }
        WorkerCommand::MergeEmbeddings {
            config,
            model,
            shards,
        } => {
            let crate::sweep::Sweep { cfg, ds, .. } = crate::sweep::Sweep::open(&config)?;
            let p = crate::embed::merge(&cfg, &ds, &model, shards)
                .with_context(|| format!("merging {model}"))?;
            crate::output::stdout(
                &(format!("{model}: merged {shards} shards -> {}", p.display()) + "\n"),
            )?;
        }
    }
    Ok(())
}

/// Embeds one model (under MPI: over every rank) and says what it did.
fn embed_one(
    cfg: &crate::config::SweepConfig,
    ds: &workers::dataset::Dataset,
    model: &str,
    shard: Option<Shard>,
) -> anyhow::Result<()> {
    #[cfg(feature = "mpi")]
    if shard.is_none() && crate::embed::launched_under_mpi() {
        let universe = mpi::initialize().context("initializing MPI")?;
        let world = universe.world();
        let rank = mpi::traits::Communicator::rank(&world);
        let size = mpi::traits::Communicator::size(&world);
        let out = crate::embed::run_embed_mpi(cfg, ds, model, &world)?;
        if rank == 0 {
            match out {
                EmbedOutcome::UpToDate(p) => crate::output::stdout(
                    &(format!("{model}: up to date ({})", p.display()) + "\n"),
                )?,
                EmbedOutcome::Written {
                    path,
                    genes,
                    seconds_x100,
                } => crate::output::stdout(
                    &(format!(
                        "{model}: embedded {genes} genes on {size} ranks in {:.2} s -> {}",
                        seconds_x100 as f64 / 100.0,
                        path.display()
                    ) + "\n"),
                )?,
            }
        }
        return Ok(());
    }
    match crate::embed::run_embed(cfg, ds, model, shard, std::io::stderr().is_terminal())? {
        EmbedOutcome::UpToDate(p) => {
            crate::output::stdout(&(format!("{model}: up to date ({})", p.display()) + "\n"))?
        }
        EmbedOutcome::Written {
            path,
            genes,
            seconds_x100,
        } => crate::output::stdout(
            &(format!(
                "{model}: embedded {genes} genes in {:.2} s -> {}",
                seconds_x100 as f64 / 100.0,
                path.display()
            ) + "\n"),
        )?,
    }
    Ok(())
}
