//! Element-wise kernels on the host for burn's flex (CPU) backend: a row's
//! softmax and the feed-forward activations (GELU in its erf and tanh forms,
//! SiLU), built on one polynomial `exp` and compiled for the CPU's widest
//! vectors (AVX-512 or AVX2+FMA, chosen at run time; the default x86-64
//! target only assumes SSE2). flex's own activations call the scalar libm
//! `erff`/`expf`/`tanhf` per element: 7–12% of an ESM-2 forward pass.
//!
//! Accuracy: `exp` relative error < 2.5e-7; `erf` absolute error < 2e-7
//! (Abramowitz & Stegun 7.1.26 refined); the fixture tests compare whole
//! models with transformers.

use rayon::prelude::*;

/// A row's softmax in place.
pub fn softmax(row: &mut [f32]) {
    dispatch(row, Kernel::Softmax)
}

/// The activation kernels.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kernel {
    Softmax,
    /// `x·Φ(x)` with the erf form (torch's default GELU).
    Gelu,
    /// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (`gelu_new`).
    GeluTanh,
    /// `x·σ(x)`.
    Silu,
    /// `max(x, 0)`.
    Relu,
}

/// Applies an activation to every element, in parallel chunks.
pub fn activate(x: &mut [f32], k: Kernel) {
    const CHUNK: usize = 1 << 14;
    x.par_chunks_mut(CHUNK).for_each(|c| dispatch(c, k));
}

/// A gated feed-forward's `act(a) ⊙ g` on rows of `[a | g]` (each row
/// `2·inner` wide), in parallel over rows; returns the `[rows, inner]`
/// products.
pub fn gate(rows: &[f32], inner: usize, k: Kernel) -> Vec<f32> {
    let mut out = vec![0f32; rows.len() / 2];
    out.par_chunks_mut(inner)
        .zip(rows.par_chunks(2 * inner))
        .for_each(|(o, r)| {
            o.copy_from_slice(&r[..inner]);
            dispatch(o, k);
            for (x, g) in o.iter_mut().zip(&r[inner..]) {
                *x *= *g;
            }
        });
    out
}

fn dispatch(x: &mut [f32], k: Kernel) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { run_avx512(x, k) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA, checked just above.
            return unsafe { run_avx2(x, k) };
        }
    }
    run::<false>(x, k)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn run_avx512(x: &mut [f32], k: Kernel) {
    run::<true>(x, k)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2(x: &mut [f32], k: Kernel) {
    run::<true>(x, k)
}

/// `F`: the CPU fuses multiply-adds (FMA), so polynomials use them (one
/// rounding and one instruction per step instead of two).
#[inline(always)]
fn run<const F: bool>(x: &mut [f32], k: Kernel) {
    match k {
        Kernel::Softmax => softmax_kernel::<F>(x),
        Kernel::Gelu => x.iter_mut().for_each(|v| *v = gelu::<F>(*v)),
        Kernel::GeluTanh => x.iter_mut().for_each(|v| *v = gelu_tanh::<F>(*v)),
        Kernel::Silu => x
            .iter_mut()
            .for_each(|v| *v = *v / (1.0 + exp_with::<F>(-*v))),
        Kernel::Relu => x.iter_mut().for_each(|v| *v = v.max(0.0)),
    }
}

/// A norm's parameters: LayerNorm (`(x − mean)/√(var + eps)·w + b`, the
/// biased variance, as torch.nn.LayerNorm) or RMS norm (`x/√(mean(x²) +
/// eps)·w`, T5's and gLM2's).
#[derive(Clone, Copy)]
pub struct NormParams<'a> {
    pub w: &'a [f32],
    pub b: Option<&'a [f32]>,
    pub eps: f64,
    pub rms: bool,
}

/// Normalizes columns `cols` of every `stride`-wide row of `x` in place, in
/// parallel over rows; sums in f64 (torch's f32 norms round no better).
pub fn norm_rows(x: &mut [f32], stride: usize, cols: std::ops::Range<usize>, p: NormParams) {
    let n = cols.len() as f64;
    x.par_chunks_mut(stride).for_each(|row| {
        let v = &mut row[cols.clone()];
        let mean = if p.rms {
            0.0
        } else {
            v.iter().map(|a| *a as f64).sum::<f64>() / n
        };
        let var = v.iter().map(|a| (*a as f64 - mean).powi(2)).sum::<f64>() / n;
        let r = 1.0 / (var + p.eps).sqrt();
        let (m, r) = (mean as f32, r as f32);
        match p.b {
            Some(b) => {
                for ((a, w), b) in v.iter_mut().zip(p.w).zip(b) {
                    *a = (*a - m) * r * w + b;
                }
            }
            None => {
                for (a, w) in v.iter_mut().zip(p.w) {
                    *a = (*a - m) * r * w;
                }
            }
        }
    });
}

const LANES: usize = 16;

/// Max, exponentials and sum over lanes of 16 (so the compiler can keep them
/// in vector registers: a float reduction in order would not vectorize).
#[inline(always)]
fn softmax_kernel<const F: bool>(row: &mut [f32]) {
    let mut m = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, x) in m.iter_mut().zip(c) {
            *a = if *x > *a { *x } else { *a };
        }
    }
    let mut max = m.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for x in chunks.remainder() {
        max = max.max(*x);
    }
    let mut sums = [0f32; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for (a, x) in sums.iter_mut().zip(c.iter_mut()) {
            *x = exp_with::<F>(*x - max);
            *a += *x;
        }
    }
    let mut sum: f32 = sums.iter().sum();
    for x in chunks.into_remainder() {
        *x = exp_with::<F>(*x - max);
        sum += *x;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|x| *x *= inv);
}

/// `eˣ`, x clamped to [−87, 88]: x = n·ln2 + r with |r| ≤ ln2/2, a degree-6
/// Taylor polynomial for eʳ and 2ⁿ built in the exponent bits. Below −87 it
/// returns e⁻⁸⁷ (~1.6e-38) rather than a denormal or 0.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    exp_with::<false>(x)
}

/// `a·b + c`, fused when `F` (the caller's CPU has FMA).
#[inline(always)]
fn madd<const F: bool>(a: f32, b: f32, c: f32) -> f32 {
    if F { a.mul_add(b, c) } else { a * b + c }
}

/// [`exp`], with fused multiply-adds when `F`.
#[inline(always)]
fn exp_with<const F: bool>(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const C: [f32; 7] = [
        1.0,
        1.0,
        0.5,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
    ];
    let x = x.clamp(-87.0, 88.0);
    let n = madd::<F>(x, LOG2E, 0.5).floor();
    let r = madd::<F>(-n, LN2_LO, madd::<F>(-n, LN2_HI, x));
    let mut p = C[6];
    for c in C[..6].iter().rev() {
        p = madd::<F>(p, r, *c);
    }
    // 2ⁿ from integer bits: n + 127 + 2²³ holds n + 127 in its low mantissa
    // bits (a float → int cast would not vectorize: it saturates).
    let biased = (n + (127.0 + 8_388_608.0)).to_bits() - 0x4B00_0000;
    p * f32::from_bits(biased << 23)
}

/// erf(x): Abramowitz & Stegun 7.1.26's form `1 − t·P(t)·e^(−x²)`,
/// t = 1/(1 + p·|x|), with a degree-5 P (absolute error < 1.5e-7), odd.
#[inline(always)]
fn erf<const F: bool>(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_74,
        1.421_413_7,
        -1.453_152_1,
        1.061_405_4,
    ];
    let a = x.abs();
    let t = 1.0 / madd::<F>(P, a, 1.0);
    let mut poly = A[4];
    for c in A[..4].iter().rev() {
        poly = madd::<F>(poly, t, *c);
    }
    let y = madd::<F>(-poly * t, exp_with::<F>(-a * a), 1.0);
    y.copysign(x)
}

#[inline(always)]
fn gelu<const F: bool>(x: f32) -> f32 {
    0.5 * x * (1.0 + erf::<F>(x * std::f32::consts::FRAC_1_SQRT_2))
}

#[inline(always)]
fn gelu_tanh<const F: bool>(x: f32) -> f32 {
    const C: f32 = 0.797_884_6; // √(2/π)
    let u = C * madd::<F>(0.044_715 * x * x, x, x);
    // tanh u = 1 − 2/(e^{2u} + 1)
    let tanh = 1.0 - 2.0 / (exp_with::<F>(2.0 * u) + 1.0);
    0.5 * x * (1.0 + tanh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_of_libm() {
        let mut worst = 0f64;
        for i in 0..400_000 {
            let x = -87.0 + 175.0 * i as f32 / 400_000.0;
            let want = (x as f64).exp();
            // Plain and fused multiply-adds (software-fused here when the
            // CPU has no FMA: the same roundings).
            for got in [exp(x), exp_with::<true>(x)] {
                worst = worst.max(((got as f64 - want) / want).abs());
            }
        }
        assert!(worst < 2.5e-7, "{worst}");
        assert_eq!(exp(0.0), 1.0);
    }

    /// Every kernel, through the run-time dispatch, against f64 formulas.
    #[test]
    fn activations_match_their_definitions() {
        let xs: Vec<f32> = (0..20_001).map(|i| -10.0 + i as f32 * 1e-3).collect();
        let erf64 = |x: f64| libm_erf(x);
        let cases: [(Kernel, &dyn Fn(f64) -> f64); 3] = [
            (Kernel::Gelu, &|x| 0.5 * x * (1.0 + erf64(x / 2f64.sqrt()))),
            (Kernel::GeluTanh, &|x| {
                0.5 * x
                    * (1.0
                        + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh())
            }),
            (Kernel::Silu, &|x| x / (1.0 + (-x).exp())),
        ];
        for (k, f) in cases {
            let mut y = xs.clone();
            activate(&mut y, k);
            for (x, got) in xs.iter().zip(&y) {
                let want = f(*x as f64);
                assert!(
                    (*got as f64 - want).abs() < 1e-6 * (1.0 + want.abs()),
                    "{k:?}({x}) = {got}, want {want}"
                );
            }
        }
        let mut row = vec![1.0f32, 2.0, 3.0, -1e30, 0.5];
        row.extend((0..37).map(|i| i as f32 * 0.1));
        let mut want: Vec<f64> = row.iter().map(|x| *x as f64).collect();
        let m = want.iter().cloned().fold(f64::MIN, f64::max);
        let z: f64 = want.iter().map(|x| (x - m).exp()).sum();
        want.iter_mut().for_each(|x| *x = (*x - m).exp() / z);
        softmax(&mut row);
        for (g, w) in row.iter().zip(&want) {
            assert!((*g as f64 - w).abs() < 1e-7, "{g} {w}");
        }
    }

    /// erf in f64 by its Maclaurin series (|x| < 3) or continued fraction.
    fn libm_erf(x: f64) -> f64 {
        let a = x.abs();
        let v = if a < 3.0 {
            let (mut term, mut sum, mut n) = (a, a, 0.0);
            while term.abs() > 1e-17 {
                n += 1.0;
                term *= -a * a / n;
                sum += term / (2.0 * n + 1.0);
            }
            2.0 / std::f64::consts::PI.sqrt() * sum
        } else {
            let mut f = 0.0;
            for k in (1..60).rev() {
                f = k as f64 / 2.0 / (a + f);
            }
            1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + f)
        };
        v.copysign(x)
    }
}
