#!/usr/bin/env python3
"""Fixtures for the linear-probe tests (committed; CI never runs this):
scikit-learn's LogisticRegression and Ridge on a protein-like dataset that is
not the planted-signal synth. Needs numpy + scikit-learn:
    .venv/bin/pip install scikit-learn && .venv/bin/python scripts/make_linear_fixtures.py

The data (fixtures/linear/): 1,500 random proteins with human-like lengths
(log-normal, median ~270) and amino-acid frequencies; features are 64
collinear columns — the 20 amino-acid fractions (they sum to 1), the same
fractions rescaled, 8 physico-chemical sums of them (hydrophobic, charged,
...), 16 noisy mixtures of those — so the design matrix is rank-deficient
and ill-conditioned, as composition features are. Labels are driven by
composition with realistic imbalance:
  binary      membrane-like: hydrophobic fraction + noise, 11 % positive
  multiclass  6 localisation-like classes from composition scores + noise,
              28/25/19/12/10/6 %
  multilabel  3 function-like labels, 19/27/45 %
  regression  an isoelectric-point-like value + noise
Splits: 70/15/15 % random. Features are standardized on the training rows
(mean, population std) and stored as float32; scikit-learn fits on those
values in float64.

reference.json: per task and per C in [0.01, 0.1, 1, 10],
LogisticRegression(C, class_weight="balanced", tol=1e-6, max_iter=100000)
(multinomial for multiclass; one fit per label for multilabel): test
probabilities, and the penalized objective of its solution in genoprot's
normalization, (1/S) sum_i s_i l_i + |W|^2 / (2 C S) (S = sum of the sample
weights), summed over labels; per alpha in [0.1, 1, 10, 100],
Ridge(alpha) test predictions.
"""
import json, os
import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge

rng = np.random.default_rng(2026)
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "linear")
os.makedirs(root, exist_ok=True)
AA = "ACDEFGHIKLMNPQRSTVWY"
# UniProt-like background frequencies.
freq = np.array([8.3, 1.4, 5.5, 6.8, 3.9, 7.1, 2.3, 5.9, 5.8, 9.7, 2.4, 4.1, 4.7, 3.9, 5.5, 6.6, 5.3, 6.9, 1.1, 2.9])
freq = freq / freq.sum()
n = 1500
lengths = np.clip(rng.lognormal(5.6, 0.5, n), 30, 2000).astype(int)
aac = np.zeros((n, 20))
for i, L in enumerate(lengths):
    # Each protein's own composition: a Dirichlet around the background.
    p = rng.dirichlet(freq * 60)
    aac[i] = rng.multinomial(L, p) / L
idx = {a: i for i, a in enumerate(AA)}
groups = {"hydrophobic": "AILMFVW", "charged": "DEKR", "positive": "KRH", "negative": "DE",
          "polar": "STNQ", "aromatic": "FWY", "small": "AGST", "special": "CGP"}
sums = np.stack([aac[:, [idx[a] for a in g]].sum(1) for g in groups.values()], 1)
mix = (np.concatenate([aac, sums], 1) @ rng.normal(size=(28, 16))) + rng.normal(scale=1e-3, size=(n, 16))
x = np.concatenate([aac, 3.0 * aac, sums, mix], 1)
assert x.shape[1] == 64

def z(v):
    return (v - v.mean()) / v.std()

hyd, chg, pos, neg, pol, aro = (z(sums[:, k]) for k in range(6))
binary = (hyd + 0.6 * rng.normal(size=n) > 1.45).astype(int)
scores = np.stack([0.0 * hyd, 1.2 * chg + pos, 1.5 * hyd, 1.0 * neg - pol, 1.3 * aro, 0.9 * pol + pos], 1)
scores += rng.gumbel(size=scores.shape) * 1.2 + np.log([0.45, 0.20, 0.15, 0.10, 0.06, 0.04])
multiclass = scores.argmax(1)
multilabel = np.stack([(pos + 0.8 * rng.normal(size=n) > 1.2), (aro + pol + rng.normal(size=n) > 1.0),
                       (hyd - chg + rng.normal(size=n) > 0.3)], 1).astype(int)
regression = 7.0 + 1.5 * (pos - neg) + 0.3 * hyd + 0.4 * rng.normal(size=n)

perm = rng.permutation(n)
train, valid, test = perm[:1050], perm[1050:1275], perm[1275:]
mu, sd = x[train].mean(0), x[train].std(0)
sd[sd < 1e-12] = 1.0
xs = ((x - mu) / sd).astype(np.float32)
np.save(os.path.join(root, "features.npy"), xs)
X = xs.astype(np.float64)
Cs, alphas = [0.01, 0.1, 1.0, 10.0], [0.1, 1.0, 10.0, 100.0]


def balanced(y):
    classes, counts = np.unique(y, return_counts=True)
    w = {c: len(y) / (len(classes) * k) for c, k in zip(classes, counts)}
    return np.array([w[v] for v in y])


def objective(m, xtr, ytr, c):
    s = balanced(ytr)
    S = s.sum()
    zz = xtr @ m.coef_.T + m.intercept_
    if zz.shape[1] == 1:
        zz = zz[:, 0]
        loss = np.logaddexp(0, zz) - ytr * zz
    else:
        mx = zz.max(1, keepdims=True)
        lse = (mx + np.log(np.exp(zz - mx).sum(1, keepdims=True)))[:, 0]
        loss = lse - zz[np.arange(len(ytr)), ytr]
    return float((s * loss).sum() / S + (m.coef_ ** 2).sum() / (2 * c * S))


def logistic(y2d, task):
    out = []
    for c in Cs:
        probs, obj = np.zeros((len(test), y2d.shape[1] if task != "multiclass" else 6)), 0.0
        problems = [(y2d[:, j], [j]) for j in range(y2d.shape[1])] if task != "multiclass" else [(y2d[:, 0], list(range(6)))]
        for yy, cols in problems:
            m = LogisticRegression(C=c, class_weight="balanced", tol=1e-6, max_iter=100000)
            m.fit(X[train], yy[train])
            p = m.predict_proba(X[test])
            if len(cols) == 1:
                probs[:, cols[0]] = p[:, 1]
            else:
                probs[:, cols] = p
            obj += objective(m, X[train], yy[train], c)
        out.append({"c": c, "test_prob": probs.tolist(), "objective": obj})
    return out


ref = {"train": train.tolist(), "valid": valid.tolist(), "test": test.tolist(), "tasks": {}}
ref["tasks"]["binary"] = {"y": binary.tolist(), "fits": logistic(binary[:, None], "binary")}
ref["tasks"]["multiclass"] = {"y": multiclass.tolist(), "classes": 6, "fits": logistic(multiclass[:, None], "multiclass")}
ref["tasks"]["multilabel"] = {"y": multilabel.tolist(), "fits": logistic(multilabel, "multilabel")}
ref["tasks"]["regression"] = {"y": regression.tolist(), "fits": [
    {"alpha": a, "test_pred": Ridge(alpha=a).fit(X[train], regression[train]).predict(X[test]).tolist()} for a in alphas]}
print("binary positives %.3f, classes %s, labels %s" % (binary.mean(), np.bincount(multiclass) / n, multilabel.mean(0)))
print("rank of the features:", np.linalg.matrix_rank(X[train]), "condition number %.3g" % np.linalg.cond(X[train]))
json.dump(ref, open(os.path.join(root, "reference.json"), "w"))
print("wrote", root)
