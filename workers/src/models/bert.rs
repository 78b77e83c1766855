//! The BERT encoder family in burn, read from a Hugging Face model folder
//! (`model_type: bert`), as configurations of the shared [`Encoder`]:
//!
//! | variant | recognised by | blocks | positions | feed-forward |
//! |---|---|---|---|---|
//! | BERT (ProtBert, cdsBERT) | `attention.self.query` tensors | post-LN | learned, ids from 0 | `hidden_act`, biases |
//! | GENA-LM | `pre_layer_norm: true` | pre-LN (`pre_attention_ln`, `post_attention_ln`), final `last_layer_ln` | learned | `hidden_act`, biases |
//! | MosaicBERT (DNABERT-2) | a fused `attention.self.Wqkv` tensor | post-LN | ALiBi bias, no table | GeGLU (`mlp.gated_layers`, `mlp.wo`) |
//!
//! All add token type 0's embedding row and normalize the embeddings
//! (`embeddings.LayerNorm`). Checkpoints saved from a task head
//! (`BertForMaskedLM`: `bert.` prefix) load as they are; heads and the pooler
//! are ignored.

use super::ModelError;
use super::encoder::{Activation, Block, Encoder, FeedForward, NormPlace, Positions, alibi_slopes};
use super::loader::Loader;
use super::weights::Weights;
use burn::tensor::Device;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default)]
    pub max_position_embeddings: usize,
    #[serde(default = "default_types")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_pos")]
    pub position_embedding_type: String,
    /// GENA-LM: pre-LN blocks.
    #[serde(default)]
    pub pre_layer_norm: bool,
    /// GENA-LM: a final LayerNorm after pre-LN blocks (default: with them).
    #[serde(default)]
    pub last_layer_norm: Option<bool>,
}

fn default_types() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".into()
}
fn default_pos() -> String {
    "absolute".into()
}

/// Which BERT variant a folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Bert,
    /// GENA-LM's pre-LN BERT.
    PreLn,
    /// MosaicBERT (DNABERT-2).
    Mosaic,
}

impl Variant {
    pub fn describe(self) -> &'static str {
        match self {
            Variant::Bert => "BERT (post-LN)",
            Variant::PreLn => "BERT (pre-LN, GENA-LM)",
            Variant::Mosaic => "MosaicBERT (DNABERT-2: ALiBi, GeGLU)",
        }
    }
}

/// Reads a BERT-family folder's config (parsed at `cpath`) and weights into
/// an [`Encoder`]; returns it, the variant and the weights hash.
pub fn load(
    cpath: &Path,
    config: &serde_json::Value,
    weights: &Weights,
    device: &Device,
) -> Result<(Encoder, Variant, String), ModelError> {
    let config: BertConfig =
        serde_json::from_value(config.clone()).map_err(|e| ModelError::file(cpath, e))?;
    let variant = if weights.contains("encoder.layer.0.attention.self.Wqkv.weight") {
        Variant::Mosaic
    } else if config.pre_layer_norm {
        Variant::PreLn
    } else {
        Variant::Bert
    };
    let act = check_config(cpath, &config, variant)?;
    let (h, i, eps) = (
        config.hidden_size,
        config.intermediate_size,
        config.layer_norm_eps,
    );
    let w = Loader::new(weights, device);
    let word = w.t2("embeddings.word_embeddings.weight", config.vocab_size, h)?;
    let types = w.t2(
        "embeddings.token_type_embeddings.weight",
        config.type_vocab_size,
        h,
    )?;
    let positions = if variant == Variant::Mosaic {
        Positions::Alibi(alibi_slopes(config.num_attention_heads))
    } else {
        Positions::Learned {
            table: w.t2(
                "embeddings.position_embeddings.weight",
                config.max_position_embeddings,
                h,
            )?,
            offset: 0,
        }
    };
    let emb_norm = Some(w.norm("embeddings.LayerNorm", h, eps)?);
    let mut blocks = Vec::new();
    for l in 0..config.num_hidden_layers {
        blocks.push(load_block(&w, variant, l, h, i, eps)?);
    }
    let final_norm = if variant == Variant::PreLn && config.last_layer_norm.unwrap_or(true) {
        Some(w.norm("encoder.last_layer_ln", h, eps)?)
    } else {
        None
    };
    let encoder = Encoder {
        hidden: h,
        heads: config.num_attention_heads,
        head_dim: h / config.num_attention_heads,
        attn_scale: ((h / config.num_attention_heads) as f64).powf(-0.5),
        residual_scale: 1.0,
        intermediate: i,
        word,
        token_type: Some(types),
        positions,
        max_len: (variant != Variant::Mosaic).then_some(config.max_position_embeddings),
        emb_norm,
        blocks,
        final_norm,
        norm_place: if variant == Variant::PreLn {
            NormPlace::Pre
        } else {
            NormPlace::Post
        },
        ffn: if variant == Variant::Mosaic {
            FeedForward::Gated(act)
        } else {
            FeedForward::Plain(act)
        },
        token_dropout: None,
        dtype: None,
        device: device.clone(),
    };
    Ok((encoder, variant, w.finish()))
}

/// The sizes, activation and positions a variant needs; returns the
/// feed-forward's activation.
fn check_config(
    cpath: &Path,
    config: &BertConfig,
    variant: Variant,
) -> Result<Activation, ModelError> {
    super::family::check_sizes(
        cpath,
        &[
            ("vocab_size", config.vocab_size),
            ("hidden_size", config.hidden_size),
            ("num_hidden_layers", config.num_hidden_layers),
            ("num_attention_heads", config.num_attention_heads),
            ("intermediate_size", config.intermediate_size),
            ("type_vocab_size", config.type_vocab_size),
        ],
        config.num_attention_heads,
        ("layer_norm_eps", config.layer_norm_eps),
    )?;
    let act = if variant == Variant::Mosaic {
        // MosaicBERT's gate is exact GELU whatever hidden_act says.
        Activation::Gelu
    } else {
        Activation::parse(&config.hidden_act).ok_or_else(|| {
            ModelError::file(
                cpath,
                format!(
                    "hidden_act {:?} is not supported (gelu, relu, silu)",
                    config.hidden_act
                ),
            )
        })?
    };
    if variant != Variant::Mosaic {
        if config.position_embedding_type != "absolute" {
            return Err(ModelError::file(
                cpath,
                format!(
                    "position_embedding_type {:?} is not supported for BERT (absolute; \
                 DNABERT-2's ALiBi is recognised by its fused Wqkv tensors)",
                    config.position_embedding_type
                ),
            ));
        }
        // [CLS] and [SEP] take two positions: one token must still fit.
        if config.max_position_embeddings < 3 {
            return Err(ModelError::file(
                cpath,
                format!(
                    "max_position_embeddings = {} leaves no room for a token (needs >= 3)",
                    config.max_position_embeddings
                ),
            ));
        }
    }
    Ok(act)
}

/// Block `l`'s tensors, by the variant's names (loaded in the hashed order).
fn load_block(
    w: &Loader,
    variant: Variant,
    l: usize,
    h: usize,
    i: usize,
    eps: f64,
) -> Result<Block, ModelError> {
    let p = format!("encoder.layer.{l}");
    let attn = format!("{p}.attention");
    let qkv = if variant == Variant::Mosaic {
        w.lin(&format!("{attn}.self.Wqkv"), h, 3 * h, true)?
    } else {
        w.lin_qkv(
            &format!("{attn}.self"),
            ["query", "key", "value"],
            h,
            h,
            true,
        )?
    };
    let o = w.lin(&format!("{attn}.output.dense"), h, h, true)?;
    Ok(match variant {
        Variant::Bert => Block {
            qkv,
            ctx_norm: None,
            inner_norm: None,
            qk_norm: None,
            o,
            attn_norm: w.norm(&format!("{attn}.output.LayerNorm"), h, eps)?,
            inter: w.lin(&format!("{p}.intermediate.dense"), h, i, true)?,
            out: w.lin(&format!("{p}.output.dense"), i, h, true)?,
            ffn_norm: w.norm(&format!("{p}.output.LayerNorm"), h, eps)?,
        },
        Variant::PreLn => Block {
            qkv,
            ctx_norm: None,
            inner_norm: None,
            qk_norm: None,
            o,
            attn_norm: w.norm(&format!("{p}.pre_attention_ln"), h, eps)?,
            ffn_norm: w.norm(&format!("{p}.post_attention_ln"), h, eps)?,
            inter: w.lin(&format!("{p}.intermediate.dense"), h, i, true)?,
            out: w.lin(&format!("{p}.output.dense"), i, h, true)?,
        },
        Variant::Mosaic => Block {
            qkv,
            ctx_norm: None,
            inner_norm: None,
            qk_norm: None,
            o,
            attn_norm: w.norm(&format!("{attn}.output.LayerNorm"), h, eps)?,
            inter: w.lin(&format!("{p}.mlp.gated_layers"), h, 2 * i, false)?,
            out: w.lin(&format!("{p}.mlp.wo"), i, h, true)?,
            ffn_norm: w.norm(&format!("{p}.mlp.layernorm"), h, eps)?,
        },
    })
}

/// The family as the kind registry sees it (`kind: bert`).
pub struct Family;

impl super::family::NativeFamily for Family {
    fn name(&self) -> &'static str {
        "bert"
    }

    fn models(&self) -> &'static str {
        "BERT, ProtBert, GENA-LM and DNABERT-2"
    }

    fn load(
        &self,
        cpath: &Path,
        config: &serde_json::Value,
        weights: &Weights,
        device: &Device,
    ) -> Result<(Encoder, &'static str, String), ModelError> {
        let (e, v, h) = load(cpath, config, weights, device)?;
        Ok((e, v.describe(), h))
    }
}
