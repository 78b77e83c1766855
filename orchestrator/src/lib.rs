//! genoprot's orchestrator: the CLI, sweep configs, the grid, the journal, the
//! executors (local and Slurm), status, resume, aggregate and report.

pub mod aggregate;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dataset;
pub mod doctor;
pub mod embed;
pub mod grid;
pub mod journal;
pub mod logging;
pub mod report;
pub mod run;
pub mod signals;
pub mod submit;
pub mod worker;
