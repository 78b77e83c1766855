//! The command line (clap). Only subcommands that work are listed.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "genoprot",
    version,
    about = "Run the Geno-Prot benchmark of biomolecular foundation models on a laptop or a Slurm cluster",
    long_about = None
)]
pub struct Cli {
    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// Build, validate or synthesize a benchmark dataset.
    #[command(subcommand)]
    Dataset(crate::dataset::DatasetCommand),
    /// What sbatch scripts and the local executor run (not for users).
    #[command(subcommand, hide = true)]
    Worker(crate::worker::WorkerCommand),
    /// Print the grid per stage: total, done, missing, failed.
    Plan(crate::commands::PlanArgs),
    /// Run the whole sweep on this machine: embed, probe, aggregate, report.
    Run(crate::commands::ConfigArg),
    /// Gather every cell into store/results.h5 and results.csv.
    Aggregate(crate::commands::ConfigArg),
    /// Aggregate, then write tables and plots to store/report/.
    Report(crate::commands::ConfigArg),
    /// Check this machine: Slurm, MPI and HDF5 as genoprot will use them.
    Doctor(crate::doctor::DoctorArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dataset(c) => crate::dataset::run(c),
        Command::Doctor(a) => crate::doctor::run(&a),
        Command::Worker(w) => crate::worker::run(w),
        Command::Plan(a) => crate::commands::plan(&a),
        Command::Run(a) => crate::commands::run(&a.config),
        Command::Aggregate(a) => crate::commands::aggregate(&a.config, false),
        Command::Report(a) => crate::commands::aggregate(&a.config, true),
    }
}
