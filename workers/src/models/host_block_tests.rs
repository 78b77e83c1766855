//! The host blocks (`host_block.rs`) against the encoder's burn ops, both on
//! flex, with every block option the families use.

use super::encoder::{Block, Encoder, NormPlace, Positions};
use super::layers::{Activation, FeedForward, Lin, Norm};
use burn::tensor::{Distribution, Tensor};

fn rand<const D: usize>(shape: [usize; D]) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, 0.2), &crate::device::cpu())
}

fn lin(din: usize, dout: usize, bias: bool, torch_layout: bool) -> Lin {
    Lin {
        // Loaded layers are views of PyTorch's [out, in] (strided);
        // joined ones are contiguous [in, out]: both are read in place.
        w: if torch_layout {
            rand([dout, din]).transpose()
        } else {
            rand([din, dout])
        },
        b: bias.then(|| rand([dout])),
    }
}

fn norm(n: usize, bias: bool, rms: bool) -> Norm {
    Norm {
        w: rand([n]) + 1.0,
        b: bias.then(|| rand([n])),
        eps: 1e-5,
        rms,
    }
}

/// Every block option at once: biases or none, QK norms, the sandwich
/// norms, plain or gated feed-forwards, RMS norms, residual scaling.
fn encoder(pre: bool, gated: bool, rms: bool) -> Encoder {
    let (h, heads, inter) = (32, 4, 48);
    let w1 = if gated { 2 * inter } else { inter };
    let blocks = (0..2)
        .map(|k| Block {
            attn_norm: norm(h, !rms, rms),
            qkv: lin(h, 3 * h, !rms, false),
            qk_norm: (k == 0).then(|| (norm(h, false, false), norm(h, false, false))),
            ctx_norm: (k == 1).then(|| norm(h, true, false)),
            o: lin(h, h, !rms, true),
            ffn_norm: norm(h, !rms, rms),
            inter: lin(h, w1, !rms, true),
            inner_norm: (k == 1 && !gated).then(|| norm(inter, true, false)),
            out: lin(inter, h, !rms, true),
        })
        .collect();
    let mut e = Encoder::pre_ln(rand([11, h]), blocks, heads, inter, &crate::device::cpu());
    e.norm_place = if pre { NormPlace::Pre } else { NormPlace::Post };
    e.ffn = if gated {
        FeedForward::Gated(Activation::Silu)
    } else {
        FeedForward::Plain(Activation::Gelu)
    };
    e.residual_scale = if rms { 1.3 } else { 1.0 };
    e.final_norm = Some(norm(h, !rms, rms));
    if !pre {
        e.positions = Positions::Learned {
            table: rand([16, h]),
            offset: 0,
        };
    }
    e
}

/// The host blocks give burn's block ops' states at every layer, on a
/// padded batch.
#[test]
fn host_blocks_equal_the_burn_ops() {
    let rows = vec![vec![1, 4, 5, 9, 2], vec![1, 3, 2], vec![1, 7, 8, 6, 10, 2]];
    for (pre, gated, rms) in [
        (true, false, false),
        (false, false, false),
        (true, true, true),
    ] {
        let e = encoder(pre, gated, rms);
        assert!(e.host_views().is_some(), "every weight readable in place");
        let layers = [Some(0), Some(1), None];
        let (host, l) = e.pass(&rows, &[], 0, &layers, Some(2));
        let (ops, l2) = e.pass(&rows, &[], 0, &layers, None);
        assert_eq!(l, l2);
        for (a, b) in host.iter().zip(&ops) {
            for (r, row) in rows.iter().enumerate() {
                // Real tokens (padding rows differ in ways nothing reads).
                let span = r * l * 32..(r * l + row.len()) * 32;
                let worst = a[span.clone()]
                    .iter()
                    .zip(&b[span])
                    .map(|(x, y)| (x - y).abs())
                    .fold(0f32, f32::max);
                assert!(worst < 2e-5, "pre {pre} gated {gated}: {worst}");
            }
        }
    }
}
