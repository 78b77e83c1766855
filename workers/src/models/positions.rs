//! Where positions enter a native encoder: a learned table, rotary
//! embeddings, ALiBi's per-head slopes, or T5's relative-position buckets,
//! with the tables each needs.

use burn::tensor::Tensor;

/// Where positions enter.
#[allow(clippy::large_enum_variant)] // one per model: its size does not matter
pub enum Positions {
    /// A learned table added to the embeddings; the token at index j gets
    /// row `offset + j` (ESM: pad_token_id + 1; BERT: 0).
    Learned { table: Tensor<2>, offset: usize },
    /// Rotary embeddings on queries and keys (base 10,000, halves rotated).
    Rotary,
    /// Rotary embeddings whose pair i (dims i and i + head_dim/2 of a head)
    /// turns by `freqs[i]` radians per position (0: left as it is), with an
    /// optional learned table too (EnCodon: partial rotary at base 5·10⁵
    /// beside absolute positions).
    RotaryFreqs {
        freqs: Vec<f64>,
        learned: Option<(Tensor<2>, usize)>,
    },
    /// An additive attention bias −slope_h·|i − j| per head (ALiBi).
    Alibi(Vec<f32>),
    /// T5's bidirectional relative-position buckets: an additive bias
    /// `table[bucket(j − i), h]` (table [buckets, heads], row-major).
    Relative {
        table: Vec<f32>,
        buckets: usize,
        max_distance: usize,
    },
}

/// T5's bidirectional bucket of a relative position `rel = j − i`
/// (`T5Attention._relative_position_bucket`): half the buckets per
/// direction, exact below half of those, logarithmic up to `max_distance`
/// (computed in f32 as torch does).
pub fn t5_bucket(rel: i64, buckets: usize, max_distance: usize) -> usize {
    let half = buckets / 2;
    let base = if rel > 0 { half } else { 0 };
    let n = rel.unsigned_abs() as usize;
    let max_exact = half / 2;
    if n < max_exact {
        return base + n;
    }
    let scale = ((max_distance as f64 / max_exact as f64).ln()) as f32;
    let large = max_exact
        + ((n as f32 / max_exact as f32).ln() / scale * (half - max_exact) as f32) as usize;
    base + large.min(half - 1)
}

/// ALiBi's head slopes (Press et al.): for n a power of two, the geometric
/// sequence starting at 2^(−8/n); otherwise those of the nearest lower
/// power of two followed by every other slope of the next power of two.
pub fn alibi_slopes(n: usize) -> Vec<f32> {
    fn pow2(n: usize) -> Vec<f64> {
        let start = 2f64.powf(-(2f64.powf(-((n as f64).log2() - 3.0))));
        (0..n).map(|i| start * start.powi(i as i32)).collect()
    }
    fn slopes(n: usize) -> Vec<f64> {
        if n.is_power_of_two() {
            return pow2(n);
        }
        let closest = 1usize << (usize::BITS - 1 - n.leading_zeros());
        let mut a = pow2(closest);
        a.extend(slopes(2 * closest).into_iter().step_by(2).take(n - closest));
        a
    }
    slopes(n.max(1)).into_iter().map(|s| s as f32).collect()
}

/// The turns of a head's `hd / 2` rotary pairs when the first `rotated`
/// dims of the head rotate at base `theta` (the rest pass through): pair j
/// turns θ^(−2j/rotated) radians per position for j < rotated / 2, else 0
/// (`rotated = hd`: the whole head).
pub fn rotary_freqs(theta: f64, hd: usize, rotated: usize) -> Vec<f64> {
    (0..hd / 2)
        .map(|j| {
            if j < rotated / 2 {
                theta.powf(-((2 * j) as f64) / rotated as f64)
            } else {
                0.0
            }
        })
        .collect()
}

/// cos and sin tables [l, d] of rotary embeddings, the two halves of a
/// head rotated together: pair i at `freqs[i]` radians per position, or by
/// default base 10,000 over the whole head (10000^(−2i/d)).
pub(super) fn rotary_tables(l: usize, hd: usize, freqs: Option<&[f64]>) -> (Vec<f32>, Vec<f32>) {
    let half = hd / 2;
    let mut cs = Vec::with_capacity(l * hd);
    let mut sn = Vec::with_capacity(l * hd);
    for p in 0..l {
        for k in 0..hd {
            let i = k % half.max(1);
            let inv = match freqs {
                Some(f) => f.get(i).copied().unwrap_or(0.0),
                None => 1.0 / 10000f64.powf((2 * i) as f64 / hd as f64),
            };
            let a = p as f64 * inv;
            cs.push(a.cos() as f32);
            sn.push(a.sin() as f32);
        }
    }
    (cs, sn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alibi_slopes_follow_press_et_al() {
        let s8 = alibi_slopes(8);
        for (i, s) in s8.iter().enumerate() {
            assert!((s - 0.5f32.powi(i as i32 + 1)).abs() < 1e-7, "{s8:?}");
        }
        // DNABERT-2's 12 heads: the 8 slopes above, then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5.
        let s12 = alibi_slopes(12);
        assert_eq!(&s12[..8], &s8[..]);
        for (k, s) in s12[8..].iter().enumerate() {
            let want = 2f32.powf(-(0.5 + k as f32));
            assert!((s - want).abs() < 1e-6, "{s12:?}");
        }
        assert_eq!(alibi_slopes(1), vec![2f32.powi(-8)]);
    }
}
