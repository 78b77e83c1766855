//! CaLM (the Codon adaptation Language Model, Outeiral & Deane; github
//! oxpig/CaLM) as a configuration of the shared [`Encoder`], following the
//! authors' `calm` package (`ProteinBertModel`, ESM-1b's layout):
//!
//! * token embeddings over 69 codon tokens, no position table: rotary
//!   embeddings from `rotary_embedding_torch`, which turn **interleaved**
//!   pairs (2i, 2i+1) of each head — read here by reordering each head's
//!   query and key outputs (evens, then odds) at load, so the encoder's
//!   rotation of two halves turns the same pairs by the same angles;
//! * ESM-1b's pre-LayerNorm block (`self_attn_layer_norm`, biased q/k/v,
//!   `out_proj`, `final_layer_norm`, erf-GELU `fc1`/`fc2`; torch's
//!   LayerNorm, eps 1e-5) and the final `emb_layer_norm_after`.
//!
//! Tokens: the CDS in RNA letters (T → U), cut into codons, `<cls> … <eos>`
//! (`CodonSequence`); a codon not in the vocabulary (with an N, or a last
//! incomplete one) is `<unk>` (the authors' code has no entry for it).
//!
//! The weights are published as `calm_weights.pkl`, a pickled state dict:
//! convert them once (docs/models.md) into `model.safetensors` beside a
//! `config.json` such as `{"model_type": "calm", "embed_dim": 768,
//! "num_layers": 12, "attention_heads": 12, "ffn_embed_dim": 3072}` (the
//! package's `ARGS`).

use super::ModelError;
use super::encoder::{Block, Encoder};
use super::family::Molecule;
use super::loader::Loader;
use super::tokenizer::Tokenizer;
use super::weights::Weights;
use burn::tensor::Device;
use serde::Deserialize;
use std::borrow::Cow;
use std::path::Path;

/// CaLM's codon alphabet (`Alphabet.from_architecture("CodonModel")`),
/// id = position.
pub const VOCAB: [&str; 69] = [
    "<cls>", "<pad>", "<eos>", "<unk>", "AAA", "AAU", "AAC", "AAG", "AUA", "AUU", "AUC", "AUG",
    "ACA", "ACU", "ACC", "ACG", "AGA", "AGU", "AGC", "AGG", "UAA", "UAU", "UAC", "UAG", "UUA",
    "UUU", "UUC", "UUG", "UCA", "UCU", "UCC", "UCG", "UGA", "UGU", "UGC", "UGG", "CAA", "CAU",
    "CAC", "CAG", "CUA", "CUU", "CUC", "CUG", "CCA", "CCU", "CCC", "CCG", "CGA", "CGU", "CGC",
    "CGG", "GAA", "GAU", "GAC", "GAG", "GUA", "GUU", "GUC", "GUG", "GCA", "GCU", "GCC", "GCG",
    "GGA", "GGU", "GGC", "GGG", "<mask>",
];

/// torch.nn.LayerNorm's default eps (every LayerNorm of the package).
const LAYER_NORM_EPS: f64 = 1e-5;

#[derive(Debug, Clone, Deserialize)]
pub struct CalmConfig {
    pub embed_dim: usize,
    pub num_layers: usize,
    pub attention_heads: usize,
    pub ffn_embed_dim: usize,
    #[serde(default = "default_max")]
    pub max_positions: usize,
    #[serde(default = "default_true")]
    pub rope_embedding: bool,
}

fn default_max() -> usize {
    1024
}
fn default_true() -> bool {
    true
}

/// Reads a CaLM folder's config (parsed at `cpath`) and weights.
pub fn load(
    cpath: &Path,
    config: &serde_json::Value,
    weights: &Weights,
    device: &Device,
) -> Result<(Encoder, String), ModelError> {
    let c: CalmConfig = serde_json::from_value(config.clone()).map_err(|e| {
        ModelError::file(
            cpath,
            format!(
                "{e} (a CaLM config.json names embed_dim, num_layers, attention_heads and \
                 ffn_embed_dim, e.g. {{\"model_type\": \"calm\", \"embed_dim\": 768, \
                 \"num_layers\": 12, \"attention_heads\": 12, \"ffn_embed_dim\": 3072}})"
            ),
        )
    })?;
    super::family::check_sizes(
        cpath,
        &[
            ("hidden_size", c.embed_dim),
            ("num_layers", c.num_layers),
            ("attention_heads", c.attention_heads),
            ("ffn_embed_dim", c.ffn_embed_dim),
            ("max_positions", c.max_positions),
        ],
        c.attention_heads,
        ("layer_norm_eps", LAYER_NORM_EPS),
    )?;
    if !c.rope_embedding {
        return Err(ModelError::field(
            cpath,
            "rope_embedding",
            false,
            "learned positions are not supported (CaLM's released model uses rotary)",
        ));
    }
    let (h, nh, eps) = (c.embed_dim, c.attention_heads, LAYER_NORM_EPS);
    if !(h / nh).is_multiple_of(2) {
        return Err(ModelError::file(
            cpath,
            "embed_dim / attention_heads is odd: rotary needs an even head size",
        ));
    }
    let w = Loader::new(weights, device);
    let word = w.t2("embed_tokens.weight", VOCAB.len(), h)?;
    let mut blocks = Vec::new();
    for l in 0..c.num_layers {
        let p = format!("layers.{l}");
        check_rotary(&w, &format!("{p}.self_attn.rope.freqs"), h / nh)?;
        let q =
            w.lin_interleaved_heads(&format!("{p}.self_attn.q_proj"), (h, h), nh, h / nh, true)?;
        let k =
            w.lin_interleaved_heads(&format!("{p}.self_attn.k_proj"), (h, h), nh, h / nh, true)?;
        let v = w.lin(&format!("{p}.self_attn.v_proj"), h, h, true)?;
        blocks.push(Block {
            attn_norm: w.norm(&format!("{p}.self_attn_layer_norm"), h, eps)?,
            qkv: super::encoder::Lin::joined([q, k, v]),
            ctx_norm: None,
            inner_norm: None,
            qk_norm: None,
            o: w.lin(&format!("{p}.self_attn.out_proj"), h, h, true)?,
            ffn_norm: w.norm(&format!("{p}.final_layer_norm"), h, eps)?,
            inter: w.lin(&format!("{p}.fc1"), h, c.ffn_embed_dim, true)?,
            out: w.lin(&format!("{p}.fc2"), c.ffn_embed_dim, h, true)?,
        });
    }
    let final_norm = Some(w.norm("emb_layer_norm_after", h, eps)?);
    let encoder = Encoder {
        // Trained on rows of at most max_positions tokens: longer CDSs are windowed.
        max_len: Some(c.max_positions),
        final_norm,
        ..Encoder::pre_ln(word, blocks, nh, c.ffn_embed_dim, device)
    };
    Ok((encoder, w.finish()))
}

/// The rotary frequencies a layer saved (`rope.freqs`, when present) must
/// be the base-10⁴ ones the encoder computes; `Err` names the tensor.
fn check_rotary(w: &Loader<'_>, name: &str, head_dim: usize) -> Result<(), ModelError> {
    if !w.has(name) {
        return Ok(());
    }
    let half = head_dim / 2;
    let got = w
        .t1(name, half)?
        .into_data()
        .try_to_vec::<f32>()
        .unwrap_or_default();
    for (i, f) in got.iter().enumerate() {
        let want = 1.0 / 10000f64.powf((2 * i) as f64 / head_dim as f64);
        if (*f as f64 - want).abs() > 1e-6 * want.max(1e-3) {
            return Err(ModelError::tensor(
                name,
                format!(
                    "frequency {i} is {f}, not 10000^(-{}/{head_dim}) = {want}: only base-10⁴ \
                     rotary embeddings are supported",
                    2 * i
                ),
            ));
        }
    }
    Ok(())
}

/// The family as the kind registry sees it (`kind: calm`).
pub struct Family;

impl super::family::NativeFamily for Family {
    fn name(&self) -> &'static str {
        "calm"
    }

    fn models(&self) -> &'static str {
        "CaLM"
    }

    fn load(
        &self,
        cpath: &Path,
        config: &serde_json::Value,
        weights: &Weights,
        device: &Device,
    ) -> Result<(Encoder, &'static str, String), ModelError> {
        let (e, h) = load(cpath, config, weights, device)?;
        Ok((e, "CaLM", h))
    }

    fn fixed_tokenizer(&self) -> Option<Tokenizer> {
        let mut t = Tokenizer::from_tokens(&VOCAB.map(String::from))
            .expect("CaLM's vocabulary has <pad> and <unk>");
        t.fixed_width = Some(3);
        Some(t)
    }

    fn input<'a>(&self, seq: &'a [u8], _molecule: Molecule) -> Cow<'a, [u8]> {
        Cow::Owned(super::family::rna_letters(seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::family::NativeFamily;

    #[test]
    fn codons_in_rna_letters_unknown_ones_one_unk() {
        let f = Family;
        let t = f.fixed_tokenizer().unwrap();
        // ATG → AUG (11), GCN → <unk>, a last incomplete codon → <unk>.
        assert_eq!(
            t.encode(&f.input(b"atgGCNaa", Molecule::Dna)),
            vec![11, 3, 3]
        );
        assert_eq!(
            (t.cls, t.eos, t.pad, t.mask),
            (Some(0), Some(2), 1, Some(68))
        );
        assert_eq!(t.alphabet(), Some("dna"));
    }
}
