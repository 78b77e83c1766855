//! Self-attention on the host for burn's flex (CPU) backend.
//!
//! burn-flex's attention takes the padded `[B, heads, L, head_dim]` layout
//! (a transposing copy of Q, K, V and of the output), computes every padded
//! row and column, applies the mask per element and calls the scalar `expf`:
//! with ESM-2's 16-wide heads that was half of an embedding's time, against
//! an eighth of its arithmetic. Here, per sequence and head, on the rayon
//! pool:
//!
//! * Q, K and V are read in place from the projection's `[B·L, 3·inner]`
//!   rows (strided GEMM operands: no transposing copies), rotary embeddings
//!   applied to them first, in place;
//! * only the sequence's real `n × n` scores are computed (`scale·Q·Kᵀ`, one
//!   GEMM), plus a per-head position bias (ALiBi, T5) when there is one;
//! * each row's softmax runs with a polynomial `exp` compiled for the CPU's
//!   widest vectors ([`super::elementwise`]);
//! * `P·V` (one GEMM) is written straight into the `[B·L, inner]` context rows
//!   the output projection reads; padding rows stay zero.
//!
//! The arithmetic is torch's `softmax(scale·QKᵀ + bias)·V`; the fixture tests
//! compare whole models with transformers on both backends.

use rayon::prelude::*;

/// One of Q, K, V inside a row-major buffer of `B·L` token rows: the token
/// at flat index `t` holds head `h`'s values at
/// `data[t·stride + offset + h·head_dim ..][..head_dim]`.
#[derive(Clone, Copy)]
pub struct Rows<'a> {
    pub data: &'a [f32],
    pub offset: usize,
    pub stride: usize,
}

/// The shape of one attention call.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub batch: usize,
    /// Padded length (tokens per row of the batch).
    pub len: usize,
    pub heads: usize,
    pub head_dim: usize,
}

/// Rotates queries or keys in place: for each token at position `p` and each
/// head, the two halves `(x₁, x₂)` become `x·cos + (−x₂, x₁)·sin` with the
/// tables `[len, head_dim]` of [`super::encoder`]'s rotary embeddings.
pub fn rotate(data: &mut [f32], offset: usize, stride: usize, s: Shape, cos: &[f32], sin: &[f32]) {
    let (hd, half) = (s.head_dim, s.head_dim / 2);
    data.par_chunks_mut(stride)
        .take(s.batch * s.len)
        .enumerate()
        .for_each(|(t, row)| {
            let p = t % s.len;
            let (c, sn) = (&cos[p * hd..(p + 1) * hd], &sin[p * hd..(p + 1) * hd]);
            for h in 0..s.heads {
                let x = &mut row[offset + h * hd..offset + (h + 1) * hd];
                for i in 0..half {
                    let (a, b) = (x[i], x[i + half]);
                    x[i] = a * c[i] - b * sn[i];
                    x[i + half] = b * c[i + half] + a * sn[i + half];
                }
            }
        });
}

/// The output buffer shared by the per-(sequence, head) tasks, each of
/// which writes its own disjoint columns of its own rows.
struct Out(*mut f32);
// SAFETY: tasks write disjoint elements (row range of their sequence ×
// column range of their head), and the buffer outlives the parallel loop.
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

/// `softmax(scale·Q·Kᵀ + bias)·V` per sequence and head over the first
/// `lens[b]` tokens of each sequence; returns the context `[B·L, heads·head_dim]`
/// (padding rows zero). `bias`: `[heads, L, L]`, added before the softmax.
pub fn attend(
    q: Rows,
    k: Rows,
    v: Rows,
    s: Shape,
    lens: &[usize],
    scale: f32,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let inner = s.heads * s.head_dim;
    let mut out = vec![0f32; s.batch * s.len * inner];
    let dst = Out(out.as_mut_ptr());
    let dst = &dst;
    (0..s.batch * s.heads).into_par_iter().for_each_init(
        || vec![0f32; s.len * s.len],
        |scores, job| {
            let (b, h) = (job / s.heads, job % s.heads);
            let n = lens[b].min(s.len);
            if n == 0 {
                return;
            }
            let row0 = b * s.len;
            let col = h * s.head_dim;
            let at = |r: &Rows| r.data[row0 * r.stride + r.offset + col..].as_ptr();
            let sc = &mut scores[..n * n];
            // SAFETY: the operands stay inside their buffers: row `i < n` of
            // sequence b starts at (row0 + i)·stride + offset + col, and
            // head_dim values follow (Rows' contract); scores holds n·n.
            unsafe {
                gemm::gemm(
                    n,
                    n,
                    s.head_dim,
                    sc.as_mut_ptr(),
                    1,
                    n as isize,
                    false,
                    at(&q),
                    1,
                    q.stride as isize,
                    at(&k),
                    k.stride as isize,
                    1,
                    0.0,
                    scale,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
            for i in 0..n {
                let row = &mut sc[i * n..(i + 1) * n];
                if let Some(bias) = bias {
                    let brow = &bias[(h * s.len + i) * s.len..][..n];
                    row.iter_mut().zip(brow).for_each(|(x, b)| *x += b);
                }
                super::elementwise::softmax(row);
            }
            // SAFETY: rows row0..row0+n of the output, columns col..col+head_dim:
            // this task's alone (see `Out`).
            unsafe {
                gemm::gemm(
                    n,
                    s.head_dim,
                    n,
                    dst.0.add(row0 * inner + col),
                    1,
                    inner as isize,
                    false,
                    sc.as_ptr(),
                    1,
                    n as isize,
                    at(&v),
                    1,
                    v.stride as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a direct computation of softmax(scale·QKᵀ + bias)·V on a
    /// padded batch with interleaved Q/K/V rows, and rotary positions.
    #[test]
    fn attention_equals_the_definition() {
        let (batch, len, heads, hd) = (3, 7, 2, 4);
        let inner = heads * hd;
        let lens = [7, 4, 0];
        let mut state = 1u64;
        let mut rnd = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        };
        let qkv: Vec<f32> = (0..batch * len * 3 * inner).map(|_| rnd()).collect();
        let bias: Vec<f32> = (0..heads * len * len).map(|_| rnd()).collect();
        let s = Shape {
            batch,
            len,
            heads,
            head_dim: hd,
        };
        let rows = |o| Rows {
            data: &qkv,
            offset: o,
            stride: 3 * inner,
        };
        let got = attend(
            rows(0),
            rows(inner),
            rows(2 * inner),
            s,
            &lens,
            0.5,
            Some(&bias),
        );
        for b in 0..batch {
            for h in 0..heads {
                let get = |t: usize, part: usize, d: usize| {
                    qkv[(b * len + t) * 3 * inner + part * inner + h * hd + d]
                };
                for i in 0..len {
                    for d in 0..hd {
                        let g = got[(b * len + i) * inner + h * hd + d];
                        if i >= lens[b] {
                            assert_eq!(g, 0.0);
                            continue;
                        }
                        let n = lens[b];
                        let sc: Vec<f64> = (0..n)
                            .map(|j| {
                                0.5 * (0..hd)
                                    .map(|e| (get(i, 0, e) * get(j, 1, e)) as f64)
                                    .sum::<f64>()
                                    + bias[(h * len + i) * len + j] as f64
                            })
                            .collect();
                        let mx = sc.iter().cloned().fold(f64::MIN, f64::max);
                        let z: f64 = sc.iter().map(|x| (x - mx).exp()).sum();
                        let want: f64 = (0..n)
                            .map(|j| (sc[j] - mx).exp() / z * get(j, 2, d) as f64)
                            .sum();
                        assert!(
                            (g as f64 - want).abs() < 1e-5,
                            "{b} {h} {i} {d}: {g} {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn rotation_turns_each_half_pair() {
        let s = Shape {
            batch: 1,
            len: 2,
            heads: 1,
            head_dim: 2,
        };
        // Position 1: cos 0, sin 1 (a quarter turn); position 0: identity.
        let (cos, sin) = (vec![1.0, 1.0, 0.0, 0.0], vec![0.0, 0.0, 1.0, 1.0]);
        let mut x = vec![9.0, 1.0, 2.0, 9.0, 3.0, 4.0];
        rotate(&mut x, 1, 3, s, &cos, &sin);
        assert_eq!(x, vec![9.0, 1.0, 2.0, 9.0, -4.0, 3.0]);
    }
}
