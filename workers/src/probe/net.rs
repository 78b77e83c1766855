//! The probe network trained by `train` and stepped by `optim`.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The probe network: linear layers with ReLU between them (no hidden
/// layer: a linear model), Glorot-uniform weights from the cell's RNG.
#[derive(Module, Debug)]
pub struct ProbeNet {
    pub(crate) layers: Vec<Linear>,
}

impl ProbeNet {
    pub(super) fn init(dims: &[usize], rng: &mut ChaCha8Rng, device: &Device) -> ProbeNet {
        let layers = dims
            .windows(2)
            .map(|w| {
                let (din, dout) = (w[0], w[1]);
                let limit = (6.0 / (din + dout) as f64).sqrt() as f32;
                let wv: Vec<f32> = (0..din * dout)
                    .map(|_| rng.random_range(-limit..limit))
                    .collect();
                Linear {
                    weight: Param::from_data(TensorData::new(wv, [din, dout]), device),
                    bias: Some(Param::from_data(
                        TensorData::new(vec![0f32; dout], [dout]),
                        device,
                    )),
                }
            })
            .collect();
        ProbeNet { layers }
    }

    /// Logits; `masks` (one per hidden layer, already scaled by 1/(1-p)) apply dropout.
    pub(super) fn forward(&self, x: Tensor<2>, masks: Option<&[Tensor<2>]>) -> Tensor<2> {
        let n = self.layers.len();
        let mut h = x;
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(h);
            if i + 1 < n {
                h = relu(h);
                if let Some(m) = masks {
                    h = h * m[i].clone();
                }
            }
        }
        h
    }

    /// Σ |W|² over the layers' weights (not the biases).
    pub(super) fn weights_squared(&self) -> Tensor<1> {
        self.layers
            .iter()
            .map(|l| l.weight.val().powi_scalar(2).sum())
            .reduce(|a, b| a + b)
            .expect("at least one layer")
    }
}
