//! Probe training in burn (flex CPU backend by default).

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};

#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
}

fn linear(w: Vec<f32>, b: Vec<f32>, din: usize, dout: usize, device: &Device) -> Linear {
    Linear {
        weight: Param::from_data(TensorData::new(w, [din, dout]), device),
        bias: Some(Param::from_data(TensorData::new(b, [dout]), device)),
    }
}

impl Mlp {
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let n = self.layers.len();
        let mut h = x;
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(h);
            if i + 1 < n {
                h = burn::tensor::activation::relu(h);
            }
        }
        h
    }
}

pub fn smoke() -> f32 {
    let device = Device::flex().autodiff();
    let m = Mlp {
        layers: vec![
            linear(vec![0.1; 8], vec![0.0; 2], 4, 2, &device),
            linear(vec![0.1; 2], vec![0.0; 1], 2, 1, &device),
        ],
    };
    let mut opt = AdamWConfig::new().with_weight_decay(1e-4).init();
    let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32; 12], [3, 4]), &device);
    let y = Tensor::<2>::from_data(TensorData::new(vec![1.0f32; 3], [3, 1]), &device);
    let mut m = m;
    let mut last = 0.0;
    for _ in 0..10 {
        let out = m.forward(x.clone());
        let loss = (out - y.clone()).powi_scalar(2).mean();
        last = loss.clone().into_scalar();
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        m = opt.step(1e-2, m, grads);
    }
    last
}

#[cfg(test)]
mod tests {
    #[test]
    fn smoke_trains() {
        let l = super::smoke();
        assert!(l < 1.0, "{l}");
        println!("loss {l}");
    }
}
