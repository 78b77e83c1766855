//! The transformer encoder every native family is a configuration of:
//!
//! * embeddings: word rows, plus a learned absolute position table (position
//!   ids from a family-specific offset), plus token type 0's row (BERT), an
//!   optional LayerNorm, and ESM-2's token-dropout rescaling;
//! * positions in attention: rotary on queries and keys, or an additive
//!   per-head bias (ALiBi: −slope·|i − j|), or none;
//! * blocks, pre-LN (`x + f(norm(x))`) or post-LN (`norm(x + f(x))`):
//!   self-attention with a padding mask (separate or fused Q/K/V
//!   projections), then a feed-forward that is plain (`act(W₁x)`) or gated
//!   (`act(a) ⊙ g` of the two halves of W₁x: GeGLU, SwiGLU), with or without
//!   biases;
//! * an optional final LayerNorm.
//!
//! Its layers are in `layers.rs`; [`Loader`] (`loader.rs`) reads the tensors from a [`super::weights::Weights`]
//! folder and hashes them as loaded. Blocks run as burn ops (LibTorch, half
//! precision) or, on flex, on the host over one buffer (`host_block.rs`).

pub use super::layers::{Activation, FeedForward, Lin, Norm, gated_feed_forward};
use super::positions::rotary_tables;
pub use super::positions::{Positions, alibi_slopes, t5_bucket};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, FloatDType, Int, Tensor, TensorData};

/// Where a block normalizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormPlace {
    /// `x + f(norm(x))`.
    Pre,
    /// `norm(x + f(x))`.
    Post,
}

/// One encoder block.
pub struct Block {
    pub attn_norm: Norm,
    /// Query, key and value projections as one `[h, 3·inner]` layer, columns
    /// q | k | v (MosaicBERT's `Wqkv`; the others' three are joined at load):
    /// one GEMM per block instead of three.
    pub qkv: Lin,
    /// LayerNorms of the queries and keys (over all heads, before the
    /// rotation; ESM C).
    pub qk_norm: Option<(Norm, Norm)>,
    /// A LayerNorm of the attention's context before the output projection
    /// (EnCodon's sandwich norm: `x + o(norm(attn(norm x)))`).
    pub ctx_norm: Option<Norm>,
    pub o: Lin,
    pub ffn_norm: Norm,
    pub inter: Lin,
    /// A LayerNorm over the feed-forward's inner width, after the
    /// activation (EnCodon: `x + out(norm(act(inter(norm x))))`).
    pub inner_norm: Option<Norm>,
    pub out: Lin,
}

/// A loaded encoder.
pub struct Encoder {
    pub hidden: usize,
    pub heads: usize,
    /// Per-head size (hidden / heads, except T5's `d_kv`).
    pub head_dim: usize,
    /// Scores are `scale · q·k` (1/√head_dim; T5: 1).
    pub attn_scale: f64,
    /// Residual branches are divided by this (ESM C: √(layers / 36)).
    pub residual_scale: f64,
    pub intermediate: usize,
    pub word: Tensor<2>,
    /// The token-type table `[types, hidden]`: each row's type (0 unless
    /// given: BERT's segment 0; LucaOne's 0 = nucleotides, 1 = protein)
    /// is added to every token of the row.
    pub token_type: Option<Tensor<2>>,
    pub positions: Positions,
    /// The most tokens a row may hold, specials included (`None`: no limit,
    /// as with ALiBi).
    pub max_len: Option<usize>,
    pub emb_norm: Option<Norm>,
    pub blocks: Vec<Block>,
    pub final_norm: Option<Norm>,
    pub norm_place: NormPlace,
    pub ffn: FeedForward,
    /// ESM-2's token dropout: the `<mask>` id whose rows are zeroed, and the
    /// rescaling by (1 − 0.15·0.8) / (1 − observed mask ratio).
    pub token_dropout: Option<Option<u32>>,
    /// The forward pass's float type when not f32 ([`Encoder::set_dtype`]).
    pub dtype: Option<FloatDType>,
    pub device: Device,
}

/// `t` in `dtype` (unchanged when `None`).
fn as_dtype<const D: usize>(t: Tensor<D>, dtype: Option<FloatDType>) -> Tensor<D> {
    match dtype {
        Some(d) => t.cast(d),
        None => t,
    }
}

/// What every block's attention needs in one forward pass.
struct AttnInputs {
    /// flex: attention by the host kernels (`models::attention`).
    host: bool,
    lens: Vec<usize>,
    shape: super::attention::Shape,
    host_bias: Option<Vec<f32>>,
    padt: Option<Tensor<4, Bool>>,
    bias: Option<Tensor<4>>,
    rotary: Option<(Vec<f32>, Vec<f32>)>,
    cos: Option<Tensor<4>>,
    sin: Option<Tensor<4>>,
}

impl Encoder {
    /// A pre-LN encoder of `blocks` over `word` rows (`[vocab, hidden]`,
    /// `heads` of hidden / heads, scores scaled by 1/√head_dim), with rotary
    /// positions, no length limit, no token types, no embedding or final norm
    /// and a plain GELU feed-forward of width `intermediate`: the common case,
    /// which a family changes field by field (`Encoder { … ..Encoder::pre_ln(…) }`).
    pub fn pre_ln(
        word: Tensor<2>,
        blocks: Vec<Block>,
        heads: usize,
        intermediate: usize,
        device: &Device,
    ) -> Encoder {
        let hidden = word.dims()[1];
        let head_dim = hidden / heads.max(1);
        Encoder {
            hidden,
            heads,
            head_dim,
            attn_scale: (head_dim as f64).powf(-0.5),
            residual_scale: 1.0,
            intermediate,
            word,
            token_type: None,
            positions: Positions::Rotary,
            max_len: None,
            emb_norm: None,
            blocks,
            final_norm: None,
            norm_place: NormPlace::Pre,
            ffn: FeedForward::Plain(Activation::Gelu),
            token_dropout: None,
            dtype: None,
            device: device.clone(),
        }
    }

    /// Runs the forward pass in `dtype` (bfloat16, float16 on GPUs): every
    /// weight is cast once, inputs and biases follow, hidden states are
    /// returned as f32.
    pub fn set_dtype(&mut self, dtype: FloatDType) {
        let d = dtype;
        self.word = self.word.clone().cast(d);
        self.token_type = self.token_type.take().map(|t| t.cast(d));
        if let Positions::Learned { table, .. }
        | Positions::RotaryFreqs {
            learned: Some((table, _)),
            ..
        } = &mut self.positions
        {
            *table = table.clone().cast(d);
        }
        for n in self.emb_norm.iter_mut().chain(self.final_norm.iter_mut()) {
            n.cast(d);
        }
        for b in &mut self.blocks {
            b.attn_norm.cast(d);
            b.ffn_norm.cast(d);
            b.qkv.cast(d);
            if let Some((qn, kn)) = &mut b.qk_norm {
                qn.cast(d);
                kn.cast(d);
            }
            for n in b.ctx_norm.iter_mut().chain(b.inner_norm.iter_mut()) {
                n.cast(d);
            }
            b.o.cast(d);
            b.inter.cast(d);
            b.out.cast(d);
        }
        self.dtype = Some(d);
    }

    /// Hidden states after `layer` blocks (None = all, with the final norm)
    /// for token rows padded with `pad`; returns [B, L, H] flat, and L.
    pub fn forward(&self, rows: &[Vec<u32>], pad: u32, layer: Option<usize>) -> (Vec<f32>, usize) {
        let (mut states, l) = self.forward_layers(rows, &[], pad, &[layer]);
        (states.swap_remove(0), l)
    }

    /// The hidden states of each of `layers` (as in [`Encoder::forward`])
    /// from one pass, in the order asked; `types` holds each row's token
    /// type (empty: type 0 for every row).
    pub fn forward_layers(
        &self,
        rows: &[Vec<u32>],
        types: &[u32],
        pad: u32,
        layers: &[Option<usize>],
    ) -> (Vec<Vec<f32>>, usize) {
        self.pass(rows, types, pad, layers, Some(rayon::current_num_threads()))
    }

    /// [`Encoder::forward_layers`]; `host`: on flex, the blocks run on the
    /// host ([`super::host_block`]), each GEMM on at most that many threads,
    /// rather than as burn ops (`None`; other backends always do).
    pub(super) fn pass(
        &self,
        rows: &[Vec<u32>],
        types: &[u32],
        pad: u32,
        layers: &[Option<usize>],
        host: Option<usize>,
    ) -> (Vec<Vec<f32>>, usize) {
        let (b, l) = (
            rows.len(),
            rows.iter().map(Vec::len).max().unwrap_or(1).max(1),
        );
        let n = self.blocks.len();
        // Each request as a block count: n + 1 = after the final norm.
        let stops: Vec<usize> = layers
            .iter()
            .map(|k| match k {
                Some(k) if *k < n => *k,
                _ => n + 1,
            })
            .collect();
        let deepest = stops.iter().copied().max().unwrap_or(n + 1).min(n);
        let (ids, mask, scale) = self.token_inputs(rows, pad, l);
        let mut x = self.embed(ids, types, scale, b, l);
        let a = self.attention_inputs(rows, &mask, b, l);
        let mut out: Vec<Option<Vec<f32>>> = vec![None; stops.len()];
        // The states after `at` blocks to each stop that asked for them
        // (copied only for a layer asked twice; the last asker takes them).
        let put = |v: Vec<f32>, at: usize, out: &mut Vec<Option<Vec<f32>>>| {
            let askers: Vec<usize> = (0..stops.len()).filter(|j| stops[*j] == at).collect();
            if let Some((last, rest)) = askers.split_last() {
                for j in rest {
                    out[*j] = Some(v.clone());
                }
                out[*last] = Some(v);
            }
        };
        let views = if host.is_some() && a.host {
            self.host_views()
        } else {
            None
        };
        if let Some((blocks, final_norm)) = views {
            let (gated, act) = match self.ffn {
                FeedForward::Plain(a) => (false, a),
                FeedForward::Gated(a) => (true, a),
            };
            let pass = super::host_block::Pass {
                pre: self.norm_place == NormPlace::Pre,
                activation: act.kernel(),
                gated,
                intermediate: self.intermediate,
                gemm_threads: host.unwrap_or(1),
                residual_scale: self.residual_scale as f32,
                attn_scale: self.attn_scale as f32,
                shape: a.shape,
                lens: &a.lens,
                bias: a.host_bias.as_deref(),
                rotary: a.rotary.as_ref(),
            };
            let mut h = x.into_data().try_into_vec::<f32>().expect("f32");
            for (k, blk) in blocks[..deepest].iter().enumerate() {
                if stops.contains(&k) {
                    put(h.clone(), k, &mut out);
                }
                blk.forward(&mut h, &pass);
            }
            if stops.contains(&deepest) && deepest < n {
                put(h.clone(), deepest, &mut out);
            }
            if stops.contains(&(n + 1)) {
                if let Some(norm) = final_norm {
                    norm.apply(&mut h, self.hidden, 0..self.hidden);
                }
                put(h, n + 1, &mut out);
            }
        } else {
            let take = |x: &Tensor<3>, at: usize, out: &mut Vec<Option<Vec<f32>>>| {
                if !stops.contains(&at) {
                    return;
                }
                let t = if self.dtype.is_some() {
                    x.clone().cast(FloatDType::F32)
                } else {
                    x.clone()
                };
                put(t.into_data().try_into_vec::<f32>().expect("f32"), at, out);
            };
            take(&x, 0, &mut out);
            for (k, blk) in self.blocks[..deepest].iter().enumerate() {
                x = self.block(blk, x, &a);
                if k + 1 < n {
                    take(&x, k + 1, &mut out);
                }
            }
            if stops.contains(&(n + 1)) {
                if let Some(norm) = &self.final_norm {
                    x = norm.fwd(x);
                }
                take(&x, n + 1, &mut out);
            }
        }
        (
            out.into_iter()
                .map(|o| o.expect("every stop taken"))
                .collect(),
            l,
        )
    }

    /// Whether forward passes run on the host (flex, f32): callers may then
    /// run several at once, one per thread.
    pub fn host_forward(&self) -> bool {
        crate::device::is_flex(&self.device) && self.dtype.is_none()
    }

    /// Every block's weights and the final norm's, in place, when all of
    /// them can be read so (f32 on flex).
    pub(super) fn host_views(
        &self,
    ) -> Option<(
        Vec<super::host_block::BlockView>,
        Option<super::host_block::NormView>,
    )> {
        let blocks = self
            .blocks
            .iter()
            .map(|b| {
                let qk_norm = match &b.qk_norm {
                    Some((q, k)) => Some((q.view()?, k.view()?)),
                    None => None,
                };
                let opt = |n: &Option<Norm>| match n {
                    Some(n) => n.view().map(Some),
                    None => Some(None),
                };
                let v = super::host_block::BlockView {
                    attn_norm: b.attn_norm.view()?,
                    qkv: b.qkv.view()?,
                    qk_norm,
                    ctx_norm: opt(&b.ctx_norm)?,
                    o: b.o.view()?,
                    ffn_norm: b.ffn_norm.view()?,
                    inter: b.inter.view()?,
                    inner_norm: opt(&b.inner_norm)?,
                    out: b.out.view()?,
                };
                v.usable().then_some(v)
            })
            .collect::<Option<Vec<_>>>()?;
        let final_norm = match &self.final_norm {
            Some(n) => Some(n.view().filter(|v| v.usable())?),
            None => None,
        };
        Some((blocks, final_norm))
    }

    /// Token ids padded to `l`, the padding mask, and each token's
    /// embedding scale (ESM's token dropout; 0 for padding).
    fn token_inputs(
        &self,
        rows: &[Vec<u32>],
        pad: u32,
        l: usize,
    ) -> (Vec<i64>, Vec<bool>, Vec<f32>) {
        let b = rows.len();
        let mut ids = Vec::with_capacity(b * l);
        let mut mask = Vec::with_capacity(b * l);
        let mut scale = Vec::with_capacity(b * l);
        for r in rows {
            let real = r.len() as f32;
            let s = match self.token_dropout {
                Some(mask_id) => {
                    let masked = r.iter().filter(|t| Some(**t) == mask_id).count() as f32;
                    (1.0 - 0.15 * 0.8) / (1.0 - masked / real.max(1.0))
                }
                None => 1.0,
            };
            for j in 0..l {
                let t = r.get(j).copied().unwrap_or(pad);
                let m = j < r.len();
                ids.push(t as i64);
                mask.push(m);
                let zero = matches!(self.token_dropout, Some(Some(id)) if id == t);
                scale.push(if zero || !m { 0.0 } else { s });
            }
        }
        (ids, mask, scale)
    }

    /// The embeddings of the tokens: word rows, each row's token type,
    /// learned positions, the embedding norm, then the scale.
    fn embed(
        &self,
        ids: Vec<i64>,
        types: &[u32],
        scale: Vec<f32>,
        b: usize,
        l: usize,
    ) -> Tensor<3> {
        let h = self.hidden;
        let dev = &self.device;
        let idt = Tensor::<1, Int>::from_data(TensorData::new(ids, [b * l]), dev);
        let mut x: Tensor<3> = self.word.clone().select(0, idt).reshape([b, l, h]);
        if let Some(tt) = &self.token_type {
            let ty: Vec<i64> = (0..b)
                .map(|r| types.get(r).copied().unwrap_or(0) as i64)
                .collect();
            let tyt = Tensor::<1, Int>::from_data(TensorData::new(ty, [b]), dev);
            x = x + tt.clone().select(0, tyt).reshape([b, 1, h]);
        }
        if let Positions::Learned { table, offset }
        | Positions::RotaryFreqs {
            learned: Some((table, offset)),
            ..
        } = &self.positions
        {
            // Padding takes the row of the last real position: it is masked
            // out everywhere, so any row does.
            let pos: Vec<i64> = (0..b * l).map(|k| (offset + k % l) as i64).collect();
            let pt = Tensor::<1, Int>::from_data(TensorData::new(pos, [b * l]), dev);
            x = x + table.clone().select(0, pt).reshape([b, l, h]);
        }
        if let Some(n) = &self.emb_norm {
            x = n.fwd(x);
        }
        // ESM: the token-dropout scale (with positions present it is off in
        // practice, so the order against them does not matter); every
        // family: padding rows zeroed.
        let scalet = as_dtype(
            Tensor::<2>::from_data(TensorData::new(scale, [b, l]), dev),
            self.dtype,
        );
        x * scalet.unsqueeze_dim::<3>(2)
    }

    /// What every block's attention needs in one pass: on flex the host
    /// kernels' lengths, bias and rotary tables; elsewhere burn's masks and
    /// rotary tensors.
    fn attention_inputs(&self, rows: &[Vec<u32>], mask: &[bool], b: usize, l: usize) -> AttnInputs {
        let dev = &self.device;
        let (nh, hd) = (self.heads, self.head_dim);
        // flex: attention on the host (models::attention); other backends
        // (LibTorch, or a half-precision forward): burn's fused attention.
        let host = crate::device::is_flex(dev) && self.dtype.is_none();
        let lens: Vec<usize> = rows.iter().map(|r| r.len().min(l)).collect();
        let shape = super::attention::Shape {
            batch: b,
            len: l,
            heads: nh,
            head_dim: hd,
        };
        let host_bias = if host { self.position_bias(l) } else { None };
        let (padt, bias) = if host {
            (None, None)
        } else {
            self.attention_masks(mask, b, l)
        };
        let bias = bias.map(|t| as_dtype(t, self.dtype));
        let rotary = match &self.positions {
            Positions::Rotary => Some(rotary_tables(l, hd, None)),
            Positions::RotaryFreqs { freqs, .. } => Some(rotary_tables(l, hd, Some(freqs))),
            _ => None,
        };
        let (cos, sin) = match (&rotary, host) {
            (Some((c, s)), false) => (
                Some(as_dtype(
                    Tensor::<2>::from_data(TensorData::new(c.clone(), [l, hd]), dev)
                        .reshape([1, 1, l, hd]),
                    self.dtype,
                )),
                Some(as_dtype(
                    Tensor::<2>::from_data(TensorData::new(s.clone(), [l, hd]), dev)
                        .reshape([1, 1, l, hd]),
                    self.dtype,
                )),
            ),
            _ => (None, None),
        };
        AttnInputs {
            host,
            lens,
            shape,
            host_bias,
            padt,
            bias,
            rotary,
            cos,
            sin,
        }
    }

    /// One block: self-attention and the feed-forward, pre- or post-LN.
    fn block(&self, blk: &Block, x: Tensor<3>, a: &AttnInputs) -> Tensor<3> {
        let pre = self.norm_place == NormPlace::Pre;
        let hn = if pre {
            blk.attn_norm.fwd(x.clone())
        } else {
            x.clone()
        };
        let mut ctx = self.self_attention(blk, hn, a);
        if let Some(n) = &blk.ctx_norm {
            ctx = n.fwd(ctx);
        }
        let rs = self.residual_scale;
        let branch = |t: Tensor<3>| if rs == 1.0 { t } else { t.div_scalar(rs) };
        let mut a = branch(blk.o.fwd(ctx)) + x;
        if !pre {
            a = blk.attn_norm.fwd(a);
        }
        let hn2 = if pre {
            blk.ffn_norm.fwd(a.clone())
        } else {
            a.clone()
        };
        let mut inner = self.ffn.apply(blk.inter.fwd(hn2), self.intermediate);
        if let Some(n) = &blk.inner_norm {
            inner = n.fwd(inner);
        }
        let y = branch(blk.out.fwd(inner)) + a;
        if pre { y } else { blk.ffn_norm.fwd(y) }
    }

    /// The attention of one block over its (normed) input `hn`: fused or
    /// separate Q/K/V with optional QK norms, rotary, the padding mask and
    /// position bias; `[B, L, heads × head_dim]`.
    fn self_attention(&self, blk: &Block, hn: Tensor<3>, a: &AttnInputs) -> Tensor<3> {
        let dev = &self.device;
        let (nh, hd) = (self.heads, self.head_dim);
        let inner = nh * hd;
        let AttnInputs {
            host,
            lens,
            shape,
            host_bias,
            padt,
            bias,
            rotary,
            cos,
            sin,
        } = a;
        let (b, l) = (shape.batch, shape.len);
        let rotate = |t: Tensor<4>| -> Tensor<4> {
            let (Some(cs), Some(sn)) = (cos, sin) else {
                return t;
            };
            let half = hd / 2;
            let x1 = t.clone().narrow(3, 0, half);
            let x2 = t.clone().narrow(3, half, half);
            let rot = Tensor::cat(vec![x2.neg(), x1], 3);
            t * cs.clone() + rot * sn.clone()
        };
        let split = |t: Tensor<3>| -> Tensor<4> { t.reshape([b, l, nh, hd]).swap_dims(1, 2) };
        let y = blk.qkv.fwd(hn);
        let y = match &blk.qk_norm {
            Some((qn, kn)) => Tensor::cat(
                vec![
                    qn.fwd(y.clone().narrow(2, 0, inner)),
                    kn.fwd(y.clone().narrow(2, inner, inner)),
                    y.narrow(2, 2 * inner, inner),
                ],
                2,
            ),
            None => y,
        };
        if *host {
            let mut qkv = y.into_data().try_into_vec::<f32>().expect("f32");
            if let Some((c, sn)) = &rotary {
                for part in [0, inner] {
                    super::attention::rotate(&mut qkv, part, 3 * inner, *shape, c, sn);
                }
            }
            let at = |offset| super::attention::Rows {
                data: &qkv,
                offset,
                stride: 3 * inner,
            };
            let out = super::attention::attend(
                at(0),
                at(inner),
                at(2 * inner),
                *shape,
                lens,
                self.attn_scale as f32,
                host_bias.as_deref(),
            );
            Tensor::<3>::from_data(TensorData::new(out, [b, l, inner]), dev)
        } else {
            let (q, k, v) = (
                y.clone().narrow(2, 0, inner),
                y.clone().narrow(2, inner, inner),
                y.narrow(2, 2 * inner, inner),
            );
            // Queries scaled before the rotation, as ESM does (the same
            // product for the other families).
            let q = rotate(split(q).mul_scalar(self.attn_scale));
            let k = rotate(split(k));
            attention(
                q,
                k,
                split(v),
                padt.clone(),
                bias.clone(),
                AttentionModuleOptions {
                    scale: Some(1.0),
                    ..Default::default()
                },
            )
            .swap_dims(1, 2)
            .reshape([b, l, inner])
        }
    }

    /// The per-head additive position bias `[heads, l, l]` (ALiBi, T5's
    /// buckets), without padding; `None` for the other position schemes.
    fn position_bias(&self, l: usize) -> Option<Vec<f32>> {
        let nh = self.heads;
        let per_head = |f: &dyn Fn(usize, i64) -> f32| -> Vec<f32> {
            let mut v = vec![0f32; nh * l * l];
            for hh in 0..nh {
                for i in 0..l {
                    for j in 0..l {
                        v[(hh * l + i) * l + j] = f(hh, j as i64 - i as i64);
                    }
                }
            }
            v
        };
        match &self.positions {
            Positions::Alibi(slopes) => Some(per_head(&|hh, rel| -slopes[hh] * rel.abs() as f32)),
            Positions::Relative {
                table,
                buckets,
                max_distance,
            } => {
                let of: Vec<usize> = (0..2 * l - 1)
                    .map(|k| t5_bucket(k as i64 - (l as i64 - 1), *buckets, *max_distance))
                    .collect();
                Some(per_head(&|hh, rel| {
                    table[of[(rel + l as i64 - 1) as usize] * nh + hh]
                }))
            }
            _ => None,
        }
    }

    /// The padding mask (`true` = key not attended; one [l, l] block per
    /// sequence, shared by the heads) or, with a position bias (ALiBi, T5),
    /// the bias with the padding folded in as −∞-like values: the fused
    /// kernels (flex's own, LibTorch's scaled_dot_product_attention) take
    /// the mask, and every backend takes a bias without one.
    fn attention_masks(
        &self,
        mask: &[bool],
        b: usize,
        l: usize,
    ) -> (Option<Tensor<4, Bool>>, Option<Tensor<4>>) {
        let dev = &self.device;
        let nh = self.heads;
        let position_bias = self.position_bias(l);
        if let Some(alibi) = position_bias {
            let mut keys = vec![0f32; b * l];
            for (k, m) in mask.iter().enumerate() {
                if !m {
                    keys[k] = -1e30;
                }
            }
            let at = Tensor::<4>::from_data(TensorData::new(alibi, [1, nh, l, l]), dev);
            let kt = Tensor::<4>::from_data(TensorData::new(keys, [b, 1, 1, l]), dev);
            return (None, Some(at + kt));
        }
        let mut pad = vec![false; b * l * l];
        for (r, row) in pad.chunks_mut(l * l).enumerate() {
            for (j, m) in mask[r * l..(r + 1) * l].iter().enumerate() {
                if !m {
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
        (Some(padt), None)
    }
}
