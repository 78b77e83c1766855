//! Metrics: AUROC (ties handled), AUPRC (average precision), F1, MCC,
//! accuracy, Spearman and R². Undefined values are `None` with a reason,
//! never a silent NaN. Definitions follow scikit-learn (checked against
//! fixtures it computed: tests/fixtures/metrics.json).

use crate::dataset::TaskKind;
use ndarray::Array2;
use std::collections::BTreeMap;

/// 1-based average ranks (ties share the mean rank).
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|a, b| x[*a].total_cmp(&x[*b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for k in &idx[i..=j] {
            ranks[*k] = r;
        }
        i = j + 1;
    }
    ranks
}

/// Area under the ROC curve (Mann–Whitney U with tie-averaged ranks).
/// `None` when `y` has only one class.
pub fn auroc(y: &[bool], score: &[f64]) -> Option<f64> {
    let pos = y.iter().filter(|v| **v).count();
    let neg = y.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let r = average_ranks(score);
    let sum_pos: f64 = r.iter().zip(y).filter(|(_, y)| **y).map(|(r, _)| r).sum();
    Some((sum_pos - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64))
}

/// Rows sorted by score (ascending).
pub fn score_order(score: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|a, b| score[*a].total_cmp(&score[*b]));
    idx
}

/// [`auroc`] of resamples given as counts (row i taken `count[i]` times),
/// O(n) per resample with integer sums: the rows are sorted by score and
/// split into tie groups once. Equal to `auroc` of the rows repeated by
/// their counts.
pub struct CountedAuroc {
    /// Row indices by ascending score.
    order: Vec<u32>,
    /// Whether each row of `order` is a positive.
    positive: Vec<bool>,
    /// End (exclusive) in `order` of each tie group.
    ends: Vec<u32>,
}

impl CountedAuroc {
    pub fn new(y: &[bool], score: &[f64]) -> CountedAuroc {
        let order = score_order(score);
        let mut ends = Vec::new();
        for k in 1..=order.len() {
            if k == order.len() || score[order[k]] != score[order[k - 1]] {
                ends.push(k as u32);
            }
        }
        CountedAuroc {
            positive: order.iter().map(|i| y[*i]).collect(),
            order: order.iter().map(|i| *i as u32).collect(),
            ends,
        }
    }

    /// The AUROC of the resample `count`; `None` when it lacks a class.
    pub fn eval(&self, count: &[u32]) -> Option<f64> {
        // Σ over tie groups (ascending): positives × (2 × negatives below +
        // negatives tied), halved at the end.
        let (mut below, mut u2, mut pos) = (0u64, 0u64, 0u64);
        let mut start = 0usize;
        for &end in &self.ends {
            let (mut p, mut n) = (0u64, 0u64);
            for j in start..end as usize {
                let c = count[self.order[j] as usize] as u64;
                if self.positive[j] {
                    p += c;
                } else {
                    n += c;
                }
            }
            u2 += p * (2 * below + n);
            below += n;
            pos += p;
            start = end as usize;
        }
        (pos > 0 && below > 0).then(|| u2 as f64 / (2 * pos * below) as f64)
    }
}

/// Tie-averaged ranks of a resample given as counts (row i taken `count[i]`
/// times; every copy of a row gets the row's rank); `order` is
/// [`score_order`] of `x`.
fn ranks_counted(x: &[f64], order: &[usize], count: &[u32], out: &mut [f64]) {
    let (mut below, mut i) = (0f64, 0);
    while i < order.len() {
        let mut j = i;
        let mut c = 0f64;
        while j < order.len() && x[order[j]] == x[order[i]] {
            c += count[order[j]] as f64;
            j += 1;
        }
        let r = below + (c + 1.0) / 2.0;
        for k in &order[i..j] {
            out[*k] = r;
        }
        below += c;
        i = j;
    }
}

/// [`spearman`] of a resample given as counts, O(n) per resample: equal to
/// `spearman` of the rows repeated by their counts. `order_y`, `order_p`:
/// [`score_order`] of `y` and `p`.
pub fn spearman_counted(
    y: &[f64],
    p: &[f64],
    order_y: &[usize],
    order_p: &[usize],
    count: &[u32],
) -> Option<f64> {
    let mut ry = vec![0.0; y.len()];
    let mut rp = vec![0.0; p.len()];
    ranks_counted(y, order_y, count, &mut ry);
    ranks_counted(p, order_p, count, &mut rp);
    let n: f64 = count.iter().map(|c| *c as f64).sum();
    if n < 2.0 {
        return None;
    }
    let w = |r: &[f64]| r.iter().zip(count).map(|(v, c)| v * *c as f64).sum::<f64>() / n;
    let (my, mp) = (w(&ry), w(&rp));
    let (mut syp, mut syy, mut spp) = (0.0, 0.0, 0.0);
    for i in 0..count.len() {
        let c = count[i] as f64;
        let (a, b) = (ry[i] - my, rp[i] - mp);
        syp += c * a * b;
        syy += c * a * a;
        spp += c * b * b;
    }
    if syy == 0.0 || spp == 0.0 {
        None
    } else {
        Some(syp / (syy * spp).sqrt())
    }
}

/// Average precision (scikit-learn's step-wise AUPRC: Σ (Rₙ − Rₙ₋₁) Pₙ over
/// distinct thresholds). `None` without positives.
pub fn average_precision(y: &[bool], score: &[f64]) -> Option<f64> {
    let pos = y.iter().filter(|v| **v).count();
    if pos == 0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|a, b| score[*b].total_cmp(&score[*a]));
    let (mut tp, mut fp, mut ap, mut prev_recall) = (0usize, 0usize, 0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        for k in &idx[i..=j] {
            if y[*k] { tp += 1 } else { fp += 1 }
        }
        let recall = tp as f64 / pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
        i = j + 1;
    }
    Some(ap)
}

/// Confusion counts (tp, fp, fn, tn).
fn counts(y: &[bool], p: &[bool]) -> (f64, f64, f64, f64) {
    let (mut tp, mut fp, mut fne, mut tn) = (0.0, 0.0, 0.0, 0.0);
    for (a, b) in y.iter().zip(p) {
        match (a, b) {
            (true, true) => tp += 1.0,
            (false, true) => fp += 1.0,
            (true, false) => fne += 1.0,
            (false, false) => tn += 1.0,
        }
    }
    (tp, fp, fne, tn)
}

/// F1 of the positive class (0 when there is no positive in truth or prediction: scikit-learn's zero_division=0).
pub fn f1_binary(y: &[bool], p: &[bool]) -> f64 {
    let (tp, fp, fne, _) = counts(y, p);
    if 2.0 * tp + fp + fne == 0.0 {
        0.0
    } else {
        2.0 * tp / (2.0 * tp + fp + fne)
    }
}

/// Matthews correlation for two classes (0 when undefined, as scikit-learn).
pub fn mcc_binary(y: &[bool], p: &[bool]) -> f64 {
    let yc: Vec<usize> = y.iter().map(|b| *b as usize).collect();
    let pc: Vec<usize> = p.iter().map(|b| *b as usize).collect();
    mcc_multiclass(&yc, &pc, 2)
}

pub fn accuracy<T: PartialEq>(y: &[T], p: &[T]) -> f64 {
    if y.is_empty() {
        return 0.0;
    }
    y.iter().zip(p).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
}

/// Multiclass MCC (Gorodkin's R_K, scikit-learn's formula); 0 when undefined.
pub fn mcc_multiclass(y: &[usize], p: &[usize], k: usize) -> f64 {
    let n = y.len() as f64;
    let mut t = vec![0.0; k];
    let mut q = vec![0.0; k];
    let mut c = 0.0;
    for (a, b) in y.iter().zip(p) {
        t[*a] += 1.0;
        q[*b] += 1.0;
        if a == b {
            c += 1.0;
        }
    }
    let tq: f64 = t.iter().zip(&q).map(|(a, b)| a * b).sum();
    let cov_ytyp = c * n - tq;
    let cov_ypyp = n * n - q.iter().map(|x| x * x).sum::<f64>();
    let cov_ytyt = n * n - t.iter().map(|x| x * x).sum::<f64>();
    let d = (cov_ytyt * cov_ypyp).sqrt();
    if d == 0.0 { 0.0 } else { cov_ytyp / d }
}

/// Macro F1 over the classes present in truth or prediction (scikit-learn's default labels).
pub fn f1_macro_multiclass(y: &[usize], p: &[usize]) -> f64 {
    let mut labels: Vec<usize> = y.iter().chain(p).copied().collect();
    labels.sort_unstable();
    labels.dedup();
    if labels.is_empty() {
        return 0.0;
    }
    let f: f64 = labels
        .iter()
        .map(|c| {
            let yb: Vec<bool> = y.iter().map(|v| v == c).collect();
            let pb: Vec<bool> = p.iter().map(|v| v == c).collect();
            f1_binary(&yb, &pb)
        })
        .sum();
    f / labels.len() as f64
}

/// Spearman rank correlation; `None` when either side is constant.
pub fn spearman(y: &[f64], p: &[f64]) -> Option<f64> {
    pearson(&average_ranks(y), &average_ranks(p))
}

pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len() as f64;
    if a.len() < 2 {
        return None;
    }
    let ma = a.iter().sum::<f64>() / n;
    let mb = b.iter().sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 {
        None
    } else {
        Some(sab / (saa * sbb).sqrt())
    }
}

/// Coefficient of determination; `None` when the truth is constant.
pub fn r2(y: &[f64], p: &[f64]) -> Option<f64> {
    let n = y.len() as f64;
    let m = y.iter().sum::<f64>() / n;
    let ss_tot: f64 = y.iter().map(|v| (v - m) * (v - m)).sum();
    let ss_res: f64 = y.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum();
    if ss_tot == 0.0 {
        None
    } else {
        Some(1.0 - ss_res / ss_tot)
    }
}

/// Test-split metrics of predictions `p` against targets `y`.
pub fn compute_metrics(
    kind: TaskKind,
    y: &Array2<f32>,
    p: &Array2<f32>,
) -> (BTreeMap<String, Option<f64>>, Vec<String>) {
    let mut m = BTreeMap::new();
    let mut why = Vec::new();
    let col =
        |a: &Array2<f32>, c: usize| -> Vec<f64> { a.column(c).iter().map(|v| *v as f64).collect() };
    let bools =
        |a: &Array2<f32>, c: usize| -> Vec<bool> { a.column(c).iter().map(|v| *v > 0.5).collect() };
    match kind {
        TaskKind::Binary => {
            let (yt, s) = (bools(y, 0), col(p, 0));
            let pred: Vec<bool> = s.iter().map(|v| *v >= 0.5).collect();
            let au = auroc(&yt, &s);
            if au.is_none() {
                why.push(format!(
                    "auroc: the test split has only {} (no {})",
                    if yt.iter().any(|v| *v) {
                        "positives"
                    } else {
                        "negatives"
                    },
                    if yt.iter().any(|v| *v) {
                        "negatives"
                    } else {
                        "positives"
                    }
                ));
            }
            let ap = average_precision(&yt, &s);
            if ap.is_none() {
                why.push("auprc: the test split has no positives".into());
            }
            m.insert("auroc".into(), au);
            m.insert("auprc".into(), ap);
            m.insert("f1".into(), Some(f1_binary(&yt, &pred)));
            m.insert("mcc".into(), Some(mcc_binary(&yt, &pred)));
            m.insert("accuracy".into(), Some(accuracy(&yt, &pred)));
        }
        TaskKind::Multiclass | TaskKind::Multilabel => {
            let k = y.ncols();
            let (mut aus, mut aps, mut undefined) = (Vec::new(), Vec::new(), 0);
            for c in 0..k {
                let (yt, s) = (bools(y, c), col(p, c));
                match (auroc(&yt, &s), average_precision(&yt, &s)) {
                    (Some(a), Some(b)) => {
                        aus.push(a);
                        aps.push(b);
                    }
                    _ => undefined += 1,
                }
            }
            if undefined > 0 {
                why.push(format!("auroc/auprc: macro over {} of {k} classes ({undefined} have no positive or no negative in the test split)", k - undefined));
            }
            let mean =
                |v: &Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
            if aus.is_empty() {
                why.push(
                    "auroc: no class has both positives and negatives in the test split".into(),
                );
            }
            m.insert("auroc".into(), mean(&aus));
            m.insert("auprc".into(), mean(&aps));
            if kind == TaskKind::Multiclass {
                let argmax = |a: &Array2<f32>| -> Vec<usize> {
                    a.rows()
                        .into_iter()
                        .map(|r| {
                            r.iter()
                                .enumerate()
                                .max_by(|x, y| x.1.total_cmp(y.1))
                                .map(|(i, _)| i)
                                .unwrap_or(0)
                        })
                        .collect()
                };
                let (yt, pt) = (argmax(y), argmax(p));
                m.insert("f1".into(), Some(f1_macro_multiclass(&yt, &pt)));
                m.insert("mcc".into(), Some(mcc_multiclass(&yt, &pt, k)));
                m.insert("accuracy".into(), Some(accuracy(&yt, &pt)));
            } else {
                let f1s: Vec<f64> = (0..k)
                    .map(|c| {
                        let pred: Vec<bool> = p.column(c).iter().map(|v| *v >= 0.5).collect();
                        f1_binary(&bools(y, c), &pred)
                    })
                    .collect();
                m.insert("f1".into(), Some(f1s.iter().sum::<f64>() / k as f64));
                let yf: Vec<bool> = y.iter().map(|v| *v > 0.5).collect();
                let pf: Vec<bool> = p.iter().map(|v| *v >= 0.5).collect();
                m.insert("mcc".into(), Some(mcc_binary(&yf, &pf)));
                let exact = y
                    .rows()
                    .into_iter()
                    .zip(p.rows())
                    .filter(|(a, b)| {
                        a.iter()
                            .zip(b.iter())
                            .all(|(u, v)| (*u > 0.5) == (*v >= 0.5))
                    })
                    .count();
                m.insert(
                    "accuracy".into(),
                    Some(exact as f64 / y.nrows().max(1) as f64),
                );
            }
        }
        TaskKind::Regression => {
            let (yt, pt) = (col(y, 0), col(p, 0));
            let sp = spearman(&yt, &pt);
            let r2 = r2(&yt, &pt);
            if sp.is_none() {
                why.push("spearman: constant truth or prediction on the test split".into());
            }
            if r2.is_none() {
                why.push("r2: constant truth on the test split".into());
            }
            m.insert("spearman".into(), sp);
            m.insert("r2".into(), r2);
            let mse = yt
                .iter()
                .zip(&pt)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                / yt.len().max(1) as f64;
            m.insert("mse".into(), Some(mse));
        }
    }
    (m, why)
}

/// The primary metric only (fast path for bootstrap resampling).
pub fn primary_value(kind: TaskKind, y: &Array2<f32>, p: &Array2<f32>) -> Option<f64> {
    match kind {
        TaskKind::Regression => {
            let yt: Vec<f64> = y.column(0).iter().map(|v| *v as f64).collect();
            let pt: Vec<f64> = p.column(0).iter().map(|v| *v as f64).collect();
            spearman(&yt, &pt)
        }
        _ => mean_auroc(y, p),
    }
}

/// The mean AUROC over the outputs where it is defined (targets > 0.5 are
/// positives); `None` when it is defined for none.
pub fn mean_auroc(y: &Array2<f32>, p: &Array2<f32>) -> Option<f64> {
    let mut s = Vec::new();
    for c in 0..y.ncols() {
        let yt: Vec<bool> = y.column(c).iter().map(|v| *v > 0.5).collect();
        let pt: Vec<f64> = p.column(c).iter().map(|v| *v as f64).collect();
        if let Some(a) = auroc(&yt, &pt) {
            s.push(a);
        }
    }
    (!s.is_empty()).then(|| s.iter().sum::<f64>() / s.len() as f64)
}

/// The headline metric of a task kind (the report's main table).
pub fn primary_metric(kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::Regression => "spearman",
        _ => "auroc",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_resample_has_the_auroc_of_the_repeated_rows() {
        let y = [true, false, true, false, false, true, false];
        let s = [0.9, 0.1, 0.4, 0.4, 0.7, 0.2, 0.2];
        let counted = CountedAuroc::new(&y, &s);
        for count in [
            [1u32, 1, 1, 1, 1, 1, 1],
            [2, 0, 1, 3, 1, 0, 2],
            [0, 2, 1, 1, 0, 4, 1],
        ] {
            let (mut yy, mut ss) = (Vec::new(), Vec::new());
            for i in 0..7 {
                for _ in 0..count[i] {
                    yy.push(y[i]);
                    ss.push(s[i]);
                }
            }
            let want = auroc(&yy, &ss).unwrap();
            let got = counted.eval(&count).unwrap();
            assert!((want - got).abs() < 1e-12, "{count:?}: {want} vs {got}");
        }
        assert_eq!(counted.eval(&[1, 0, 1, 0, 0, 0, 0]), None);
    }

    #[test]
    fn a_counted_resample_has_the_spearman_of_the_repeated_rows() {
        let y = [3.0, 1.0, 2.0, 2.0, 5.0, 0.5, 4.0];
        let p = [0.9, 0.1, 0.4, 0.4, 0.7, 0.2, 0.2];
        let (oy, op) = (score_order(&y), score_order(&p));
        for count in [
            [1u32, 1, 1, 1, 1, 1, 1],
            [2, 0, 1, 3, 1, 0, 2],
            [0, 2, 1, 1, 0, 4, 1],
        ] {
            let (mut yy, mut pp) = (Vec::new(), Vec::new());
            for i in 0..7 {
                for _ in 0..count[i] {
                    yy.push(y[i]);
                    pp.push(p[i]);
                }
            }
            let want = spearman(&yy, &pp).unwrap();
            let got = spearman_counted(&y, &p, &oy, &op, &count).unwrap();
            assert!((want - got).abs() < 1e-12, "{count:?}: {want} vs {got}");
        }
        // One distinct row drawn: no variance.
        assert_eq!(
            spearman_counted(&y, &p, &oy, &op, &[3, 0, 0, 0, 0, 0, 0]),
            None
        );
    }

    #[test]
    fn hand_checked_cases() {
        // Perfect, reversed, all-tied scores.
        let y = [false, false, true, true];
        assert_eq!(auroc(&y, &[0.1, 0.2, 0.8, 0.9]), Some(1.0));
        assert_eq!(auroc(&y, &[0.9, 0.8, 0.2, 0.1]), Some(0.0));
        assert_eq!(auroc(&y, &[0.5; 4]), Some(0.5));
        assert_eq!(auroc(&[true, true], &[0.1, 0.2]), None);
        assert_eq!(average_precision(&[false, false], &[0.1, 0.2]), None);
        assert_eq!(average_precision(&y, &[0.1, 0.2, 0.8, 0.9]), Some(1.0));
        assert_eq!(r2(&[1.0, 1.0], &[0.0, 2.0]), None);
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), Some(1.0));
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
    }
}

#[cfg(test)]
mod sklearn_fixtures {
    use super::*;

    #[test]
    fn agree_with_scikit_learn() {
        let p =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/metrics.json");
        let cases: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        let f = |v: &serde_json::Value| -> Vec<f64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        };
        let close = |a: f64, b: &serde_json::Value, what: &str| {
            let b = b.as_f64().unwrap();
            assert!((a - b).abs() < 1e-9, "{what}: ours {a} vs scikit-learn {b}");
        };
        let mut n = 0;
        for c in &cases {
            match c["kind"].as_str().unwrap() {
                "binary" => {
                    let y: Vec<bool> = f(&c["y"]).iter().map(|v| *v > 0.5).collect();
                    let p: Vec<bool> = f(&c["pred"]).iter().map(|v| *v > 0.5).collect();
                    let s = f(&c["score"]);
                    close(auroc(&y, &s).unwrap(), &c["auroc"], "auroc");
                    close(average_precision(&y, &s).unwrap(), &c["auprc"], "auprc");
                    close(f1_binary(&y, &p), &c["f1"], "f1");
                    close(mcc_binary(&y, &p), &c["mcc"], "mcc");
                    close(accuracy(&y, &p), &c["accuracy"], "accuracy");
                }
                "multiclass" => {
                    let k = c["k"].as_u64().unwrap() as usize;
                    let y: Vec<usize> = f(&c["y"]).iter().map(|v| *v as usize).collect();
                    let p: Vec<usize> = f(&c["pred"]).iter().map(|v| *v as usize).collect();
                    close(f1_macro_multiclass(&y, &p), &c["f1_macro"], "f1_macro");
                    close(mcc_multiclass(&y, &p, k), &c["mcc"], "mcc multiclass");
                    close(accuracy(&y, &p), &c["accuracy"], "accuracy");
                }
                _ => {
                    let y = f(&c["y"]);
                    let p = f(&c["pred"]);
                    close(spearman(&y, &p).unwrap(), &c["spearman"], "spearman");
                    close(r2(&y, &p).unwrap(), &c["r2"], "r2");
                }
            }
            n += 1;
        }
        assert_eq!(n, 24);
    }
}
