//! The ESM encoder family in burn — ESM-2 (proteins) and Nucleotide
//! Transformer (DNA, 6-mer tokens) — read from a Hugging Face model folder
//! (`config.json`, `model.safetensors` or sharded safetensors with an index,
//! `vocab.txt`), following transformers' `EsmModel` at inference:
//!
//! * token embeddings; with `token_dropout`, ESM-2's rescaling by
//!   (1 − 0.15·0.8) / (1 − observed mask ratio) and `<mask>` rows zeroed;
//! * learned absolute positions (ids counted from `pad_token_id + 1`) or rotary
//!   embeddings on queries and keys (queries scaled by 1/√d first);
//! * pre-LayerNorm blocks: attention with a padding mask, then the feed-forward
//!   — exact GELU, or with `add_bias_fnn: false` (Nucleotide Transformer v2) the
//!   gated bias-free SwiGLU variant;
//! * the final `emb_layer_norm_after`.
//!
//! A configuration of the shared [`Encoder`]; pooling and windows are the
//! native embedder's (`super::native`).

use super::ModelError;
use super::encoder::{Activation, Block, Encoder, FeedForward, NormPlace, Positions};
use super::loader::Loader;
use super::weights::Weights;
use burn::tensor::Device;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
pub struct EsmConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_pos")]
    pub position_embedding_type: String,
    #[serde(default)]
    pub token_dropout: bool,
    #[serde(default)]
    pub emb_layer_norm_before: Option<bool>,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub mask_token_id: Option<u32>,
    #[serde(default = "default_pad")]
    pub pad_token_id: u32,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Nucleotide Transformer v2: `false` selects the gated, bias-free feed-forward.
    #[serde(default = "default_true")]
    pub add_bias_fnn: bool,
    #[serde(default)]
    pub model_type: Option<String>,
}

fn default_pos() -> String {
    "absolute".into()
}
fn default_eps() -> f64 {
    1e-12
}
fn default_pad() -> u32 {
    1
}
fn default_act() -> String {
    "gelu".into()
}
fn default_true() -> bool {
    true
}

/// Reads an ESM-family folder's `config.json` (already parsed as JSON at
/// `cpath`) and weights into an [`Encoder`]; returns it and the weights hash.
pub fn load(
    cpath: &Path,
    config: &serde_json::Value,
    weights: &Weights,
    device: &Device,
) -> Result<(Encoder, String), ModelError> {
    let config: EsmConfig =
        serde_json::from_value(config.clone()).map_err(|e| ModelError::file(cpath, e))?;
    if !["rotary", "absolute"].contains(&config.position_embedding_type.as_str()) {
        return Err(ModelError::file(
            cpath,
            format!(
                "position_embedding_type {:?} is not supported (rotary or absolute)",
                config.position_embedding_type
            ),
        ));
    }
    if config.add_bias_fnn && config.hidden_act != "gelu" {
        return Err(ModelError::file(
            cpath,
            format!(
                "hidden_act {:?} is not supported (gelu; or add_bias_fnn: false for the gated variant)",
                config.hidden_act
            ),
        ));
    }
    super::family::check_sizes(
        cpath,
        &[
            ("vocab_size", config.vocab_size),
            ("hidden_size", config.hidden_size),
            ("num_hidden_layers", config.num_hidden_layers),
            ("num_attention_heads", config.num_attention_heads),
            ("intermediate_size", config.intermediate_size),
        ],
        config.num_attention_heads,
        ("layer_norm_eps", config.layer_norm_eps),
    )?;
    if config.pad_token_id as usize >= config.vocab_size {
        return Err(ModelError::file(
            cpath,
            format!(
                "pad_token_id = {} is outside the vocabulary (vocab_size = {})",
                config.pad_token_id, config.vocab_size
            ),
        ));
    }
    // Positions start after pad_token_id; <cls> and <eos> take two: at
    // least one residue must fit in a window.
    let min_pos = config.pad_token_id as usize + 4;
    if config.max_position_embeddings < min_pos {
        return Err(ModelError::file(
            cpath,
            format!(
                "max_position_embeddings = {} leaves no room for a residue \
             (needs >= pad_token_id + 4 = {min_pos})",
                config.max_position_embeddings
            ),
        ));
    }
    let (h, i, eps) = (
        config.hidden_size,
        config.intermediate_size,
        config.layer_norm_eps,
    );
    // Load order is hash order: kept as it was when the hash was introduced.
    let w = Loader::new(weights, device);
    let glu = !config.add_bias_fnn;
    let mut blocks = Vec::new();
    for l in 0..config.num_hidden_layers {
        let p = format!("encoder.layer.{l}");
        blocks.push(Block {
            attn_norm: w.norm(&format!("{p}.attention.LayerNorm"), h, eps)?,
            ctx_norm: None,
            inner_norm: None,
            qk_norm: None,
            qkv: w.lin_qkv(
                &format!("{p}.attention.self"),
                ["query", "key", "value"],
                h,
                h,
                true,
            )?,
            o: w.lin(&format!("{p}.attention.output.dense"), h, h, true)?,
            ffn_norm: w.norm(&format!("{p}.LayerNorm"), h, eps)?,
            inter: w.lin(
                &format!("{p}.intermediate.dense"),
                h,
                if glu { 2 * i } else { i },
                !glu,
            )?,
            out: w.lin(&format!("{p}.output.dense"), i, h, !glu)?,
        });
    }
    let positions = if config.position_embedding_type == "absolute" {
        Positions::Learned {
            table: w.t2(
                "embeddings.position_embeddings.weight",
                config.max_position_embeddings,
                h,
            )?,
            offset: config.pad_token_id as usize + 1,
        }
    } else {
        Positions::Rotary
    };
    let emb_norm = if config.emb_layer_norm_before == Some(true) {
        Some(w.norm("embeddings.layer_norm", h, eps)?)
    } else {
        None
    };
    let final_norm = w.norm("encoder.emb_layer_norm_after", h, eps).ok();
    let word = w.t2("embeddings.word_embeddings.weight", config.vocab_size, h)?;
    let encoder = Encoder {
        hidden: h,
        heads: config.num_attention_heads,
        head_dim: h / config.num_attention_heads,
        attn_scale: ((h / config.num_attention_heads) as f64).powf(-0.5),
        residual_scale: 1.0,
        intermediate: i,
        word,
        token_type: None,
        positions,
        max_len: Some(config.max_position_embeddings - (config.pad_token_id as usize + 1)),
        emb_norm,
        blocks,
        final_norm,
        norm_place: NormPlace::Pre,
        // Nucleotide Transformer v2's gate: SiLU(a) ⊙ g, no biases.
        ffn: if glu {
            FeedForward::Gated(Activation::Silu)
        } else {
            FeedForward::Plain(Activation::Gelu)
        },
        token_dropout: config.token_dropout.then_some(config.mask_token_id),
        dtype: None,
        device: device.clone(),
    };
    Ok((encoder, w.finish()))
}

/// The family as the kind registry sees it (`kind: esm`).
pub struct Family;

impl super::family::NativeFamily for Family {
    fn name(&self) -> &'static str {
        "esm"
    }

    fn reads(&self, model_type: Option<&str>) -> bool {
        model_type.is_none_or(|m| m == "esm")
    }

    fn models(&self) -> &'static str {
        "ESM-2 and Nucleotide Transformer"
    }

    fn load(
        &self,
        cpath: &Path,
        config: &serde_json::Value,
        weights: &Weights,
        device: &Device,
    ) -> Result<(Encoder, &'static str, String), ModelError> {
        let (e, h) = load(cpath, config, weights, device)?;
        Ok((e, "ESM", h))
    }
}
