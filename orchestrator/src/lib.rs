//! genoprot's orchestrator: the CLI, sweep configs, the grid, the journal, the
//! executors (local and Slurm), status, resume, aggregate and report.

pub mod cli;
pub mod config;
pub mod dataset;
pub mod doctor;
pub mod embed;
pub mod logging;
pub mod worker;
