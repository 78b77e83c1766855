//! LucaOne (LucaGroup's generalized biological foundation model, trained on
//! nucleotides and amino acids) as a configuration of the shared
//! [`Encoder`], following the authors' Hugging Face port (the `lucaone`
//! package: `LucaGPLMModel`, `LucaGPLMTokenizer`) at inference:
//!
//! * token embeddings plus a **token-type** row (`embeddings.embed_type`:
//!   0 = nucleotides, 1 = protein); no position table (the published
//!   configs set `no_position_embeddings`), an optional embedding LayerNorm
//!   (`use_embed_layer_norm`); `token_dropout` rescales only in training in
//!   the port, so inference leaves the embeddings as they are;
//! * ESM-2's block: pre-LayerNorm (`pre_layer_norm`, `post_layer_norm`;
//!   torch's LayerNorm, eps 1e-5 — the config's `layer_norm_eps` is not
//!   read by the port), biased q/k/v projections, rotary on queries and
//!   keys (the two halves rotated, base 10⁴), erf-GELU feed-forward of
//!   4 × hidden (`fc1`, `fc2`; the config's `ffn_dim` is not read either);
//! * the final `encoder.last_layer_norm` (`use_last_layer_norm`).
//!
//! Tokens: a fixed 39-token vocabulary; nucleotides are written as digits
//! (A → 1, T/U → 2, C → 3, G → 4, anything else → 5), proteins as letters;
//! each row is `[CLS] … [SEP]`.
//!
//! A folder as published (`LucaGroup/LucaOne-default-step36M` and its
//! siblings): `config.json` (`model_type: lucaone`) and `model.safetensors`
//! holding `LucaGPLMModel` (or a task model with the `lucaone.` prefix).

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

/// LucaOne's `gene_prot` vocabulary (`LucaGPLMTokenizer`), id = position.
pub const VOCAB: [&str; 39] = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "1", "2", "3", "4", "5", "L", "A", "G", "V", "S",
    "E", "R", "T", "I", "D", "P", "K", "Q", "N", "F", "Y", "M", "H", "W", "C", "X", "B", "U", "Z",
    "O", "J", ".", "-", "*",
];

/// torch.nn.LayerNorm's default eps, which every LayerNorm of the port uses.
const LAYER_NORM_EPS: f64 = 1e-5;

#[derive(Debug, Clone, Deserialize)]
pub struct LucaOneConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    #[serde(default = "default_types")]
    pub type_vocab_size: usize,
    #[serde(default = "default_max_pos")]
    pub max_position_embeddings: usize,
    #[serde(default = "default_true")]
    pub no_position_embeddings: bool,
    #[serde(default)]
    pub no_token_type_embeddings: bool,
    #[serde(default)]
    pub use_embed_layer_norm: bool,
    #[serde(default = "default_true")]
    pub use_last_layer_norm: bool,
    #[serde(default = "default_scale")]
    pub embed_scale: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default)]
    pub pad_token_id: Option<u32>,
}

fn default_types() -> usize {
    2
}
fn default_max_pos() -> usize {
    4096
}
fn default_true() -> bool {
    true
}
fn default_scale() -> f64 {
    1.0
}
fn default_act() -> String {
    "gelu".into()
}

/// Refuses what the port would run differently from this encoder, naming
/// the field.
fn check(cpath: &Path, c: &LucaOneConfig) -> Result<(), ModelError> {
    super::family::check_sizes(
        cpath,
        &[
            ("vocab_size", c.vocab_size),
            ("hidden_size", c.hidden_size),
            ("num_hidden_layers", c.num_hidden_layers),
            ("num_attention_heads", c.num_attention_heads),
            ("max_position_embeddings", c.max_position_embeddings),
        ],
        c.num_attention_heads,
        ("layer_norm_eps", LAYER_NORM_EPS),
    )?;
    let refuse =
        |key: &str, value: String, reason: &str| Err(ModelError::field(cpath, key, value, reason));
    if c.vocab_size < VOCAB.len() {
        return refuse(
            "vocab_size",
            c.vocab_size.to_string(),
            "is smaller than LucaOne's 39 tokens",
        );
    }
    if !c.no_position_embeddings {
        return refuse(
            "no_position_embeddings",
            "false".into(),
            "learned positions beside rotary are not supported (the published models set true)",
        );
    }
    if c.embed_scale != 1.0 {
        return refuse(
            "embed_scale",
            c.embed_scale.to_string(),
            "only 1.0 is supported (the published models' value)",
        );
    }
    if c.hidden_act != "gelu" {
        return refuse(
            "hidden_act",
            format!("{:?}", c.hidden_act),
            "the port's layers use erf-GELU whatever this says; only \"gelu\" is accepted",
        );
    }
    if !c.no_token_type_embeddings && c.type_vocab_size < 2 {
        return refuse(
            "type_vocab_size",
            c.type_vocab_size.to_string(),
            "must be >= 2 (0 = nucleotides, 1 = protein)",
        );
    }
    if c.pad_token_id.is_some_and(|p| p != 0) {
        return refuse(
            "pad_token_id",
            format!("{:?}", c.pad_token_id),
            "LucaOne's [PAD] is 0",
        );
    }
    Ok(())
}

/// Reads a LucaOne folder's config (parsed at `cpath`) and weights.
pub fn load(
    cpath: &Path,
    config: &serde_json::Value,
    weights: &Weights,
    device: &Device,
) -> Result<(Encoder, String), ModelError> {
    let c: LucaOneConfig = serde_json::from_value(config.clone()).map_err(|e| {
        ModelError::file(
            cpath,
            format!(
                "{e} (a LucaOne config.json names vocab_size, hidden_size, num_hidden_layers \
                 and num_attention_heads)"
            ),
        )
    })?;
    check(cpath, &c)?;
    let (h, eps) = (c.hidden_size, LAYER_NORM_EPS);
    let ff = 4 * h;
    let w = Loader::new(weights, device);
    let word = w.t2("embeddings.embed_tokens.weight", c.vocab_size, h)?;
    let token_type = if c.no_token_type_embeddings {
        None
    } else {
        Some(w.t2("embeddings.embed_type.weight", c.type_vocab_size, h)?)
    };
    let emb_norm = if c.use_embed_layer_norm {
        Some(w.norm("embeddings.embed_layer_norm", h, eps)?)
    } else {
        None
    };
    let mut blocks = Vec::new();
    for l in 0..c.num_hidden_layers {
        let p = format!("encoder.layers.{l}");
        blocks.push(Block {
            attn_norm: w.norm(&format!("{p}.pre_layer_norm"), h, eps)?,
            qkv: w.lin_qkv(
                &format!("{p}.self_attn"),
                ["q_proj", "k_proj", "v_proj"],
                h,
                h,
                true,
            )?,
            ctx_norm: None,
            inner_norm: None,
            qk_norm: None,
            o: w.lin(&format!("{p}.self_attn.out_proj"), h, h, true)?,
            ffn_norm: w.norm(&format!("{p}.post_layer_norm"), h, eps)?,
            inter: w.lin(&format!("{p}.fc1"), h, ff, true)?,
            out: w.lin(&format!("{p}.fc2"), ff, h, true)?,
        });
    }
    let final_norm = if c.use_last_layer_norm {
        Some(w.norm("encoder.last_layer_norm", h, eps)?)
    } else {
        None
    };
    let encoder = Encoder {
        token_type,
        // The port sets no limit; the models were trained on rows of at
        // most max_position_embeddings tokens, so longer ones are windowed.
        max_len: Some(c.max_position_embeddings),
        emb_norm,
        final_norm,
        ..Encoder::pre_ln(word, blocks, c.num_attention_heads, ff, device)
    };
    Ok((encoder, w.finish()))
}

/// `gene_seq_replace`: A → 1, T/U → 2, C → 3, G → 4, anything else → 5.
pub fn nucleotides_as_digits(seq: &[u8]) -> Vec<u8> {
    seq.iter()
        .map(|b| match b.to_ascii_uppercase() {
            b'A' => b'1',
            b'T' | b'U' => b'2',
            b'C' => b'3',
            b'G' => b'4',
            _ => b'5',
        })
        .collect()
}

/// The family as the kind registry sees it (`kind: lucaone`).
pub struct Family;

impl super::family::NativeFamily for Family {
    fn name(&self) -> &'static str {
        "lucaone"
    }

    fn models(&self) -> &'static str {
        "LucaOne"
    }

    fn load(
        &self,
        cpath: &Path,
        config: &serde_json::Value,
        weights: &Weights,
        device: &Device,
    ) -> Result<(Encoder, &'static str, String), ModelError> {
        let (e, h) = load(cpath, config, weights, device)?;
        Ok((e, "LucaOne", h))
    }

    fn fixed_tokenizer(&self) -> Option<Tokenizer> {
        // Letters as written: a lower-case residue is [UNK] there too.
        let mut t = Tokenizer::from_tokens(&VOCAB.map(String::from))
            .expect("LucaOne's vocabulary has [PAD] and [UNK]");
        t.keep_case = true;
        Some(t)
    }

    fn input<'a>(&self, seq: &'a [u8], molecule: Molecule) -> Cow<'a, [u8]> {
        match molecule {
            Molecule::Dna => Cow::Owned(nucleotides_as_digits(seq)),
            Molecule::Protein => Cow::Borrowed(seq),
        }
    }

    fn token_type(&self, molecule: Molecule) -> Option<u32> {
        Some(match molecule {
            Molecule::Dna => 0,
            Molecule::Protein => 1,
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
    fn nucleotides_are_digits_proteins_letters() {
        let f = Family;
        let t = f.fixed_tokenizer().unwrap();
        assert_eq!(
            t.encode(&f.input(b"ACGTUN", Molecule::Dna)),
            vec![5, 7, 8, 6, 6, 9]
        );
        assert_eq!(
            t.encode(&f.input(b"MKA", Molecule::Protein)),
            vec![26, 21, 11]
        );
        assert_eq!((t.cls, t.eos, t.pad, t.unk), (Some(2), Some(3), 0, 1));
        assert_eq!(f.token_type(Molecule::Protein), Some(1));
    }
}
