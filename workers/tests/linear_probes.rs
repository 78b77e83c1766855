//! The linear probes against scikit-learn on identical standardized features
//! and splits (fixtures/linear, scripts/make_linear_fixtures.py): a
//! protein-composition dataset with 64 collinear, ill-conditioned columns and
//! imbalanced binary, multiclass, multilabel and regression labels.
//! `LogisticRegression(C, class_weight="balanced", tol=1e-6)`: test AUROC
//! within 0.002 and the penalized objective within 1e-4 (relative), for every
//! C of a 4-value grid; `Ridge(alpha)`: test Spearman within 1e-4.

use ndarray::Array2;
use std::path::{Path, PathBuf};
use workers::probe::features::DenseFeatures;
use workers::probe::metrics::{auroc, spearman};
use workers::probe::train::{ProbeOutput, train_probe};
use workers::probe::{Head, PenaltyC, ProbeKind, ProbeParams};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/linear")
}

struct Fixture {
    x: DenseFeatures,
    train: Vec<usize>,
    valid: Vec<usize>,
    test: Vec<usize>,
    r: serde_json::Value,
}

fn fixture() -> Fixture {
    let raw: Array2<f32> = ndarray_npy::read_npy(dir().join("features.npy")).unwrap();
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir().join("reference.json")).unwrap()).unwrap();
    let idx = |k: &str| -> Vec<usize> {
        r[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect()
    };
    let (train, valid, test) = (idx("train"), idx("valid"), idx("test"));
    Fixture {
        x: DenseFeatures::standardized(&raw, &train),
        train,
        valid,
        test,
        r,
    }
}

/// The probe `p` on the fixture's splits.
fn solve(f: &Fixture, y: &Array2<f32>, head: Head, p: &ProbeParams) -> ProbeOutput {
    try_solve(f, y, head, p).unwrap()
}

fn try_solve(
    f: &Fixture,
    y: &Array2<f32>,
    head: Head,
    p: &ProbeParams,
) -> Result<ProbeOutput, workers::probe::ProbeError> {
    train_probe(
        &f.x,
        y,
        &f.train,
        &f.valid,
        &f.test,
        head,
        p,
        0,
        &workers::device::cpu(),
    )
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Mean AUROC over the columns that have both classes in the test split.
fn mean_auroc(y: &Array2<f32>, p: &[Vec<f64>]) -> f64 {
    let mut s = Vec::new();
    for (c, pc) in p.iter().enumerate() {
        let yc: Vec<bool> = y.column(c).iter().map(|v| *v > 0.5).collect();
        if let Some(a) = auroc(&yc, pc) {
            s.push(a);
        }
    }
    s.iter().sum::<f64>() / s.len() as f64
}

fn logistic_task(task: &str) {
    let f = fixture();
    let t = &f.r["tasks"][task];
    let n = f.x.x.nrows();
    let (y, head) = match task {
        "binary" => (
            Array2::from_shape_fn((n, 1), |(i, _)| t["y"][i].as_f64().unwrap() as f32),
            Head::Binary,
        ),
        "multiclass" => {
            let k = t["classes"].as_u64().unwrap() as usize;
            (
                Array2::from_shape_fn((n, k), |(i, c)| {
                    (t["y"][i].as_u64().unwrap() as usize == c) as u8 as f32
                }),
                Head::Multiclass(k),
            )
        }
        _ => {
            let k = t["y"][0].as_array().unwrap().len();
            (
                Array2::from_shape_fn((n, k), |(i, c)| t["y"][i][c].as_f64().unwrap() as f32),
                Head::Multilabel(k),
            )
        }
    };
    let yt = y.select(ndarray::Axis(0), &f.test);
    for fit in t["fits"].as_array().unwrap() {
        let c = fit["c"].as_f64().unwrap();
        let p = ProbeParams {
            kind: ProbeKind::Logreg,
            c: Some(PenaltyC::One(c)),
            tol: 1e-6,
            ..Default::default()
        };
        let out = solve(&f, &y, head, &p);
        assert!(out.fit.converged, "{task} C={c}: {:?}", out.fit);
        let ours: Vec<Vec<f64>> = (0..y.ncols())
            .map(|k| out.test.column(k).iter().map(|v| *v as f64).collect())
            .collect();
        let theirs: Vec<Vec<f64>> = (0..y.ncols())
            .map(|k| {
                fit["test_prob"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|row| row[k].as_f64().unwrap())
                    .collect()
            })
            .collect();
        let (a, b) = (mean_auroc(&yt, &ours), mean_auroc(&yt, &theirs));
        assert!(
            (a - b).abs() <= 0.002,
            "{task} C={c}: test AUROC {a:.5} vs scikit-learn {b:.5}"
        );
        let want = fit["objective"].as_f64().unwrap();
        let rel = (out.fit.objective - want) / want.abs();
        assert!(
            rel <= 1e-4,
            "{task} C={c}: objective {} vs scikit-learn {want} (relative {rel:.2e})",
            out.fit.objective
        );
        eprintln!(
            "{task} C={c}: AUROC {a:.5} vs {b:.5}; objective rel. diff {rel:.2e}; {} iterations",
            out.fit.iterations
        );
    }
}

#[test]
fn binary_logistic_regression_matches_scikit_learn_on_collinear_features() {
    logistic_task("binary");
}

#[test]
fn multinomial_logistic_regression_matches_scikit_learn() {
    logistic_task("multiclass");
}

#[test]
fn multilabel_logistic_regression_is_one_scikit_learn_fit_per_label() {
    logistic_task("multilabel");
}

#[test]
fn ridge_matches_scikit_learn() {
    let f = fixture();
    let t = &f.r["tasks"]["regression"];
    let yv = floats(&t["y"]);
    let y = Array2::from_shape_fn((yv.len(), 1), |(i, _)| yv[i] as f32);
    let yt: Vec<f64> = f.test.iter().map(|i| yv[*i]).collect();
    for fit in t["fits"].as_array().unwrap() {
        let alpha = fit["alpha"].as_f64().unwrap();
        for kind in [ProbeKind::Ridge, ProbeKind::Logreg] {
            let p = ProbeParams {
                kind,
                alpha: Some(PenaltyC::One(alpha)),
                ..Default::default()
            };
            let out = solve(&f, &y, Head::Regression, &p);
            assert_eq!(out.alpha, Some(alpha));
            let ours: Vec<f64> = out.test.column(0).iter().map(|v| *v as f64).collect();
            let theirs = floats(&fit["test_pred"]);
            let (a, b) = (
                spearman(&yt, &ours).unwrap(),
                spearman(&yt, &theirs).unwrap(),
            );
            assert!(
                (a - b).abs() <= 1e-4,
                "alpha={alpha}: Spearman {a:.6} vs scikit-learn {b:.6}"
            );
            let d = ours
                .iter()
                .zip(&theirs)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0, f64::max);
            assert!(d < 1e-3, "alpha={alpha}: predictions differ by {d}");
        }
    }
}

#[test]
fn too_few_iterations_is_recorded_as_not_converged() {
    let f = fixture();
    let t = &f.r["tasks"]["binary"];
    let n = f.x.x.nrows();
    let y = Array2::from_shape_fn((n, 1), |(i, _)| t["y"][i].as_f64().unwrap() as f32);
    let p = ProbeParams {
        kind: ProbeKind::Logreg,
        c: Some(PenaltyC::One(10.0)),
        max_iter: 3,
        ..Default::default()
    };
    let out = solve(&f, &y, Head::Binary, &p);
    assert!(!out.fit.converged, "{:?}", out.fit);
    assert_eq!((out.fit.iterations, out.fit.stop.as_str()), (3, "max_iter"));
    assert!(out.fit.grad_norm > 1e-6);
    // A ridge probe on a classification task is refused with the way out.
    let e = try_solve(
        &f,
        &y,
        Head::Binary,
        &ProbeParams {
            kind: ProbeKind::Ridge,
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("use kind: logreg"), "{e}");
}
