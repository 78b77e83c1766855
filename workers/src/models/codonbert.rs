//! CodonBERT (Sanofi; Li et al. 2024) as a configuration of the shared
//! [`Encoder`]: the published checkpoint is a plain post-LN BERT
//! (`BertForPreTraining`, `model_type: bert`), loaded by [`super::bert`];
//! what differs is its tokenizer, which the authors build in code
//! (`benchmarks/utils/tokenizer.py`: a WordLevel vocabulary of
//! `[PAD] [UNK] [CLS] [SEP] [MASK]` and the 64 codons over A, U, G, C in
//! product order) and which the release does not ship. The CDS is read in
//! RNA letters (T → U), cut into non-overlapping codons (their `mytok(seq,
//! 3, 3)`), `[CLS] … [SEP]`; a codon with another letter is one `[UNK]`.
//!
//! `kind: codonbert` reads a BERT folder (`config.json` with
//! `model_type: bert`, `pytorch_model.bin` or safetensors; the `bert.`
//! prefix and the pre-training heads are read past).

use super::ModelError;
use super::encoder::Encoder;
use super::family::Molecule;
use super::tokenizer::Tokenizer;
use super::weights::Weights;
use burn::tensor::Device;
use std::borrow::Cow;
use std::path::Path;

/// CodonBERT's vocabulary (`get_tokenizer()`), id = position.
pub fn vocab() -> Vec<String> {
    super::family::codon_vocab(
        &["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
        ['A', 'U', 'G', 'C'],
    )
}

/// The family as the kind registry sees it (`kind: codonbert`).
pub struct Family;

impl super::family::NativeFamily for Family {
    fn name(&self) -> &'static str {
        "codonbert"
    }

    /// Never chosen by `model_type` alone (a BERT folder is `kind: bert`);
    /// read when the entry names it.
    fn reads(&self, _model_type: Option<&str>) -> bool {
        false
    }

    fn accepts(&self, model_type: Option<&str>) -> bool {
        model_type == Some("bert")
    }

    fn models(&self) -> &'static str {
        "CodonBERT"
    }

    fn load(
        &self,
        cpath: &Path,
        config: &serde_json::Value,
        weights: &Weights,
        device: &Device,
    ) -> Result<(Encoder, &'static str, String), ModelError> {
        let (e, variant, h) = super::bert::load(cpath, config, weights, device)?;
        if variant != super::bert::Variant::Bert {
            return Err(ModelError::file(
                cpath,
                format!(
                    "a {} checkpoint, not CodonBERT's plain BERT (hint: use `kind: bert`)",
                    variant.describe()
                ),
            ));
        }
        Ok((e, "CodonBERT (post-LN BERT, codon vocabulary)", h))
    }

    fn fixed_tokenizer(&self) -> Option<Tokenizer> {
        let mut t =
            Tokenizer::from_tokens(&vocab()).expect("CodonBERT's vocabulary has [PAD] and [UNK]");
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
    fn codons_in_product_order_of_a_u_g_c() {
        let f = Family;
        let t = f.fixed_tokenizer().unwrap();
        // AAA = 5, AAU = 6, ..., AUG = 5 + 0·16 + 1·4 + 2 = 11; CCC = 68.
        assert_eq!(
            t.encode(&f.input(b"AAAATGcccNNN", Molecule::Dna)),
            vec![5, 11, 68, 1]
        );
        assert_eq!((t.cls, t.eos, t.pad), (Some(2), Some(3), 0));
        assert_eq!(vocab().len(), 69);
    }
}
