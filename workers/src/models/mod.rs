//! Native foundation models in burn.

pub mod esm;
pub mod hf_tokenizer;
pub mod hub;
pub mod tokenizer;
pub mod weights;
