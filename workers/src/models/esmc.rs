//! ESM C (EvolutionaryScale's ESM Cambrian) in burn, as a configuration of
//! the shared [`Encoder`], following the `esm` package's `ESMC` model:
//!
//! * word embeddings (64 rows), no position table: rotary positions on the
//!   queries and keys of every head;
//! * pre-LN blocks: LayerNorm then one fused Q|K|V projection
//!   (`attn.layernorm_qkv`), LayerNorms of the queries and keys over all
//!   heads without biases (`q_ln`, `k_ln`), no biases in any projection;
//!   SwiGLU feed-forward (`ffn.0` LayerNorm, `ffn.1` both halves, `ffn.3`
//!   out) whose hidden size is `expansion_ratio · d_model` (8/3) rounded up
//!   to a multiple of 256; each residual branch divided by √(n_layers / 36);
//! * a final LayerNorm without a bias (`transformer.norm`).
//!
//! The released weights (`esmc_300m_2024_12_v0.pth`, `esmc_600m_…`) ship
//! without a config: the folder holds the `.pth` (or `model.safetensors`)
//! and a `config.json` the user writes, e.g. for the 300M model
//! `{"model_type": "esmc", "d_model": 960, "n_heads": 15, "n_layers": 30}`
//! (600M: 1152, 18, 36). Without a `vocab.txt` the tokenizer is ESM C's own
//! 33-token sequence vocabulary ([`VOCAB`]).

use super::ModelError;
use super::encoder::{Activation, Block, Encoder, FeedForward, NormPlace, Positions};
use super::loader::Loader;
use super::weights::Weights;
use burn::tensor::Device;
use serde::Deserialize;
use std::path::Path;

/// ESM C's sequence vocabulary (`esm.utils.constants.esm3.SEQUENCE_VOCAB`).
pub const VOCAB: [&str; 33] = [
    "<cls>", "<pad>", "<eos>", "<unk>", "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K",
    "Q", "N", "F", "Y", "M", "H", "W", "C", "X", "B", "U", "Z", "O", ".", "-", "|", "<mask>",
];

#[derive(Debug, Clone, Deserialize)]
pub struct EsmcConfig {
    pub d_model: usize,
    pub n_heads: usize,
    pub n_layers: usize,
    #[serde(default = "default_vocab")]
    pub vocab_size: usize,
    #[serde(default = "default_ratio")]
    pub expansion_ratio: f64,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
}

fn default_vocab() -> usize {
    64
}
fn default_ratio() -> f64 {
    8.0 / 3.0
}
fn default_eps() -> f64 {
    1e-5
}

/// The SwiGLU hidden size: `ratio · d_model` rounded up to a multiple of 256.
pub fn swiglu_hidden(ratio: f64, d_model: usize) -> usize {
    ((ratio * d_model as f64 + 255.0) / 256.0).floor() as usize * 256
}

/// Reads an ESM C folder's config (parsed at `cpath`) and weights.
pub fn load(
    cpath: &Path,
    config: &serde_json::Value,
    weights: &Weights,
    device: &Device,
) -> Result<(Encoder, String), ModelError> {
    let c: EsmcConfig = serde_json::from_value(config.clone()).map_err(|e| {
        ModelError::file(
            cpath,
            format!(
                "{e} (an ESM C config.json names d_model, n_heads and n_layers, e.g. \
             {{\"model_type\": \"esmc\", \"d_model\": 960, \"n_heads\": 15, \"n_layers\": 30}} \
             for ESM C 300M)"
            ),
        )
    })?;
    super::family::check_sizes(
        cpath,
        &[
            ("vocab_size", c.vocab_size),
            ("hidden_size", c.d_model),
            ("n_layers", c.n_layers),
            ("n_heads", c.n_heads),
        ],
        c.n_heads,
        ("layer_norm_eps", c.layer_norm_eps),
    )?;
    if c.vocab_size < VOCAB.len() {
        return Err(ModelError::file(
            cpath,
            format!(
                "vocab_size = {} is smaller than ESM C's {} tokens",
                c.vocab_size,
                VOCAB.len()
            ),
        ));
    }
    let (h, eps) = (c.d_model, c.layer_norm_eps);
    let ff = swiglu_hidden(c.expansion_ratio, h);
    let w = Loader::new(weights, device);
    let word = w.t2("embed.weight", c.vocab_size, h)?;
    let mut blocks = Vec::new();
    for l in 0..c.n_layers {
        let p = format!("transformer.blocks.{l}");
        blocks.push(Block {
            attn_norm: w.norm(&format!("{p}.attn.layernorm_qkv.0"), h, eps)?,
            qkv: w.lin(&format!("{p}.attn.layernorm_qkv.1"), h, 3 * h, false)?,
            ctx_norm: None,
            inner_norm: None,
            qk_norm: Some((
                w.norm_no_bias(&format!("{p}.attn.q_ln"), h, eps)?,
                w.norm_no_bias(&format!("{p}.attn.k_ln"), h, eps)?,
            )),
            o: w.lin(&format!("{p}.attn.out_proj"), h, h, false)?,
            ffn_norm: w.norm(&format!("{p}.ffn.0"), h, eps)?,
            inter: w.lin(&format!("{p}.ffn.1"), h, 2 * ff, false)?,
            out: w.lin(&format!("{p}.ffn.3"), ff, h, false)?,
        });
    }
    let final_norm = Some(w.norm_no_bias("transformer.norm", h, eps)?);
    let encoder = Encoder {
        hidden: h,
        heads: c.n_heads,
        head_dim: h / c.n_heads,
        attn_scale: ((h / c.n_heads) as f64).powf(-0.5),
        residual_scale: (c.n_layers as f64 / 36.0).sqrt(),
        intermediate: ff,
        word,
        token_type: None,
        positions: Positions::Rotary,
        max_len: None,
        emb_norm: None,
        blocks,
        final_norm,
        norm_place: NormPlace::Pre,
        ffn: FeedForward::Gated(Activation::Silu),
        token_dropout: None,
        dtype: None,
        device: device.clone(),
    };
    Ok((encoder, w.finish()))
}

/// The family as the kind registry sees it (`kind: esmc`).
pub struct Family;

impl super::family::NativeFamily for Family {
    fn name(&self) -> &'static str {
        "esmc"
    }

    fn models(&self) -> &'static str {
        "ESM C"
    }

    fn load(
        &self,
        cpath: &Path,
        config: &serde_json::Value,
        weights: &Weights,
        device: &Device,
    ) -> Result<(Encoder, &'static str, String), ModelError> {
        let (e, h) = load(cpath, config, weights, device)?;
        Ok((e, "ESM C", h))
    }

    fn builtin_vocab(&self) -> Option<&'static [&'static str]> {
        Some(&VOCAB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swiglu_hidden_rounds_up_to_256() {
        // The esm package's swiglu_correction_fn for the released sizes.
        assert_eq!(swiglu_hidden(8.0 / 3.0, 960), 2560);
        assert_eq!(swiglu_hidden(8.0 / 3.0, 1152), 3072);
        assert_eq!(swiglu_hidden(8.0 / 3.0, 64), 256);
    }
}
