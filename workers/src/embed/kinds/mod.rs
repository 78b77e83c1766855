//! The registry of model kinds: every `kind:` a sweep config may name, each
//! one module that owns what differs between kinds — the fields it takes and
//! needs, its default modality, its checks (with the field they concern),
//! what it opens before any work (`preflight`), what its embeddings depend
//! on (`weights_hash`) and how it becomes an [`Embedder`]. The fields
//! themselves are one flat YAML schema ([`ModelSpec`]), so a config, its
//! hash and every store stay as they were.
//!
//! Each kind is implemented beside its embedder: `embed/kmer.rs` (kmer,
//! codon), `embed/command.rs`, `embed/precomputed.rs`, `embed/hf.rs`; a
//! native family (`esm`, `bert`, `t5`, `esmc`, `glm2`, `lucaone`, `calm`, `codonbert`, `encodon`) is a [`NativeFamily`] in its
//! `models/<family>.rs` (loader, `model_type`, tokenization) wrapped by
//! [`native::Native`] with its kind. Adding a kind: one module and one line in
//! [`registry!`] below (plus docs, a fixture and a test).

pub mod native;

use super::spec::{BuildContext, ModelSpec, SpecError};
use super::{EmbedError, Embedder, Modality};
use crate::models::ModelError;
use crate::models::family::NativeFamily;
use std::path::Path;

/// What one kind of model does differently.
pub trait KindSpec: Sync {
    /// The fields it takes (besides `name`, `kind`, `modality`).
    fn fields(&self) -> &'static [&'static str];
    /// The fields it needs.
    fn required(&self) -> &'static [&'static str] {
        &[]
    }
    /// `modality` when the entry gives none.
    fn default_modality(&self) -> Modality {
        Modality::Protein
    }
    /// The values `pooling` may take.
    fn poolings(&self) -> &'static [&'static str] {
        &["mean", "cls"]
    }
    /// Checks of the modality this kind reads (before the shared value checks).
    fn check_modality(&self, _spec: &ModelSpec) -> Result<(), SpecError> {
        Ok(())
    }
    /// Checks of this kind's values, after the shared ones.
    fn check(&self, _spec: &ModelSpec) -> Result<(), SpecError> {
        Ok(())
    }
    /// Opens what the model needs before any work is done; `Err` names the path.
    fn preflight(&self, _spec: &ModelSpec, _base: &Path) -> Result<(), ModelError> {
        Ok(())
    }
    /// Once `preflight` has passed: the entry's fields against what the
    /// folder holds (a layer it has, a modality its vocabulary reads, a
    /// pooling its tokenizer allows), so that `plan` refuses what `run`
    /// would; `Err` names the field.
    fn check_folder(&self, _spec: &ModelSpec, _base: &Path) -> Result<(), SpecError> {
        Ok(())
    }
    /// Content hash of the model's weights or input file ("" for baselines).
    fn weights_hash(&self, _spec: &ModelSpec, _base: &Path) -> String {
        String::new()
    }
    /// The embedder.
    fn build(&self, spec: &ModelSpec, ctx: &BuildContext) -> Result<Box<dyn Embedder>, EmbedError>;
    /// The native family it runs, if any.
    fn native(&self) -> Option<&'static dyn NativeFamily> {
        None
    }
}

/// Declares [`ModelKind`] (as YAML names it: the variant in lower case) and
/// the module that implements each.
macro_rules! registry {
    ($($(#[$doc:meta])* $kind:ident => $spec:expr,)+) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum ModelKind {
            $($(#[$doc])* $kind,)+
        }

        impl ModelKind {
            /// Every kind, in the registry's order.
            pub const ALL: &'static [ModelKind] = &[$(ModelKind::$kind,)+];

            /// The module that implements this kind.
            pub fn spec(self) -> &'static dyn KindSpec {
                match self {
                    $(ModelKind::$kind => $spec,)+
                }
            }
        }
    };
}

registry! {
    /// Native ESM-family encoder (ESM-2, Nucleotide Transformer) from a HF folder.
    Esm => &native::Native(ModelKind::Esm, &crate::models::esm::Family),
    /// Native BERT-family encoder (ProtBert, cdsBERT, GENA-LM, DNABERT-2) from a HF folder.
    Bert => &native::Native(ModelKind::Bert, &crate::models::bert::Family),
    /// Native T5 encoder (ProtT5, ProstT5, Ankh, Ankh2) from a HF folder.
    T5 => &native::Native(ModelKind::T5, &crate::models::t5::Family),
    /// Native ESM C (ESM Cambrian) from a folder with its weights and a small config.json.
    Esmc => &native::Native(ModelKind::Esmc, &crate::models::esmc::Family),
    /// Native gLM2 (TattaBio; multimodal: proteins and nucleotides) from a HF folder.
    Glm2 => &native::Native(ModelKind::Glm2, &crate::models::glm2::Family),
    /// Native LucaOne (multimodal: nucleotides and proteins) from a HF folder.
    Lucaone => &native::Native(ModelKind::Lucaone, &crate::models::lucaone::Family),
    /// Native CaLM (codons) from its converted weights and a small config.json.
    Calm => &native::Native(ModelKind::Calm, &crate::models::calm::Family),
    /// Native CodonBERT (a BERT folder read with its codon tokenizer).
    Codonbert => &native::Native(ModelKind::Codonbert, &crate::models::codonbert::Family),
    /// Native EnCodon (cdsFM codon encoders: sandwich norm, partial rotary).
    Encodon => &native::Native(ModelKind::Encodon, &crate::models::encodon::Family),
    /// k-mer spectrum.
    Kmer => &super::kmer::Kmer,
    /// Codon usage.
    Codon => &super::kmer::Codon,
    /// External program under the command contract.
    Command => &super::command::CommandKind,
    /// An existing embedding file.
    Precomputed => &super::precomputed::Precomputed,
    /// Any transformers model, through the bundled adapter (`workers/python/genoprot_hf.py`)
    /// run by the site's Python under the command contract.
    Hf => &super::hf::Hf,
}

impl ModelKind {
    /// `esm`, as `kind:` names it.
    pub fn as_str(self) -> String {
        format!("{self:?}").to_lowercase()
    }

    /// The native kinds, in the registry's order.
    pub fn native_kinds() -> impl Iterator<Item = ModelKind> {
        ModelKind::ALL
            .iter()
            .copied()
            .filter(|k| k.spec().native().is_some())
    }

    /// The native kind whose family reads a `config.json` `model_type`.
    pub fn native_of_model_type(mt: Option<&str>) -> Option<ModelKind> {
        Self::native_kinds().find(|k| k.native_family().reads(mt))
    }

    /// A native kind's family (its loader and tokenization).
    ///
    /// # Panics
    /// When the kind is not native (callers hold native kinds only).
    pub fn native_family(self) -> &'static dyn NativeFamily {
        self.spec()
            .native()
            .expect("a native kind has a native family")
    }
}
