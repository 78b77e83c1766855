//! Native foundation models in burn: one transformer encoder
//! ([`encoder`]) configured per family ([`esm`], [`bert`]) from a Hugging
//! Face folder ([`weights`], [`hf_tokenizer`], [`hub`]), run by the native
//! embedder ([`native`]).

pub mod attention;
pub mod bert;
pub mod calm;
pub mod codonbert;
pub mod elementwise;
pub mod encoder;
pub mod encodon;
pub mod error;
pub mod esm;
pub mod esmc;
pub mod family;
pub mod glm2;
pub mod hf_tokenizer;
pub mod host_block;
#[cfg(test)]
mod host_block_tests;
pub mod hub;
pub mod layers;
pub mod loader;
pub mod lucaone;
pub mod native;
pub mod positions;
pub mod spiece;
pub mod t5;
pub mod tokenizer;
pub mod weights;

pub use error::ModelError;
