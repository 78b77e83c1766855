//! Embedders: frozen models (and baselines) that turn a gene's sequences into
//! one vector. Native foundation models implement the same trait.

pub mod command;
pub mod hf;
pub mod kinds;
pub mod kmer;
pub mod precomputed;
pub mod spec;

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which sequence of a gene a model reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    /// The coding DNA sequence.
    Dna,
    /// The protein.
    Protein,
    /// Both (multimodal models): one vector per gene.
    Gene,
}

impl Modality {
    pub fn as_str(self) -> &'static str {
        match self {
            Modality::Dna => "dna",
            Modality::Protein => "protein",
            Modality::Gene => "gene",
        }
    }
}

/// One gene as an embedder sees it.
#[derive(Debug, Clone, Copy)]
pub struct SeqInput<'a> {
    pub id: &'a str,
    pub dna: &'a [u8],
    pub protein: &'a [u8],
}

impl<'a> SeqInput<'a> {
    /// A dataset gene as an embedder's input.
    pub fn of(g: &'a crate::dataset::Gene) -> SeqInput<'a> {
        SeqInput {
            id: &g.id,
            dna: &g.cds,
            protein: &g.protein,
        }
    }
}

impl SeqInput<'_> {
    /// The sequence of `m` (for `Gene`, the DNA length is reported).
    pub fn seq(&self, m: Modality) -> &[u8] {
        match m {
            Modality::Protein => self.protein,
            Modality::Dna | Modality::Gene => self.dna,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("model {model}: {msg}")]
    Config { model: String, msg: String },
    #[error("model {model}: external command failed: {msg}")]
    Command { model: String, msg: String },
    #[error("model {model}: output {path}: {msg}")]
    Output {
        model: String,
        path: PathBuf,
        msg: String,
    },
    #[error("model {model}: {msg}")]
    Missing { model: String, msg: String },
    #[error("model {model}: stopped by a signal (its program was killed); run again to continue")]
    Stopped { model: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    // The message holds the cause: not marked #[source], so that a chain
    // printed with `{:#}` does not say it twice.
    #[error("model {model}: {cause}")]
    Io {
        model: String,
        cause: std::io::Error,
    },
    /// The model folder could not be loaded (which file, field or tensor).
    #[error("model {model}: {cause}")]
    Load {
        model: String,
        cause: crate::models::ModelError,
    },
}

/// A frozen model that embeds genes.
pub trait Embedder: Send + Sync {
    fn name(&self) -> &str;
    fn modality(&self) -> Modality;
    /// Output dimension.
    fn dim(&self) -> usize;
    /// How token vectors become one vector (`mean`, `cls`; `none` for baselines).
    fn pooling(&self) -> &str {
        "none"
    }
    /// Content hash of the weights (empty for baselines).
    fn weights_hash(&self) -> String {
        String::new()
    }
    /// Token budget per batch (length-bucketed batching); `usize::MAX` = all at once.
    fn max_tokens(&self) -> usize {
        usize::MAX
    }
    /// Letters (bases or residues) per call of [`Embedder::embed`] in
    /// [`embed_all`], length-bucketed; default the token budget. Native
    /// models take several of their batches per call, to run them side by
    /// side.
    fn letters_per_call(&self) -> usize {
        self.max_tokens()
    }
    /// Tokens this embedder has run through its model so far, where it
    /// tokenizes itself (native models); `None` for baselines and external
    /// programs, whose progress is counted in letters.
    fn tokens_run(&self) -> Option<usize> {
        None
    }
    /// The parts of each vector in column order, with their widths, when
    /// it has several (`modality: gene`: the CDS's part, then the
    /// protein's); empty: one part.
    fn parts(&self) -> Vec<(String, usize)> {
        Vec::new()
    }
    /// Layers per vector (a `layers:` entry's pass): the columns are that
    /// many equal blocks, layer by layer, each block its [`Embedder::parts`].
    fn layers(&self) -> usize {
        1
    }
    /// Embeds a batch: one row per input, in input order.
    fn embed(&self, batch: &[SeqInput<'_>]) -> Result<Array2<f32>, EmbedError>;
}

/// How far [`embed_all`] is: sequences embedded, their letters (bases or
/// residues) and, for models that tokenize themselves, the tokens run
/// through the model (windows with their special tokens).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmbedProgress {
    pub sequences: usize,
    pub letters: usize,
    pub tokens: Option<usize>,
}

/// Refuses, before allocating, a matrix of `n` × `d` floats that the memory
/// available could not hold (a `command` model's `dim`, or its output's).
fn check_fits(e: &dyn Embedder, n: usize, d: usize) -> Result<(), EmbedError> {
    let need = n as u128 * d as u128 * 4;
    match crate::probe::available_memory() {
        Some(avail) if need > avail => Err(EmbedError::Output {
            model: e.name().into(),
            path: PathBuf::new(),
            msg: format!(
                "{n} genes × {d} features need {:.1} GiB of memory and {:.1} GiB is available \
                 (is `dim` right?)",
                need as f64 / (1u64 << 30) as f64,
                avail as f64 / (1u64 << 30) as f64
            ),
        }),
        _ => Ok(()),
    }
}

/// Embeds every input in length-bucketed batches, calling `progress` after
/// each batch. Rows come back in input order.
pub fn embed_all(
    e: &dyn Embedder,
    inputs: &[SeqInput<'_>],
    progress: &mut dyn FnMut(EmbedProgress),
) -> Result<Array2<f32>, EmbedError> {
    // A dimension of 0 means "unknown until the first batch" (command embedders).
    let mut d = e.dim();
    check_fits(e, inputs.len(), d)?;
    let mut out = Array2::<f32>::zeros((inputs.len(), d));
    let lens: Vec<usize> = inputs.iter().map(|s| s.seq(e.modality()).len()).collect();
    let mut done = 0;
    let mut letters = 0;
    let tokens_before = e.tokens_run();
    for batch in crate::batching::length_buckets(&lens, e.letters_per_call(), usize::MAX) {
        let items: Vec<SeqInput<'_>> = batch.iter().map(|i| inputs[*i]).collect();
        let m = e.embed(&items)?;
        if d == 0 && done == 0 {
            d = m.ncols();
            check_fits(e, inputs.len(), d)?;
            out = Array2::<f32>::zeros((inputs.len(), d));
        }
        if m.dim() != (items.len(), d) {
            return Err(EmbedError::Output {
                model: e.name().into(),
                path: PathBuf::new(),
                msg: format!(
                    "batch gave shape {:?}, expected ({}, {d})",
                    m.dim(),
                    items.len()
                ),
            });
        }
        for (r, i) in batch.iter().enumerate() {
            out.row_mut(*i).assign(&m.row(r));
        }
        done += batch.len();
        letters += batch.iter().map(|i| lens[*i]).sum::<usize>();
        progress(EmbedProgress {
            sequences: done,
            letters,
            tokens: e.tokens_run().map(|t| t - tokens_before.unwrap_or(0)),
        });
    }
    Ok(out)
}
