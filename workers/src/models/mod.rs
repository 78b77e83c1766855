//! Native foundation models in burn.

pub mod esm;
pub mod hub;
pub mod tokenizer;
pub mod weights;
