//! `genoprot worker ...`: what sbatch scripts and the local executor call.

use crate::config::SweepConfig;
use crate::embed::{EmbedOutcome, Shard};
use anyhow::Context;
use std::io::IsTerminal;
use std::path::PathBuf;
use workers::dataset::Dataset;

#[derive(Debug, clap::Subcommand)]
pub enum WorkerCommand {
    /// Embed one model (or one shard of it) into store/embeddings/<model>.h5.
    Embed {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        model: String,
        /// Shard i of n (balanced by tokens), e.g. 0/4.
        #[arg(long)]
        shard: Option<Shard>,
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

/// Reads the config and its dataset, and resolves the task list.
pub fn load(config: &std::path::Path) -> anyhow::Result<(SweepConfig, Dataset, Vec<String>)> {
    let cfg = SweepConfig::load(config)?;
    let ds = Dataset::load(&cfg.dataset).map_err(|f| {
        anyhow::anyhow!(
            "{}: dataset {} is not valid:\n{}",
            config.display(),
            cfg.dataset.display(),
            f.report(20)
        )
    })?;
    let names: Vec<String> = ds.tasks.iter().map(|t| t.name.clone()).collect();
    let tasks = cfg.check_tasks(&names)?;
    Ok((cfg, ds, tasks))
}

pub fn run(cmd: WorkerCommand) -> anyhow::Result<()> {
    match cmd {
        WorkerCommand::Embed {
            config,
            model,
            shard,
        } => {
            let (cfg, ds, _) = load(&config)?;
            match crate::embed::run_embed(
                &cfg,
                &ds,
                &model,
                shard,
                std::io::stderr().is_terminal(),
            )? {
                EmbedOutcome::UpToDate(p) => println!("{model}: up to date ({})", p.display()),
                EmbedOutcome::Written {
                    path,
                    genes,
                    seconds_x100,
                } => {
                    println!(
                        "{model}: embedded {genes} genes in {:.2} s -> {}",
                        seconds_x100 as f64 / 100.0,
                        path.display()
                    )
                }
            }
        }
        WorkerCommand::MergeEmbeddings {
            config,
            model,
            shards,
        } => {
            let (cfg, ds, _) = load(&config)?;
            let p = crate::embed::merge(&cfg, &ds, &model, shards)
                .with_context(|| format!("merging {model}"))?;
            println!("{model}: merged {shards} shards -> {}", p.display());
        }
    }
    Ok(())
}
