//! Training a probe in burn: AdamW, mini-batches, dropout, class weights,
//! early stopping on the validation score, the best epoch's weights kept.
//!
//! Deterministic: initial weights, batch order and dropout masks come from a
//! ChaCha stream seeded by the caller (the cell), not from the backend's RNG,
//! so the same cell gives the same metrics on the same backend and thread count.
//!
//! Its unit tests are in `train_tests.rs`.

use super::features::Features;
use super::net::ProbeNet;
use super::optim::ProbeOptimizer;
pub use super::output::ProbeOutput;
use super::output::{CurvePoint, FitInfo, score};
use super::{Head, PenaltyC, ProbeError, ProbeKind, ProbeParams};
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::activation::{log_softmax, sigmoid, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The coefficient λ of the penalty (λ/2)|W|² added to the training loss (a
/// per-row mean) that makes it scikit-learn's objective Σ wᵢ lossᵢ + |W|²/(2C),
/// with the class weights rescaled to average 1 as sklearn's `balanced`:
/// binary/multilabel losses are means of wᵢ lossᵢ over n rows, so λ =
/// Σwᵢ / (C n²) (averaged over the outputs); multiclass losses are normalized
/// by Σwᵢ and regression is unweighted, so λ = 1 / (C n).
fn l2_coefficient(head: Head, ytr: &Array2<f32>, wvec: &[f32], c: f64) -> f64 {
    let n = ytr.nrows() as f64;
    match head {
        Head::Binary | Head::Multilabel(_) => {
            let sum_w = (0..wvec.len())
                .map(|o| {
                    ytr.column(o)
                        .iter()
                        .map(|y| if *y > 0.5 { wvec[o] as f64 } else { 1.0 })
                        .sum::<f64>()
                })
                .sum::<f64>()
                / wvec.len() as f64;
            sum_w / (c * n * n)
        }
        Head::Multiclass(_) | Head::Regression => 1.0 / (c * n),
    }
}

fn to_tensor(a: &Array2<f32>, device: &Device) -> Tensor<2> {
    let (n, d) = a.dim();
    let v: Vec<f32> = a.iter().copied().collect();
    Tensor::from_data(TensorData::new(v, [n, d]), device)
}

fn to_array(t: Tensor<2>) -> Array2<f32> {
    let [n, d] = t.dims();
    let v = t.into_data().try_to_vec::<f32>().expect("f32 tensor");
    Array2::from_shape_vec((n, d), v).expect("shape")
}

/// Loss as a tensor (mean over the batch, weighted).
fn loss(head: Head, logits: Tensor<2>, y: Tensor<2>, w: &Tensor<2>) -> Tensor<1> {
    match head {
        Head::Binary | Head::Multilabel(_) => {
            // BCE with logits and positive weights (PyTorch's formula):
            // (1 - y) z + (1 + (pw - 1) y) (log(1 + e^{-|z|}) + max(-z, 0))
            let z = logits;
            let lw = w.clone().sub_scalar(1.0).mul(y.clone()).add_scalar(1.0);
            let softplus_neg = z.clone().abs().neg().exp().log1p() + z.clone().neg().clamp_min(0.0);
            (y.neg().add_scalar(1.0) * z + lw * softplus_neg).mean()
        }
        Head::Multiclass(_) => {
            // Weighted cross entropy: sum_i w_{y_i} (-log p_{i,y_i}) / sum_i w_{y_i}
            let lp = log_softmax(logits, 1);
            let wy = (y.clone() * w.clone()).sum_dim(1); // [n,1]
            let nll = (y * lp).sum_dim(1).neg(); // [n,1]
            (nll * wy.clone()).sum() / wy.sum()
        }
        Head::Regression => (logits - y).powi_scalar(2).mean(),
    }
}

fn activate(head: Head, logits: Tensor<2>) -> Tensor<2> {
    match head {
        Head::Binary | Head::Multilabel(_) => sigmoid(logits),
        Head::Multiclass(_) => softmax(logits, 1),
        Head::Regression => logits,
    }
}

/// Trains on `train` rows, early-stops on `valid`, predicts `valid` and `test`.
/// `y` holds one target row per feature row: 0/1 for binary/multilabel,
/// one-hot for multiclass, the value for regression. A `probe.c` grid trains
/// once per value (same seed) and keeps the best validation score (the first
/// of equals).
#[allow(clippy::too_many_arguments)]
pub fn train_probe(
    x: &dyn Features,
    y: &Array2<f32>,
    train: &[usize],
    valid: &[usize],
    test: &[usize],
    head: Head,
    p: &ProbeParams,
    seed: u64,
    device: &Device,
) -> Result<ProbeOutput, ProbeError> {
    p.check().map_err(|e| ProbeError::Input(e.to_string()))?;
    let need = p.memory_estimate(x.dim(), head.outputs());
    if let Some(avail) = super::available_memory()
        && need > avail
    {
        let gib = |b: u128| b as f64 / (1u128 << 30) as f64;
        return Err(ProbeError::Input(format!(
            "a {:?} probe with hidden {:?} on {}-d features needs about {:.1} GiB \
             (weights, gradients, optimizer state, a batch of activations); {:.1} GiB is available; \
             use smaller probe.hidden widths or a smaller probe.batch",
            p.kind,
            p.hidden,
            x.dim(),
            gib(need),
            gib(avail)
        )));
    }
    let c = match p.c.as_ref().map(|c| c.values()) {
        None => None,
        Some(v) if v.len() == 1 => Some(v[0]),
        // A linear probe solves its grid itself (warm starts, train_linear).
        Some(_) if p.kind != ProbeKind::Mlp => None,
        // A grid: one run per value, each with one `c`.
        Some(grid) => {
            let mut best: Option<ProbeOutput> = None;
            for v in grid {
                let one = ProbeParams {
                    c: Some(PenaltyC::One(v)),
                    ..p.clone()
                };
                let out = train_probe(x, y, train, valid, test, head, &one, seed, device)?;
                if best
                    .as_ref()
                    .is_none_or(|b| out.valid_score() > b.valid_score())
                {
                    best = Some(out);
                }
            }
            return Ok(best.expect("check() refuses an empty grid"));
        }
    };
    let ytr = check_targets(x, y, train, valid, test, head)?;
    if p.kind != ProbeKind::Mlp {
        return super::linear::train_linear(x, y, train, valid, test, head, p);
    }
    train_mlp(x, y, &ytr, [train, valid, test], head, p, c, seed, device)
}

/// Targets of the right shape, no empty split, and training labels a probe
/// can learn from (two classes; targets that vary). Returns the training
/// targets.
fn check_targets(
    x: &dyn Features,
    y: &Array2<f32>,
    train: &[usize],
    valid: &[usize],
    test: &[usize],
    head: Head,
) -> Result<Array2<f32>, ProbeError> {
    let k = head.outputs();
    if y.ncols() != k || y.nrows() != x.len() {
        return Err(ProbeError::Input(format!(
            "targets are {:?}, expected ({}, {k})",
            y.dim(),
            x.len()
        )));
    }
    if train.is_empty() || valid.is_empty() || test.is_empty() {
        return Err(ProbeError::Degenerate(format!(
            "empty split (train {}, valid {}, test {}): too few labelled examples",
            train.len(),
            valid.len(),
            test.len()
        )));
    }
    // Degenerate training labels.
    let ytr = y.select(ndarray::Axis(0), train);
    match head {
        Head::Binary | Head::Multiclass(_) => {
            let present = (0..k)
                .filter(|c| ytr.column(*c).iter().any(|v| *v > 0.5))
                .count();
            let classes = if head == Head::Binary {
                if ytr.iter().any(|v| *v > 0.5) && ytr.iter().any(|v| *v < 0.5) {
                    2
                } else {
                    1
                }
            } else {
                present
            };
            if classes < 2 {
                return Err(ProbeError::Degenerate(
                    "the training split has only one class: a probe cannot be trained".into(),
                ));
            }
        }
        Head::Regression => {
            let v = ytr.column(0);
            if v.iter().all(|a| *a == v[0]) {
                return Err(ProbeError::Degenerate(
                    "the training targets are constant".into(),
                ));
            }
        }
        Head::Multilabel(_) => {}
    }
    Ok(ytr)
}

/// Regression targets are standardized for training: (mean, sd); others
/// are left as they are.
fn target_scale(head: Head, ytr: &Array2<f32>) -> (f32, f32) {
    if head == Head::Regression {
        let v: Vec<f64> = ytr.column(0).iter().map(|a| *a as f64).collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let s = (v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / v.len() as f64)
            .sqrt()
            .max(1e-12);
        (m as f32, s as f32)
    } else {
        (0.0, 1.0)
    }
}

/// Class weights: positive weight per output (binary/multilabel), or per
/// class (multiclass); ones without `class_weights`.
fn class_weights(head: Head, ytr: &Array2<f32>, p: &ProbeParams) -> Vec<f32> {
    let k = head.outputs();
    match head {
        Head::Binary | Head::Multilabel(_) if p.class_weights => (0..k)
            .map(|c| {
                let pos = ytr.column(c).iter().filter(|v| **v > 0.5).count() as f32;
                let neg = ytr.nrows() as f32 - pos;
                if pos > 0.0 {
                    (neg / pos).clamp(0.05, 100.0)
                } else {
                    1.0
                }
            })
            .collect(),
        Head::Multiclass(_) if p.class_weights => (0..k)
            .map(|c| {
                let n_c = ytr.column(c).iter().filter(|v| **v > 0.5).count() as f32;
                if n_c > 0.0 {
                    ytr.nrows() as f32 / (k as f32 * n_c)
                } else {
                    1.0
                }
            })
            .collect(),
        _ => vec![1.0; k],
    }
}

/// Inverted-dropout masks of one batch, one per hidden layer (none without
/// dropout).
fn dropout_masks(
    p: &ProbeParams,
    rows: usize,
    rng: &mut ChaCha8Rng,
    ad: &Device,
) -> Option<Vec<Tensor<2>>> {
    (p.kind == ProbeKind::Mlp && p.dropout > 0.0).then(|| {
        p.hidden
            .iter()
            .map(|h| {
                let keep = 1.0 - p.dropout;
                let m: Vec<f32> = (0..rows * h)
                    .map(|_| {
                        if rng.random_bool(keep) {
                            (1.0 / keep) as f32
                        } else {
                            0.0
                        }
                    })
                    .collect();
                Tensor::from_data(TensorData::new(m, [rows, *h]), ad)
            })
            .collect()
    })
}

/// The MLP (or a linear head trained by AdamW): epochs over shuffled
/// batches, early stopping on the validation score, predictions of the
/// best epoch.
#[allow(clippy::too_many_arguments)]
fn train_mlp(
    x: &dyn Features,
    y: &Array2<f32>,
    ytr: &Array2<f32>,
    [train, valid, test]: [&[usize]; 3],
    head: Head,
    p: &ProbeParams,
    c: Option<f64>,
    seed: u64,
    device: &Device,
) -> Result<ProbeOutput, ProbeError> {
    let k = head.outputs();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ad = device.clone().autodiff();
    let inner = device.clone();

    let (ymean, ystd) = target_scale(head, ytr);
    let yt = y.mapv(|v| (v - ymean) / ystd);

    let wvec = class_weights(head, ytr, p);
    let l2 = c.map(|c| l2_coefficient(head, ytr, &wvec, c));
    let w_ad = Tensor::<2>::from_data(TensorData::new(wvec.clone(), [1, k]), &ad);
    let w_inner = Tensor::<2>::from_data(TensorData::new(wvec, [1, k]), &inner);

    let mut dims = vec![x.dim()];
    if p.kind == ProbeKind::Mlp {
        dims.extend(&p.hidden);
    }
    dims.push(k);
    let mut net = ProbeNet::init(&dims, &mut rng, &ad);
    let mut opt = ProbeOptimizer::for_device(p.weight_decay as f32, device);

    // Validation features are fixed: build them once.
    let xv = to_tensor(&x.rows(valid), &inner);
    let yv_arr = yt.select(ndarray::Axis(0), valid);
    let yv = to_tensor(&yv_arr, &inner);
    let yv_orig = y.select(ndarray::Axis(0), valid);

    // Training features live on the device once (when they fit in 1 GiB);
    // each batch is a `select` of shuffled row positions, not a host copy.
    let resident = train.len() * x.dim() * 4 <= 1 << 30;
    let xtr_dev = resident.then(|| to_tensor(&x.rows(train), &ad));
    let ytr_dev = resident.then(|| to_tensor(&yt.select(ndarray::Axis(0), train), &ad));
    let mut order: Vec<usize> = if resident {
        (0..train.len()).collect()
    } else {
        train.to_vec()
    };
    let mut best: Option<(f64, usize, ProbeNet)> = None;
    let mut curve = Vec::new();
    let mut score_name = "auroc";
    let mut since_best = 0;
    let mut stop = "max_epochs";
    for epoch in 1..=p.max_epochs {
        order.shuffle(&mut rng);
        let mut tl: Option<Tensor<1>> = None;
        let mut nb = 0usize;
        for batch in order.chunks(p.batch) {
            let (xb, yb) = match (&xtr_dev, &ytr_dev) {
                (Some(xd), Some(yd)) => {
                    let idx: Vec<i64> = batch.iter().map(|i| *i as i64).collect();
                    let it = Tensor::<1, Int>::from_data(TensorData::new(idx, [batch.len()]), &ad);
                    (xd.clone().select(0, it.clone()), yd.clone().select(0, it))
                }
                _ => (
                    to_tensor(&x.rows(batch), &ad),
                    to_tensor(&yt.select(ndarray::Axis(0), batch), &ad),
                ),
            };
            let masks = dropout_masks(p, batch.len(), &mut rng, &ad);
            let logits = net.forward(xb, masks.as_deref());
            let l = loss(head, logits, yb, &w_ad);
            // Summed on the device, read once per epoch: no host sync per step.
            let lb = l.clone().inner().mul_scalar(batch.len() as f64);
            tl = Some(match tl {
                Some(t) => t + lb,
                None => lb,
            });
            nb += batch.len();
            let l = match l2 {
                Some(lambda) => l + net.weights_squared().mul_scalar(lambda / 2.0),
                None => l,
            };
            let grads = GradientsParams::from_grads(l.backward(), &net);
            net = opt.step(p.lr, net, grads);
        }
        let eval = net.valid();
        let vlogits = eval.forward(xv.clone(), None);
        let vloss = loss(head, vlogits.clone(), yv.clone(), &w_inner).into_scalar::<f32>() as f64;
        let mut vpred = to_array(activate(head, vlogits));
        if head == Head::Regression {
            vpred.mapv_inplace(|v| v * ystd + ymean);
        }
        let (s, name) = score(head, &vpred, &yv_orig, vloss);
        score_name = name;
        let train_loss = tl.map_or(0.0, |t| t.into_scalar::<f32>() as f64) / nb.max(1) as f64;
        curve.push(CurvePoint {
            epoch,
            train_loss,
            valid_loss: vloss,
            valid_score: s,
        });
        if !s.is_finite() || !train_loss.is_finite() {
            return Err(ProbeError::Degenerate(format!(
                "training diverged at epoch {epoch} (validation score {s}); lower probe.lr"
            )));
        }
        if best
            .as_ref()
            .is_none_or(|(b, _, _)| s > *b + p.min_delta.max(1e-12))
        {
            best = Some((s, epoch, eval));
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= p.patience {
                stop = "patience";
                break;
            }
        }
    }
    let (_, best_epoch, model) = best.expect("at least one epoch");
    let fit = mlp_fit_info(stop, best_epoch, &curve);
    let scale = (ymean, ystd);
    let predict = |rows: &[usize]| predict_rows(&model, x, rows, head, scale, &inner);
    Ok(ProbeOutput {
        valid: predict(valid),
        test: predict(test),
        curve,
        best_epoch,
        score_name,
        c,
        alpha: None,
        grid: Vec::new(),
        grid_edge: None,
        fit,
    })
}

/// How an MLP fit ended: stopped by patience (converged), or by the epoch
/// limit (still improving when the best epoch was the last).
fn mlp_fit_info(stop: &str, best_epoch: usize, curve: &[CurvePoint]) -> FitInfo {
    let epochs = curve.len();
    let stop = if stop == "max_epochs" && best_epoch == epochs {
        "max_epochs, still improving"
    } else {
        stop
    };
    FitInfo {
        solver: "adamw".into(),
        converged: stop == "patience",
        iterations: epochs,
        grad_norm: f64::NAN,
        objective: curve.last().map_or(f64::NAN, |c| c.train_loss),
        stop: stop.into(),
    }
}

/// The kept model's predictions of `rows` (in chunks of 4,096), on the
/// targets' original scale.
fn predict_rows(
    model: &ProbeNet,
    x: &dyn Features,
    rows: &[usize],
    head: Head,
    (ymean, ystd): (f32, f32),
    inner: &Device,
) -> Array2<f32> {
    let k = head.outputs();
    let mut out = Array2::<f32>::zeros((rows.len(), k));
    for (c, chunk) in rows.chunks(4096).enumerate() {
        let xt = to_tensor(&x.rows(chunk), inner);
        let pr = to_array(activate(head, model.forward(xt, None)));
        out.slice_mut(ndarray::s![c * 4096..c * 4096 + chunk.len(), ..])
            .assign(&pr);
    }
    if head == Head::Regression {
        out.mapv_inplace(|v| v * ystd + ymean);
    }
    out
}

#[cfg(test)]
#[path = "train_tests.rs"]
mod tests;
