//! T5 encoders in burn (`model_type: t5`: ProtT5, ProstT5, Ankh, Ankh2), as
//! a configuration of the shared [`Encoder`], with transformers'
//! `T5EncoderModel` semantics:
//!
//! * pre-norm blocks with T5's RMS norm (no mean subtracted, no bias) and a
//!   final `encoder.final_layer_norm`;
//! * attention without biases and without the 1/√d scaling (T5 folds it
//!   into the initialisation), per-head size `d_kv`; positions as an
//!   additive bias of bidirectional relative-position buckets
//!   (`relative_attention_num_buckets`, `relative_attention_max_distance`),
//!   computed from the first block's table and shared by every block;
//! * feed-forward by `feed_forward_proj`: `relu` (`wi`, `wo`), or gated
//!   `gated-gelu` (GELU's tanh form, as transformers' `gelu_new`) /
//!   `gated-silu` (`wi_0` activated, times `wi_1`, then `wo`);
//! * no position limit: a long protein is one row up to the token budget.
//!
//! Only `encoder.*` and the shared embedding are read: a full
//! `T5ForConditionalGeneration` checkpoint loads with its decoder ignored.

use super::ModelError;
use super::encoder::{Activation, Block, Encoder, FeedForward, NormPlace, Positions};
use super::loader::Loader;
use super::weights::Weights;
use burn::tensor::Device;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
pub struct T5Config {
    pub vocab_size: usize,
    pub d_model: usize,
    pub d_kv: usize,
    pub d_ff: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    #[serde(default = "default_buckets")]
    pub relative_attention_num_buckets: usize,
    #[serde(default = "default_distance")]
    pub relative_attention_max_distance: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_epsilon: f64,
    #[serde(default = "default_proj")]
    pub feed_forward_proj: String,
}

fn default_buckets() -> usize {
    32
}
fn default_distance() -> usize {
    128
}
fn default_eps() -> f64 {
    1e-6
}
fn default_proj() -> String {
    "relu".into()
}

/// The feed-forward of a `feed_forward_proj` value, as transformers reads
/// it (`gated-gelu` is the tanh GELU).
pub fn feed_forward(proj: &str) -> Option<FeedForward> {
    let (gated, act) = match proj.strip_prefix("gated-") {
        Some(a) => (true, a),
        None => (false, proj),
    };
    let act = match act {
        "gelu" if gated => Activation::GeluTanh,
        other => Activation::parse(other)?,
    };
    Some(if gated {
        FeedForward::Gated(act)
    } else {
        FeedForward::Plain(act)
    })
}

/// Reads a T5 folder's config (parsed at `cpath`) and encoder weights.
pub fn load(
    cpath: &Path,
    config: &serde_json::Value,
    weights: &Weights,
    device: &Device,
) -> Result<(Encoder, String), ModelError> {
    let c: T5Config =
        serde_json::from_value(config.clone()).map_err(|e| ModelError::file(cpath, e))?;
    // d_kv sets the head size, so d_model need not divide by the heads.
    super::family::check_sizes(
        cpath,
        &[
            ("vocab_size", c.vocab_size),
            ("d_model", c.d_model),
            ("d_kv", c.d_kv),
            ("d_ff", c.d_ff),
            ("num_layers", c.num_layers),
            ("num_heads", c.num_heads),
        ],
        c.num_heads,
        ("layer_norm_epsilon", c.layer_norm_epsilon),
    )?;
    if c.relative_attention_num_buckets < 4 || c.relative_attention_max_distance < 2 {
        return Err(ModelError::file(
            cpath,
            format!(
                "relative_attention_num_buckets = {} and relative_attention_max_distance = {}: \
             need >= 4 buckets and a distance >= 2",
                c.relative_attention_num_buckets, c.relative_attention_max_distance
            ),
        ));
    }
    let ffn = feed_forward(&c.feed_forward_proj).ok_or_else(|| {
        ModelError::file(cpath, format!("feed_forward_proj {:?} is not supported (relu, gated-gelu, gated-silu, gelu, silu)", c.feed_forward_proj))
    })?;
    let gated = matches!(ffn, FeedForward::Gated(_));
    let (h, inner, ff, eps) = (
        c.d_model,
        c.num_heads * c.d_kv,
        c.d_ff,
        c.layer_norm_epsilon,
    );
    let w = Loader::new(weights, device);
    let emb = if w.has("shared.weight") {
        "shared.weight"
    } else {
        "encoder.embed_tokens.weight"
    };
    let word = w.t2(emb, c.vocab_size, h)?;
    let rel = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
    let table = w
        .t2(rel, c.relative_attention_num_buckets, c.num_heads)?
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| ModelError::tensor(rel, format!("{e:?}")))?;
    let mut blocks = Vec::new();
    for l in 0..c.num_layers {
        let p = format!("encoder.block.{l}.layer");
        let a = format!("{p}.0.SelfAttention");
        let f = format!("{p}.1.DenseReluDense");
        blocks.push(Block {
            attn_norm: w.rms_norm(&format!("{p}.0.layer_norm"), h, eps)?,
            qkv: w.lin_qkv(&a, ["q", "k", "v"], h, inner, false)?,
            ctx_norm: None,
            inner_norm: None,
            qk_norm: None,
            o: w.lin(&format!("{a}.o"), inner, h, false)?,
            ffn_norm: w.rms_norm(&format!("{p}.1.layer_norm"), h, eps)?,
            inter: if gated {
                w.lin_pair(&format!("{f}.wi_0"), &format!("{f}.wi_1"), h, ff)?
            } else {
                w.lin(&format!("{f}.wi"), h, ff, false)?
            },
            out: w.lin(&format!("{f}.wo"), ff, h, false)?,
        });
    }
    let final_norm = Some(w.rms_norm("encoder.final_layer_norm", h, eps)?);
    let encoder = Encoder {
        hidden: h,
        heads: c.num_heads,
        head_dim: c.d_kv,
        attn_scale: 1.0,
        residual_scale: 1.0,
        intermediate: ff,
        word,
        token_type: None,
        positions: Positions::Relative {
            table,
            buckets: c.relative_attention_num_buckets,
            max_distance: c.relative_attention_max_distance,
        },
        max_len: None,
        emb_norm: None,
        blocks,
        final_norm,
        norm_place: NormPlace::Pre,
        ffn,
        token_dropout: None,
        dtype: None,
        device: device.clone(),
    };
    Ok((encoder, w.finish()))
}

/// The family as the kind registry sees it (`kind: t5`).
pub struct Family;

impl super::family::NativeFamily for Family {
    fn name(&self) -> &'static str {
        "t5"
    }

    fn models(&self) -> &'static str {
        "ProtT5, ProstT5, Ankh and Ankh2"
    }

    fn load(
        &self,
        cpath: &Path,
        config: &serde_json::Value,
        weights: &Weights,
        device: &Device,
    ) -> Result<(Encoder, &'static str, String), ModelError> {
        let (e, h) = load(cpath, config, weights, device)?;
        Ok((e, "T5 encoder", h))
    }

    /// U, Z, O, B read as X, as the ProtTrans documentation does.
    fn input<'a>(
        &self,
        seq: &'a [u8],
        _molecule: super::family::Molecule,
    ) -> std::borrow::Cow<'a, [u8]> {
        std::borrow::Cow::Owned(super::family::rare_residues_as_x(seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::encoder::t5_bucket;

    #[test]
    fn feed_forward_proj_as_transformers_reads_it() {
        assert_eq!(
            feed_forward("relu"),
            Some(FeedForward::Plain(Activation::Relu))
        );
        assert_eq!(
            feed_forward("gated-gelu"),
            Some(FeedForward::Gated(Activation::GeluTanh))
        );
        assert_eq!(
            feed_forward("gated-silu"),
            Some(FeedForward::Gated(Activation::Silu))
        );
        assert_eq!(feed_forward("gated-tanh"), None);
    }

    #[test]
    fn relative_buckets_match_t5() {
        // transformers' T5Attention._relative_position_bucket(bidirectional,
        // 32 buckets, max distance 128) for relative positions -200..200 step 25.
        let want = [
            15, 15, 15, 15, 15, 14, 13, 11, 0, 27, 29, 30, 31, 31, 31, 31, 31,
        ];
        let got: Vec<usize> = (-200..=200)
            .step_by(25)
            .map(|r| t5_bucket(r, 32, 128))
            .collect();
        assert_eq!(got, want);
        assert_eq!(t5_bucket(1, 32, 128), 17);
        assert_eq!(t5_bucket(-1, 32, 128), 1);
        assert_eq!(t5_bucket(-7, 32, 128), 7);
        assert_eq!(t5_bucket(8, 32, 128), 24);
    }
}
