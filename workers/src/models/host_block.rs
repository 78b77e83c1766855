//! The encoder's blocks on burn's flex (CPU) backend, run on the host over
//! one buffer of hidden states.
//!
//! Each flex tensor op allocates its output and, to align it, copies it once
//! more (`FlexTensor::empty` → `Bytes::from_bytes_vec`): with the page faults
//! of fresh buffers that was a fifth of a block's time, on top of separate
//! passes for biases and residual sums. Here a block's hidden states
//! `[B·L, hidden]` stay in one `Vec<f32>`:
//!
//! * weights are read in place from their flex tensors ([`Mat`]: the
//!   tensor's storage and strides, no copy);
//! * a linear layer is one `gemm` call, its bias written first into the rows
//!   it accumulates onto; the residual branch `x + f(·)/s` accumulates
//!   straight into `x` (`dst := dst + (1/s)·(a·W)`, bias added first);
//! * norms, activations and gates are row passes
//!   ([`super::elementwise`]); attention is [`super::attention`].
//!
//! The arithmetic is the block's as [`super::encoder`] writes it with burn
//! ops (which LibTorch and half-precision forwards still run); a test
//! compares the two on flex, and the fixture tests compare whole models with
//! their authors' code.

use super::attention::{self, Rows, Shape};
use super::elementwise::{self, Kernel, NormParams};
use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Tensor};

/// A flex tensor's f32 values in place: its primitive (sharing the
/// tensor's storage; nothing copied) and layout.
pub struct Mat(FlexTensor);

impl Mat {
    /// `t`'s values when it is an f32 tensor on flex; `None` otherwise.
    pub fn of<const D: usize>(t: &Tensor<D>) -> Option<Mat> {
        let p = t.clone().try_into_primitive::<Flex>().ok()?;
        (p.dtype() == DType::F32).then_some(Mat(p))
    }

    /// An optional tensor in place: `Some(None)` when there is none, `None`
    /// when it is not flex f32 (as [`Mat::of`]).
    pub fn of_opt<const D: usize>(t: Option<&Tensor<D>>) -> Option<Option<Mat>> {
        t.map_or(Some(None), |t| Mat::of(t).map(Some))
    }

    fn offset(&self) -> usize {
        self.0.layout().start_offset()
    }

    /// The values from the first element on (strided as the layout says).
    fn values(&self) -> &[f32] {
        &self.0.storage::<f32>()[self.offset()..]
    }

    /// The strides of a 2-D tensor's (row, column) axes.
    fn strides2(&self) -> Option<(isize, isize)> {
        match self.0.layout().strides() {
            [r, c] if *r >= 0 && *c >= 0 => Some((*r, *c)),
            _ => None,
        }
    }

    /// A 1-D tensor's values as one slice (when contiguous).
    fn vector(&self) -> Option<&[f32]> {
        let n = self.0.layout().num_elements();
        (self.0.layout().is_contiguous() && self.0.layout().shape().num_dims() == 1)
            .then(|| &self.values()[..n])
    }

    fn dims(&self) -> &[usize] {
        self.0.layout().shape()
    }
}

/// How a linear layer writes: `dst := dst + scale·(x·W + b)`, or with
/// `fresh` `dst := scale·(x·W + b)`; its GEMM on `threads` threads.
#[derive(Clone, Copy)]
struct Gemm {
    scale: f32,
    fresh: bool,
    threads: usize,
}

/// A linear layer's weights `[in, out]` (any strides) and bias.
pub struct LinView {
    pub w: Mat,
    pub b: Option<Mat>,
}

/// A norm's weights and settings.
pub struct NormView {
    pub w: Mat,
    pub b: Option<Mat>,
    pub eps: f64,
    pub rms: bool,
}

/// One block's weights, in place.
pub struct BlockView {
    pub attn_norm: NormView,
    pub qkv: LinView,
    pub qk_norm: Option<(NormView, NormView)>,
    pub ctx_norm: Option<NormView>,
    pub o: LinView,
    pub ffn_norm: NormView,
    pub inter: LinView,
    pub inner_norm: Option<NormView>,
    pub out: LinView,
}

/// What every block of one forward pass shares.
pub struct Pass<'a> {
    /// Pre-LN (`x + f(norm x)`) or post-LN (`norm(x + f(x))`).
    pub pre: bool,
    /// The feed-forward's activation, and whether it gates: `act(a) ⊙ g`
    /// of the two halves of the inner layer, each `intermediate` wide.
    pub activation: Kernel,
    pub gated: bool,
    pub intermediate: usize,
    /// Threads each GEMM may use (1: its caller's alone).
    pub gemm_threads: usize,
    pub residual_scale: f32,
    pub attn_scale: f32,
    pub shape: Shape,
    pub lens: &'a [usize],
    pub bias: Option<&'a [f32]>,
    pub rotary: Option<&'a (Vec<f32>, Vec<f32>)>,
}

impl Pass<'_> {
    fn gemm(&self, scale: f32, fresh: bool) -> Gemm {
        Gemm {
            scale,
            fresh,
            threads: self.gemm_threads,
        }
    }
}

impl NormView {
    fn params(&self) -> Option<NormParams<'_>> {
        Some(NormParams {
            w: self.w.vector()?,
            b: match &self.b {
                Some(b) => Some(b.vector()?),
                None => None,
            },
            eps: self.eps,
            rms: self.rms,
        })
    }

    /// Normalizes `cols` of each `stride`-wide row of `x` in place.
    pub fn apply(&self, x: &mut [f32], stride: usize, cols: std::ops::Range<usize>) {
        let p = self.params().expect("checked by BlockView::usable");
        elementwise::norm_rows(x, stride, cols, p);
    }

    pub fn usable(&self) -> bool {
        self.params().is_some()
    }
}

impl LinView {
    fn din(&self) -> usize {
        self.w.dims()[0]
    }

    fn dout(&self) -> usize {
        self.w.dims()[1]
    }

    /// A 2-D weight with non-negative strides (`strides2` holds only for
    /// rank 2), and a contiguous bias if any.
    fn usable(&self) -> bool {
        self.w.strides2().is_some() && self.b.as_ref().is_none_or(|b| b.vector().is_some())
    }

    /// [`Gemm`] over `rows` rows of `x` (`[rows, in]`) and `dst`
    /// (`[rows, out]`).
    fn apply(&self, x: &[f32], dst: &mut [f32], rows: usize, p: Gemm) {
        let Gemm {
            scale,
            fresh,
            threads,
        } = p;
        let (din, dout) = (self.din(), self.dout());
        assert!(x.len() >= rows * din && dst.len() >= rows * dout);
        let mut read = !fresh;
        if let Some(b) = self.b.as_ref().and_then(Mat::vector) {
            for row in dst.chunks_exact_mut(dout).take(rows) {
                if read {
                    row.iter_mut().zip(b).for_each(|(d, b)| *d += scale * b);
                } else {
                    row.iter_mut().zip(b).for_each(|(d, b)| *d = scale * b);
                }
            }
            read = true;
        }
        let (rs, cs) = self.w.strides2().expect("checked by BlockView::usable");
        let w = self.w.values();
        let span = (din - 1) * rs as usize + (dout - 1) * cs as usize + 1;
        assert!(w.len() >= span, "weights within their storage");
        let ops = rows * din * dout;
        let par = if ops >= 192 * 192 * 192 && threads > 1 {
            gemm::Parallelism::Rayon(threads)
        } else {
            gemm::Parallelism::None
        };
        // SAFETY: x holds rows·din values (row-major), dst rows·dout
        // (row-major), and every W[i, j] = w[i·rs + j·cs] lies within w
        // (asserted above).
        unsafe {
            gemm::gemm(
                rows,
                dout,
                din,
                dst.as_mut_ptr(),
                1,
                dout as isize,
                read,
                x.as_ptr(),
                1,
                din as isize,
                w.as_ptr(),
                cs,
                rs,
                1.0,
                scale,
                false,
                false,
                false,
                par,
            );
        }
    }
}

impl BlockView {
    /// Whether every weight can be read in place (f32 on flex, vectors
    /// contiguous).
    pub fn usable(&self) -> bool {
        let norms = [&self.attn_norm, &self.ffn_norm]
            .into_iter()
            .chain(self.ctx_norm.iter())
            .chain(self.inner_norm.iter())
            .chain(self.qk_norm.iter().flat_map(|(q, k)| [q, k]));
        let lins = [&self.qkv, &self.o, &self.inter, &self.out];
        norms.into_iter().all(NormView::usable) && lins.into_iter().all(LinView::usable)
    }

    /// One block over the hidden states `x` (`[B·L, hidden]`), in place:
    /// `x + f(norm x)` for each branch f (pre-LN) or `norm(x + f(x))`
    /// (post-LN), the branches divided by the residual scale.
    pub fn forward(&self, x: &mut [f32], p: &Pass) {
        let hidden = self.qkv.din();
        let rows = p.shape.batch * p.shape.len;
        let pre = p.pre;
        let branch = 1.0 / p.residual_scale;
        let ctx = self.attention(&input(&self.attn_norm, x, pre), p);
        self.o.apply(&ctx, x, rows, p.gemm(branch, false));
        drop(ctx);
        if !pre {
            self.attn_norm.apply(x, hidden, 0..hidden);
        }
        let y = self.feed_forward(&input(&self.ffn_norm, x, pre), p);
        self.out.apply(&y, x, rows, p.gemm(branch, false));
        if !pre {
            self.ffn_norm.apply(x, hidden, 0..hidden);
        }
    }

    /// The attention's context `[B·L, inner]` over the branch's input `hn`
    /// (before the output projection; after the context norm if any).
    fn attention(&self, hn: &[f32], p: &Pass) -> Vec<f32> {
        let s = p.shape;
        let inner = s.heads * s.head_dim;
        let width = self.qkv.dout();
        let mut qkv = vec![0f32; s.batch * s.len * width];
        self.qkv
            .apply(hn, &mut qkv, s.batch * s.len, p.gemm(1.0, true));
        if let Some((qn, kn)) = &self.qk_norm {
            qn.apply(&mut qkv, width, 0..inner);
            kn.apply(&mut qkv, width, inner..2 * inner);
        }
        if let Some((c, sn)) = p.rotary {
            for part in [0, inner] {
                attention::rotate(&mut qkv, part, width, s, c, sn);
            }
        }
        let at = |offset| Rows {
            data: &qkv,
            offset,
            stride: width,
        };
        let mut ctx = attention::attend(
            at(0),
            at(inner),
            at(2 * inner),
            s,
            p.lens,
            p.attn_scale,
            p.bias,
        );
        if let Some(n) = &self.ctx_norm {
            n.apply(&mut ctx, inner, 0..inner);
        }
        ctx
    }

    /// The feed-forward's inner activations `[B·L, out's input]` over the
    /// branch's input `hn` (after the inner norm if any).
    fn feed_forward(&self, hn: &[f32], p: &Pass) -> Vec<f32> {
        let rows = p.shape.batch * p.shape.len;
        let mut y = vec![0f32; rows * self.inter.dout()];
        self.inter.apply(hn, &mut y, rows, p.gemm(1.0, true));
        let mut y = if p.gated {
            elementwise::gate(&y, p.intermediate, p.activation)
        } else {
            elementwise::activate(&mut y, p.activation);
            y
        };
        if let Some(n) = &self.inner_norm {
            let w = self.out.din();
            n.apply(&mut y, w, 0..w);
        }
        y
    }
}

/// A branch's input: `norm(x)` (pre-LN, a new buffer) or `x` itself.
fn input<'a>(n: &NormView, x: &'a [f32], pre: bool) -> std::borrow::Cow<'a, [f32]> {
    if !pre {
        return std::borrow::Cow::Borrowed(x);
    }
    let hidden = n.w.dims()[0];
    let mut v = x.to_vec();
    n.apply(&mut v, hidden, 0..hidden);
    std::borrow::Cow::Owned(v)
}
