//! Native foundation models in burn.

pub mod esm;
pub mod tokenizer;
