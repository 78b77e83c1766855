//! gLM2 (TattaBio's mixed-modality genomic language model) as a
//! configuration of the shared [`Encoder`], following the authors'
//! `modeling_glm2.py` (`gLM2Model`):
//!
//! * token embeddings (`tok_embeddings`), no position table: rotary on the
//!   queries and keys of every head, the two halves rotated (base 10⁴);
//! * pre-RMSNorm blocks (`attention_norm`, `ffn_norm`; computed in f32),
//!   no biases anywhere: one fused `wqkv` (columns q | k | v, each
//!   `heads × head_dim`), `wo`, and a SwiGLU feed-forward
//!   `w2(silu(w1 x) · w3 x)` whose hidden size is ⌊2·4·dim/3⌋ (times
//!   `ffn_dim_multiplier` when set) rounded up to a multiple of
//!   `swiglu_multiple_of`;
//! * no final norm: `gLM2Model`'s last hidden state is the last block's
//!   output (the RMSNorm belongs to the masked-LM head).
//!
//! Tokens are single characters of a fixed 37-token vocabulary: amino acids
//! upper case, nucleotides lower case, a strand token `<+>` in front of each
//! element and no CLS or EOS. A protein is read as `<+>` + residues (the
//! authors' use), a coding sequence as `<+>` + its bases in lower case; the
//! strand token is left out of the mean.
//!
//! A folder as published (`tattabio/gLM2_650M`, `gLM2_150M`): `config.json`
//! (`model_type: gLM2`, `dim`, `depth`, `heads`, `vocab_size`,
//! `swiglu_multiple_of`, `ffn_dim_multiplier`, `norm_eps`) and
//! `model.safetensors` holding `gLM2ForMaskedLM` (`glm2.` prefix) or a bare
//! `gLM2Model`.

use super::ModelError;
use super::encoder::{Activation, Block, Encoder, FeedForward};
use super::family::Molecule;
use super::loader::Loader;
use super::tokenizer::Tokenizer;
use super::weights::Weights;
use burn::tensor::Device;
use serde::Deserialize;
use std::borrow::Cow;
use std::path::Path;

/// gLM2's vocabulary (`glm_tokenizer.py`'s `VOCAB`), id = position.
pub const VOCAB: [&str; 37] = [
    "<cls>", "<pad>", "<eos>", "<unk>", "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K",
    "Q", "N", "F", "Y", "M", "H", "W", "C", "X", "B", "U", "Z", "O", "a", "t", "c", "g", "<+>",
    "<->", "<mask>", "<sep>",
];

#[derive(Debug, Clone, Deserialize)]
pub struct Glm2Config {
    pub dim: usize,
    pub depth: usize,
    pub heads: usize,
    pub vocab_size: usize,
    #[serde(default = "default_multiple")]
    pub swiglu_multiple_of: usize,
    #[serde(default)]
    pub ffn_dim_multiplier: Option<f64>,
    #[serde(default = "default_eps")]
    pub norm_eps: f64,
}

fn default_multiple() -> usize {
    256
}
fn default_eps() -> f64 {
    1e-5
}

/// The SwiGLU hidden size of `modeling_glm2.FeedForward` for `dim`.
pub fn swiglu_hidden(dim: usize, multiple_of: usize, multiplier: Option<f64>) -> usize {
    let mut hidden = 2 * 4 * dim / 3;
    if let Some(m) = multiplier {
        hidden = (m * hidden as f64) as usize;
    }
    multiple_of * hidden.div_ceil(multiple_of)
}

/// Reads a gLM2 folder's config (parsed at `cpath`) and weights.
pub fn load(
    cpath: &Path,
    config: &serde_json::Value,
    weights: &Weights,
    device: &Device,
) -> Result<(Encoder, String), ModelError> {
    let c: Glm2Config = serde_json::from_value(config.clone()).map_err(|e| {
        ModelError::file(
            cpath,
            format!("{e} (a gLM2 config.json names dim, depth, heads and vocab_size)"),
        )
    })?;
    super::family::check_sizes(
        cpath,
        &[
            ("vocab_size", c.vocab_size),
            ("hidden_size", c.dim),
            ("depth", c.depth),
            ("heads", c.heads),
            ("swiglu_multiple_of", c.swiglu_multiple_of),
        ],
        c.heads,
        ("norm_eps", c.norm_eps),
    )?;
    if c.vocab_size < VOCAB.len() {
        return Err(ModelError::field(
            cpath,
            "vocab_size",
            c.vocab_size,
            &format!("is smaller than gLM2's {} tokens", VOCAB.len()),
        ));
    }
    if let Some(m) = c.ffn_dim_multiplier
        && !(m > 0.0 && m.is_finite())
    {
        return Err(ModelError::field(
            cpath,
            "ffn_dim_multiplier",
            m,
            "must be > 0",
        ));
    }
    let (h, eps) = (c.dim, c.norm_eps);
    let ff = swiglu_hidden(h, c.swiglu_multiple_of, c.ffn_dim_multiplier);
    let w = Loader::new(weights, device);
    let word = w.t2("tok_embeddings.weight", c.vocab_size, h)?;
    let mut blocks = Vec::new();
    for l in 0..c.depth {
        let p = format!("encoder.layers.{l}");
        blocks.push(Block {
            attn_norm: w.rms_norm(&format!("{p}.attention_norm"), h, eps)?,
            qkv: w.lin(&format!("{p}.attention.wqkv"), h, 3 * h, false)?,
            ctx_norm: None,
            inner_norm: None,
            qk_norm: None,
            o: w.lin(&format!("{p}.attention.wo"), h, h, false)?,
            ffn_norm: w.rms_norm(&format!("{p}.ffn_norm"), h, eps)?,
            inter: w.lin_pair(
                &format!("{p}.feed_forward.w1"),
                &format!("{p}.feed_forward.w3"),
                h,
                ff,
            )?,
            out: w.lin(&format!("{p}.feed_forward.w2"), ff, h, false)?,
        });
    }
    let encoder = Encoder {
        ffn: FeedForward::Gated(Activation::Silu),
        ..Encoder::pre_ln(word, blocks, c.heads, ff, device)
    };
    Ok((encoder, w.finish()))
}

/// The family as the kind registry sees it (`kind: glm2`).
pub struct Family;

impl super::family::NativeFamily for Family {
    fn name(&self) -> &'static str {
        "glm2"
    }

    fn reads(&self, model_type: Option<&str>) -> bool {
        matches!(model_type, Some("gLM2" | "glm2"))
    }

    fn models(&self) -> &'static str {
        "gLM2"
    }

    fn load(
        &self,
        cpath: &Path,
        config: &serde_json::Value,
        weights: &Weights,
        device: &Device,
    ) -> Result<(Encoder, &'static str, String), ModelError> {
        let (e, h) = load(cpath, config, weights, device)?;
        Ok((e, "gLM2", h))
    }

    fn fixed_tokenizer(&self) -> Option<Tokenizer> {
        let mut t = Tokenizer::from_tokens(&VOCAB.map(String::from))
            .expect("gLM2's vocabulary has <pad> and <unk>");
        t.keep_case = true;
        // The strand token stands in front; nothing is appended.
        t.cls = t.id("<+>");
        t.eos = None;
        Some(t)
    }

    fn input<'a>(&self, seq: &'a [u8], molecule: Molecule) -> Cow<'a, [u8]> {
        Cow::Owned(match molecule {
            Molecule::Dna => seq.to_ascii_lowercase(),
            Molecule::Protein => seq.to_ascii_uppercase(),
        })
    }

    fn multimodal(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::family::NativeFamily;

    #[test]
    fn swiglu_hidden_of_the_published_sizes() {
        // gLM2_650M: dim 1280 → 3584; gLM2_150M: dim 640 → 1792.
        assert_eq!(swiglu_hidden(1280, 256, None), 3584);
        assert_eq!(swiglu_hidden(640, 256, None), 1792);
        assert_eq!(swiglu_hidden(32, 16, None), 96);
    }

    #[test]
    fn proteins_upper_bases_lower_strand_in_front() {
        let f = Family;
        let t = f.fixed_tokenizer().unwrap();
        let p = t.encode(&f.input(b"mkA", Molecule::Protein));
        assert_eq!(p, vec![20, 15, 5]);
        let d = t.encode(&f.input(b"ATGc", Molecule::Dna));
        assert_eq!(d, vec![29, 30, 32, 31]);
        assert_eq!((t.cls, t.eos, t.pad), (Some(33), None, 1));
        assert!(t.is_special(33) && !t.is_special(29));
    }
}
