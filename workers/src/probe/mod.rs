pub mod burn_probe;
pub mod metrics;
