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
    /// Print the command's result as JSON on stdout (logs stay on stderr).
    #[arg(long, global = true)]
    pub json: bool,
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
    /// Print the grid per stage: total, done, missing, failed (--json: every unit).
    Plan(crate::commands::ConfigArg),
    /// Run the whole sweep on this machine: embed, probe, aggregate, report.
    Run(crate::commands::ConfigArg),
    /// Gather every cell into store/results.h5 and results.csv.
    Aggregate(crate::commands::ConfigArg),
    /// Aggregate, then write the report to store/report/ (summary.md, report.html, figures, CSV, Parquet).
    Report(crate::commands::ReportArgs),
    /// Submit the sweep to Slurm: embed, probe, fusion arrays and a finishing job that retries what failed, then reports.
    Submit(crate::commands::SubmitArgs),
    /// Per stage from the store and Slurm; a local run; failed units and their logs.
    Status(crate::commands::StatusArgs),
    /// Continue the sweep: Slurm submits only what is missing; locally, run it.
    Resume(crate::commands::ResumeArgs),
    /// Stop the sweep: cancel its Slurm jobs, stop a local run (cells finish).
    Cancel(crate::commands::ConfigArg),
    /// Check this machine: Slurm, MPI and HDF5 as genoprot will use them.
    Doctor(crate::doctor::DoctorArgs),
    /// List a sweep's models and ensembles, or the tasks it selects.
    List(crate::list::ListArgs),
    /// List (--yes: delete) cell stores no longer in the sweep's grid.
    Clean(crate::clean::CleanArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let json = cli.json;
    match cli.command {
        Command::Dataset(c) => crate::dataset::run(c, json),
        Command::Doctor(a) => crate::doctor::run(&a, json),
        Command::Worker(w) => crate::worker::run(w),
        Command::Plan(a) => crate::commands::plan(&a.config, json),
        Command::Run(a) => crate::commands::run(&a.config, json),
        Command::Aggregate(a) => {
            crate::signals::install_quit();
            crate::commands::aggregate(&a.config, false, false, json)
        }
        Command::Report(a) => {
            crate::signals::install_quit();
            crate::commands::aggregate(&a.config, true, a.force, json)
        }
        Command::Submit(a) => crate::commands::submit(&a, json),
        Command::Status(a) => crate::commands::status(&a, json),
        Command::Resume(a) => crate::commands::resume(&a, json),
        Command::Cancel(a) => crate::commands::cancel(&a.config, json),
        Command::List(a) => crate::list::run(&a, json),
        Command::Clean(a) => crate::clean::run(&a, json),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "genoprot",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    }
}
