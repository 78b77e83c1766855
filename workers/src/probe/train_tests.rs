//! Unit tests of `train.rs` (the MLP probe and the shared checks).

use super::*;
use crate::probe::features::DenseFeatures;
use crate::probe::metrics::auroc;

fn toy(n: usize, seed: u64) -> (DenseFeatures, Array2<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, 5), |_| rng.random_range(-1.0f32..1.0));
    let y = Array2::from_shape_fn((n, 1), |(i, _)| {
        if x[[i, 0]] + 0.5 * x[[i, 1]] > 0.0 {
            1.0
        } else {
            0.0
        }
    });
    let rows: Vec<usize> = (0..n * 6 / 10).collect();
    (DenseFeatures::standardized(&x, &rows), y)
}

/// The minimizer of scikit-learn's `LogisticRegression(C, class_weight=
/// "balanced")` objective, by Newton's method in f64: weights, then bias.
#[allow(clippy::needless_range_loop)] // matrix indices read clearer here
fn sklearn_logreg_optimum(x: &Array2<f64>, y: &[f64], c: f64) -> Vec<f64> {
    let (n, d) = x.dim();
    let n_pos = y.iter().sum::<f64>();
    let sw: Vec<f64> = y
        .iter()
        .map(|v| n as f64 / (2.0 * if *v > 0.5 { n_pos } else { n as f64 - n_pos }))
        .collect();
    let mut theta = vec![0.0; d + 1];
    for _ in 0..30 {
        let mut g = vec![0.0; d + 1];
        let mut h = vec![vec![0.0; d + 1]; d + 1];
        for i in 0..n {
            let xi: Vec<f64> = x.row(i).iter().copied().chain([1.0]).collect();
            let z: f64 = xi.iter().zip(&theta).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            for a in 0..=d {
                g[a] += sw[i] * (p - y[i]) * xi[a];
                for b in 0..=d {
                    h[a][b] += sw[i] * p * (1.0 - p) * xi[a] * xi[b];
                }
            }
        }
        for a in 0..d {
            g[a] += theta[a] / c;
            h[a][a] += 1.0 / c;
        }
        // Solve h · step = g (Gaussian elimination, partial pivoting).
        let m = d + 1;
        for col in 0..m {
            let piv = (col..m)
                .max_by(|a, b| h[*a][col].abs().total_cmp(&h[*b][col].abs()))
                .unwrap();
            h.swap(col, piv);
            g.swap(col, piv);
            for r in col + 1..m {
                let f = h[r][col] / h[col][col];
                for k in col..m {
                    h[r][k] -= f * h[col][k];
                }
                g[r] -= f * g[col];
            }
        }
        let mut step = vec![0.0; m];
        for r in (0..m).rev() {
            let s: f64 = (r + 1..m).map(|k| h[r][k] * step[k]).sum();
            step[r] = (g[r] - s) / h[r][r];
        }
        for a in 0..m {
            theta[a] -= step[a];
        }
    }
    theta
}

#[test]
fn logreg_with_c_solves_sklearns_penalized_problem() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let n = 400;
    let raw = Array2::from_shape_fn((n, 4), |_| rng.random_range(-1.0f32..1.0));
    let y = Array2::from_shape_fn((n, 1), |(i, _)| {
        let noise: f32 = rng.random_range(-0.6..0.6);
        if raw[[i, 0]] + 0.5 * raw[[i, 1]] + noise > 0.5 {
            1.0
        } else {
            0.0
        }
    });
    let (tr, va, te): (Vec<usize>, Vec<usize>, Vec<usize>) = (
        (0..280).collect(),
        (280..340).collect(),
        (340..400).collect(),
    );
    let x = DenseFeatures::standardized(&raw, &tr);
    let c = 0.02;
    let exact = sklearn_logreg_optimum(
        &x.rows(&tr).mapv(|v| v as f64),
        &tr.iter().map(|i| y[[*i, 0]] as f64).collect::<Vec<_>>(),
        c,
    );
    let expect: Vec<f64> = x
        .rows(&te)
        .rows()
        .into_iter()
        .map(|r| {
            let z = r
                .iter()
                .zip(&exact)
                .map(|(a, b)| *a as f64 * b)
                .sum::<f64>()
                + exact[4];
            1.0 / (1.0 + (-z).exp())
        })
        .collect();
    let p = ProbeParams {
        kind: ProbeKind::Logreg,
        c: Some(PenaltyC::One(c)),
        weight_decay: 0.0,
        lr: 0.05,
        batch: tr.len(),
        max_epochs: 5000,
        patience: 50,
        min_delta: 1e-9,
        ..Default::default()
    };
    let dev = crate::device::cpu();
    let max_diff = |params: &ProbeParams| {
        let out = train_probe(&x, &y, &tr, &va, &te, Head::Binary, params, 5, &dev).unwrap();
        out.test
            .column(0)
            .iter()
            .zip(&expect)
            .map(|(a, b)| (*a as f64 - b).abs())
            .fold(0.0, f64::max)
    };
    let with_c = max_diff(&p);
    assert!(with_c < 1e-5, "L-BFGS vs the exact optimum: {with_c}");
    // The penalty is what makes them agree: the default (c = 1), or
    // twice as strong, and the probabilities are elsewhere.
    for other in [None, Some(c / 2.0)] {
        let d = max_diff(&ProbeParams {
            c: other.map(PenaltyC::One),
            ..p.clone()
        });
        assert!(d > 0.03, "c = {other:?}: {d}");
    }
    let bad = ProbeParams {
        c: Some(PenaltyC::Grid(vec![1.0, 0.0])),
        ..p.clone()
    };
    assert!(bad.check().unwrap_err().to_string().contains("probe.c = 0"));
    // A grid trains each value and keeps the best validation score.
    let grid = ProbeParams {
        c: Some(PenaltyC::Grid(vec![1e-4, c, 10.0])),
        ..p.clone()
    };
    let chosen = train_probe(&x, &y, &tr, &va, &te, Head::Binary, &grid, 5, &dev).unwrap();
    let each: Vec<ProbeOutput> = [1e-4, c, 10.0]
        .iter()
        .map(|v| {
            let one = ProbeParams {
                c: Some(PenaltyC::One(*v)),
                ..p.clone()
            };
            train_probe(&x, &y, &tr, &va, &te, Head::Binary, &one, 5, &dev).unwrap()
        })
        .collect();
    let top = each
        .iter()
        .map(ProbeOutput::valid_score)
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(chosen.valid_score(), top);
    let winner = each.iter().find(|o| o.valid_score() == top).unwrap();
    assert_eq!(chosen.c, winner.c);
    // Warm-started along the grid vs solved cold: the same optimum.
    let d = (&chosen.test - &winner.test)
        .iter()
        .fold(0f32, |m, v| m.max(v.abs()));
    assert!(d < 1e-5, "{d}");
    assert!(
        chosen.fit.converged && chosen.fit.solver == "lbfgs",
        "{:?}",
        chosen.fit
    );
    // The strongest penalty (c = 1e-4) flattens the probe: not chosen.
    assert_ne!(chosen.c, Some(1e-4));
}

#[test]
fn an_mlp_records_why_it_stopped() {
    let (x, y) = toy(200, 4);
    let (tr, va, te): (Vec<usize>, Vec<usize>, Vec<usize>) = (
        (0..120).collect(),
        (120..160).collect(),
        (160..200).collect(),
    );
    let dev = crate::device::cpu();
    let short = ProbeParams {
        max_epochs: 3,
        patience: 10,
        ..Default::default()
    };
    let out = train_probe(&x, &y, &tr, &va, &te, Head::Binary, &short, 1, &dev).unwrap();
    assert_eq!((out.fit.solver.as_str(), out.fit.iterations), ("adamw", 3));
    assert!(out.fit.stop.starts_with("max_epochs"), "{:?}", out.fit);
    assert!(!out.fit.converged);
    let long = ProbeParams {
        max_epochs: 500,
        patience: 2,
        min_delta: 0.05,
        ..Default::default()
    };
    let out = train_probe(&x, &y, &tr, &va, &te, Head::Binary, &long, 1, &dev).unwrap();
    assert_eq!(out.fit.stop, "patience", "{:?}", out.fit);
    assert!(out.fit.converged && out.fit.iterations < 500);
}

#[test]
fn a_probe_that_cannot_fit_in_memory_is_refused_before_it_allocates() {
    let (x, y) = toy(60, 2);
    let rows: Vec<usize> = (0..60).collect();
    let p = ProbeParams {
        hidden: vec![65_536, 65_536, 65_536],
        ..Default::default()
    };
    // 5 inputs → 3 × 65,536 wide: ~8.6e9 weights, far beyond any test machine.
    let need = p.memory_estimate(5, 1);
    assert!(need > 100 * (1u128 << 30), "{need}");
    let avail = crate::probe::available_memory().expect("/proc/meminfo");
    assert!(need > avail);
    let Err(e) = train_probe(
        &x,
        &y,
        &rows,
        &rows,
        &rows,
        Head::Binary,
        &p,
        1,
        &crate::device::cpu(),
    ) else {
        panic!("an oversized probe was not refused");
    };
    let e = e.to_string();
    assert!(
        e.contains("needs about") && e.contains("GiB is available") && e.contains("probe.hidden"),
        "{e}"
    );
    // The default probe on the same data is far below any limit.
    assert!(ProbeParams::default().memory_estimate(1280, 10) < 1 << 30);
}

#[test]
fn learns_a_linear_rule_and_is_deterministic() {
    let (x, y) = toy(400, 1);
    let (tr, va, te): (Vec<usize>, Vec<usize>, Vec<usize>) = (
        (0..240).collect(),
        (240..320).collect(),
        (320..400).collect(),
    );
    let p = ProbeParams {
        max_epochs: 60,
        batch: 64,
        lr: 1e-2,
        ..Default::default()
    };
    let dev = crate::device::cpu();
    let a = train_probe(&x, &y, &tr, &va, &te, Head::Binary, &p, 7, &dev).unwrap();
    let yt: Vec<bool> = te.iter().map(|i| y[[*i, 0]] > 0.5).collect();
    let s: Vec<f64> = a.test.column(0).iter().map(|v| *v as f64).collect();
    let au = auroc(&yt, &s).unwrap();
    assert!(au > 0.95, "{au}");
    let b = train_probe(&x, &y, &tr, &va, &te, Head::Binary, &p, 7, &dev).unwrap();
    assert_eq!(a.test, b.test, "same seed, same predictions");
    assert_eq!(a.best_epoch, b.best_epoch);
    let lr = ProbeParams {
        kind: ProbeKind::Logreg,
        ..p.clone()
    };
    let c = train_probe(&x, &y, &tr, &va, &te, Head::Binary, &lr, 7, &dev).unwrap();
    let s: Vec<f64> = c.test.column(0).iter().map(|v| *v as f64).collect();
    assert!(auroc(&yt, &s).unwrap() > 0.95);
    // One training class is an error, not a NaN.
    let y1 = Array2::<f32>::ones((400, 1));
    let e = train_probe(&x, &y1, &tr, &va, &te, Head::Binary, &p, 7, &dev).unwrap_err();
    assert!(e.to_string().contains("only one class"), "{e}");
}

#[test]
fn auto_widens_the_grid_while_the_best_sits_at_its_edge() {
    let dev = crate::device::cpu();
    let (tr, va, te): (Vec<usize>, Vec<usize>, Vec<usize>) = (
        (0..180).collect(),
        (180..240).collect(),
        (240..300).collect(),
    );
    // Ridge on an exact linear target: less shrinkage is always better, so
    // `auto` adds decades below [0.1 … 1000] until its bound, and says so.
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let raw = Array2::from_shape_fn((300, 4), |_| rng.random_range(-1.0f32..1.0));
    let y = Array2::from_shape_fn((300, 1), |(i, _)| 2.0 * raw[[i, 0]] - raw[[i, 1]]);
    let x = DenseFeatures::standardized(&raw, &tr);
    let auto = || Some(PenaltyC::Auto(crate::probe::AutoWord::Auto));
    let p = ProbeParams {
        kind: ProbeKind::Ridge,
        alpha: auto(),
        ..Default::default()
    };
    let out = train_probe(&x, &y, &tr, &va, &te, Head::Regression, &p, 0, &dev).unwrap();
    let want = [1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0];
    assert_eq!(out.grid.len(), want.len(), "{:?}", out.grid);
    for (g, w) in out.grid.iter().zip(want) {
        assert!((g / w - 1.0).abs() < 1e-9, "{:?}", out.grid);
    }
    assert_eq!(out.curve.len(), want.len());
    assert!((out.alpha.unwrap() / 1e-6 - 1.0).abs() < 1e-9);
    let edge = out.grid_edge.unwrap();
    assert!(
        edge.contains("probe.alpha: auto stopped at its bound"),
        "{edge}"
    );
    // A fixed grid at its edge says to widen it; inside it, nothing.
    let fixed = ProbeParams {
        alpha: Some(PenaltyC::Grid(vec![0.1, 1.0, 10.0])),
        ..p.clone()
    };
    let out = train_probe(&x, &y, &tr, &va, &te, Head::Regression, &fixed, 0, &dev).unwrap();
    assert!(out.grid_edge.unwrap().contains("widen probe.alpha"));
    // Logistic `auto`: the grid grows only from an edge, and ends inside
    // it unless a bound or the widening limit stopped it.
    let (x, y) = toy(300, 4);
    let p = ProbeParams {
        kind: ProbeKind::Logreg,
        c: auto(),
        ..Default::default()
    };
    let out = train_probe(&x, &y, &tr, &va, &te, Head::Binary, &p, 0, &dev).unwrap();
    assert!(out.grid.windows(2).all(|w| w[0] < w[1]), "{:?}", out.grid);
    assert!(crate::probe::AUTO_C.iter().all(|c| out.grid.contains(c)));
    let grew = out.grid.len() - 5;
    let best = out.grid.iter().position(|g| Some(*g) == out.c).unwrap();
    let at_edge = best == 0 || best + 1 == out.grid.len();
    assert_eq!(
        at_edge,
        out.grid_edge.is_some(),
        "{:?} {:?}",
        out.grid,
        out.c
    );
    if at_edge {
        assert!(
            grew == crate::probe::AUTO_WIDENINGS
                || crate::probe::grid::widened(&out.grid, best).is_none()
        );
    }
    // `auto` is for linear probes.
    let mlp = ProbeParams {
        c: auto(),
        ..Default::default()
    };
    assert!(
        mlp.check()
            .unwrap_err()
            .to_string()
            .contains("auto widens the grid of a linear probe")
    );
}
