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
//! Pooling: mean over real tokens (no specials, no padding) or the `<cls>`
//! token, of the last layer by default. Sequences longer than
//! `max_position_embeddings − pad_token_id − 3` tokens are windowed (shared windowing) and
//! the window means pooled, weighted by window length.

use super::hf_tokenizer::FolderTokenizer;
use super::weights::Weights;
use crate::embed::{EmbedError, Embedder, Modality, SeqInput};
use burn::tensor::activation::{gelu, sigmoid};
use burn::tensor::module::{attention, layer_norm};
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use ndarray::Array2;
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

struct Lin {
    w: Tensor<2>, // [in, out]
    b: Option<Tensor<1>>,
}

impl Lin {
    /// One [rows, in] × [in, out] GEMM over all positions (a 2-D matmul is
    /// a single BLAS call on every backend; a broadcast 3-D one is batched).
    fn fwd<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let mut shape = x.dims();
        let din = shape[D - 1];
        let y = x.reshape([-1, din as i64]).matmul(self.w.clone());
        let y = match &self.b {
            Some(b) => y + b.clone().unsqueeze(),
            None => y,
        };
        shape[D - 1] = self.w.dims()[1];
        y.reshape(shape)
    }
}

struct Norm {
    w: Tensor<1>,
    b: Tensor<1>,
    eps: f64,
}

impl Norm {
    /// The backend's fused layer norm (biased variance over the last axis,
    /// like torch.nn.LayerNorm).
    fn fwd(&self, x: Tensor<3>) -> Tensor<3> {
        layer_norm(x, self.w.clone(), Some(self.b.clone()), self.eps)
    }
}

struct Layer {
    attn_norm: Norm,
    q: Lin,
    k: Lin,
    v: Lin,
    o: Lin,
    ffn_norm: Norm,
    inter: Lin,
    out: Lin,
}

/// A loaded model.
pub struct EsmModel {
    pub config: EsmConfig,
    pub tokenizer: FolderTokenizer,
    word: Tensor<2>,
    pos: Option<Tensor<2>>,
    emb_norm: Option<Norm>,
    layers: Vec<Layer>,
    final_norm: Option<Norm>,
    device: Device,
    pub weights_hash: String,
}

impl EsmModel {
    /// Loads a model folder. Errors name the file or tensor.
    pub fn load(dir: &Path, device: &Device) -> Result<EsmModel, String> {
        let cpath = dir.join("config.json");
        let text = std::fs::read_to_string(&cpath).map_err(|e| {
            format!(
                "{}: {e} (is {} a Hugging Face model folder?)",
                cpath.display(),
                dir.display()
            )
        })?;
        let config: EsmConfig =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", cpath.display()))?;
        if let Some(mt) = &config.model_type
            && mt != "esm"
        {
            return Err(format!(
                "{}: model_type {mt:?} is not an ESM-family model",
                cpath.display()
            ));
        }
        if !["rotary", "absolute"].contains(&config.position_embedding_type.as_str()) {
            return Err(format!(
                "{}: position_embedding_type {:?} is not supported (rotary or absolute)",
                cpath.display(),
                config.position_embedding_type
            ));
        }
        if config.add_bias_fnn && config.hidden_act != "gelu" {
            return Err(format!(
                "{}: hidden_act {:?} is not supported (gelu; or add_bias_fnn: false for the gated variant)",
                cpath.display(),
                config.hidden_act
            ));
        }
        for (key, v) in [
            ("vocab_size", config.vocab_size),
            ("hidden_size", config.hidden_size),
            ("num_hidden_layers", config.num_hidden_layers),
            ("num_attention_heads", config.num_attention_heads),
            ("intermediate_size", config.intermediate_size),
        ] {
            if v == 0 {
                return Err(format!("{}: {key} = 0: must be >= 1", cpath.display()));
            }
        }
        if config.pad_token_id as usize >= config.vocab_size {
            return Err(format!(
                "{}: pad_token_id = {} is outside the vocabulary (vocab_size = {})",
                cpath.display(),
                config.pad_token_id,
                config.vocab_size
            ));
        }
        // Positions start after pad_token_id; <cls> and <eos> take two: at
        // least one residue must fit in a window.
        let min_pos = config.pad_token_id as usize + 4;
        if config.max_position_embeddings < min_pos {
            return Err(format!(
                "{}: max_position_embeddings = {} leaves no room for a residue \
                 (needs >= pad_token_id + 4 = {min_pos})",
                cpath.display(),
                config.max_position_embeddings
            ));
        }
        if !(config.layer_norm_eps > 0.0 && config.layer_norm_eps.is_finite()) {
            return Err(format!(
                "{}: layer_norm_eps = {}: must be > 0",
                cpath.display(),
                config.layer_norm_eps
            ));
        }
        if !config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
        {
            return Err(format!(
                "{}: hidden_size is not a multiple of num_attention_heads",
                cpath.display()
            ));
        }
        let tokenizer = FolderTokenizer::open(dir)?;
        let w = Weights::open(dir)?;
        let (h, i, eps) = (
            config.hidden_size,
            config.intermediate_size,
            config.layer_norm_eps,
        );
        // The weights hash covers the tensors as loaded (name and values), so
        // the same model saved as safetensors or .bin, whole or sharded,
        // hashes (and embeds) identically.
        let hasher = std::cell::RefCell::new(<sha2::Sha256 as sha2::Digest>::new());
        let load = |name: &str, shape: &[usize]| -> Result<Vec<f32>, String> {
            let v = w.get(name, shape)?;
            let mut hs = hasher.borrow_mut();
            // LayerNorm `gamma`/`beta` (older exports) are `weight`/`bias`.
            let canonical = name.replace(".gamma", ".weight").replace(".beta", ".bias");
            sha2::Digest::update(&mut *hs, canonical.as_bytes());
            for x in &v {
                sha2::Digest::update(&mut *hs, x.to_le_bytes());
            }
            Ok(v)
        };
        let t2 = |name: &str, r: usize, c: usize| -> Result<Tensor<2>, String> {
            Ok(Tensor::from_data(
                TensorData::new(load(name, &[r, c])?, [r, c]),
                device,
            ))
        };
        let t1 = |name: &str, n: usize| -> Result<Tensor<1>, String> {
            Ok(Tensor::from_data(
                TensorData::new(load(name, &[n])?, [n]),
                device,
            ))
        };
        // PyTorch Linear weights are [out, in]; burn multiplies by [in, out].
        let lin = |p: &str, din: usize, dout: usize, bias: bool| -> Result<Lin, String> {
            Ok(Lin {
                w: t2(&format!("{p}.weight"), dout, din)?.transpose(),
                b: if bias {
                    Some(t1(&format!("{p}.bias"), dout)?)
                } else {
                    None
                },
            })
        };
        // LayerNorm parameters are `weight`/`bias` in HF checkpoints, `gamma`/`beta` in some exports.
        let norm = |p: &str| -> Result<Norm, String> {
            Ok(Norm {
                w: t1(&format!("{p}.weight"), h).or_else(|e| {
                    t1(&format!("{p}.gamma"), h)
                        .map_err(|e2| if e2.contains("missing") { e } else { e2 })
                })?,
                b: t1(&format!("{p}.bias"), h).or_else(|e| {
                    t1(&format!("{p}.beta"), h)
                        .map_err(|e2| if e2.contains("missing") { e } else { e2 })
                })?,
                eps,
            })
        };
        let mut layers = Vec::new();
        for l in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            let glu = !config.add_bias_fnn;
            layers.push(Layer {
                attn_norm: norm(&format!("{p}.attention.LayerNorm"))?,
                q: lin(&format!("{p}.attention.self.query"), h, h, true)?,
                k: lin(&format!("{p}.attention.self.key"), h, h, true)?,
                v: lin(&format!("{p}.attention.self.value"), h, h, true)?,
                o: lin(&format!("{p}.attention.output.dense"), h, h, true)?,
                ffn_norm: norm(&format!("{p}.LayerNorm"))?,
                inter: lin(
                    &format!("{p}.intermediate.dense"),
                    h,
                    if glu { 2 * i } else { i },
                    !glu,
                )?,
                out: lin(&format!("{p}.output.dense"), i, h, !glu)?,
            });
        }
        let pos = if config.position_embedding_type == "absolute" {
            Some(t2(
                "embeddings.position_embeddings.weight",
                config.max_position_embeddings,
                h,
            )?)
        } else {
            None
        };
        let emb_norm = if config.emb_layer_norm_before == Some(true) {
            Some(norm("embeddings.layer_norm")?)
        } else {
            None
        };
        let final_norm = norm("encoder.emb_layer_norm_after").ok();
        let word = t2("embeddings.word_embeddings.weight", config.vocab_size, h)?;
        let weights_hash = hex::encode(sha2::Digest::finalize(hasher.into_inner()));
        Ok(EsmModel {
            word,
            pos,
            emb_norm,
            layers,
            final_norm,
            device: device.clone(),
            weights_hash,
            tokenizer,
            config,
        })
    }

    /// Tokens per window (without `<cls>`/`<eos>`): positions start at
    /// `pad_token_id + 1`, as in HF (ESM-1b/ESM-2 checkpoints: 1026 → 1022 residues).
    pub fn window(&self) -> usize {
        self.config
            .max_position_embeddings
            .saturating_sub(self.config.pad_token_id as usize + 1 + 2)
            .max(1)
    }

    /// Hidden states of `layer` (None = last, with the final norm) for padded
    /// token rows; returns [B, L, H] as a flat vector.
    pub fn forward(&self, rows: &[Vec<u32>], layer: Option<usize>) -> (Vec<f32>, usize) {
        let c = &self.config;
        let (b, l, h) = (
            rows.len(),
            rows.iter().map(Vec::len).max().unwrap_or(1),
            c.hidden_size,
        );
        let nh = c.num_attention_heads;
        let hd = h / nh;
        let pad = self.tokenizer.pad();
        let mut ids = Vec::with_capacity(b * l);
        let mut mask = Vec::with_capacity(b * l);
        let mut pos = Vec::with_capacity(b * l);
        let mut scale = Vec::with_capacity(b * l);
        for r in rows {
            let real = r.len() as f32;
            let masked = r.iter().filter(|t| Some(**t) == c.mask_token_id).count() as f32;
            let s = if c.token_dropout {
                (1.0 - 0.15 * 0.8) / (1.0 - masked / real.max(1.0))
            } else {
                1.0
            };
            for j in 0..l {
                let t = r.get(j).copied().unwrap_or(pad);
                let m = (j < r.len()) as u8 as f32;
                ids.push(t as i64);
                mask.push(m);
                pos.push(if m > 0.0 {
                    (j as u32 + pad + 1) as i64
                } else {
                    pad as i64
                });
                let zero = c.token_dropout && Some(t) == c.mask_token_id;
                scale.push(if zero { 0.0 } else { s * m });
            }
        }
        let dev = &self.device;
        let idt = Tensor::<1, Int>::from_data(TensorData::new(ids, [b * l]), dev);
        let mut x: Tensor<3> = self.word.clone().select(0, idt).reshape([b, l, h]);
        if let Some(p) = &self.pos {
            let pt = Tensor::<1, Int>::from_data(TensorData::new(pos, [b * l]), dev);
            x = x + p.clone().select(0, pt).reshape([b, l, h]);
        }
        let scalet = Tensor::<2>::from_data(TensorData::new(scale, [b, l]), dev);
        if let Some(n) = &self.emb_norm {
            x = n.fwd(x);
        }
        // HF: token-dropout scale on word embeddings, then absolute positions, then the padding mask.
        // With positions present token dropout is off in practice; both orders agree then.
        x = x * scalet.unsqueeze_dim::<3>(2);
        // Padding keys are masked (`true` = not attended); one [l, l] block
        // per sequence, shared by the heads: the fused attention kernels
        // (flex's own, LibTorch's scaled_dot_product_attention) take it as is.
        let mut pad = vec![false; b * l * l];
        for (r, row) in pad.chunks_mut(l * l).enumerate() {
            for (j, m) in mask[r * l..(r + 1) * l].iter().enumerate() {
                if *m <= 0.0 {
                    row.iter_mut().skip(j).step_by(l).for_each(|v| *v = true);
                }
            }
        }
        let mut padt = Tensor::<4, Bool>::from_data(TensorData::new(pad, [b, 1, l, l]), dev);
        if crate::device::is_libtorch(dev) {
            // burn-tch 0.22.1 hands the mask to torch's
            // scaled_dot_product_attention unchanged, where `true` means
            // "attend": invert it there (the fixture tests pin both backends).
            padt = padt.bool_not();
        }
        let (cos, sin) = if c.position_embedding_type == "rotary" {
            let half = hd / 2;
            let mut cs = Vec::with_capacity(l * hd);
            let mut sn = Vec::with_capacity(l * hd);
            for p in 0..l {
                for k in 0..hd {
                    let i = k % half;
                    let inv = 1.0 / 10000f64.powf((2 * i) as f64 / hd as f64);
                    let a = p as f64 * inv;
                    cs.push(a.cos() as f32);
                    sn.push(a.sin() as f32);
                }
            }
            (
                Some(
                    Tensor::<2>::from_data(TensorData::new(cs, [l, hd]), dev)
                        .reshape([1, 1, l, hd]),
                ),
                Some(
                    Tensor::<2>::from_data(TensorData::new(sn, [l, hd]), dev)
                        .reshape([1, 1, l, hd]),
                ),
            )
        } else {
            (None, None)
        };
        let rotate = |t: Tensor<4>| -> Tensor<4> {
            let (Some(cs), Some(sn)) = (&cos, &sin) else {
                return t;
            };
            let half = hd / 2;
            let x1 = t.clone().narrow(3, 0, half);
            let x2 = t.clone().narrow(3, half, half);
            let rot = Tensor::cat(vec![x2.neg(), x1], 3);
            t * cs.clone() + rot * sn.clone()
        };
        let stop = layer.unwrap_or(self.layers.len()).min(self.layers.len());
        for ly in &self.layers[..stop] {
            let hn = ly.attn_norm.fwd(x.clone());
            let split = |t: Tensor<3>| -> Tensor<4> { t.reshape([b, l, nh, hd]).swap_dims(1, 2) };
            let q = rotate(split(ly.q.fwd(hn.clone())).mul_scalar((hd as f64).powf(-0.5)));
            let k = rotate(split(ly.k.fwd(hn.clone())));
            let v = split(ly.v.fwd(hn));
            // softmax(q·kᵀ + bias)·v in the backend's fused kernel (q is
            // already scaled, as in HF, before the rotation).
            let ctx = attention(
                q,
                k,
                v,
                Some(padt.clone()),
                None,
                AttentionModuleOptions {
                    scale: Some(1.0),
                    ..Default::default()
                },
            )
            .swap_dims(1, 2)
            .reshape([b, l, h]);
            let attn = ly.o.fwd(ctx) + x;
            let hn2 = ly.ffn_norm.fwd(attn.clone());
            let y = ly.inter.fwd(hn2);
            let act = if c.add_bias_fnn {
                gelu(y)
            } else {
                swiglu(y, c.intermediate_size)
            };
            x = ly.out.fwd(act) + attn;
        }
        if layer.is_none()
            && let Some(n) = &self.final_norm
        {
            x = n.fwd(x);
        }
        (x.into_data().try_to_vec::<f32>().expect("f32"), l)
    }
}

/// Nucleotide Transformer v2's gate: the intermediate projection (2·i wide)
/// splits into a and g; SiLU(a) ⊙ g.
fn swiglu(y: Tensor<3>, i: usize) -> Tensor<3> {
    let a = y.clone().narrow(2, 0, i);
    let g = y.narrow(2, i, i);
    a.clone() * sigmoid(a) * g
}

/// The gated, bias-free feed-forward block on its own (weights in PyTorch
/// [out, in] layout), for checking against a PyTorch reference.
pub fn gated_feed_forward(
    x: Vec<f32>,
    shape: [usize; 3],
    w_in: Vec<f32>,
    w_out: Vec<f32>,
    intermediate: usize,
) -> Vec<f32> {
    let dev = crate::device::cpu();
    let h = shape[2];
    let lin_in = Lin {
        w: Tensor::<2>::from_data(TensorData::new(w_in, [2 * intermediate, h]), &dev).transpose(),
        b: None,
    };
    let lin_out = Lin {
        w: Tensor::<2>::from_data(TensorData::new(w_out, [h, intermediate]), &dev).transpose(),
        b: None,
    };
    let xt = Tensor::<3>::from_data(TensorData::new(x, shape), &dev);
    lin_out
        .fwd(swiglu(lin_in.fwd(xt), intermediate))
        .into_data()
        .try_to_vec::<f32>()
        .expect("f32")
}

/// The `esm` embedder.
pub struct EsmEmbedder {
    pub name: String,
    pub modality: Modality,
    pub model: EsmModel,
    pub pooling: String,
    pub layer: Option<usize>,
    pub max_tokens: usize,
    pub stride: Option<usize>,
    pub window: Option<usize>,
}

impl EsmEmbedder {
    #[allow(clippy::too_many_arguments)]
    pub fn load(
        name: &str,
        modality: Modality,
        device: &Device,
        dir: &Path,
        pooling: &str,
        layer: Option<i64>,
        max_tokens: Option<usize>,
        window: Option<usize>,
        stride: Option<usize>,
    ) -> Result<Self, EmbedError> {
        let err = |msg: String| EmbedError::Config {
            model: name.into(),
            msg,
        };
        let model = EsmModel::load(dir, device).map_err(err)?;
        if let Some(reads) = model.tokenizer.alphabet()
            && matches!(modality, Modality::Dna | Modality::Protein)
            && reads != modality.as_str()
        {
            return Err(err(format!(
                "{}: the tokenizer's vocabulary is a {reads} vocabulary, but the model is configured with \
                 modality: {} (hint: set `modality: {reads}`, or point `weights` at the right folder)",
                dir.display(),
                modality.as_str()
            )));
        }
        let n = model.config.num_hidden_layers as i64;
        let layer = match layer {
            None | Some(-1) => None,
            Some(k) if k < 0 && n + k + 1 >= 0 => Some((n + k + 1) as usize),
            Some(k) if k >= 0 && k <= n => {
                if k == n {
                    None
                } else {
                    Some(k as usize)
                }
            }
            Some(k) => {
                return Err(err(format!(
                    "layer {k}: the model has {n} layers (0 = embeddings, {n} or -1 = last)"
                )));
            }
        };
        Ok(EsmEmbedder {
            name: name.into(),
            modality,
            model,
            pooling: pooling.into(),
            layer,
            // Measured on the flex backend (bench/esm.sh, ESM-2 8M shape, 2 threads):
            // 256-1024 tokens per batch ran 3.2-3.5k tokens/s, 4096 ran 2.1k, 16384 1.1k.
            max_tokens: max_tokens.unwrap_or(1024),
            stride,
            window,
        })
    }
}

impl Embedder for EsmEmbedder {
    fn name(&self) -> &str {
        &self.name
    }
    fn modality(&self) -> Modality {
        self.modality
    }
    fn dim(&self) -> usize {
        self.model.config.hidden_size
    }
    fn pooling(&self) -> &str {
        &self.pooling
    }
    fn weights_hash(&self) -> String {
        self.model.weights_hash.clone()
    }
    fn max_tokens(&self) -> usize {
        self.max_tokens
    }
    fn embed(&self, batch: &[SeqInput<'_>]) -> Result<Array2<f32>, EmbedError> {
        let tok = &self.model.tokenizer;
        let win = self
            .window
            .unwrap_or(self.model.window())
            .min(self.model.window());
        let stride = self.stride.unwrap_or(win);
        // Pieces: (sequence, token row with specials, real-token count).
        let mut pieces: Vec<(usize, Vec<u32>, usize)> = Vec::new();
        for (i, s) in batch.iter().enumerate() {
            let ids = tok.encode(s.seq(self.modality));
            for r in crate::batching::windows(ids.len(), win, stride) {
                let mut row = Vec::with_capacity(r.len() + 2);
                row.extend(tok.cls());
                row.extend_from_slice(&ids[r.clone()]);
                row.extend(tok.eos());
                pieces.push((i, row, r.len()));
            }
        }
        let h = self.dim();
        let mut out = Array2::<f32>::zeros((batch.len(), h));
        let mut weight = vec![0f32; batch.len()];
        let mut cls_count = vec![0f32; batch.len()];
        // Length-bucketed sub-batches within the token budget.
        let lens: Vec<usize> = pieces.iter().map(|p| p.1.len()).collect();
        for group in crate::batching::length_buckets(&lens, self.max_tokens, usize::MAX) {
            let rows: Vec<Vec<u32>> = group.iter().map(|k| pieces[*k].1.clone()).collect();
            let (hs, l) = self.model.forward(&rows, self.layer);
            for (gi, k) in group.iter().enumerate() {
                let (seq, row, n) = &pieces[*k];
                let base = gi * l * h;
                if self.pooling == "cls" {
                    for d in 0..h {
                        out[[*seq, d]] += hs[base + d];
                    }
                    cls_count[*seq] += 1.0;
                } else {
                    // mean over real tokens: skip specials and padding
                    let real: Vec<usize> = (0..row.len())
                        .filter(|j| !tok.is_special(row[*j]))
                        .collect();
                    let cnt = real.len().max(1) as f32;
                    for j in &real {
                        for d in 0..h {
                            out[[*seq, d]] += hs[base + j * h + d] / cnt * *n as f32;
                        }
                    }
                    weight[*seq] += *n as f32;
                }
            }
        }
        for i in 0..batch.len() {
            let div = if self.pooling == "cls" {
                cls_count[i]
            } else {
                weight[i]
            };
            if div > 0.0 {
                out.row_mut(i).mapv_inplace(|v| v / div);
            }
        }
        Ok(out)
    }
}
