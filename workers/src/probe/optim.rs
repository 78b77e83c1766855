//! The probes' optimizer: AdamW (decoupled weight decay, bias-corrected
//! moments), as burn's `AdamW`.
//!
//! On burn's flex backend (CPU) burn's AdamW takes about seventeen tensor
//! operations per parameter and step, each a pass over the parameter's memory
//! on one thread: a fifth of an MLP probe's time, and the part of a step that
//! does not get faster with more cores. [`FusedAdamW`] does the same arithmetic
//! in one pass per parameter, split over the rayon pool the cell computes on.
//! On LibTorch (CPU or GPU) burn's own AdamW runs on the device and nothing
//! leaves it: [`ProbeOptimizer::for_device`] chooses.

use super::net::ProbeNet;
use burn::module::{Param, ParamId};
use burn::nn::Linear;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;
use std::collections::HashMap;

/// AdamW over a [`ProbeNet`]: burn's, or the fused host one on flex.
pub enum ProbeOptimizer {
    Burn(ModuleOptimizer),
    Fused(FusedAdamW),
}

/// AdamW's constants (burn's defaults), the same for both implementations.
const BETA_1: f32 = 0.9;
const BETA_2: f32 = 0.999;
const EPSILON: f32 = 1e-5;

/// burn's AdamW with the probes' constants.
pub fn adamw_config(weight_decay: f32) -> AdamWConfig {
    AdamWConfig::new()
        .with_beta_1(BETA_1)
        .with_beta_2(BETA_2)
        .with_epsilon(EPSILON)
        .with_weight_decay(weight_decay)
}

impl ProbeOptimizer {
    pub fn for_device(weight_decay: f32, device: &Device) -> ProbeOptimizer {
        if crate::device::is_libtorch(device) {
            ProbeOptimizer::Burn(adamw_config(weight_decay).init())
        } else {
            ProbeOptimizer::Fused(FusedAdamW::new(weight_decay))
        }
    }

    pub fn step(&mut self, lr: f64, net: ProbeNet, grads: GradientsParams) -> ProbeNet {
        match self {
            ProbeOptimizer::Burn(o) => o.step(lr, net, grads),
            ProbeOptimizer::Fused(o) => o.step(lr, net, grads),
        }
    }
}

/// First and second moments of one parameter, and its step count.
struct Moments {
    m: Vec<f32>,
    v: Vec<f32>,
    time: i32,
}

/// burn's AdamW update (`AdaptiveMomentumW` + decoupled decay; as
/// [`adamw_config`]: no AMSGrad, no cautious decay, no gradient clipping)
/// fused into one host pass per parameter.
pub struct FusedAdamW {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    weight_decay: f32,
    moments: HashMap<ParamId, Moments>,
}

/// Parameters smaller than this are updated on one thread.
const PAR_CHUNK: usize = 16 * 1024;

impl FusedAdamW {
    pub fn new(weight_decay: f32) -> FusedAdamW {
        FusedAdamW {
            beta_1: BETA_1,
            beta_2: BETA_2,
            epsilon: EPSILON,
            weight_decay,
            moments: HashMap::new(),
        }
    }

    pub fn step(&mut self, lr: f64, net: ProbeNet, mut grads: GradientsParams) -> ProbeNet {
        let layers = net
            .layers
            .into_iter()
            .map(|l| Linear {
                weight: self.update(lr, l.weight, &mut grads),
                bias: l.bias.map(|b| self.update(lr, b, &mut grads)),
            })
            .collect();
        ProbeNet { layers }
    }

    fn update<const D: usize>(
        &mut self,
        lr: f64,
        param: Param<Tensor<D>>,
        grads: &mut GradientsParams,
    ) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let require_grad = tensor.is_require_grad();
        let shape = tensor.shape();
        let inner = tensor.inner();
        let device = inner.device();
        let mut p = inner
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32 parameters");
        let g = grad
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32 gradients");
        let st = self.moments.entry(id).or_insert_with(|| Moments {
            m: vec![0.0; p.len()],
            v: vec![0.0; p.len()],
            time: 0,
        });
        st.time += 1;
        let k = Scalars {
            b1: self.beta_1,
            b2: self.beta_2,
            f1: 1.0 - self.beta_1,
            f2: 1.0 - self.beta_2,
            inv_c1: 1.0 / (1f32 - self.beta_1.powi(st.time)),
            inv_c2: 1.0 / (1f32 - self.beta_2.powi(st.time)),
            eps: self.epsilon,
            keep: (1.0 - lr * self.weight_decay as f64) as f32,
            lr: lr as f32,
        };
        let kernel = |(((p, g), m), v): Chunk| adamw_chunk(p, g, m, v, &k);
        let parallel = p.len() > PAR_CHUNK;
        let chunks = p
            .chunks_mut(PAR_CHUNK)
            .zip(g.chunks(PAR_CHUNK))
            .zip(st.m.chunks_mut(PAR_CHUNK))
            .zip(st.v.chunks_mut(PAR_CHUNK));
        if parallel {
            chunks.par_bridge().for_each(kernel);
        } else {
            chunks.for_each(kernel);
        }
        let mut t = Tensor::<D>::from_inner(Tensor::from_data(TensorData::new(p, shape), &device));
        if require_grad {
            t = t.require_grad();
        }
        Param::from_mapped_value(id, t, mapper)
    }
}

/// Parameter, gradient, first and second moments of one chunk.
type Chunk<'a> = (((&'a mut [f32], &'a [f32]), &'a mut [f32]), &'a mut [f32]);

/// The scalars of one step, as burn computes them: f32 bias corrections;
/// the learning rate and the decay factor are f64 there, converted to f32.
struct Scalars {
    b1: f32,
    b2: f32,
    f1: f32,
    f2: f32,
    inv_c1: f32,
    inv_c2: f32,
    eps: f32,
    keep: f32,
    lr: f32,
}

/// One AdamW step over a chunk, in burn's order, except that the bias
/// corrections multiply by reciprocals (burn divides): one division per
/// element instead of three, results within an ulp or so of burn's.
#[inline(always)]
fn adamw_kernel(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: &Scalars) {
    // Iterators, not indices: no bounds checks, so the loop vectorizes.
    for (((p, g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = *m * k.b1 + *g * k.f1;
        *v = *v * k.b2 + (*g * *g) * k.f2;
        let delta = (*m * k.inv_c1) / ((*v * k.inv_c2).sqrt() + k.eps);
        *p = *p * k.keep - delta * k.lr;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn adamw_kernel_avx512(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: &Scalars) {
    adamw_kernel(p, g, m, v, k)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn adamw_kernel_avx2(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: &Scalars) {
    adamw_kernel(p, g, m, v, k)
}

/// The kernel compiled for the widest vectors this CPU has (the default
/// x86-64 target only assumes SSE2: 4 lanes; AVX-512 has 16).
fn adamw_chunk(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: &Scalars) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { adamw_kernel_avx512(p, g, m, v, k) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { adamw_kernel_avx2(p, g, m, v, k) };
        }
    }
    adamw_kernel(p, g, m, v, k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::tensor::activation::relu;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn net(device: &Device, rng: &mut ChaCha8Rng) -> ProbeNet {
        let lin = |din: usize, dout: usize, rng: &mut ChaCha8Rng| {
            let w: Vec<f32> = (0..din * dout)
                .map(|_| rng.random_range(-0.5..0.5))
                .collect();
            let b: Vec<f32> = (0..dout).map(|_| rng.random_range(-0.5..0.5)).collect();
            Linear {
                weight: Param::from_data(TensorData::new(w, [din, dout]), device),
                bias: Some(Param::from_data(TensorData::new(b, [dout]), device)),
            }
        };
        // The first layer is large enough to be split over threads.
        ProbeNet {
            layers: vec![lin(100, 300, rng), lin(300, 1, rng)],
        }
    }

    fn values(net: &ProbeNet) -> Vec<Vec<f32>> {
        net.layers
            .iter()
            .flat_map(|l| {
                [
                    l.weight.val().into_data().try_into_vec::<f32>().unwrap(),
                    l.bias
                        .as_ref()
                        .unwrap()
                        .val()
                        .into_data()
                        .try_into_vec::<f32>()
                        .unwrap(),
                ]
            })
            .collect()
    }

    #[test]
    fn fused_adamw_follows_burns_adamw() {
        let device = crate::device::cpu().autodiff();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let start = net(&device, &mut rng);
        let x: Vec<f32> = (0..16 * 100).map(|_| rng.random_range(-1.0..1.0)).collect();
        let x = Tensor::<2>::from_data(TensorData::new(x, [16, 100]), &device);
        let (mut a, mut b) = (start.clone(), start);
        let mut burn_opt = adamw_config(1e-2).init();
        let mut fused = FusedAdamW::new(1e-2);
        let loss = |n: &ProbeNet| {
            let h = relu(n.layers[0].forward(x.clone()));
            n.layers[1].forward(h).powi_scalar(2).mean()
        };
        for step in 0..5 {
            let ga = GradientsParams::from_grads(loss(&a).backward(), &a);
            a = burn_opt.step(1e-2, a, ga);
            let gb = GradientsParams::from_grads(loss(&b).backward(), &b);
            b = fused.step(1e-2, b, gb);
            for (pa, pb) in values(&a).iter().zip(values(&b)) {
                for (u, w) in pa.iter().zip(&pb) {
                    assert!(
                        (u - w).abs() <= 1e-6 * u.abs().max(1.0),
                        "step {step}: burn {u} vs fused {w}"
                    );
                }
            }
        }
        // The parameters still train: gradients reach the updated ones.
        assert!(b.layers[0].weight.val().is_require_grad());
        assert_eq!(b.num_params(), a.num_params());
    }
}
