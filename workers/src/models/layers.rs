//! The layers the shared encoder is built of: a linear layer ([`Lin`]), a
//! norm over the last axis ([`Norm`]: LayerNorm or RMS norm), the
//! feed-forward's activation and shape ([`Activation`], [`FeedForward`]:
//! plain or gated). On flex, activations, gates and RMS norms run as host
//! passes (`elementwise.rs`).

use burn::tensor::activation::{gelu, relu, sigmoid};
use burn::tensor::module::layer_norm;
use burn::tensor::{Device, FloatDType, Tensor, TensorData};

/// A linear layer: `x·W (+ b)` with W stored `[in, out]`.
pub struct Lin {
    pub(super) w: Tensor<2>,
    pub(super) b: Option<Tensor<1>>,
}

impl Lin {
    /// One [rows, in] × [in, out] GEMM over all positions (a 2-D matmul is
    /// a single BLAS call on every backend; a broadcast 3-D one is batched).
    pub fn fwd<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
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

    pub(super) fn cast(&mut self, d: FloatDType) {
        self.w = self.w.clone().cast(d);
        self.b = self.b.take().map(|b| b.cast(d));
    }

    /// The weights in place (flex, f32); `None` elsewhere.
    pub(super) fn view(&self) -> Option<super::host_block::LinView> {
        Some(super::host_block::LinView {
            w: super::host_block::Mat::of(&self.w)?,
            b: super::host_block::Mat::of_opt(self.b.as_ref())?,
        })
    }

    /// Layers with the same input side by side as one (outputs of the
    /// first, then the second, …): query, key and value as one GEMM.
    pub fn joined<const N: usize>(parts: [Lin; N]) -> Lin {
        let mut ws = Vec::with_capacity(N);
        let mut bs = Vec::with_capacity(N);
        for l in parts {
            ws.push(l.w);
            bs.extend(l.b);
        }
        let b = (bs.len() == N).then(|| Tensor::cat(bs, 0));
        Lin {
            w: Tensor::cat(ws, 1),
            b,
        }
    }

    /// A layer from PyTorch-layout `[out, in]` values (for block checks).
    pub fn from_torch(w: Vec<f32>, out: usize, inp: usize, device: &Device) -> Lin {
        Lin {
            w: Tensor::<2>::from_data(TensorData::new(w, [out, inp]), device).transpose(),
            b: None,
        }
    }
}

/// A norm over the last axis: LayerNorm (biased variance, like
/// torch.nn.LayerNorm; with or without a bias), or T5's RMS norm
/// (`x / √(mean(x²) + eps) · w`: no mean subtracted, no bias).
pub struct Norm {
    pub(super) w: Tensor<1>,
    pub(super) b: Option<Tensor<1>>,
    pub(super) eps: f64,
    pub(super) rms: bool,
}

impl Norm {
    pub(super) fn cast(&mut self, d: FloatDType) {
        self.w = self.w.clone().cast(d);
        self.b = self.b.take().map(|b| b.cast(d));
    }

    pub(super) fn fwd(&self, x: Tensor<3>) -> Tensor<3> {
        if self.rms {
            // flex, f32: one pass per row on the host, the weights read in
            // place (four tensor ops otherwise).
            if x.dtype() == burn::tensor::DType::F32
                && let Some(view) = self.view().filter(|v| v.usable())
            {
                return rms_host(&view, x);
            }
            let ms = x.clone().powi_scalar(2).mean_dim(2);
            let n = self.w.dims()[0];
            return x * (ms + self.eps).sqrt().recip() * self.w.clone().reshape([1, 1, n]);
        }
        layer_norm(x, self.w.clone(), self.b.clone(), self.eps)
    }

    /// The weights in place (flex, f32); `None` elsewhere.
    pub(super) fn view(&self) -> Option<super::host_block::NormView> {
        Some(super::host_block::NormView {
            w: super::host_block::Mat::of(&self.w)?,
            b: super::host_block::Mat::of_opt(self.b.as_ref())?,
            eps: self.eps,
            rms: self.rms,
        })
    }
}

/// RMS norm on the host (`view`: the norm's weights in place): each row
/// scaled by 1/√(mean(x²) + eps), then by the weights (the sum in f64, as
/// T5's and gLM2's f32 norms round no worse).
fn rms_host(view: &super::host_block::NormView, x: Tensor<3>) -> Tensor<3> {
    let (dev, shape) = (x.device(), x.dims());
    let n = shape[2];
    let mut v = x.into_data().try_into_vec::<f32>().expect("f32");
    view.apply(&mut v, n, 0..n);
    Tensor::from_data(TensorData::new(v, shape), &dev)
}

/// The feed-forward's activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Exact (erf) GELU.
    Gelu,
    /// GELU's tanh approximation (`gelu_new`, `gelu_pytorch_tanh`; T5's
    /// `gated-gelu`).
    GeluTanh,
    Relu,
    /// SiLU / swish.
    Silu,
}

impl Activation {
    /// From a `hidden_act` value of a `config.json`.
    pub fn parse(name: &str) -> Option<Activation> {
        match name {
            "gelu" => Some(Activation::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Some(Activation::GeluTanh),
            "relu" => Some(Activation::Relu),
            "silu" | "swish" => Some(Activation::Silu),
            _ => None,
        }
    }

    /// The host kernel (flex).
    pub fn kernel(self) -> super::elementwise::Kernel {
        use super::elementwise::Kernel;
        match self {
            Activation::Gelu => Kernel::Gelu,
            Activation::GeluTanh => Kernel::GeluTanh,
            Activation::Silu => Kernel::Silu,
            Activation::Relu => Kernel::Relu,
        }
    }

    fn apply(self, x: Tensor<3>) -> Tensor<3> {
        // flex: on the host, vectorized (flex calls libm per element).
        if crate::device::is_flex(&x.device()) && x.dtype() == burn::tensor::DType::F32 {
            let (dev, shape) = (x.device(), x.dims());
            let mut v = x.into_data().try_into_vec::<f32>().expect("f32");
            super::elementwise::activate(&mut v, self.kernel());
            return Tensor::from_data(TensorData::new(v, shape), &dev);
        }
        match self {
            Activation::Gelu => gelu(x),
            Activation::GeluTanh => {
                let c = (2.0 / std::f64::consts::PI).sqrt();
                let inner =
                    (x.clone() + x.clone().powi_scalar(3).mul_scalar(0.044715)).mul_scalar(c);
                x.mul_scalar(0.5) * (inner.tanh() + 1.0)
            }
            Activation::Relu => relu(x),
            Activation::Silu => x.clone() * sigmoid(x),
        }
    }
}

/// The feed-forward's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedForward {
    /// `out(act(inter(x)))`.
    Plain(Activation),
    /// `inter` is twice the intermediate size: `out(act(a) ⊙ g)` of its
    /// first and second halves (GeGLU with GELU, SwiGLU with SiLU).
    Gated(Activation),
}

impl FeedForward {
    pub(super) fn apply(self, y: Tensor<3>, intermediate: usize) -> Tensor<3> {
        match self {
            FeedForward::Plain(a) => a.apply(y),
            FeedForward::Gated(a) => {
                // flex: activation and product in one pass on the host.
                if crate::device::is_flex(&y.device()) && y.dtype() == burn::tensor::DType::F32 {
                    let (dev, [b, l, _]) = (y.device(), y.dims());
                    let v = y.into_data().try_into_vec::<f32>().expect("f32");
                    let out = super::elementwise::gate(&v, intermediate, a.kernel());
                    return Tensor::from_data(TensorData::new(out, [b, l, intermediate]), &dev);
                }
                let g = y.clone().narrow(2, intermediate, intermediate);
                a.apply(y.narrow(2, 0, intermediate)) * g
            }
        }
    }
}

/// The gated feed-forward block on its own (weights in PyTorch `[out, in]`
/// layout, no biases), for checking against a PyTorch reference.
pub fn gated_feed_forward(
    x: Vec<f32>,
    shape: [usize; 3],
    w_in: Vec<f32>,
    w_out: Vec<f32>,
    intermediate: usize,
    act: Activation,
) -> Vec<f32> {
    let dev = crate::device::cpu();
    let h = shape[2];
    let lin_in = Lin::from_torch(w_in, 2 * intermediate, h, &dev);
    let lin_out = Lin::from_torch(w_out, h, intermediate, &dev);
    let xt = Tensor::<3>::from_data(TensorData::new(x, shape), &dev);
    lin_out
        .fwd(FeedForward::Gated(act).apply(lin_in.fwd(xt), intermediate))
        .into_data()
        .try_to_vec::<f32>()
        .expect("f32")
}
