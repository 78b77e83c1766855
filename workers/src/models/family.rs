//! What a native family must provide (its `config.json`, loader and
//! tokenization), below the kind registry and the embedder.

use super::ModelError;
use super::encoder::Encoder;
use super::tokenizer::Tokenizer;
use super::weights::Weights;
use burn::tensor::Device;
use std::path::Path;

/// What one row of tokens holds: nucleotides or amino acids. A
/// single-modality family reads one (its vocabulary says which); a
/// multimodal family reads both, each its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Molecule {
    Dna,
    Protein,
}

/// A native family: which `config.json` it reads, how it loads, how it
/// tokenizes. Each family implements it in its own module
/// (`models/<family>.rs`) and is one line of the kind registry
/// (`embed::kinds`), which wraps it as a `kind:`. It knows nothing of
/// kinds or embedders: the registry points at it, not the reverse.
pub trait NativeFamily: Sync {
    /// Its `kind:` name (`esm`), for messages.
    fn name(&self) -> &'static str;
    /// Whether it reads a folder whose `config.json` has this `model_type`
    /// (by default: its own name).
    fn reads(&self, model_type: Option<&str>) -> bool {
        model_type == Some(self.name())
    }
    /// Whether the entry may name this kind for a folder of this
    /// `model_type` (by default: the ones it [`NativeFamily::reads`]; a
    /// family that shares another's `model_type`, CodonBERT's `bert`, adds
    /// it here).
    fn accepts(&self, model_type: Option<&str>) -> bool {
        self.reads(model_type)
    }
    /// The models it covers, in words (for hints).
    fn models(&self) -> &'static str;
    /// Reads the parsed `config.json` (at `cpath`) and the weights into an
    /// encoder; returns it, the variant in words, and the weights hash.
    fn load(
        &self,
        cpath: &Path,
        config: &serde_json::Value,
        weights: &Weights,
        device: &Device,
    ) -> Result<(Encoder, &'static str, String), ModelError>;
    /// A vocabulary of its own when the folder has no tokenizer file.
    fn builtin_vocab(&self) -> Option<&'static [&'static str]> {
        None
    }
    /// A tokenizer fixed in the authors' code (vocabulary, case, what
    /// stands before and after a row), used whatever files the folder holds.
    fn fixed_tokenizer(&self) -> Option<Tokenizer> {
        None
    }
    /// The residues or bases of a `molecule` as its tokenizer takes them.
    fn input<'a>(&self, seq: &'a [u8], _molecule: Molecule) -> std::borrow::Cow<'a, [u8]> {
        std::borrow::Cow::Borrowed(seq)
    }
    /// The token type of a row of `molecule` (where the encoder has a
    /// token-type table; `None`: type 0).
    fn token_type(&self, _molecule: Molecule) -> Option<u32> {
        None
    }
    /// Whether it was trained on nucleotides and amino acids both
    /// (reads `modality: dna`, `protein` and `gene`; ranked as multimodal).
    fn multimodal(&self) -> bool {
        false
    }
}

/// Checks the sizes every family needs (each >= 1, `hidden_size` when given
/// divisible by the heads, a positive finite norm eps under its config key);
/// errors name the field.
pub fn check_sizes(
    cpath: &Path,
    sizes: &[(&str, usize)],
    heads: usize,
    (eps_key, eps): (&str, f64),
) -> Result<(), ModelError> {
    for (key, v) in sizes {
        if *v == 0 {
            return Err(ModelError::field(cpath, key, 0, "must be >= 1"));
        }
    }
    if !(eps > 0.0 && eps.is_finite()) {
        return Err(ModelError::field(cpath, eps_key, eps, "must be > 0"));
    }
    let hidden = sizes
        .iter()
        .find(|(k, _)| *k == "hidden_size")
        .map(|(_, v)| *v)
        .unwrap_or(0);
    if !hidden.is_multiple_of(heads) {
        return Err(ModelError::file(
            cpath,
            "hidden_size is not a multiple of num_attention_heads",
        ));
    }
    Ok(())
}

/// The 64 codons over `letters` in product order (first letter slowest),
/// after `specials`: CodonBERT's vocabulary over A U G C, EnCodon's over
/// A C G T.
pub fn codon_vocab(specials: &[&str], letters: [char; 4]) -> Vec<String> {
    let mut v: Vec<String> = specials.iter().map(|s| s.to_string()).collect();
    for a in letters {
        for b in letters {
            for c in letters {
                v.push(format!("{a}{b}{c}"));
            }
        }
    }
    v
}

/// A coding sequence in RNA letters, upper case (T → U), as codon models'
/// vocabularies write it.
pub fn rna_letters(seq: &[u8]) -> Vec<u8> {
    seq.iter()
        .map(|b| match b.to_ascii_uppercase() {
            b'T' => b'U',
            c => c,
        })
        .collect()
}

/// U, Z, O, B read as X (ProtTrans: "map rarely occurring amino acids to X").
pub fn rare_residues_as_x(seq: &[u8]) -> Vec<u8> {
    seq.iter()
        .map(|b| match b.to_ascii_uppercase() {
            b'U' | b'Z' | b'O' | b'B' => b'X',
            c => c,
        })
        .collect()
}
