//! Reading a native model's tensors: [`Loader`] takes them by base-model
//! name from a [`Weights`] folder (PyTorch `[out, in]` Linear layout,
//! `gamma`/`beta` LayerNorm aliases) onto a device as the encoder's layers,
//! and hashes names and values as loaded, so one model saved in any layout
//! hashes identically.

use super::ModelError;
use super::encoder::{Lin, Norm};
use super::weights::Weights;
use burn::tensor::{Device, Tensor, TensorData};
use sha2::Digest;
use std::cell::RefCell;

/// Reads tensors by base-model name from a folder's weights onto a device,
/// hashing names and values in load order.
pub struct Loader<'a> {
    weights: &'a Weights,
    device: Device,
    hasher: RefCell<sha2::Sha256>,
}

impl<'a> Loader<'a> {
    pub fn new(weights: &'a Weights, device: &Device) -> Loader<'a> {
        Loader {
            weights,
            device: device.clone(),
            hasher: RefCell::new(sha2::Sha256::new()),
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.weights.contains(name)
    }

    fn load(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ModelError> {
        let v = self.weights.get(name, shape)?;
        let mut hs = self.hasher.borrow_mut();
        // LayerNorm `gamma`/`beta` (older exports) are `weight`/`bias`.
        let canonical = name.replace(".gamma", ".weight").replace(".beta", ".bias");
        hs.update(canonical.as_bytes());
        for x in &v {
            hs.update(x.to_le_bytes());
        }
        Ok(v)
    }

    pub fn t2(&self, name: &str, r: usize, c: usize) -> Result<Tensor<2>, ModelError> {
        Ok(Tensor::from_data(
            TensorData::new(self.load(name, &[r, c])?, [r, c]),
            &self.device,
        ))
    }

    pub fn t1(&self, name: &str, n: usize) -> Result<Tensor<1>, ModelError> {
        Ok(Tensor::from_data(
            TensorData::new(self.load(name, &[n])?, [n]),
            &self.device,
        ))
    }

    /// A PyTorch Linear (`{p}.weight` [out, in], `{p}.bias`).
    pub fn lin(&self, p: &str, din: usize, dout: usize, bias: bool) -> Result<Lin, ModelError> {
        Ok(Lin {
            w: self.t2(&format!("{p}.weight"), dout, din)?.transpose(),
            b: if bias {
                Some(self.t1(&format!("{p}.bias"), dout)?)
            } else {
                None
            },
        })
    }

    /// A query or key projection of a model whose rotary embedding turns
    /// interleaved pairs `(2i, 2i+1)` of the first `rotated` dims of each
    /// head (rotary_embedding_torch: CaLM all of them, EnCodon half): each
    /// head's outputs reordered so that pair i lands on dims i and
    /// i + head_dim/2, where the encoder's rotation of two halves turns it,
    /// and the dims left as they are fill the remaining pairs (given
    /// frequency 0). Scores q·k are unchanged (queries and keys are reordered
    /// alike; values are not).
    pub fn lin_interleaved_heads(
        &self,
        p: &str,
        (din, dout): (usize, usize),
        heads: usize,
        rotated: usize,
        bias: bool,
    ) -> Result<Lin, ModelError> {
        let hd = dout / heads.max(1);
        let half = hd / 2;
        // New position of each pair j: its two source dims within the head.
        let source = |j: usize| -> (usize, usize) {
            if j < rotated / 2 {
                (2 * j, 2 * j + 1)
            } else {
                let k = rotated + 2 * (j - rotated / 2);
                (k, k + 1)
            }
        };
        let perm: Vec<i64> = (0..dout)
            .map(|o| {
                let (h, j) = (o / hd, o % hd);
                let (a, b) = source(j % half);
                let src = if j < half { a } else { b };
                (h * hd + src) as i64
            })
            .collect();
        let idx =
            Tensor::<1, burn::tensor::Int>::from_data(TensorData::new(perm, [dout]), &self.device);
        let l = self.lin(p, din, dout, bias)?;
        Ok(Lin {
            w: l.w.select(1, idx.clone()),
            b: l.b.map(|b| b.select(0, idx)),
        })
    }

    /// A LayerNorm: `weight`/`bias`, or `gamma`/`beta` in some exports.
    pub fn norm(&self, p: &str, n: usize, eps: f64) -> Result<Norm, ModelError> {
        let either = |a: &str, b: &str| -> Result<Tensor<1>, ModelError> {
            self.t1(&format!("{p}.{a}"), n).or_else(|e| {
                self.t1(&format!("{p}.{b}"), n).map_err(|e2| match e2 {
                    ModelError::MissingTensor { .. } => e,
                    other => other,
                })
            })
        };
        Ok(Norm {
            w: either("weight", "gamma")?,
            b: Some(either("bias", "beta")?),
            eps,
            rms: false,
        })
    }

    /// A LayerNorm without a bias (`{p}.weight` only; ESM C).
    pub fn norm_no_bias(&self, p: &str, n: usize, eps: f64) -> Result<Norm, ModelError> {
        Ok(Norm {
            w: self.t1(&format!("{p}.weight"), n)?,
            b: None,
            eps,
            rms: false,
        })
    }

    /// T5's RMS norm (`{p}.weight`).
    pub fn rms_norm(&self, p: &str, n: usize, eps: f64) -> Result<Norm, ModelError> {
        Ok(Norm {
            rms: true,
            ..self.norm_no_bias(p, n, eps)?
        })
    }

    /// Two PyTorch Linears without biases stacked into one (outputs of the
    /// first, then of the second): T5's gated `wi_0`, `wi_1`.
    pub fn lin_pair(&self, a: &str, b: &str, din: usize, dout: usize) -> Result<Lin, ModelError> {
        let wa = self.t2(&format!("{a}.weight"), dout, din)?;
        let wb = self.t2(&format!("{b}.weight"), dout, din)?;
        Ok(Lin {
            w: Tensor::cat(vec![wa, wb], 0).transpose(),
            b: None,
        })
    }

    /// Query, key and value layers `{p}.{names[i]}` joined into one
    /// `[din, 3·dout]` layer (columns q | k | v), loaded (and hashed) in
    /// that order.
    pub fn lin_qkv(
        &self,
        p: &str,
        names: [&str; 3],
        din: usize,
        dout: usize,
        bias: bool,
    ) -> Result<Lin, ModelError> {
        let [a, b, c] = names;
        Ok(Lin::joined([
            self.lin(&format!("{p}.{a}"), din, dout, bias)?,
            self.lin(&format!("{p}.{b}"), din, dout, bias)?,
            self.lin(&format!("{p}.{c}"), din, dout, bias)?,
        ]))
    }

    /// The hash of everything loaded so far.
    pub fn finish(self) -> String {
        hex::encode(self.hasher.into_inner().finalize())
    }
}
