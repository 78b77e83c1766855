//! Native models: a Hugging Face folder's family read from `config.json`
//! (`model_type: esm` → [`super::esm`], `bert` → [`super::bert`], `t5` →
//! [`super::t5`], `esmc`, `gLM2`, `lucaone`, `calm`; or the kind the entry
//! names where it accepts the folder: `codonbert`, `encodon`), its
//! tokenizer, and the embedder that runs them. A multimodal family reads
//! DNA, protein, or both (`modality: gene`: the CDS's vector, then the
//! protein's); several layers can come from one pass (`layers:`).
//!
//! Pooling: mean over real tokens (no specials, no padding) or the first
//! (`<cls>` / `[CLS]`) token, of the last layer by default. Sequences longer
//! than the model's window (its position table less the two special
//! tokens; for models with relative positions — ALiBi, T5 buckets, rotary
//! without a table — the token budget) are windowed (shared windowing) and
//! the window means pooled, weighted by window length; CLS vectors are
//! averaged over windows. T5 rows are the residues then `</s>` (ProstT5:
//! `<AA2fold>` first), with the rare residues U, Z, O, B read as X as the
//! ProtTrans documentation does.

use super::ModelError;
use super::encoder::Encoder;
pub use super::family::{Molecule, NativeFamily, check_sizes, rare_residues_as_x};
use super::hf_tokenizer::FolderTokenizer;
use super::weights::Weights;
use crate::embed::kinds::ModelKind;
use crate::embed::{EmbedError, Embedder, Modality, SeqInput};
use burn::tensor::Device;
use ndarray::Array2;
use std::path::Path;

/// The native families are the native kinds: one list, the kind registry.
pub type Family = ModelKind;

/// A native folder's tokenizer: its file (`vocab.txt`, `tokenizer.json`,
/// `spiece.model`), or the family's built-in vocabulary when it has none.
pub fn folder_tokenizer(
    dir: &Path,
    family: &dyn NativeFamily,
) -> Result<FolderTokenizer, ModelError> {
    if let Some(t) = family.fixed_tokenizer() {
        return Ok(FolderTokenizer::Vocab(t));
    }
    match (FolderTokenizer::open(dir), family.builtin_vocab()) {
        (Err(_), Some(vocab)) => Ok(FolderTokenizer::Vocab(
            super::tokenizer::Tokenizer::from_tokens(
                &vocab.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            )?,
        )),
        (t, _) => t,
    }
}

/// The multimodal native kinds, for hints (`glm2, lucaone`).
pub fn multimodal_kinds() -> String {
    ModelKind::native_kinds()
        .filter(|k| k.native_family().multimodal())
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A loaded native model.
pub struct NativeModel {
    /// Its kind (`Family::Esm`, ...: the kind registry is the list of families).
    pub family: Family,
    /// The variant, in words (e.g. "MosaicBERT (DNABERT-2: ALiBi, GeGLU)").
    pub variant: &'static str,
    pub encoder: Encoder,
    pub tokenizer: FolderTokenizer,
    pub weights_hash: String,
}

impl NativeModel {
    /// Loads a model folder. Errors name the file, field or tensor.
    pub fn load(dir: &Path, device: &Device) -> Result<NativeModel, ModelError> {
        Self::load_as(dir, None, device)
    }

    /// Loads a model folder as `kind` where that kind accepts the folder's
    /// `model_type` (CodonBERT's `bert`), else as the family of its
    /// `model_type`.
    pub fn load_as(
        dir: &Path,
        kind: Option<ModelKind>,
        device: &Device,
    ) -> Result<NativeModel, ModelError> {
        let cpath = dir.join("config.json");
        let text = std::fs::read_to_string(&cpath).map_err(|source| ModelError::Read {
            path: cpath.clone(),
            source,
            hint: format!(" (is {} a Hugging Face model folder?)", dir.display()),
        })?;
        let config: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ModelError::file(&cpath, e))?;
        let mt = config.get("model_type").and_then(|v| v.as_str());
        let asked = kind.filter(|k| k.spec().native().is_some_and(|f| f.accepts(mt)));
        let family = asked
            .or_else(|| ModelKind::native_of_model_type(mt))
            .ok_or_else(|| {
                ModelError::file(
                    &cpath,
                    format!(
                        "model_type {:?} has no native implementation (native: {}); \
                 `kind: hf` runs any transformers model through the site's Python",
                        mt.unwrap_or_default(),
                        ModelKind::native_kinds()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
        let imp = family.native_family();
        let tokenizer = folder_tokenizer(dir, imp)?;
        let weights = Weights::open(dir)?;
        let (encoder, variant, weights_hash) = imp.load(&cpath, &config, &weights, device)?;
        Ok(NativeModel {
            family,
            variant,
            encoder,
            tokenizer,
            weights_hash,
        })
    }

    /// Its family's loader and tokenization.
    pub fn native(&self) -> &'static dyn NativeFamily {
        self.family.native_family()
    }

    pub fn layers(&self) -> usize {
        self.encoder.blocks.len()
    }

    /// Tokens per window (without the two special tokens) the position
    /// table allows; `None` when positions set no limit (ALiBi).
    pub fn window(&self) -> Option<usize> {
        self.encoder.max_len.map(|n| n.saturating_sub(2).max(1))
    }

    /// Hidden states of `layer` (None = last) for token rows; [B, L, H] flat.
    pub fn forward(&self, rows: &[Vec<u32>], layer: Option<usize>) -> (Vec<f32>, usize) {
        self.encoder.forward(rows, self.tokenizer.pad(), layer)
    }
}

/// The `esm` and `bert` embedder.
pub struct NativeEmbedder {
    pub name: String,
    pub modality: Modality,
    pub model: NativeModel,
    pub pooling: String,
    /// The layers each forward pass returns (None = last), in column-block
    /// order: one, or a `layers:` entry's pass.
    pub layers: Vec<Option<usize>>,
    pub max_tokens: usize,
    pub stride: Option<usize>,
    pub window: Option<usize>,
    /// Tokens run through the model so far (windows with their special
    /// tokens), for progress.
    pub tokens_run: std::sync::atomic::AtomicUsize,
}

/// What a native embedder is asked for (the model entry's fields).
#[derive(Debug, Clone, Default)]
pub struct NativeOptions {
    pub pooling: String,
    pub layer: Option<i64>,
    /// Several layers from one pass (a `layers:` entry's rows); empty:
    /// `layer` alone.
    pub pass: Vec<i64>,
    pub max_tokens: Option<usize>,
    pub window: Option<usize>,
    pub stride: Option<usize>,
    /// `float32`, `bfloat16`, `float16`: the forward pass's float type on
    /// GPUs (CPUs run float32); embeddings are f32 either way.
    pub dtype: Option<String>,
}

impl NativeOptions {
    /// Mean pooling of the last layer, default budget and windows.
    pub fn mean() -> NativeOptions {
        NativeOptions {
            pooling: "mean".into(),
            ..Default::default()
        }
    }

    pub fn pooling(mut self, p: &str) -> NativeOptions {
        self.pooling = p.into();
        self
    }

    pub fn max_tokens(mut self, n: Option<usize>) -> NativeOptions {
        self.max_tokens = n;
        self
    }

    pub fn layer(mut self, k: Option<i64>) -> NativeOptions {
        self.layer = k;
        self
    }

    pub fn window(mut self, n: Option<usize>) -> NativeOptions {
        self.window = n;
        self
    }
}

impl NativeEmbedder {
    /// Loads `dir` as `kind` (`None`: whatever family the folder holds).
    pub fn load(
        name: &str,
        kind: Option<ModelKind>,
        modality: Modality,
        device: &Device,
        dir: &Path,
        opts: &NativeOptions,
    ) -> Result<Self, EmbedError> {
        let err = |msg: String| EmbedError::Config {
            model: name.into(),
            msg,
        };
        let mut model =
            NativeModel::load_as(dir, kind, device).map_err(|source| EmbedError::Load {
                model: name.into(),
                cause: source,
            })?;
        let half = match opts.dtype.as_deref() {
            None | Some("float32") => None,
            Some("bfloat16") => Some(burn::tensor::FloatDType::BF16),
            Some("float16") => Some(burn::tensor::FloatDType::F16),
            Some(d) => {
                return Err(err(format!(
                    "dtype {d:?}: expected float32, bfloat16 or float16"
                )));
            }
        };
        if let Some(d) = half {
            if crate::device::is_gpu(device) {
                model.encoder.set_dtype(d);
            } else {
                tracing::info!(model = name, dtype = ?d, "dtype applies on GPUs: the CPU runs float32");
            }
        }
        if let Some(k) = kind
            && k != model.family
        {
            return Err(err(ModelError::file(
                dir,
                format!(
                    "the folder holds a {} model ({}), but the entry says kind: {} \
                 (hint: set `kind: {}`)",
                    model.family.as_str(),
                    model.variant,
                    k.as_str(),
                    model.family.as_str()
                ),
            )
            .to_string()));
        }
        if modality == Modality::Gene && !model.native().multimodal() {
            return Err(err(format!(
                "modality: gene needs a multimodal model (kind: {}); this {} model reads one \
                 modality (hint: set `modality: dna` or `modality: protein`)",
                multimodal_kinds(),
                model.family.as_str()
            )));
        }
        if let Some(reads) = model.tokenizer.alphabet()
            && !model.native().multimodal()
            && matches!(modality, Modality::Dna | Modality::Protein)
            && reads != modality.as_str()
        {
            return Err(err(ModelError::file(dir, format!("the tokenizer's vocabulary is a {reads} vocabulary, but the model is configured with \
                 modality: {} (hint: set `modality: {reads}`, or point `weights` at the right folder)", modality.as_str())).to_string()));
        }
        if opts.pooling == "cls" && model.tokenizer.cls().is_none() {
            return Err(err(ModelError::file(
                dir,
                format!(
                    "pooling: cls, but the {} tokenizer puts no CLS token in front \
                 (hint: use `pooling: mean`)",
                    model.variant
                ),
            )
            .to_string()));
        }
        let n = model.layers() as i64;
        let asked: Vec<Option<i64>> = if opts.pass.is_empty() {
            vec![opts.layer]
        } else {
            opts.pass.iter().map(|k| Some(*k)).collect()
        };
        let mut layers = Vec::with_capacity(asked.len());
        for k in asked {
            layers.push(match k {
                None | Some(-1) => None,
                Some(k) if k < 0 && n + k + 1 >= 0 => Some((n + k + 1) as usize),
                Some(k) if (0..n).contains(&k) => Some(k as usize),
                Some(k) if k == n => None,
                Some(k) => {
                    return Err(err(format!(
                        "layer {k}: the model has {n} layers (0 = embeddings, {n} or -1 = last)"
                    )));
                }
            });
        }
        Ok(NativeEmbedder {
            name: name.into(),
            modality,
            model,
            pooling: if opts.pooling.is_empty() {
                "mean".into()
            } else {
                opts.pooling.clone()
            },
            layers,
            // Measured on the flex backend (bench/esm.sh, ESM-2 8M shape, 2 threads):
            // 256-1024 tokens per batch ran 3.2-3.5k tokens/s, 4096 ran 2.1k, 16384 1.1k.
            max_tokens: opts.max_tokens.unwrap_or(1024),
            stride: opts.stride,
            window: opts.window,
            tokens_run: Default::default(),
        })
    }

    /// Tokens per window: the configured `window`, at most what the
    /// positions allow; for models without a limit, the token budget.
    pub fn window(&self) -> usize {
        let limit = self
            .model
            .window()
            .unwrap_or(self.max_tokens.saturating_sub(2).max(1));
        self.window.unwrap_or(limit).min(limit).max(1)
    }
}

impl Embedder for NativeEmbedder {
    fn name(&self) -> &str {
        &self.name
    }
    fn modality(&self) -> Modality {
        self.modality
    }
    fn dim(&self) -> usize {
        self.model.encoder.hidden * molecules(self.modality).len() * self.layers.len()
    }
    fn layers(&self) -> usize {
        self.layers.len()
    }
    fn pooling(&self) -> &str {
        &self.pooling
    }
    fn parts(&self) -> Vec<(String, usize)> {
        let parts = molecules(self.modality);
        if parts.len() < 2 {
            return Vec::new();
        }
        parts
            .iter()
            .map(|m| {
                let name = match m {
                    Molecule::Dna => "dna",
                    Molecule::Protein => "protein",
                };
                (name.to_string(), self.model.encoder.hidden)
            })
            .collect()
    }
    fn weights_hash(&self) -> String {
        self.model.weights_hash.clone()
    }
    fn max_tokens(&self) -> usize {
        self.max_tokens
    }
    /// Batches for every thread several times over (a codon is 3 letters
    /// and one token: ×3 more for DNA).
    fn letters_per_call(&self) -> usize {
        let per_token = if self.modality == Modality::Protein {
            1
        } else {
            3
        };
        self.max_tokens.saturating_mul(4 * per_token * 2)
    }
    fn tokens_run(&self) -> Option<usize> {
        Some(self.tokens_run.load(std::sync::atomic::Ordering::Relaxed))
    }
    fn embed(&self, batch: &[SeqInput<'_>]) -> Result<Array2<f32>, EmbedError> {
        let h = self.model.encoder.hidden;
        let parts = molecules(self.modality);
        let block = h * parts.len();
        let mut out = Array2::<f32>::zeros((batch.len(), block * self.layers.len()));
        for (k, m) in parts.iter().enumerate() {
            let seqs: Vec<&[u8]> = batch
                .iter()
                .map(|s| match m {
                    Molecule::Dna => s.dna,
                    Molecule::Protein => s.protein,
                })
                .collect();
            // Columns: layer by layer, each layer's block its parts in order.
            for (j, pooled) in self.pool(&seqs, *m).iter().enumerate() {
                let at = j * block + k * h;
                out.slice_mut(ndarray::s![.., at..at + h]).assign(pooled);
            }
        }
        Ok(out)
    }
}

/// The molecules a modality reads, in the order their parts are stored
/// (`gene`: the CDS's vector, then the protein's).
pub fn molecules(modality: Modality) -> &'static [Molecule] {
    match modality {
        Modality::Dna => &[Molecule::Dna],
        Modality::Protein => &[Molecule::Protein],
        Modality::Gene => &[Molecule::Dna, Molecule::Protein],
    }
}

impl NativeEmbedder {
    /// One pooled vector per sequence of `molecule` and layer asked, from
    /// one forward pass: windows framed by the tokenizer's specials,
    /// length-bucketed sub-batches within the token budget, mean over real
    /// tokens (window means weighted by their lengths) or the CLS vector
    /// (averaged over windows).
    fn pool(&self, seqs: &[&[u8]], molecule: Molecule) -> Vec<Array2<f32>> {
        let tok = &self.model.tokenizer;
        let native = self.model.native();
        let win = self.window();
        let stride = self.stride.unwrap_or(win);
        // Pieces: (sequence, token row with specials, real-token count).
        let mut pieces: Vec<(usize, Vec<u32>, usize)> = Vec::new();
        for (i, seq) in seqs.iter().enumerate() {
            let ids = tok.encode(&native.input(seq, molecule));
            for r in crate::batching::windows(ids.len(), win, stride) {
                let mut row = Vec::with_capacity(r.len() + 2);
                row.extend(tok.cls());
                row.extend_from_slice(&ids[r.clone()]);
                row.extend(tok.eos());
                pieces.push((i, row, r.len()));
            }
        }
        let h = self.model.encoder.hidden;
        let ty = native.token_type(molecule).unwrap_or(0);
        let nl = self.layers.len();
        let mut out = vec![Array2::<f32>::zeros((seqs.len(), h)); nl];
        let mut weight = vec![0f32; seqs.len()];
        let mut cls_count = vec![0f32; seqs.len()];
        let lens: Vec<usize> = pieces.iter().map(|p| p.1.len()).collect();
        self.tokens_run.fetch_add(
            lens.iter().sum::<usize>(),
            std::sync::atomic::Ordering::Relaxed,
        );
        let enc = &self.model.encoder;
        let forward = |group: &Vec<usize>, threads: usize| {
            let rows: Vec<Vec<u32>> = group.iter().map(|k| pieces[*k].1.clone()).collect();
            let types = vec![ty; rows.len()];
            enc.pass(&rows, &types, tok.pad(), &self.layers, Some(threads))
        };
        // flex: a wave of batches at a time, side by side, each batch's
        // GEMMs on its share of the threads (one each when there are enough
        // batches: no hand-offs inside a layer); another backend: one at a
        // time. Pooled in order.
        let threads = rayon::current_num_threads().max(1);
        let wave = if enc.host_forward() { threads } else { 1 };
        let groups = crate::batching::length_buckets(&lens, self.max_tokens, usize::MAX);
        for groups in groups.chunks(wave) {
            let share = (threads / groups.len()).max(1);
            let done: Vec<(Vec<Vec<f32>>, usize)> = if groups.len() > 1 {
                use rayon::prelude::*;
                groups.par_iter().map(|g| forward(g, share)).collect()
            } else {
                groups.iter().map(|g| forward(g, share)).collect()
            };
            for (group, (states, l)) in groups.iter().zip(done) {
                for (gi, k) in group.iter().enumerate() {
                    let (seq, row, n) = &pieces[*k];
                    let base = gi * l * h;
                    if self.pooling == "cls" {
                        for (o, hs) in out.iter_mut().zip(&states) {
                            for d in 0..h {
                                o[[*seq, d]] += hs[base + d];
                            }
                        }
                        cls_count[*seq] += 1.0;
                    } else {
                        // mean over real tokens: skip specials and padding
                        let real: Vec<usize> = (0..row.len())
                            .filter(|j| !tok.is_special(row[*j]))
                            .collect();
                        let cnt = real.len().max(1) as f32;
                        for (o, hs) in out.iter_mut().zip(&states) {
                            for j in &real {
                                for d in 0..h {
                                    o[[*seq, d]] += hs[base + j * h + d] / cnt * *n as f32;
                                }
                            }
                        }
                        weight[*seq] += *n as f32;
                    }
                }
            }
        }
        for o in &mut out {
            for i in 0..seqs.len() {
                let div = if self.pooling == "cls" {
                    cls_count[i]
                } else {
                    weight[i]
                };
                if div > 0.0 {
                    o.row_mut(i).mapv_inplace(|v| v / div);
                }
            }
        }
        out
    }
}
