//! Linear-probe throughput (run by bench/linear.sh): the c grid
//! [0.01, 0.1, 1, 10] of a logistic-regression probe on the dataset
//! bench/linear_reference.py makes, binary and 8-class; prints
//! `RESULT task|seconds|test AUROC|chosen c` per task.

use ndarray::{Array2, Axis};
use std::time::Instant;
use workers::probe::features::DenseFeatures;
use workers::probe::train::train_probe;
use workers::probe::{Head, PenaltyC, ProbeKind, ProbeParams};

fn main() {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .skip(1)
            .find(|a| !a.starts_with('-'))
            .expect("usage: linear DIR"),
    );
    let x: Array2<f32> = ndarray_npy::read_npy(dir.join("x.npy")).unwrap();
    let data: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("data.json")).unwrap()).unwrap();
    let idx = |k: &str| -> Vec<usize> {
        data[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect()
    };
    let (tr, va, te) = (idx("train"), idx("valid"), idx("test"));
    let feats = DenseFeatures { x };
    let n = feats.x.nrows();
    let p = ProbeParams {
        kind: ProbeKind::Logreg,
        c: Some(PenaltyC::Grid(vec![0.01, 0.1, 1.0, 10.0])),
        tol: 1e-6,
        max_iter: 100_000,
        ..Default::default()
    };
    for task in ["binary", "multiclass"] {
        let labels = idx(task);
        let (y, head) = if task == "binary" {
            (
                Array2::from_shape_fn((n, 1), |(i, _)| labels[i] as f32),
                Head::Binary,
            )
        } else {
            (
                Array2::from_shape_fn((n, 8), |(i, c)| (labels[i] == c) as u8 as f32),
                Head::Multiclass(8),
            )
        };
        let t0 = Instant::now();
        let out = train_probe(
            &feats,
            &y,
            &tr,
            &va,
            &te,
            head,
            &p,
            0,
            &workers::device::cpu(),
        )
        .unwrap();
        let secs = t0.elapsed().as_secs_f64();
        let yt = y.select(Axis(0), &te);
        let m = workers::probe::metrics::compute_metrics(
            if task == "binary" {
                workers::dataset::TaskKind::Binary
            } else {
                workers::dataset::TaskKind::Multiclass
            },
            &yt,
            &out.test,
        )
        .0;
        let auc = m["auroc"].unwrap_or(f64::NAN);
        assert!(out.fit.converged, "{:?}", out.fit);
        println!(
            "RESULT {task}|{secs}|{auc}|{}|{} iterations at the chosen c",
            out.c.unwrap(),
            out.fit.iterations
        );
    }
}
