//! What every native family shares as a kind: the fields (`weights`,
//! `pooling`, `layer`, windows, `dtype`), the folder checks before any work
//! (its `config.json` names this family, weights and a tokenizer are
//! there), the folder's content hash, and the native embedder. The family's
//! own part — which `model_type` it reads, its loader, its tokenization — is
//! its [`NativeFamily`].

use super::{KindSpec, ModelKind};
use crate::embed::spec::{
    BuildContext, ModelSpec, SpecError, folder_hash, model_depth, read_model_config,
};
use crate::embed::{EmbedError, Embedder, Modality};
use crate::models::ModelError;
use crate::models::family::NativeFamily;
use crate::models::native::{NativeEmbedder, NativeOptions, folder_tokenizer};
use std::path::Path;

/// A native family as a kind: the kind and its family.
pub struct Native(pub ModelKind, pub &'static dyn NativeFamily);

/// `esm for ESM-2 and Nucleotide Transformer; bert for ...`.
fn native_kinds() -> String {
    ModelKind::native_kinds()
        .map(|k| format!("{} for {}", k.as_str(), k.native_family().models()))
        .collect::<Vec<_>>()
        .join("; ")
}

impl KindSpec for Native {
    fn fields(&self) -> &'static [&'static str] {
        &[
            "weights",
            "pooling",
            "layer",
            "layers",
            "max_tokens",
            "window",
            "stride",
            "dtype",
        ]
    }

    fn required(&self) -> &'static [&'static str] {
        &["weights"]
    }

    fn native(&self) -> Option<&'static dyn NativeFamily> {
        Some(self.1)
    }

    /// A family whose fixed vocabulary reads DNA (CaLM's codons) defaults
    /// to `dna`; the others to `protein`.
    fn default_modality(&self) -> Modality {
        match self.1.fixed_tokenizer().and_then(|t| t.alphabet()) {
            Some("dna") => Modality::Dna,
            _ => Modality::Protein,
        }
    }

    fn check_modality(&self, spec: &ModelSpec) -> Result<(), SpecError> {
        if spec.modality() == Modality::Gene && !self.1.multimodal() {
            return Err(SpecError::value(
                "modality",
                format!(
                    "modality: gene embeds a gene's CDS and protein with one multimodal model \
                     (kind: {}); kind: {} reads one modality (hint: set `modality: dna` or \
                     `modality: protein`)",
                    crate::models::native::multimodal_kinds(),
                    self.0.as_str()
                ),
            ));
        }
        Ok(())
    }

    fn preflight(&self, spec: &ModelSpec, base: &Path) -> Result<(), ModelError> {
        let dir = spec.weights_dir(base)?;
        let config = read_model_config(&dir)?;
        let mt = config.get("model_type").and_then(|v| v.as_str());
        let want = self.0;
        match ModelKind::native_of_model_type(mt) {
            _ if self.1.accepts(mt) => {}
            Some(f) if f == want => {}
            Some(f) => {
                return Err(ModelError::file(
                    &dir.join("config.json"),
                    format!(
                        "model_type {:?} runs natively as kind: {}, not kind: {} (set `kind: {}`)",
                        mt.unwrap_or("esm"),
                        f.as_str(),
                        want.as_str(),
                        f.as_str()
                    ),
                ));
            }
            None => {
                return Err(ModelError::file(
                    &dir.join("config.json"),
                    format!(
                        "model_type {:?} does not run natively (native kinds: {}); \
                         `kind: hf` runs any transformers model through the site's Python",
                        mt.unwrap_or_default(),
                        native_kinds()
                    ),
                ));
            }
        }
        if crate::models::weights::weight_files(&dir).is_none() {
            return Err(ModelError::file(
                &dir,
                "no weights: expected model.safetensors, model.safetensors.index.json, \
                 pytorch_model.bin, pytorch_model.bin.index.json, one *.safetensors file or one \
                 *.pth state dict",
            ));
        }
        let tokenizer = ["vocab.txt", "tokenizer.json", "spiece.model"]
            .iter()
            .any(|f| dir.join(f).is_file());
        // A family with a built-in vocabulary (ESM C) or a tokenizer fixed
        // in its authors' code (gLM2, LucaOne) needs no file.
        if !tokenizer && self.1.builtin_vocab().is_none() && self.1.fixed_tokenizer().is_none() {
            let codon_bert = config
                .get("vocab_size")
                .and_then(|v| v.as_u64())
                .is_some_and(|v| v == 69)
                && mt == Some("bert");
            return Err(ModelError::file(
                &dir,
                format!(
                    "no tokenizer: expected vocab.txt, tokenizer.json or spiece.model{}",
                    if codon_bert {
                        " (a CodonBERT release ships none: its tokenizer is built in with \
                         `kind: codonbert`)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        Ok(())
    }

    fn check_folder(&self, spec: &ModelSpec, base: &Path) -> Result<(), SpecError> {
        let Ok(dir) = spec.weights_dir(base) else {
            return Ok(());
        };
        // The layer count, by each family's config key.
        let config = read_model_config(&dir).ok();
        let layers = config.as_ref().and_then(model_depth);
        if let (Some(k), Some(n)) = (spec.layer, layers) {
            let fits = (0..=n).contains(&k) || (k < 0 && n + k + 1 >= 0);
            if !fits {
                return Err(SpecError::value(
                    "layer",
                    format!(
                        "layer {k}: the model has {n} layers (0 = embeddings, {n} or -1 = last)"
                    ),
                ));
            }
        }
        let Ok(tok) = folder_tokenizer(&dir, self.1) else {
            return Ok(());
        };
        let modality = spec.modality();
        if let Some(reads) = tok.alphabet()
            && !self.1.multimodal()
            && matches!(modality, Modality::Dna | Modality::Protein)
            && reads != modality.as_str()
        {
            return Err(SpecError::value(
                "modality",
                format!(
                    "the tokenizer's vocabulary ({}) is a {reads} vocabulary, but the model is \
                     configured with modality: {} (hint: set `modality: {reads}`, or point \
                     `weights` at the right folder)",
                    dir.display(),
                    modality.as_str()
                ),
            ));
        }
        if spec.pooling.as_deref() == Some("cls") && tok.cls().is_none() {
            return Err(SpecError::value(
                "pooling",
                format!(
                    "pooling: cls, but this {} tokenizer puts no CLS token in front (hint: use `pooling: mean`)",
                    self.0.as_str()
                ),
            ));
        }
        Ok(())
    }

    fn weights_hash(&self, spec: &ModelSpec, base: &Path) -> String {
        folder_hash(spec, base)
    }

    fn build(&self, spec: &ModelSpec, ctx: &BuildContext) -> Result<Box<dyn Embedder>, EmbedError> {
        Ok(Box::new(NativeEmbedder::load(
            &spec.name,
            Some(self.0),
            spec.modality(),
            &spec.device(ctx)?,
            &spec
                .weights_dir(&ctx.base_dir)
                .map_err(|source| EmbedError::Load {
                    model: spec.name.clone(),
                    cause: source,
                })?,
            &NativeOptions {
                pooling: spec.pooling.clone().unwrap_or_else(|| "mean".into()),
                layer: spec.layer,
                pass: spec.pass.clone(),
                max_tokens: spec.max_tokens,
                window: spec.window,
                stride: spec.stride,
                dtype: spec.dtype.clone(),
            },
        )?))
    }
}
