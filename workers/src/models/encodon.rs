//! EnCodon (the cdsFM codon encoders of Goodarzi lab; github
//! goodarzilab/cdsFM, `goodarzilab/EnCodon-*` / `encodon-*` on the hub) as
//! a configuration of the shared [`Encoder`], following the authors'
//! `modeling_encodon.py` (`EnCodon` → `EnCodonModule`) at inference:
//!
//! * BERT embeddings: word + token type 0 + (with `position_embedding_type:
//!   absolute`) a learned position table from 0, then a LayerNorm;
//! * **sandwich-norm** blocks: `x + post_attn_dense(post_layer_norm(MHA(
//!   pre_layer_norm x)))`, then `x + post_dense(post_layer_norm(act(
//!   intermediate_dense(pre_layer_norm x))))` — the second post-norm over the
//!   feed-forward's inner width; biased q/k/v;
//! * with `use_rotary_emb`, rotary embeddings (`rotary_theta`, 5·10⁵ by
//!   default) on **half** of each head's dims, turning interleaved pairs
//!   (read by reordering each head's query and key outputs at load, the
//!   other half passed through); no final norm.
//!
//! Tokens: `<CLS> <SEP> <UNK> <PAD> <MASK>` and the 64 codons over A, C, G,
//! T in product order; the CDS matched codon by codon, and at a position
//! where no codon matches (an N) one letter is one `<UNK>` (the tokenizer's
//! regex `codons | specials | \S`); rows are `<CLS> … <SEP>`.
//!
//! NVIDIA's **NV-CodonFM** Encodon releases (`nvidia/NV-CodonFM-Encodon-*`;
//! the authors' `src/models/components/{encodon,encodon_layer,mha,
//! codon_embedding,rotary_embedding}.py`) are read by the same kind, told
//! apart by their tensor names (`layers.N.pre_attn_layer_norm`, with or
//! without the Lightning `model.` prefix), from the `config.json` the
//! authors' loader reads beside the safetensors file (`EncodonPL`'s
//! hyper-parameters, possibly under `hparams`). The same tokens and the same
//! sandwich-norm block (`x + post_attn_dense(post_attn_layer_norm(MHA(
//! pre_attn_layer_norm x)))`, `x + output_dense(post_ffn_layer_norm(act(
//! intermediate_dense(pre_ffn_layer_norm x))))`); the embedding is the word
//! table then a LayerNorm (`post_ln`: no token types, no position table);
//! rotary over the **whole** head, its two halves turned together, base
//! `rotary_theta` (10⁴ by default, `EncodonPL`'s); no final norm.

use super::ModelError;
use super::encoder::{Activation, Block, Encoder, FeedForward, Positions};
use super::loader::Loader;
use super::tokenizer::Tokenizer;
use super::weights::Weights;
use burn::tensor::Device;
use serde::Deserialize;
use std::path::Path;

/// EnCodon's vocabulary (`EnCodonTokenizer`, `seq_type="dna"`).
pub fn vocab() -> Vec<String> {
    super::family::codon_vocab(
        &["<CLS>", "<SEP>", "<UNK>", "<PAD>", "<MASK>"],
        ['A', 'C', 'G', 'T'],
    )
}

#[derive(Debug, Clone, Deserialize)]
pub struct EncodonConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    pub max_position_embeddings: usize,
    #[serde(default = "default_types")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_pos")]
    pub position_embedding_type: String,
    #[serde(default)]
    pub use_rotary_emb: bool,
    #[serde(default = "default_theta")]
    pub rotary_theta: f64,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_types() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_pos() -> String {
    "absolute".into()
}
fn default_theta() -> f64 {
    5e5
}

/// The checks both layouts share: every size ≥ 1 and `heads` dividing the
/// width (`family::check_sizes`), `vocab_size` at least EnCodon's 69 tokens;
/// and the activation, read.
fn checked(
    cpath: &Path,
    sizes: &[(&str, usize)],
    (heads, vocab_size): (usize, usize),
    act: &str,
    eps: f64,
) -> Result<Activation, ModelError> {
    super::family::check_sizes(cpath, sizes, heads, ("layer_norm_eps", eps))?;
    if vocab_size < vocab().len() {
        return Err(ModelError::field(
            cpath,
            "vocab_size",
            vocab_size,
            "is smaller than EnCodon's 69 tokens",
        ));
    }
    Activation::parse(act).ok_or_else(|| {
        ModelError::field(
            cpath,
            "hidden_act",
            act,
            "is not one of gelu, gelu_new, relu, silu",
        )
    })
}

/// Whether `weights` hold NVIDIA's NV-CodonFM layout.
pub fn is_codonfm(weights: &Weights) -> bool {
    weights.contains("layers.0.pre_attn_layer_norm.weight")
}

/// `EncodonPL`'s hyper-parameters as its `config.json` holds them.
#[derive(Debug, Clone, Deserialize)]
pub struct CodonFmConfig {
    #[serde(default = "default_vocab")]
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_rotary")]
    pub position_embedding_type: String,
    #[serde(default = "default_codonfm_theta")]
    pub rotary_theta: f64,
    #[serde(default = "default_context")]
    pub max_position_embeddings: usize,
}

fn default_vocab() -> usize {
    69
}
fn default_rotary() -> String {
    "rotary".into()
}
fn default_codonfm_theta() -> f64 {
    1e4
}
fn default_context() -> usize {
    2048
}

/// Reads an NV-CodonFM folder's config (parsed at `cpath`; the fields under
/// `hparams` when they are nested there, as the authors' loader takes them)
/// and weights.
pub fn load_codonfm(
    cpath: &Path,
    config: &serde_json::Value,
    weights: &Weights,
    device: &Device,
) -> Result<(Encoder, String), ModelError> {
    let config = config.get("hparams").unwrap_or(config);
    let c: CodonFmConfig =
        serde_json::from_value(config.clone()).map_err(|e| ModelError::file(cpath, e))?;
    let act = checked(
        cpath,
        &[
            ("vocab_size", c.vocab_size),
            ("hidden_size", c.hidden_size),
            ("num_hidden_layers", c.num_hidden_layers),
            ("num_attention_heads", c.num_attention_heads),
            ("intermediate_size", c.intermediate_size),
            ("max_position_embeddings", c.max_position_embeddings),
        ],
        (c.num_attention_heads, c.vocab_size),
        &c.hidden_act,
        c.layer_norm_eps,
    )?;
    if c.position_embedding_type != "rotary" {
        return Err(ModelError::field(
            cpath,
            "position_embedding_type",
            &c.position_embedding_type,
            "NV-CodonFM's layers always apply rotary embeddings: only rotary is supported",
        ));
    }
    let (h, nh, i, eps) = (
        c.hidden_size,
        c.num_attention_heads,
        c.intermediate_size,
        c.layer_norm_eps,
    );
    let hd = h / nh;
    if hd % 2 != 0 || c.rotary_theta.is_nan() || c.rotary_theta <= 0.0 {
        return Err(ModelError::file(
            cpath,
            "rotary embeddings need an even head size and rotary_theta > 0",
        ));
    }
    let w = Loader::new(weights, device);
    let word = w.t2("embeddings.word_embeddings.weight", c.vocab_size, h)?;
    let emb_norm = Some(w.norm("embeddings.post_ln", h, eps)?);
    let blocks = (0..c.num_hidden_layers)
        .map(|l| {
            let p = format!("layers.{l}");
            let a = format!("{p}.attention");
            Ok(Block {
                attn_norm: w.norm(&format!("{p}.pre_attn_layer_norm"), h, eps)?,
                qkv: super::encoder::Lin::joined([
                    w.lin(&format!("{a}.query"), h, h, true)?,
                    w.lin(&format!("{a}.key"), h, h, true)?,
                    w.lin(&format!("{a}.value"), h, h, true)?,
                ]),
                qk_norm: None,
                ctx_norm: Some(w.norm(&format!("{p}.post_attn_layer_norm"), h, eps)?),
                o: w.lin(&format!("{p}.post_attn_dense"), h, h, true)?,
                ffn_norm: w.norm(&format!("{p}.pre_ffn_layer_norm"), h, eps)?,
                inter: w.lin(&format!("{p}.intermediate_dense"), h, i, true)?,
                inner_norm: Some(w.norm(&format!("{p}.post_ffn_layer_norm"), i, eps)?),
                out: w.lin(&format!("{p}.output_dense"), i, h, true)?,
            })
        })
        .collect::<Result<Vec<_>, ModelError>>()?;
    let encoder = Encoder {
        // `RotaryEmbedding(dim=head_dim, theta)`: the whole head turns.
        positions: Positions::RotaryFreqs {
            freqs: super::positions::rotary_freqs(c.rotary_theta, hd, hd),
            learned: None,
        },
        // The context it was trained on (`max_position_embeddings`).
        max_len: Some(c.max_position_embeddings),
        emb_norm,
        ffn: FeedForward::Plain(act),
        ..Encoder::pre_ln(word, blocks, nh, i, device)
    };
    Ok((encoder, w.finish()))
}

/// Reads an EnCodon folder's config (parsed at `cpath`) and weights.
pub fn load(
    cpath: &Path,
    config: &serde_json::Value,
    weights: &Weights,
    device: &Device,
) -> Result<(Encoder, String), ModelError> {
    let c: EncodonConfig =
        serde_json::from_value(config.clone()).map_err(|e| ModelError::file(cpath, e))?;
    let act = checked(
        cpath,
        &[
            ("vocab_size", c.vocab_size),
            ("hidden_size", c.hidden_size),
            ("num_hidden_layers", c.num_hidden_layers),
            ("num_attention_heads", c.num_attention_heads),
            ("intermediate_size", c.intermediate_size),
            ("max_position_embeddings", c.max_position_embeddings),
            ("type_vocab_size", c.type_vocab_size),
        ],
        (c.num_attention_heads, c.vocab_size),
        &c.hidden_act,
        c.layer_norm_eps,
    )?;
    let absolute = match c.position_embedding_type.as_str() {
        "absolute" => true,
        "none" => false,
        other => {
            return Err(ModelError::field(
                cpath,
                "position_embedding_type",
                other,
                "only absolute (or none, with rotary) is supported",
            ));
        }
    };
    let (h, nh, i, eps) = (
        c.hidden_size,
        c.num_attention_heads,
        c.intermediate_size,
        c.layer_norm_eps,
    );
    let hd = h / nh;
    // The rotary embedding covers half of each head (`qk_proj_dim // num_heads // 2`).
    let rotated = hd / 2;
    if c.use_rotary_emb && (rotated % 2 != 0 || c.rotary_theta.is_nan() || c.rotary_theta <= 0.0) {
        return Err(ModelError::file(
            cpath,
            "use_rotary_emb needs a head size divisible by 4 and rotary_theta > 0",
        ));
    }
    let w = Loader::new(weights, device);
    let e = "embeddings";
    let word = w.t2(&format!("{e}.word_embeddings.weight"), c.vocab_size, h)?;
    let types = w.t2(
        &format!("{e}.token_type_embeddings.weight"),
        c.type_vocab_size,
        h,
    )?;
    let table = if absolute {
        Some(w.t2(
            &format!("{e}.position_embeddings.weight"),
            c.max_position_embeddings,
            h,
        )?)
    } else {
        None
    };
    let emb_norm = Some(w.norm(&format!("{e}.LayerNorm"), h, eps)?);
    let blocks = (0..c.num_hidden_layers)
        .map(|l| load_block(&w, &c, l))
        .collect::<Result<Vec<_>, _>>()?;
    let positions = match (c.use_rotary_emb, table) {
        (false, Some(table)) => Positions::Learned { table, offset: 0 },
        (false, None) => Positions::RotaryFreqs {
            freqs: Vec::new(),
            learned: None,
        },
        (true, learned) => Positions::RotaryFreqs {
            // Half of each head turns; the other half stays.
            freqs: super::positions::rotary_freqs(c.rotary_theta, hd, rotated),
            learned: learned.map(|t| (t, 0)),
        },
    };
    let encoder = Encoder {
        token_type: Some(types),
        positions,
        max_len: absolute.then_some(c.max_position_embeddings),
        emb_norm,
        ffn: FeedForward::Plain(act),
        ..Encoder::pre_ln(word, blocks, nh, i, device)
    };
    Ok((encoder, w.finish()))
}

/// Layer `l`: sandwich-norm attention and feed-forward; with rotary, the
/// query and key outputs of each head reordered for the half it turns.
fn load_block(w: &Loader<'_>, c: &EncodonConfig, l: usize) -> Result<Block, ModelError> {
    let (h, nh, i, eps) = (
        c.hidden_size,
        c.num_attention_heads,
        c.intermediate_size,
        c.layer_norm_eps,
    );
    let rotated = h / nh / 2;
    let p = format!("encoder.layer.{l}");
    let a = format!("{p}.attention");
    let s = format!("{a}.self_attention");
    let (q, k) = if c.use_rotary_emb {
        (
            w.lin_interleaved_heads(&format!("{s}.query"), (h, h), nh, rotated, true)?,
            w.lin_interleaved_heads(&format!("{s}.key"), (h, h), nh, rotated, true)?,
        )
    } else {
        (
            w.lin(&format!("{s}.query"), h, h, true)?,
            w.lin(&format!("{s}.key"), h, h, true)?,
        )
    };
    let v = w.lin(&format!("{s}.value"), h, h, true)?;
    Ok(Block {
        attn_norm: w.norm(&format!("{a}.pre_layer_norm"), h, eps)?,
        qkv: super::encoder::Lin::joined([q, k, v]),
        qk_norm: None,
        ctx_norm: Some(w.norm(&format!("{a}.post_layer_norm"), h, eps)?),
        o: w.lin(&format!("{a}.post_attn_dense"), h, h, true)?,
        ffn_norm: w.norm(&format!("{p}.output.pre_layer_norm"), h, eps)?,
        inter: w.lin(&format!("{p}.output.intermediate_dense"), h, i, true)?,
        inner_norm: Some(w.norm(&format!("{p}.output.post_layer_norm"), i, eps)?),
        out: w.lin(&format!("{p}.output.post_dense"), i, h, true)?,
    })
}

/// The family as the kind registry sees it (`kind: encodon`).
pub struct Family;

impl super::family::NativeFamily for Family {
    fn name(&self) -> &'static str {
        "encodon"
    }

    fn reads(&self, model_type: Option<&str>) -> bool {
        matches!(model_type, Some("encodon"))
    }

    /// The released configs (`EnCodonConfig`) name no `model_type`: the
    /// entry names the kind.
    fn accepts(&self, model_type: Option<&str>) -> bool {
        matches!(model_type, None | Some("" | "encodon"))
    }

    fn models(&self) -> &'static str {
        "EnCodon (cdsFM), NV-CodonFM Encodon"
    }

    fn load(
        &self,
        cpath: &Path,
        config: &serde_json::Value,
        weights: &Weights,
        device: &Device,
    ) -> Result<(Encoder, &'static str, String), ModelError> {
        if is_codonfm(weights) {
            let (e, h) = load_codonfm(cpath, config, weights, device)?;
            return Ok((e, "NV-CodonFM Encodon (sandwich norm, rotary)", h));
        }
        let (e, h) = load(cpath, config, weights, device)?;
        Ok((e, "EnCodon (sandwich norm)", h))
    }

    fn fixed_tokenizer(&self) -> Option<Tokenizer> {
        Some(
            Tokenizer::from_tokens_with(&vocab(), ["<CLS>", "<SEP>", "<PAD>", "<UNK>", "<MASK>"])
                .expect("EnCodon's vocabulary has <PAD> and <UNK>"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::family::NativeFamily;

    /// NV-CodonFM's folder (fixtures/codonfm-tiny) is read by its tensor
    /// names; a config asking for what its layers do not do, or without a
    /// needed size, is refused naming the field.
    #[test]
    fn nv_codonfm_is_told_by_its_tensors_and_bad_configs_name_the_field() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/codonfm-tiny");
        let weights = Weights::open(&dir).unwrap();
        assert!(is_codonfm(&weights));
        let cpath = dir.join("config.json");
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&cpath).unwrap()).unwrap();
        let device = crate::device::cpu();
        let (_, what, _) = Family.load(&cpath, &config, &weights, &device).unwrap();
        assert!(what.starts_with("NV-CodonFM"), "{what}");
        // Nested under `hparams`, as a Lightning checkpoint's are.
        let nested = serde_json::json!({ "hparams": config.clone() });
        assert!(load_codonfm(&cpath, &nested, &weights, &device).is_ok());
        let with = |k: &str, v: serde_json::Value| {
            let mut c = config.clone();
            c[k] = v;
            match load_codonfm(&cpath, &c, &weights, &device) {
                Ok(_) => panic!("{k} accepted"),
                Err(e) => e.to_string(),
            }
        };
        let e = with("position_embedding_type", "absolute".into());
        assert!(
            e.contains("position_embedding_type") && e.contains("only rotary"),
            "{e}"
        );
        let e = with("hidden_act", "softplus".into());
        assert!(e.contains("hidden_act"), "{e}");
        let e = with("vocab_size", 60.into());
        assert!(e.contains("vocab_size") && e.contains("69 tokens"), "{e}");
        let mut c = config.clone();
        c.as_object_mut().unwrap().remove("hidden_size");
        let e = load_codonfm(&cpath, &c, &weights, &device)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("hidden_size"), "{e}");
        // cdsFM's folder is not NVIDIA's.
        let cds = Weights::open(&dir.join("../encodon-tiny")).unwrap();
        assert!(!is_codonfm(&cds));
    }

    #[test]
    fn codons_matched_in_turn_an_unmatched_letter_is_one_unk() {
        let t = Family.fixed_tokenizer().unwrap();
        // AAA = 5, ATG = 5 + 0·16 + 3·4 + 2 = 19; "GCN" → G? no codon at G-C-N:
        // G, C, N are one <UNK> each, then TTT = 5 + 63 = 68.
        assert_eq!(t.encode(b"AAAATGGCNTTT"), vec![5, 19, 2, 2, 2, 68]);
        assert_eq!(
            (t.cls, t.eos, t.pad, t.unk, t.mask),
            (Some(0), Some(1), 3, 2, Some(4))
        );
        assert_eq!(t.alphabet(), Some("dna"));
    }
}
