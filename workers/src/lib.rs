//! genoprot workers: everything a Slurm array task or a local worker does —
//! datasets, embedders, probes, metrics, HDF5 stores and MPI sharding.
//! Workers never call Slurm.

pub mod atomic;
pub mod batching;
pub mod child;
pub mod dataset;
pub mod device;
#[cfg(feature = "mpi")]
pub mod distributed;
pub mod embed;
pub mod file_hash;
pub mod files;
pub mod h5attr;
pub mod invalid;
pub mod models;
pub mod probe;
pub mod seal;
pub mod store;
pub mod store_error;

/// The version written into every store this build creates.
pub const TOOL_VERSION: &str = concat!("genoprot ", env!("CARGO_PKG_VERSION"));
